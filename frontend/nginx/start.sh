#!/bin/sh
# Renders the nginx configuration into /tmp (the root filesystem is read-only) and runs nginx as
# PID 1 in the foreground. BACKEND_URL: where /api goes, e.g. http://ipa-backend:8000.
set -eu
backend=${BACKEND_URL:-http://backend:8000}
case "$backend" in
  http://* | https://*) ;;
  *) echo "BACKEND_URL must start with http:// or https:// (got '$backend')" >&2; exit 2 ;;
esac
sed "s|__BACKEND_URL__|${backend%/}|g" /etc/ipa/nginx.conf.template >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g 'daemon off;'
