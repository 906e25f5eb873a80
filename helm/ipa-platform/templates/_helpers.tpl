{{/* Names, labels, images and settings shared by every template. */}}

{{- define "ipa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix; 40 characters leave room for component suffixes within the 63 allowed. */}}
{{- define "ipa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "ipa.componentName" (dict "root" $ "component" "backend") */}}
{{- define "ipa.componentName" -}}
{{- printf "%s-%s" (include "ipa.fullname" .root) .component -}}
{{- end -}}

{{- define "ipa.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades, so never the version. */}}
{{- define "ipa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipa.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Annotations of every resource: commonAnnotations, then the object's own (a dict), as a YAML block or nothing. */}}
{{- define "ipa.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .own)) (deepCopy (default (dict) .root.Values.commonAnnotations)) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "ipa.labels" -}}
{{ include "ipa.selectorLabels" . }}
helm.sh/chart: {{ include "ipa.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: ipa-platform
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image reference: registry/repository, then @digest when set, else :tag (default appVersion). */}}
{{- define "ipa.image" -}}
{{- $image := .image -}}
{{- $registry := default $image.registry .root.Values.global.imageRegistry -}}
{{- $repository := ternary (printf "%s/%s" $registry $image.repository) $image.repository (ne $registry "") -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "ipa.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ipa.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount of one component: its own (made or named), else the shared one. (dict "root" $ "component" "worker") */}}
{{- define "ipa.componentServiceAccountName" -}}
{{- $sa := (index .root.Values .component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "ipa.componentName" .) $sa.name -}}
{{- else -}}
{{- default (include "ipa.serviceAccountName" .root) $sa.name -}}
{{- end -}}
{{- end -}}

{{/* The migration hook's ServiceAccount: a named existing one, else the hook-made `<fullname>-migrations`. */}}
{{- define "ipa.migrations.serviceAccountName" -}}
{{- default (include "ipa.componentName" (dict "root" . "component" "migrations")) .Values.migrations.serviceAccount.name -}}
{{- end -}}

{{/* A chart-wide security context with a component's own merged over it. (dict "base" … "own" …) */}}
{{- define "ipa.securityContext" -}}
{{- toYaml (mergeOverwrite (deepCopy .base) (deepCopy (default (dict) .own))) -}}
{{- end -}}

{{/* Bytes of a Kubernetes quantity with a binary suffix (Ki, Mi, Gi, Ti) or none. */}}
{{- define "ipa.bytes" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $suffix := regexFind "(Ki|Mi|Gi|Ti)$" $q -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti)?$" $q) -}}
{{- fail (printf "%q is not a quantity this chart can size from (a whole number with Ki, Mi, Gi or Ti)" $q) -}}
{{- end -}}
{{- if $suffix -}}
{{- mul (int64 (trimSuffix $suffix $q)) (index $units $suffix) -}}
{{- else -}}
{{- int64 $q -}}
{{- end -}}
{{- end -}}

{{/* The sandbox emptyDir's sizeLimit in Mi: the disk budget plus its headroom, rounded up. */}}
{{- define "ipa.worker.sandboxSizeMi" -}}
{{- $s := .Values.worker.sandbox -}}
{{- $bytes := add (include "ipa.bytes" $s.diskBudget) (include "ipa.bytes" $s.diskHeadroom) -}}
{{- div (add $bytes 1048575) 1048576 -}}
{{- end -}}

{{/* The worker's ephemeral-storage request in Mi: the sandbox emptyDir plus /tmp. */}}
{{- define "ipa.worker.ephemeralStorageMi" -}}
{{- $tmp := div (add (include "ipa.bytes" .Values.worker.tmpSizeLimit) 1048575) 1048576 -}}
{{- add (include "ipa.worker.sandboxSizeMi" .) $tmp -}}
{{- end -}}

{{/* Read/send timeout of event streams: the value, else the longest time limit plus a minute. */}}
{{- define "ipa.streamTimeoutSeconds" -}}
{{- $c := .Values.config -}}
{{- if .Values.ingress.sseTimeoutSeconds -}}
{{- .Values.ingress.sseTimeoutSeconds -}}
{{- else -}}
{{- add (max (int $c.executionTimeoutSeconds) (int $c.agentTimeoutSeconds)) 60 -}}
{{- end -}}
{{- end -}}

{{/* Request body limit for a proxy in front of the API: MAX_UPLOAD_BYTES plus 1 MiB of multipart framing, in whole MiB. */}}
{{- define "ipa.bodySizeMi" -}}
{{- div (add (int64 .Values.config.maxUploadBytes) 1048576 1048575) 1048576 -}}
{{- end -}}

{{- define "ipa.secretName" -}}
{{- default (include "ipa.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "ipa.configMapName" -}}
{{- include "ipa.fullname" . -}}
{{- end -}}

{{/* Secret settings by environment name; the Secret holds the non-empty ones. */}}
{{- define "ipa.secretSettings" -}}
{{- $s := .Values.secrets -}}
IPA_ADMIN_TOKEN: {{ $s.adminToken | quote }}
DATABASE_URL: {{ include "ipa.databaseUrl" . | quote }}
REDIS_URL: {{ include "ipa.redisUrl" . | quote }}
ANTHROPIC_API_KEY: {{ $s.anthropicApiKey | quote }}
OPENAI_API_KEY: {{ $s.openaiApiKey | quote }}
AZURE_OPENAI_API_KEY: {{ $s.azureOpenaiApiKey | quote }}
OPENAI_COMPATIBLE_API_KEY: {{ $s.openaiCompatibleApiKey | quote }}
IPA_SECRETS_KEY: {{ $s.secretsKey | quote }}
REDIS_SENTINEL_PASSWORD: {{ $s.redisSentinelPassword | quote }}
BLOB_S3_ACCESS_KEY_ID: {{ $s.blobS3AccessKeyId | quote }}
BLOB_S3_SECRET_ACCESS_KEY: {{ $s.blobS3SecretAccessKey | quote }}
BLOB_AZURE_CONNECTION_STRING: {{ $s.blobAzureConnectionString | quote }}
{{- if .Values.pgbouncer.enabled }}
PGBOUNCER_DATABASE_URL: {{ include "ipa.pgbouncer.databaseUrl" . | quote }}
{{- end }}
{{- end -}}

{{/*
The secret settings each component needs, and nothing else: the API never sees a model key, the
worker (which runs agent turns and sandboxes) never sees the admin token, the migration job sees
only the database. Blob store credentials, the sentinels' password and the user-secrets key go to
both the API and the worker.
*/}}
{{- define "ipa.secretNeeds" -}}
{{- $models := list "ANTHROPIC_API_KEY" "OPENAI_API_KEY" "AZURE_OPENAI_API_KEY" "OPENAI_COMPATIBLE_API_KEY" -}}
{{- /* Both store files (blob store), reach Redis (sentinels) and encrypt or use user secrets. */ -}}
{{- $shared := list "DATABASE_URL" "REDIS_URL" "REDIS_SENTINEL_PASSWORD" "BLOB_S3_ACCESS_KEY_ID" "BLOB_S3_SECRET_ACCESS_KEY" "BLOB_AZURE_CONNECTION_STRING" "IPA_SECRETS_KEY" -}}
{{- $needs := dict
      "backend" (concat (list "IPA_ADMIN_TOKEN") $shared)
      "worker" (concat $shared $models)
      "migrations" (list "DATABASE_URL") -}}
{{- toJson (index $needs .) -}}
{{- end -}}

{{/* Names of the secret settings one component receives: its needs that exist (all of them with an existing Secret, as optional refs). (dict "root" $ "component" "worker") */}}
{{- define "ipa.secretKeys" -}}
{{- $root := .root -}}
{{- $settings := include "ipa.secretSettings" $root | fromYaml -}}
{{- $keys := list -}}
{{- range $name := include "ipa.secretNeeds" .component | fromJsonArray -}}
{{- if or $root.Values.secrets.existingSecret (index $settings $name) -}}
{{- $keys = append $keys $name -}}
{{- end -}}
{{- end -}}
{{- toJson (sortAlpha $keys) -}}
{{- end -}}

{{/* The key of a setting inside the Secret: mapped for an existing Secret, else the setting's name. */}}
{{- define "ipa.secretKey" -}}
{{- $root := .root -}}
{{- if $root.Values.secrets.existingSecret -}}
{{- default .name (index $root.Values.secrets.existingSecretKeys .name) -}}
{{- else -}}
{{- .name -}}
{{- end -}}
{{- end -}}

{{/* In-cluster PostgreSQL password: the value, else the one already in the cluster, else a new random one (generated once per render). */}}
{{- define "ipa.postgresql.password" -}}
{{- if not .Values.postgresql.password -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ipa.componentName" (dict "root" . "component" "postgresql")) -}}
{{- $password := "" -}}
{{- if and $existing $existing.data (hasKey $existing.data "POSTGRES_PASSWORD") -}}
{{- $password = index $existing.data "POSTGRES_PASSWORD" | b64dec -}}
{{- else -}}
{{- $password = randAlphaNum 32 -}}
{{- end -}}
{{- $_ := set .Values.postgresql "password" $password -}}
{{- end -}}
{{- .Values.postgresql.password -}}
{{- end -}}

{{- define "ipa.databaseUrl" -}}
{{- if .Values.secrets.databaseUrl -}}
{{- .Values.secrets.databaseUrl -}}
{{- else if .Values.postgresql.enabled -}}
{{- $p := .Values.postgresql -}}
{{- printf "postgresql://%s:%s@%s:5432/%s" $p.username (include "ipa.postgresql.password" . | urlquery) (include "ipa.componentName" (dict "root" . "component" "postgresql")) $p.database -}}
{{- end -}}
{{- end -}}

{{- define "ipa.redisUrl" -}}
{{- if .Values.secrets.redisUrl -}}
{{- .Values.secrets.redisUrl -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s:6379/0" (include "ipa.componentName" (dict "root" . "component" "redis")) -}}
{{- end -}}
{{- end -}}

{{/* Environment of every platform container: the ConfigMap, then the secrets, then role settings. */}}
{{- define "ipa.platformEnv" -}}
{{- $root := .root -}}
{{- $component := .component -}}
envFrom:
  - configMapRef:
      name: {{ include "ipa.configMapName" $root }}
env:
{{- $keys := include "ipa.secretKeys" (dict "root" $root "component" $component) | fromJsonArray }}
{{- range $keys }}
{{- if eq $root.Values.secrets.deliverAs "files" }}
  - name: {{ . }}_FILE
    value: /var/run/secrets/ipa-platform/{{ . }}
{{- else }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ include "ipa.secretName" $root }}
        key: {{ include "ipa.secretKey" (dict "root" $root "name" (include "ipa.secretSource" (dict "root" $root "component" $component "name" .))) }}
        {{- if and $root.Values.secrets.existingSecret (not (has . (list "DATABASE_URL" "REDIS_URL"))) }}
        optional: true
        {{- end }}
{{- end }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
{{- end -}}

{{/* Secret volume for `secrets.deliverAs: files`: only the component's own keys. (dict "root" $ "component" "worker" ["secretName" …]) */}}
{{- define "ipa.secretVolume" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- if eq $root.Values.secrets.deliverAs "files" }}
- name: secrets
  secret:
    secretName: {{ default (include "ipa.secretName" $root) .secretName }}
    defaultMode: 288 # 0440: owner and group read
    items:
      {{- range include "ipa.secretKeys" . | fromJsonArray }}
      - key: {{ include "ipa.secretKey" (dict "root" $root "name" (include "ipa.secretSource" (dict "root" $root "component" $component "name" .))) }}
        path: {{ . }}
      {{- end }}
    {{- if $root.Values.secrets.existingSecret }}
    # like the optional env refs: a model key the existing Secret lacks is skipped
    optional: true
    {{- end }}
{{- end }}
{{- end -}}

{{- define "ipa.secretVolumeMount" -}}
{{- if eq .Values.secrets.deliverAs "files" }}
- name: secrets
  mountPath: /var/run/secrets/ipa-platform
  readOnly: true
{{- end }}
{{- end -}}

{{/* Checksums that roll the pods when settings change. */}}
{{- define "ipa.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end -}}

{{/* Replica count of a workload: left out when an autoscaler owns it. */}}
{{- define "ipa.replicas" -}}
{{- if not .autoscaling.enabled }}
replicas: {{ .replicaCount }}
{{- end }}
{{- end -}}

{{/* Derived termination grace periods (see values.yaml). */}}
{{- define "ipa.backend.terminationGracePeriodSeconds" -}}
{{- $b := .Values.backend -}}
{{- if $b.terminationGracePeriodSeconds -}}
{{- $b.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add $b.preStopSleepSeconds .Values.config.shutdownGraceSeconds 5 -}}
{{- end -}}
{{- end -}}

{{- define "ipa.worker.terminationGracePeriodSeconds" -}}
{{- $w := .Values.worker -}}
{{- if $w.terminationGracePeriodSeconds -}}
{{- $w.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add .Values.config.executionTimeoutSeconds $w.shutdownMarginSeconds -}}
{{- end -}}
{{- end -}}

{{/* Zone spread and preferred node anti-affinity for one component. */}}
{{- define "ipa.scheduling" -}}
{{- $values := .values -}}
{{- if $values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "ipa.selectorLabels" . | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}
{{- if $values.affinity }}
affinity:
  {{- toYaml $values.affinity | nindent 2 }}
{{- else if $values.topologySpread }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "ipa.selectorLabels" . | nindent 14 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* User-supplied extra Containers, rendered as given. */}}
{{- define "ipa.extraContainers" -}}
{{- range . }}
- {{ toYaml . | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler spec shared by api, worker and frontend: fast scale-up, slow scale-down. */}}
{{- define "ipa.hpa" -}}
{{- $a := .autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "ipa.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ipa.labels" . | nindent 4 }}
  {{- with include "ipa.annotations" (dict "root" .root "own" (dict)) }}{{ . | nindent 2 }}{{ end }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "ipa.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $a.targetMemoryUtilizationPercentage }}
    {{- end }}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Max
      policies:
        - type: Percent
          value: 100
          periodSeconds: 15
        - type: Pods
          value: 4
          periodSeconds: 15
    scaleDown:
      stabilizationWindowSeconds: {{ $a.scaleDownStabilizationSeconds }}
      selectPolicy: Min
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end -}}

{{- define "ipa.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "ipa.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ipa.labels" . | nindent 4 }}
  {{- with include "ipa.annotations" (dict "root" .root "own" (dict)) }}{{ . | nindent 2 }}{{ end }}
spec:
  maxUnavailable: {{ .pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "ipa.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* A monitoring object asked for on a cluster without the Prometheus operator's CRDs: fail, never drop it silently. */}}
{{- define "ipa.requireMonitoringApi" -}}
{{- if not (.root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind)) -}}
{{- fail (printf "metrics: a %s was asked for, but the cluster does not serve monitoring.coreos.com/v1 %s; install the Prometheus operator's CRDs or turn it off" .kind .kind) -}}
{{- end -}}
{{- end -}}

{{/* Checks that catch value combinations the schema cannot express. */}}
{{- define "ipa.validate" -}}
{{- range $c := list "backend" "worker" "frontend" -}}
{{- $a := (index $.Values $c).autoscaling -}}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%v) must not exceed maxReplicas (%v)" $c $a.minReplicas $a.maxReplicas) -}}
{{- end -}}
{{- if and $a.enabled (not $a.targetCPUUtilizationPercentage) (not $a.targetMemoryUtilizationPercentage) (or (ne $c "worker") (eq $a.signal "resource")) -}}
{{- fail (printf "%s.autoscaling needs a CPU or memory target" $c) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (not (include "ipa.databaseUrl" .)) -}}
{{- fail "a database is needed: set secrets.databaseUrl, secrets.existingSecret or postgresql.enabled" -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (not (include "ipa.redisUrl" .)) -}}
{{- fail "Redis is needed: set secrets.redisUrl, secrets.existingSecret or redis.enabled" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled .Values.metrics.serviceMonitor.enabled (not .Values.networkPolicy.monitoring.namespaceSelector) -}}
{{- fail "metrics.serviceMonitor needs networkPolicy.monitoring.namespaceSelector: with NetworkPolicies on, Prometheus could not reach the metrics ports" -}}
{{- end -}}
{{- include "ipa.pgbouncer.validate" . -}}
{{- $w := .Values.worker.autoscaling -}}
{{- if and $w.enabled (eq $w.signal "queue") (eq $w.keda.source "redis") (not $w.keda.redis.address) (not .Values.redis.enabled) -}}
{{- fail "worker.autoscaling.keda.redis.address is needed for the queue signal with an external Redis" -}}
{{- end -}}
{{- if and $w.enabled (eq $w.signal "queue") (eq $w.keda.source "prometheus") (not $w.keda.prometheus.serverAddress) -}}
{{- fail "worker.autoscaling.keda.prometheus.serverAddress is needed for the prometheus queue signal" -}}
{{- end -}}
{{- end -}}
