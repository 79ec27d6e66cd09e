#!/bin/bash
# healthcheck.sh -- the container's HEALTHCHECK: GET /healthz, exit 0 on 200.
#
# Plain bash over /dev/tcp, because bash is already in debian:bookworm-slim
# and an HTTP client (curl, wget) would only be there for this probe. The
# address comes from UNPOOLD_LISTEN, the same variable the daemon reads, so
# the probe follows a changed port. A wildcard listen address (0.0.0.0, [::])
# is probed on loopback. With --tls-cert the daemon speaks only TLS, which
# this probe cannot; use an exec probe with a TLS client there.
set -u

listen=${UNPOOLD_LISTEN:-127.0.0.1:8080}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
    "" | 0.0.0.0 | "*") host=127.0.0.1 ;;
    ::) host=::1 ;;
esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 2 status <&3 || exit 1
case $status in
    "HTTP/1."?" 200"*) exit 0 ;;
esac
echo "unhealthy: $status" >&2
exit 1
