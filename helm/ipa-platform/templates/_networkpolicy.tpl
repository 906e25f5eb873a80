{{/* Egress peers shared by the NetworkPolicies. */}}

{{- define "ipa.np.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      {{- with .Values.networkPolicy.dns.podSelector }}
      podSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/* "ipa.np.storeEgress" (dict "root" $ "store" "redis" "port" 6379) */}}
{{- define "ipa.np.storeEgress" -}}
{{- $np := index .root.Values.networkPolicy (default .store .np) -}}
{{- if (index .root.Values .store).enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "ipa.selectorLabels" (dict "root" .root "component" .store) | nindent 10 }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- else }}
- ports:
    - port: {{ $np.port }}
      protocol: TCP
  {{- with $np.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "ipa.np.monitoringIngress" -}}
{{- $m := .Values.networkPolicy.monitoring -}}
{{- if $m.namespaceSelector }}
- from:
    - namespaceSelector:
        {{- toYaml $m.namespaceSelector | nindent 8 }}
      {{- with $m.podSelector }}
      podSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  ports:
    - port: http
      protocol: TCP
{{- end }}
{{- end -}}

{{/* The API's and the worker's way to PgBouncer, when the chart deploys it. */}}
{{- define "ipa.np.pgbouncerEgress" -}}
{{- if .Values.pgbouncer.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "ipa.selectorLabels" (dict "root" . "component" "pgbouncer") | nindent 10 }}
  ports:
    - port: 5432
      protocol: TCP
{{- end }}
{{- end -}}
