{{/* PgBouncer: its upstream, its config and the URL the API and the worker reach it by. */}}

{{/*
The PostgreSQL PgBouncer pools for, as JSON {host, port, database, username, password, sslmode}:
each `pgbouncer.upstream` value that is set, else parsed from `secrets.databaseUrl`, else the
in-cluster PostgreSQL. With an existing Secret there is no URL to read, so the values must say it.
*/}}
{{- define "ipa.pgbouncer.upstream" -}}
{{- $u := .Values.pgbouncer.upstream -}}
{{- $d := dict "host" "" "port" 5432 "database" "" "username" "" "password" "" "sslmode" "" -}}
{{- if .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.databaseUrl -}}
{{- $url := urlParse .Values.secrets.databaseUrl -}}
{{- $_ := set $d "host" ($url.hostname | trimPrefix "[" | trimSuffix "]") -}}
{{- with regexFind ":[0-9]+$" $url.host }}{{ $_ := set $d "port" (trimPrefix ":" . | int) }}{{ end -}}
{{- $_ := set $d "database" (trimPrefix "/" $url.path) -}}
{{- $user := regexSplit ":" $url.userinfo 2 -}}
{{- $_ := set $d "username" (first $user) -}}
{{- if gt (len $user) 1 }}{{ $_ := set $d "password" (last $user) }}{{ end -}}
{{- with regexFind "(^|&)sslmode=[^&]*" $url.query }}{{ $_ := set $d "sslmode" (regexReplaceAll "^&?sslmode=" . "") }}{{ end -}}
{{- if and (contains "%" $url.userinfo) (not $u.password) -}}
{{- fail "pgbouncer: the user or password in secrets.databaseUrl is percent-encoded, which the chart cannot decode; set pgbouncer.upstream.username/password as plain text" -}}
{{- end -}}
{{- else if .Values.postgresql.enabled -}}
{{- $p := .Values.postgresql -}}
{{- $_ := set $d "host" (include "ipa.componentName" (dict "root" . "component" "postgresql")) -}}
{{- $_ := set $d "database" $p.database -}}
{{- $_ := set $d "username" $p.username -}}
{{- $_ := set $d "password" (include "ipa.postgresql.password" .) -}}
{{- end -}}
{{- range $k := list "host" "port" "database" "username" "password" "sslmode" -}}
{{- with index $u $k }}{{ $_ := set $d $k . }}{{ end -}}
{{- end -}}
{{- if not $d.sslmode }}{{ $_ := set $d "sslmode" "prefer" }}{{ end -}}
{{- toJson $d -}}
{{- end -}}

{{/* The pooled URL the API and the worker use when the chart makes the Secret: same user, password and database, PgBouncer's Service as the host. */}}
{{- define "ipa.pgbouncer.databaseUrl" -}}
{{- $up := include "ipa.pgbouncer.upstream" . | fromJson -}}
{{- printf "postgresql://%s:%s@%s:%v/%s" $up.username ($up.password | urlquery) (include "ipa.componentName" (dict "root" . "component" "pgbouncer")) .Values.pgbouncer.service.port $up.database -}}
{{- end -}}

{{/* The setting a component's variable is read from: the API and the worker read DATABASE_URL from PGBOUNCER_DATABASE_URL when PgBouncer is on; the migrations always connect directly. (dict "root" $ "component" "worker" "name" "DATABASE_URL") */}}
{{- define "ipa.secretSource" -}}
{{- if and .root.Values.pgbouncer.enabled (eq .name "DATABASE_URL") (has .component (list "backend" "worker")) -}}
PGBOUNCER_DATABASE_URL
{{- else -}}
{{- .name -}}
{{- end -}}
{{- end -}}

{{/* A userlist.txt line: PgBouncer authenticates clients and logs in upstream with it (quotes doubled). */}}
{{- define "ipa.pgbouncer.userlist" -}}
{{- $up := include "ipa.pgbouncer.upstream" . | fromJson -}}
{{- printf "\"%s\" \"%s\"" ($up.username | replace "\"" "\"\"") ($up.password | replace "\"" "\"\"") -}}
{{- end -}}

{{/* pgbouncer.ini: no password in it; PgBouncer takes the upstream's from the auth file. */}}
{{- define "ipa.pgbouncer.ini" -}}
{{- $b := .Values.pgbouncer -}}
{{- $up := include "ipa.pgbouncer.upstream" . | fromJson -}}
[databases]
{{ $up.database }} = host={{ $up.host }} port={{ $up.port }} dbname={{ $up.database }} user={{ $up.username }}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 5432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist.txt
pool_mode = {{ $b.poolMode }}
default_pool_size = {{ $b.defaultPoolSize }}
reserve_pool_size = {{ $b.reservePoolSize }}
reserve_pool_timeout = 3
max_client_conn = {{ $b.maxClientConn }}
server_tls_sslmode = {{ $up.sslmode }}
; pg sends no extra startup parameters; JDBC-style clients send extra_float_digits
ignore_startup_parameters = extra_float_digits
; stdout only: the root filesystem is read-only
logfile =
pidfile =
log_connections = 0
log_disconnections = 0
{{- end -}}

{{/* Checks of the PgBouncer values the schema cannot express. */}}
{{- define "ipa.pgbouncer.validate" -}}
{{- if .Values.pgbouncer.enabled -}}
{{- $up := include "ipa.pgbouncer.upstream" . | fromJson -}}
{{- if or (not $up.host) (not $up.database) (not $up.username) -}}
{{- fail "pgbouncer.enabled needs its upstream: set pgbouncer.upstream.host, .database and .username (with secrets.existingSecret the chart cannot read the database URL)" -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (not $up.password) -}}
{{- fail "pgbouncer.enabled needs the database password: in secrets.databaseUrl or pgbouncer.upstream.password" -}}
{{- end -}}
{{- end -}}
{{- end -}}
