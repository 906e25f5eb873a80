{{/*
One pod template for the two platform processes, the API and the worker: same image layout,
same environment, same hardening, same probes; they differ only in role, port and volumes.
Call with (dict "root" $ "component" "backend" "values" .Values.backend "role" "api" "port" 8000).
*/}}
{{- define "ipa.podTemplate" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $component := .component -}}
{{- $isWorker := eq .role "worker" -}}
{{- $containerSecurity := include "ipa.securityContext" (dict "base" $root.Values.containerSecurityContext "own" $values.containerSecurityContext) -}}
metadata:
  labels:
    {{- include "ipa.labels" . | nindent 4 }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $checksums := include "ipa.checksums" $root | fromYaml }}
  {{- with include "ipa.annotations" (dict "root" $root "own" (merge (deepCopy (default (dict) $values.podAnnotations)) $checksums)) }}{{ . | nindent 2 }}{{ end }}
spec:
  serviceAccountName: {{ include "ipa.componentServiceAccountName" . }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "ipa.securityContext" (dict "base" $root.Values.podSecurityContext "own" $values.podSecurityContext) | nindent 4 }}
  {{- if $isWorker }}
  terminationGracePeriodSeconds: {{ include "ipa.worker.terminationGracePeriodSeconds" $root }}
  {{- with $values.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  {{- if not $values.hostUsers }}
  # a user namespace of its own: the sandbox's nested namespaces map to an unprivileged node uid
  hostUsers: false
  {{- end }}
  {{- else }}
  terminationGracePeriodSeconds: {{ include "ipa.backend.terminationGracePeriodSeconds" $root }}
  {{- end }}
  {{- with include "ipa.scheduling" . | trim }}{{ . | nindent 2 }}{{ end }}
  {{- $migrateInit := and (not $isWorker) $root.Values.migrations.enabled (eq $root.Values.migrations.mode "initContainer") }}
  {{- if or $migrateInit $values.initContainers }}
  initContainers:
    {{- if $migrateInit }}
    - name: migrate
      image: {{ include "ipa.image" (dict "root" $root "image" $values.image) }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args: ["migrate"]
      securityContext:
        {{- $containerSecurity | nindent 8 }}
      {{- include "ipa.platformEnv" (dict "root" $root "component" "migrations") | nindent 6 }}
      resources:
        {{- toYaml $root.Values.migrations.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with include "ipa.secretVolumeMount" $root | trim }}{{ . | nindent 8 }}{{ end }}
    {{- end }}
    {{- with $values.initContainers }}{{ include "ipa.extraContainers" . | nindent 4 }}{{ end }}
  {{- end }}
  containers:
    - name: {{ .role }}
      image: {{ include "ipa.image" (dict "root" $root "image" $values.image) }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args: [{{ .role | quote }}]
      securityContext:
        {{- $containerSecurity | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ .port }}
          protocol: TCP
      {{- $roleEnv := list (dict "name" "PORT" "value" (toString .port)) }}
      {{- if $isWorker }}
      {{- $roleEnv = concat $roleEnv (list
            (dict "name" "SANDBOX_ROOT" "value" "/data/sandbox")
            (dict "name" "SANDBOX_DISK_BUDGET_BYTES" "value" (include "ipa.bytes" $values.sandbox.diskBudget))
            (dict "name" "SANDBOX_WARM_SPARES" "value" (toString $values.sandbox.warmSpares))
            (dict "name" "WORKER_GRACE_SECONDS" "value" (toString $root.Values.config.executionTimeoutSeconds))) }}
      {{- end }}
      {{- include "ipa.platformEnv" (dict "root" $root "component" $component "extraEnv" (concat $roleEnv $values.extraEnvVars)) | nindent 6 }}
      startupProbe:
        httpGet:
          path: /health/live
          port: http
        {{- toYaml $values.startupProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /health/ready
          port: http
        {{- toYaml $values.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /health/live
          port: http
        {{- toYaml $values.livenessProbe | nindent 8 }}
      {{- if not $isWorker }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ $values.preStopSleepSeconds }}
      {{- end }}
      {{- $resources := deepCopy $values.resources }}
      {{- if $isWorker }}
      {{- /* the node must have room for the sandbox volume and /tmp, or the kubelet evicts the pod */}}
      {{- $requests := default (dict) $resources.requests }}
      {{- if not (hasKey $requests "ephemeral-storage") }}
      {{- $_ := set $requests "ephemeral-storage" (printf "%sMi" (include "ipa.worker.ephemeralStorageMi" $root)) }}
      {{- end }}
      {{- $_ := set $resources "requests" $requests }}
      {{- end }}
      resources:
        {{- toYaml $resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $isWorker }}
        - name: sandbox
          mountPath: /data/sandbox
        {{- end }}
        {{- with include "ipa.secretVolumeMount" $root | trim }}{{ . | nindent 8 }}{{ end }}
        {{- with $values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with $values.sidecars }}{{ include "ipa.extraContainers" . | nindent 4 }}{{ end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpSizeLimit }}
    {{- if $isWorker }}
    - name: sandbox
      emptyDir:
        # the disk budget the worker evicts within, plus headroom for directories in use
        sizeLimit: {{ include "ipa.worker.sandboxSizeMi" $root }}Mi
    {{- end }}
    {{- with include "ipa.secretVolume" (dict "root" $root "component" $component) | trim }}{{ . | nindent 4 }}{{ end }}
    {{- with $values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* Rolling update that never drops below the desired count. */}}
{{- define "ipa.rollingUpdate" -}}
strategy:
  type: RollingUpdate
  rollingUpdate:
    maxUnavailable: 0
    maxSurge: {{ .maxSurge }}
minReadySeconds: {{ .minReadySeconds }}
revisionHistoryLimit: {{ .revisionHistoryLimit }}
{{- end -}}
