#!/usr/bin/env bash
# test.sh -- build the unpoold image from docker/Dockerfile, run it, and
# check it answers over HTTP from outside the container (`make docker-test`).
#
# With a reachable Docker engine: docker build / docker run. Without one
# (the usual case on build machines and CI runners without a daemon):
# buildah with --isolation chroot, which needs no daemon and no user
# namespaces. No container registry may be reachable either, so the two base
# images the Dockerfile names (debian:bookworm, debian:bookworm-slim) are
# made here once with debootstrap and stored under their Docker Hub names;
# later runs reuse them (DOCKER_TEST_REBASE=1 remakes them). debootstrap
# uses the Debian mirror this machine's apt already uses (read from
# /etc/apt/sources.list and /etc/apt/sources.list.d/; DEBIAN_MIRROR
# overrides it), so the script names no host. Everything the container
# serves is on a loopback port.
#
# Needs (Debian): buildah debootstrap curl python3 (or a Docker engine);
# without an engine, missing ones are installed with apt-get, as .ci/run
# installs the rest.
# Prints the image size and the time each step took, then
# "N passed, N failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1

IMAGE=${DOCKER_TEST_IMAGE:-localhost/unpoold:test}
PORT=${DOCKER_TEST_PORT:-18480}
BASE_FULL=docker.io/library/debian:bookworm
BASE_SLIM=docker.io/library/debian:bookworm-slim

passed=0
failed=0
check() { # what, command...
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $what"
    else failed=$((failed + 1)); echo "FAIL $what"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
now() { date +%s; }

TMP=$(mktemp -d /tmp/unpoold-docker-test.XXXXXX)
ENGINE=buildah
CTR=""
DAEMON_PID=""
cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -KILL "$DAEMON_PID" 2>/dev/null
    fi
    if [ -n "$CTR" ]; then
        if [ "$ENGINE" = docker ]; then docker rm -f "$CTR" >/dev/null 2>&1
        else buildah rm "$CTR" >/dev/null 2>&1; fi
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- HTTP checks, the same for both engines ------------------------------

BODY='{"inputs": {"x": [[[[1,2],[3,4]]]]}, "params": {"kernel_size": 2}}'

wait_healthy() { # up to 20 s
    local _
    for _ in $(seq 1 200); do
        curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
healthz_ok() {
    [ "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ]
}
op_ok() {
    curl -sS -m 10 -H 'Content-Type: application/json' -d "$BODY" \
        "http://127.0.0.1:$PORT/v1/ops/max_pool" >"$TMP/op.json" || return 1
    python3 - "$TMP/op.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
y, i = r["outputs"]["y"], r["outputs"]["indices"]
ok = (y["shape"] == [1, 1, 1, 1] and y["data"] == [4]
      and i["shape"] == [1, 1, 1, 1] and i["data"] == [3])
if not ok:
    print("   unexpected answer: %s" % json.dumps(r["outputs"]))
sys.exit(0 if ok else 1)
EOF
}
metrics_ok() {
    curl -sS -m 5 -o "$TMP/metrics.txt" "http://127.0.0.1:$PORT/metrics" &&
        grep -q '^unpoold_requests_total{op="max_pool",status="200",protocol="http"} [1-9]' "$TMP/metrics.txt"
}

# --- base images (buildah path) ------------------------------------------

# The first "deb" URI of this machine's apt configuration that serves the
# suite $1: deb822 stanzas (sources.list.d/*.sources) first, then one-line
# entries (sources.list, sources.list.d/*.list). Prints nothing if none.
apt_mirror() { # suite
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk -v want="$1" '
                BEGIN { RS = ""; FS = "\n" }
                {
                    types = uris = suites = ""
                    for (i = 1; i <= NF; i++) {
                        if ($i ~ /^Types:/) types = $i
                        else if ($i ~ /^URIs:/) uris = $i
                        else if ($i ~ /^Suites:/) suites = $i
                    }
                    sub(/^Suites:/, "", suites)
                    if (types ~ /[ \t]deb([ \t]|$)/ && (" " suites " ") ~ ("[ \t]" want "[ \t]")) {
                        sub(/^URIs:[ \t]*/, "", uris)
                        split(uris, u, /[ \t]+/)
                        print u[1]
                    }
                }' "$f"
        done
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v want="$1" '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == want) print $i
            }'
    } | head -n 1
}

# buildah, debootstrap and the rest from Debian's packages, if missing.
install_tools() {
    local missing="" tool sudo=""
    for tool in buildah debootstrap curl python3; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    [ -n "$missing" ] || return 0
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "== installing$missing with apt-get"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $missing >"$TMP/apt.log" 2>&1 ||
        { $sudo apt-get update -q >>"$TMP/apt.log" 2>&1 &&
          $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
              --no-install-recommends $missing >>"$TMP/apt.log" 2>&1; } ||
        { tail -n 20 "$TMP/apt.log"; return 1; }
}

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# A directory -> a one-layer image named like Docker Hub's, so that the
# Dockerfile's FROM lines resolve locally with --pull=never.
import_rootfs() { # rootfs dir, image name
    local c
    c=$(buildah from --pull=never scratch) || return 1
    if tar -C "$1" -cf "$TMP/rootfs.tar" . &&
        buildah add --quiet "$c" "$TMP/rootfs.tar" / >/dev/null &&
        buildah config --cmd /bin/bash \
            --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c" &&
        buildah commit --quiet --rm "$c" "$2" >/dev/null; then
        rm -f "$TMP/rootfs.tar"
        return 0
    fi
    buildah rm "$c" >/dev/null 2>&1
    return 1
}

# debian:bookworm is debootstrap's minbase (what Docker's image is built
# from); -slim drops documentation, man pages and locales, and keeps them
# out of every later apt-get install, as Docker's slim variant does.
make_bases() {
    local root=$TMP/rootfs
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$TMP/debootstrap.log" 2>&1 || {
        tail -n 20 "$TMP/debootstrap.log"; return 1; }
    {
        echo "deb $MIRROR bookworm main"
        echo "deb $MIRROR bookworm-updates main"
        [ -z "$SECURITY" ] || echo "deb $SECURITY bookworm-security main"
    } >"$root/etc/apt/sources.list"
    printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/99norecommends"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
           "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
    import_rootfs "$root" "$BASE_FULL" || return 1
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* \
           "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    import_rootfs "$root" "$BASE_SLIM"
}

image_size() { # as "NNN MB", what `docker images` shows
    if [ "$ENGINE" = docker ]; then
        docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'
    else
        buildah images --format '{{.Size}}' "$IMAGE" | head -n 1
    fi
}

# --- compose file -------------------------------------------------------

# Schema check of docker/compose.yaml by whichever Compose client is here
# (nothing is started). Compose v1 (Debian's docker-compose) predates the
# top-level `name:` key, so it checks the file without that line.
compose_valid() {
    if docker compose version >/dev/null 2>&1; then
        docker compose -f docker/compose.yaml config -q
    else
        sed '/^name:/d' docker/compose.yaml >"$TMP/compose.yaml" &&
            docker-compose --project-directory docker -f "$TMP/compose.yaml" config -q
    fi
}
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; then
    check "docker/compose.yaml passes the Compose client's schema" compose_valid
else
    echo "   no Compose client here: docker/compose.yaml not schema-checked"
fi

# --- engine --------------------------------------------------------------

ENGINE=buildah
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    ENGINE=docker
fi
echo "== engine: $ENGINE"

if [ "$ENGINE" = buildah ]; then
    install_tools
    for tool in buildah debootstrap curl python3; do
        check "$tool installed" command -v "$tool" >/dev/null
    done
    [ "$failed" -eq 0 ] || { echo "   apt-get install buildah debootstrap curl python3"; finish; }
    MIRROR=${DEBIAN_MIRROR:-$(apt_mirror bookworm)}
    SECURITY=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror bookworm-security)}
    check "a Debian bookworm mirror in this machine's apt configuration (or DEBIAN_MIRROR)" \
        test -n "$MIRROR"
    [ "$failed" -eq 0 ] || finish
    t=$(now)
    if [ "${DOCKER_TEST_REBASE:-0}" = 1 ] || ! have_image "$BASE_FULL" || ! have_image "$BASE_SLIM"; then
        echo "== making base images with debootstrap from $MIRROR"
        buildah rmi "$BASE_FULL" "$BASE_SLIM" >/dev/null 2>&1
        check "base images made with debootstrap" make_bases
        [ "$failed" -eq 0 ] || finish
        echo "   base images took $(($(now) - t)) s"
    else
        echo "== base images already in local storage (DOCKER_TEST_REBASE=1 remakes them)"
    fi
fi

# --- build ---------------------------------------------------------------

echo "== building $IMAGE"
# The previous test image would stay behind untagged; drop it first.
if [ "$ENGINE" = docker ]; then docker rmi "$IMAGE" >/dev/null 2>&1
else buildah rmi "$IMAGE" >/dev/null 2>&1; fi
t=$(now)
if [ "$ENGINE" = docker ]; then
    docker build -f docker/Dockerfile -t "$IMAGE" . >"$TMP/build.log" 2>&1
else
    buildah build --isolation chroot --format docker --pull=never \
        -f docker/Dockerfile -t "$IMAGE" . >"$TMP/build.log" 2>&1
fi
rc=$?
build_s=$(($(now) - t))
[ "$rc" -eq 0 ] || tail -n 30 "$TMP/build.log"
check "image builds (${build_s} s)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || finish

size=$(image_size)
# What a registry would store and a node would pull: the layers, gzipped.
if [ "$ENGINE" = docker ]; then docker save "$IMAGE" >"$TMP/image.tar"
else buildah push --quiet "$IMAGE" "docker-archive:$TMP/image.tar:$IMAGE" >/dev/null; fi
gz_mb=$(gzip -6 -c "$TMP/image.tar" | wc -c | awk '{printf "%.1f", $1 / 1e6}')
rm -f "$TMP/image.tar"
echo "   image size: $size uncompressed, $gz_mb MB gzipped"

# --- image configuration -------------------------------------------------

if [ "$ENGINE" = docker ]; then
    docker image inspect "$IMAGE" >"$TMP/inspect.json"
    cfg_key=Config
else
    buildah inspect --type image "$IMAGE" >"$TMP/inspect.json"
    cfg_key=Docker
fi
config_ok() {
    python3 - "$TMP/inspect.json" "$cfg_key" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if isinstance(d, list):
    d = d[0]
c = d["Config"] if sys.argv[2] == "Config" else d["Docker"]["config"]
hc = (c.get("Healthcheck") or {}).get("Test") or []
problems = []
if c.get("User", "").split(":")[0] in ("", "0", "root"):
    problems.append("runs as root")
if "8080/tcp" not in (c.get("ExposedPorts") or {}):
    problems.append("8080 not exposed")
if "UNPOOLD_LISTEN=0.0.0.0:8080" not in (c.get("Env") or []):
    problems.append("UNPOOLD_LISTEN not 0.0.0.0:8080")
if not any("healthcheck" in str(x) for x in hc):
    problems.append("no HEALTHCHECK: %r" % hc)
for p in problems:
    print("   " + p)
sys.exit(1 if problems else 0)
EOF
}
check "image config: non-root user, EXPOSE 8080, 0.0.0.0 listen, HEALTHCHECK" config_ok

# --- run -----------------------------------------------------------------

echo "== running $IMAGE on 127.0.0.1:$PORT"
if [ "$ENGINE" = docker ]; then
    CTR=unpoold-docker-test-$$
    docker run -d --name "$CTR" -p "127.0.0.1:$PORT:8080" "$IMAGE" >/dev/null
else
    CTR=$(buildah from --pull=never "$IMAGE")
    # chroot isolation shares the host's network, so the daemon listens on
    # a loopback port of this machine; the image's own ENV is overridden.
    buildah run --isolation chroot --env "UNPOOLD_LISTEN=127.0.0.1:$PORT" \
        --env UNPOOLD_WORKERS=2 "$CTR" -- /usr/local/bin/unpoold \
        >"$TMP/daemon.log" 2>&1 &
    DAEMON_PID=$!
fi

check "container answers /healthz within 20 s" wait_healthy
check "GET /healthz is 200" healthz_ok
check "POST /v1/ops/max_pool gives y=[[[[4]]]], indices=[[[[3]]]]" op_ok
check "/metrics counts the op" metrics_ok

if [ "$ENGINE" = docker ]; then
    uid=$(docker exec "$CTR" id -u)
    check "daemon runs as uid 10001 (got $uid)" test "$uid" = 10001
    hc_ok() {
        local _ s
        for _ in $(seq 1 30); do
            s=$(docker inspect -f '{{.State.Health.Status}}' "$CTR")
            [ "$s" = healthy ] && return 0
            sleep 1
        done
        return 1
    }
    check "docker reports the container healthy" hc_ok
    t=$(now)
    docker stop -t 35 "$CTR" >/dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$CTR")
    check "SIGTERM drains and exits 0 (exit $code, $(($(now) - t)) s)" test "$code" = 0
else
    uid=$(buildah run --isolation chroot "$CTR" -- id -u 2>/dev/null)
    check "image user is uid 10001 (got $uid)" test "$uid" = 10001
    check "the image's HEALTHCHECK command passes against the live daemon" \
        buildah run --isolation chroot --env "UNPOOLD_LISTEN=127.0.0.1:$PORT" "$CTR" -- \
        /usr/local/bin/unpoold-healthcheck
    # The daemon is the process listening on the port (buildah run is its
    # parent); SIGTERM it as a container stop would, and buildah run passes
    # on its exit status.
    dpid=$(ss -ltnpH "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    stopped() {
        [ -n "$dpid" ] || return 1
        kill -TERM "$dpid" || return 1
        local _
        for _ in $(seq 1 100); do
            kill -0 "$DAEMON_PID" 2>/dev/null || break
            sleep 0.1
        done
        wait "$DAEMON_PID"
        local rc=$?
        DAEMON_PID=""
        [ "$rc" -eq 0 ] || echo "   daemon exit status $rc"
        [ "$rc" -eq 0 ]
    }
    check "SIGTERM drains and exits 0" stopped
    grep -q "drain" "$TMP/daemon.log" || sed 's/^/   daemon: /' "$TMP/daemon.log" | tail -n 5
fi

echo "== image $IMAGE: $size uncompressed, $gz_mb MB gzipped; built in ${build_s} s"
finish
