#!/bin/bash
# Container health check without curl: one HTTP request to /healthz over bash's /dev/tcp.
exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 2 status_line <&3 || exit 1
case "$status_line" in
  HTTP/1.?\ 200*) exit 0 ;;
  *) exit 1 ;;
esac
