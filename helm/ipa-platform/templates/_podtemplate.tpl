{{/*
One pod template for the two platform processes, the API and the worker: same image layout,
same environment, same hardening, same probes; they differ only in role, port and volumes.
Call with (dict "root" $ "component" "backend" "values" .Values.backend "role" "api" "port" 8000).
*/}}
{{- define "ipa.podTemplate" -}}
{{- $root := .root -}}
{{- $values := .values -}}
{{- $isWorker := eq .role "worker" -}}
metadata:
  labels:
    {{- include "ipa.labels" . | nindent 4 }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "ipa.checksums" $root | nindent 4 }}
    {{- with $values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ipa.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- if $isWorker }}
  terminationGracePeriodSeconds: {{ include "ipa.worker.terminationGracePeriodSeconds" $root }}
  {{- with $values.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  {{- else }}
  terminationGracePeriodSeconds: {{ include "ipa.backend.terminationGracePeriodSeconds" $root }}
  {{- end }}
  {{- with include "ipa.scheduling" . | trim }}{{ . | nindent 2 }}{{ end }}
  {{- if and (not $isWorker) $root.Values.migrations.enabled (eq $root.Values.migrations.mode "initContainer") }}
  initContainers:
    - name: migrate
      image: {{ include "ipa.image" (dict "root" $root "image" $values.image) }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args: ["migrate"]
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      {{- include "ipa.platformEnv" (dict "root" $root) | nindent 6 }}
      resources:
        {{- toYaml $root.Values.migrations.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with include "ipa.secretVolumeMount" $root | trim }}{{ . | nindent 8 }}{{ end }}
  {{- end }}
  containers:
    - name: {{ .role }}
      image: {{ include "ipa.image" (dict "root" $root "image" $values.image) }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args: [{{ .role | quote }}]
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ .port }}
          protocol: TCP
      {{- $roleEnv := list (dict "name" "PORT" "value" (toString .port)) }}
      {{- if $isWorker }}
      {{- $roleEnv = concat $roleEnv (list
            (dict "name" "SANDBOX_ROOT" "value" "/data/sandbox")
            (dict "name" "WORKER_GRACE_SECONDS" "value" (toString $root.Values.config.executionTimeoutSeconds))) }}
      {{- end }}
      {{- include "ipa.platformEnv" (dict "root" $root "extraEnv" (concat $roleEnv $values.extraEnvVars)) | nindent 6 }}
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
      resources:
        {{- toYaml $values.resources | nindent 8 }}
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
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpSizeLimit }}
    {{- if $isWorker }}
    - name: sandbox
      emptyDir:
        sizeLimit: {{ $values.sandbox.sizeLimit }}
    {{- end }}
    {{- with include "ipa.secretVolume" $root | trim }}{{ . | nindent 4 }}{{ end }}
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
