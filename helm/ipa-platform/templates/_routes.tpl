{{/*
The routes shared by the Ingress and the HTTPRoute: `/api` (REST and event streams) and `/hooks/`
(automation webhooks, POST) go to the API; everything else to the web app (the API when the web
app is off). Each entry: path, component.
*/}}
{{- define "ipa.routes" -}}
{{- $web := ternary "frontend" "backend" .Values.frontend.enabled -}}
{{- toJson (list
      (dict "path" "/api" "component" "backend")
      (dict "path" "/hooks/" "component" "backend")
      (dict "path" "/" "component" $web)) -}}
{{- end -}}

{{- define "ipa.servicePort" -}}
{{- ternary .root.Values.frontend.service.port .root.Values.backend.service.port (eq .component "frontend") -}}
{{- end -}}
