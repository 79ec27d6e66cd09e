#!/usr/bin/env bash
# scale_test.sh -- three unpoold replicas behind nginx on loopback, one of
# them SIGKILLed mid-load and restarted (`make scale-test`).
#
# What it shows:
#   - nginx with docker/nginx.conf's upstream settings (the lines between
#     its @replicas markers become loopback replicas; nothing else changes)
#     loses no client request when a replica dies under load: requests in
#     flight on it, and those nginx sends before it marks the replica down,
#     are retried on the others (proxy_next_upstream error ... non_idempotent);
#   - while the replica is down its share goes to the other two, and it
#     gets traffic again after it restarts;
#   - the same for a replica drained with SIGTERM (a rollout's stop);
#   - a 503 "queue full" is retried on another replica, and when every
#     replica is full the client gets the 503 and its Retry-After, not a
#     502 (stand-in replicas that always answer 503 make this exact);
#   - requests/s through nginx with 1 and with 3 replicas. This machine
#     class has 2 cores shared by wrk, nginx and every replica, so the
#     figures show the proxy's overhead, not scale-out.
#
# Needs (Debian): nginx wrk curl python3. All traffic is on 127.0.0.1; every
# loop is bounded, and wrk runs for a fixed time. Ends with
# "N passed, N failed"; exits non-zero on any failure.
#
# Environment: BUILD (build folder, default build), SCALE_DURATION (seconds
# of load across the kill, default 20), SCALE_DRAIN_SECONDS (across the
# drain, default 6), SCALE_BENCH_SECONDS (each throughput run, default 5),
# SCALE_PORT_BASE (default 18500: nginx on it, replicas on the next three
# ports).
set -u
cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
BIN=$BUILD/unpoold
DURATION=${SCALE_DURATION:-20}
BENCH_S=${SCALE_BENCH_SECONDS:-5}
BASE=${SCALE_PORT_BASE:-18500}
LB_PORT=$BASE
PORTS=($((BASE + 1)) $((BASE + 2)) $((BASE + 3)))
FULL_PORTS=($((BASE + 4)) $((BASE + 5))) # stand-ins for replicas whose queue is full
CONNS=16
NGINX_CONF_SRC=docker/nginx.conf

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

TMP=$(mktemp -d /tmp/unpoold-scale.XXXXXX)
chmod 755 "$TMP" # nginx workers may run as another user
declare -a PIDS=("" "" "")
declare -a FULL_PIDS=("" "")
NGINX_PID=""
cleanup() {
    local p
    for p in "${PIDS[@]}" "${FULL_PIDS[@]}" "$NGINX_PID"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

for tool in nginx wrk curl python3; do
    check "$tool installed" command -v "$tool" >/dev/null
done
[ "$failed" -eq 0 ] || { echo "   apt-get install nginx wrk curl python3"; finish; }
check "daemon builds ($BIN)" make -s BUILD="$BUILD" "$BIN"
[ "$failed" -eq 0 ] || finish

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$LB_PORT" "${PORTS[@]}" "${FULL_PORTS[@]}"; do
    check "port $p is free" port_free "$p"
done
[ "$failed" -eq 0 ] || finish

# --- replicas ------------------------------------------------------------

wait_http() { # url; up to 10 s
    local _
    for _ in $(seq 1 100); do
        curl -fsS -m 1 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# One worker each: three replicas then want three cores' worth of kernels,
# more than this machine has, which is the overload case a balancer is for.
start_replica() { # index
    local i=$1
    "$BIN" --listen "127.0.0.1:${PORTS[$i]}" --workers 1 >>"$TMP/replica$i.log" 2>&1 &
    PIDS[i]=$!
    wait_http "http://127.0.0.1:${PORTS[$i]}/healthz"
}

stop_replica() { # index: SIGTERM drains; exit 0 expected
    local i=$1 rc
    [ -n "${PIDS[$i]}" ] || return 0
    kill -TERM "${PIDS[$i]}" 2>/dev/null
    wait "${PIDS[$i]}"; rc=$?
    PIDS[i]=""
    return "$rc"
}

# --- nginx ---------------------------------------------------------------

# docker/nginx.conf with its replica lines, listen and access_log swapped
# for this run's; every other line -- balancing, keep-alive, retries,
# timeouts -- is the compose file's own.
gen_nginx() { # folder, upstream port...
    local dir=$1 params p servers=""
    shift
    mkdir -p "$dir"
    params=$(sed -n '/#@replicas-begin/,/#@replicas-end/p' "$NGINX_CONF_SRC" |
             sed -n 's/^[[:space:]]*server[[:space:]]\{1,\}[^[:space:];]*\(.*\);.*/\1/p' |
             sed 's/[[:space:]]resolve\b//')
    [ -n "$params" ] || { echo "   no server line between the @replicas markers"; return 1; }
    for p in "$@"; do
        servers+="    server 127.0.0.1:${p}${params};\n"
    done
    awk -v servers="$servers" -v listen="127.0.0.1:$LB_PORT" -v logfile="$TMP/access.log" '
        /#@replicas-begin/ { printf "%s", servers; skip = 1; next }
        /#@replicas-end/   { skip = 0; next }
        skip { next }
        /^[[:space:]]*listen[[:space:]]+8080;/ { sub(/8080/, listen); nlisten++ }
        /^[[:space:]]*access_log[[:space:]]+\/var\/log\/nginx\/access.log/ {
            sub(/\/var\/log\/nginx\/access.log/, logfile); nlog++ }
        { print }
        END { if (nlisten != 1 || nlog != 1) exit 1 }
    ' "$NGINX_CONF_SRC" >"$dir/unpoold.conf" || { echo "   listen/access_log lines not found"; return 1; }
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/unpoold.conf;
}
EOF
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" 2>"$dir/t.log" || { cat "$dir/t.log"; return 1; }
}

start_nginx() { # folder
    nginx -p "$1" -c "$1/nginx.conf" 2>>"$1/error.log" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$LB_PORT/lb/healthz"
}

stop_nginx() {
    [ -n "$NGINX_PID" ] || return 0
    kill -QUIT "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=""
}

# --- load ----------------------------------------------------------------

# POST max_pool on a 2x2 plane; every answer's body is checked, so a wrong
# 200 counts as a failure too.
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"inputs": {"x": [[[[1,2],[3,4]]]]}, "params": {"kernel_size": 2}}'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; bad = 0 end
function response(status, headers, body)
    if status == 200 and body:find('"y":{"dtype":"float32","shape":[1,1,1,1],"data":[4]}', 1, true)
       and body:find('"indices":{"dtype":"int64","shape":[1,1,1,1],"data":[3]}', 1, true) then
        good = good + 1
    else
        bad = bad + 1
    end
end
function done(summary, latency, requests)
    local g, b = 0, 0
    for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d good=%d bad=%d connect=%d read=%d write=%d status=%d timeout=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests, g, b, e.connect, e.read, e.write, e.status, e.timeout,
        summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
EOF

run_wrk() { # url, seconds, output file
    wrk -t1 -c"$CONNS" -d"${2}s" --timeout 5s -s "$TMP/post.lua" "$1" >"$3" 2>&1
}
field() { # name, file
    grep '^RESULT' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
no_failures() { # wrk output file
    local f=$1 k
    [ -n "$(field requests "$f")" ] || { cat "$f"; return 1; }
    for k in bad connect read write status timeout; do
        [ "$(field "$k" "$f")" = 0 ] || { grep '^RESULT' "$f"; return 1; }
    done
    [ "$(field good "$f")" -gt 0 ]
}
rate() { # wrk output file -> requests/s
    awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     printf "%.0f", v["good"] / v["seconds"] }' "$1"
}
p99() { field p99_ms "$1"; }

# --- 1. throughput: direct and nginx + 1 replica (3 replicas in part 3) ---

echo "== starting 3 replicas on ${PORTS[*]}"
for i in 0 1 2; do
    check "replica $i healthy on ${PORTS[$i]}" start_replica "$i"
done
[ "$failed" -eq 0 ] || finish

echo "== throughput, ${BENCH_S} s each, wrk 1 thread $CONNS connections"
run_wrk "http://127.0.0.1:${PORTS[0]}/v1/ops/max_pool" "$BENCH_S" "$TMP/direct.out"
check "direct to one replica: no failed request" no_failures "$TMP/direct.out"

check "nginx config from $NGINX_CONF_SRC with 1 replica accepted" gen_nginx "$TMP/nginx1" "${PORTS[0]}"
check "nginx with 1 replica up" start_nginx "$TMP/nginx1"
run_wrk "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" "$BENCH_S" "$TMP/lb1.out"
check "nginx + 1 replica: no failed request" no_failures "$TMP/lb1.out"
stop_nginx

# --- 2. 503 "queue full": retried on another replica, or passed on -------

# A stand-in for a replica whose queue is full: answers every request with
# unpoold's 503 and Retry-After: 1, and counts them. Deterministic, unlike
# trying to fill a real replica's queue on two shared cores.
cat >"$TMP/full_replica.py" <<'PYEOF'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Full(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"type":"about:blank","title":"Service Unavailable","status":503}'
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        sys.stderr.write("503\n")
        sys.stderr.flush()

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Full).serve_forever()
PYEOF
start_full() { # index
    python3 "$TMP/full_replica.py" "${FULL_PORTS[$1]}" 2>"$TMP/full$1.log" &
    FULL_PIDS[$1]=$!
    local _
    for _ in $(seq 1 50); do
        port_free "${FULL_PORTS[$1]}" || return 0
        sleep 0.1
    done
    return 1
}
check "full stand-in replica 0 up" start_full 0
check "full stand-in replica 1 up" start_full 1

echo "== ${BENCH_S} s of load on nginx with a real replica and a full one"
check "nginx config: replica 0 + a full replica" gen_nginx "$TMP/nginx503" "${PORTS[0]}" "${FULL_PORTS[0]}"
check "nginx with a full replica up" start_nginx "$TMP/nginx503"
run_wrk "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" "$BENCH_S" "$TMP/retry503.out"
stop_nginx
full_hits=$(wc -l <"$TMP/full0.log")
check "no failed client request: every 503 was retried on the real replica" \
    no_failures "$TMP/retry503.out"
check "the full replica was asked and answered 503 ($full_hits times)" test "$full_hits" -gt 0

# Every replica full: the client must get unpoold's 503 and Retry-After (a
# balancer that ejected the replicas would answer 502 "no live upstreams").
all_full_ok() {
    local n code ra
    for n in 1 2 3 4 5; do
        curl -sS -m 5 -D "$TMP/allfull.h" -o /dev/null -d '{}' \
            "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" || return 1
        code=$(awk 'NR == 1 { print $2 }' "$TMP/allfull.h")
        ra=$(tr -d '\r' <"$TMP/allfull.h" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
        if [ "$code" != 503 ] || [ "$ra" != 1 ]; then
            echo "   request $n: status $code, Retry-After '$ra'"
            return 1
        fi
    done
}
check "nginx config: two full replicas" gen_nginx "$TMP/nginxfull" "${FULL_PORTS[@]}"
check "nginx with two full replicas up" start_nginx "$TMP/nginxfull"
check "every replica full: 5 of 5 clients get 503 with Retry-After: 1, never 502" all_full_ok
stop_nginx
for i in 0 1; do
    kill -TERM "${FULL_PIDS[$i]}" 2>/dev/null
    wait "${FULL_PIDS[$i]}" 2>/dev/null
    FULL_PIDS[i]=""
done

# --- 3. three replicas; SIGKILL one mid-load, restart it ------------------

check "nginx config from $NGINX_CONF_SRC with 3 replicas accepted" gen_nginx "$TMP/nginx3" "${PORTS[@]}"
check "nginx with 3 replicas up" start_nginx "$TMP/nginx3"
run_wrk "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" "$BENCH_S" "$TMP/lb3.out"
check "nginx + 3 replicas: no failed request" no_failures "$TMP/lb3.out"

# The kill run needs nginx and the replicas working; stop here otherwise.
[ "$failed" -eq 0 ] || finish

metric_count() { # port -> unpoold_requests_total{op="max_pool",status="200",protocol="http"}
    curl -fsS -m 2 "http://127.0.0.1:$1/metrics" |
        awk '/^unpoold_requests_total\{op="max_pool",status="200",protocol="http"\}/ { print $2; f = 1 }
             END { if (!f) print 0 }'
}

: >"$TMP/access.log"
kill -USR1 "$NGINX_PID" 2>/dev/null # reopen the (emptied) access log
sleep 0.2
: >"$TMP/access.log"
before=()
for i in 0 1 2; do before[i]=$(metric_count "${PORTS[$i]}"); done

KILL_AT=$((DURATION * 3 / 10))
RESTART_AT=$((DURATION * 6 / 10))
echo "== ${DURATION} s of load through nginx; SIGKILL replica 1 (port ${PORTS[1]}) at ${KILL_AT} s, restart at ${RESTART_AT} s"
t_start=$(date +%s.%N)
run_wrk "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" "$DURATION" "$TMP/kill.out" &
WRK_PID=$!
sleep "$KILL_AT"
t_kill=$(date +%s.%N)
{ kill -KILL "${PIDS[1]}"; wait "${PIDS[1]}"; } 2>/dev/null # no "Killed" job notice
PIDS[1]=""
sleep $((RESTART_AT - KILL_AT))
t_restart=$(date +%s.%N)
check "replica 1 restarted and healthy" start_replica 1
t_ready=$(date +%s.%N)
wait "$WRK_PID"
t_end=$(date +%s.%N)
sleep 0.3 # let nginx write its last log lines

check "no failed client request across the kill (non-2xx, socket errors, wrong bodies)" \
    no_failures "$TMP/kill.out"
grep '^RESULT' "$TMP/kill.out" | sed 's/^RESULT/   wrk:/'

after=()
for i in 0 1 2; do after[i]=$(metric_count "${PORTS[$i]}"); done

# Per-replica shares from nginx's log: which replica gave each final answer,
# in the windows before the kill, while replica 1 was down, after restart.
python3 - "$TMP/access.log" "$t_start" "$t_kill" "$t_restart" "$t_ready" "$t_end" \
    "${PORTS[0]}" "${PORTS[1]}" "${PORTS[2]}" >"$TMP/shares.out" <<'EOF'
import sys
log, t0, tk, tr, tready, te = sys.argv[1], *map(float, sys.argv[2:7])
ports = sys.argv[7:10]
win = {"before": (t0, tk), "down": (tk + 0.2, tr), "after": (tready + 0.5, te)}
count = {w: {p: 0 for p in ports} for w in win}
status = {}
retried = 0
total = 0
for line in open(log):
    f = line.split()
    if len(f) < 4:
        continue
    t, st, ups = float(f[0]), f[1], line.split(" ", 2)[2]
    ups = ups[: ups.index(' "')]
    total += 1
    status[st] = status.get(st, 0) + 1
    peers = [u.strip() for u in ups.replace(" : ", ", ").split(",")]
    if len(peers) > 1:
        retried += 1
    last = peers[-1].rsplit(":", 1)[-1]
    for w, (a, b) in win.items():
        if a <= t < b and st == "200" and last in count[w]:
            count[w][last] += 1
def ok(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
print("   nginx log: %d requests, statuses %s, %d retried on another replica"
      % (total, dict(sorted(status.items())), retried))
# 499 = the client (wrk, at its deadline) closed the connection first.
ok(all(s in ("200", "499") for s in status), "nginx answered every request with 200")
for w, (a, b) in win.items():
    n = sum(count[w].values())
    secs = max(b - a, 1e-3)
    print("   %-7s %5.1f s: %6.0f req/s  shares: %s" % (w, secs, n / secs,
          "  ".join("%s %4.1f%%" % (p, 100.0 * c / n if n else 0) for p, c in count[w].items())))
k = ports[1]
ok(count["before"][k] > 0, "replica 1 served its share before the kill")
ok(count["down"][k] == 0, "replica 1 answered nothing while down")
ok(all(count["down"][p] > 0 for p in ports if p != k), "the two others served while it was down")
rb = sum(count["before"].values()) / (tk - t0)
rd = sum(count["down"].values()) / max(tr - tk - 0.2, 1e-3)
ok(rd > 0 and rd >= 0.5 * rb, "its share moved to them: %.0f req/s while down vs %.0f before" % (rd, rb))
ok(count["after"][k] > 0, "replica 1 got traffic again after its restart")
# max_fails=0: nginx keeps picking the dead replica, is refused, and
# retries on another one -- every such request shows two upstreams.
ok(retried > 0, "requests that reached the dead replica were retried (%d)" % retried)
EOF
cat "$TMP/shares.out"
passed=$((passed + $(grep -c '^ok ' "$TMP/shares.out")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/shares.out")))

echo "   per-replica op count from /metrics during the kill run:" \
     "${PORTS[0]}: $((after[0] - before[0]))," \
     "${PORTS[1]}: ${after[1]} (since restart)," \
     "${PORTS[2]}: $((after[2] - before[2]))"
check "restarted replica counts its requests in /metrics" test "${after[1]}" -gt 0

# --- 4. rolling restart: SIGTERM (drain) one replica mid-load ------------

# What a rollout or scale-down does: the daemon stops accepting, finishes
# what it has and exits 0; nginx moves the rest to the other replicas.
DRAIN_S=${SCALE_DRAIN_SECONDS:-6}
echo "== ${DRAIN_S} s of load; SIGTERM replica 2 (port ${PORTS[2]}) at $((DRAIN_S / 3)) s, restart at $((DRAIN_S * 2 / 3)) s"
run_wrk "http://127.0.0.1:$LB_PORT/v1/ops/max_pool" "$DRAIN_S" "$TMP/drain.out" &
WRK_PID=$!
sleep $((DRAIN_S / 3))
check "replica 2 drains on SIGTERM under load and exits 0" stop_replica 2
sleep $((DRAIN_S * 2 / 3 - DRAIN_S / 3))
check "replica 2 restarted and healthy" start_replica 2
wait "$WRK_PID"
check "no failed client request across the drain" no_failures "$TMP/drain.out"
grep '^RESULT' "$TMP/drain.out" | sed 's/^RESULT/   wrk:/'

stop_nginx
for i in 0 1 2; do
    check "replica $i drains on SIGTERM and exits 0" stop_replica "$i"
done

echo "== requests/s (POST /v1/ops/max_pool, 2x2 input, wrk -t1 -c$CONNS, ${BENCH_S} s; --workers 1 per replica)"
printf '   direct, 1 replica:   %6s req/s  p99 %s ms\n' "$(rate "$TMP/direct.out")" "$(p99 "$TMP/direct.out")"
printf '   nginx + 1 replica:   %6s req/s  p99 %s ms\n' "$(rate "$TMP/lb1.out")" "$(p99 "$TMP/lb1.out")"
printf '   nginx + 3 replicas:  %6s req/s  p99 %s ms\n' "$(rate "$TMP/lb3.out")" "$(p99 "$TMP/lb3.out")"
echo "   This machine has $(nproc) cores shared by wrk, nginx and all replicas: these figures"
echo "   show the proxy's overhead, not scale-out. Replicas share nothing, so on separate"
echo "   machines each adds its own cores."
finish
