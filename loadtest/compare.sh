#!/usr/bin/env bash
# Run one load-test scenario against Tidings (embedded default) and against Nchan, one
# after the other on this machine: the server pinned to core 0, the load generator to
# core 1. Prints both reports and the ratios Tidings/Nchan.
#
#   loadtest/compare.sh broadcast --readers 10000 --rate 10 --duration 20
#   loadtest/compare.sh idle --readers 10000
#   loadtest/compare.sh saturate --readers 5000 --max-steps 4   (scenario options too)
#   TIDINGS_BIN=/tmp/tidings-before loadtest/compare.sh newsroom ...   (another build of the
#                                       server, for a before/after; the generator is this one)
#
# Needs: nginx-light and libnginx-mod-nchan (Debian), taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?usage: loadtest/compare.sh SCENARIO [loadtest options]}"
shift
out="${TIDINGS_BENCH_DIR:-$(mktemp -d /tmp/tidings-bench.XXXXXX)}"
mkdir -p "$out"

if ! command -v nginx >/dev/null || [ ! -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
    echo "installing nginx-light and libnginx-mod-nchan"
    apt-get install -y -qq nginx-light libnginx-mod-nchan >/dev/null
fi
cargo build --release --workspace -q
BIN=target/release
server="${TIDINGS_BIN:-$PWD/$BIN/tidings}"

# Wait until something answers HTTP at $1 (any status).
wait_http() { for _ in $(seq 1 100); do curl -s -m 2 -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
load() { taskset -c 1 "$BIN/tidings-loadtest" "$@"; }
# A server left over from an earlier run would be measured instead of this one.
for port in 8080 8090; do
    if curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/"; then
        echo "port $port is already in use: stop whatever listens there first" >&2
        exit 1
    fi
done

echo "== Tidings (embedded: SQLite + in-process bus), pinned to core 0"
mkdir -p "$out/tidings"
# The load generator connects from few source addresses: lift the per-IP stream cap.
( cd "$out/tidings" && rm -f tidings.db* && TIDINGS_MAX_STREAMS_PER_IP=1000000 TIDINGS_MAX_CONNECTIONS_PER_IP=1000000 TIDINGS_SIGN_UPS_PER_IP=1000000 TIDINGS_APPS_PER_IP=1000000 TIDINGS_API_REQUESTS_PER_TOKEN=0 TIDINGS_API_REQUESTS_PER_IP=0 TIDINGS_STATUSES_PER_ACCOUNT=0 TIDINGS_STREAMS_PER_IP_PER_SECOND=0 exec taskset -c 0 "$server" --listen 127.0.0.1:8080 >server.log 2>&1 ) &
tpid=$!
wait_http http://127.0.0.1:8080/health
load --target tidings --url http://127.0.0.1:8080 --server-pid "$tpid" --json "$scenario" "$@" >"$out/tidings.json"
kill "$tpid"; wait "$tpid" 2>/dev/null || true

echo "== Nchan (nginx, one worker), pinned to core 0"
mkdir -p "$out/nchan/tmp"
taskset -c 0 nginx -p "$out/nchan" -c "$PWD/loadtest/peers/nchan/nginx.conf" -g 'daemon off;' &
npid=$!
wait_http "http://127.0.0.1:8090/pub?id=warmup"
worker=$(pgrep -P "$npid" nginx | head -n1 || true)
# Same bytes on the wire: pad Nchan's messages to the size of Tidings' frames.
pad=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1])).get("frame_bytes", 0)))' "$out/tidings.json")
load --target nchan --url http://127.0.0.1:8090 --server-pid "${worker:-$npid}" --payload-bytes "$pad" --json "$scenario" "$@" >"$out/nchan.json"
kill "$npid"; wait "$npid" 2>/dev/null || true

python3 - "$out/tidings.json" "$out/nchan.json" <<'PY'
import json, sys
t, n = (json.load(open(p)) for p in sys.argv[1:3])
def row(name, a, b, better):
    a, b = (float("nan") if v is None else v for v in (a, b))
    ratio = (a / b) if b else float("nan")
    print(f"  {name:<34} {a:>12.2f} {b:>12.2f} {ratio:>8.2f}x  ({better})")
print(f"\n{t['scenario']}: {t['readers']} readers, {t['rate']:.0f} notices/s for {t['duration_seconds']:.0f} s")
print(f"  {'':<34} {'Tidings':>12} {'Nchan':>12} {'ratio':>9}")
ts, ns = t.get("server") or {}, n.get("server") or {}
print(f"  frame bytes: Tidings {t.get('frame_bytes', 0):.0f}, Nchan {n.get('frame_bytes', 0):.0f}")
row("KiB per connection", ts.get("rss_per_connection_kib", 0), ns.get("rss_per_connection_kib", 0), "lower is better")
row("deliveries per core-second", ts.get("deliveries_per_core_second", 0), ns.get("deliveries_per_core_second", 0), "higher is better")
row("µs of CPU per delivery", ts.get("cpu_us_per_delivery", 0), ns.get("cpu_us_per_delivery", 0), "lower is better")
row("  of them in the kernel", ts.get("kernel_us_per_delivery", 0), ns.get("kernel_us_per_delivery", 0), "lower is better")
for q in ("p50_ms", "p99_ms", "p999_ms", "max_ms"):
    row(f"latency {q}", t["latency"][q], n["latency"][q], "lower is better")
row("completeness %", t["completeness"]["percent"], n["completeness"]["percent"], "100 is right")
row("connects per second", t["connects_per_second"], n["connects_per_second"], "higher is better")
row("duplicates", t["completeness"]["duplicates"], n["completeness"]["duplicates"], "0 is right")
PY
"$BIN/tidings-loadtest" plot "$out/$scenario.svg" --title "$scenario: Tidings and Nchan, server on one core" \
    "Tidings=$out/tidings.json" "Nchan=$out/nchan.json"
echo "reports in $out (picture: $out/$scenario.svg)"
