#!/usr/bin/env bash
# Run one load-test scenario against a cluster of Tidings nodes sharing Postgres and
# Redis on this machine: the nodes pinned to core 0, the load generator to core 1.
# Readers are spread over the nodes in turn; the publisher posts to the first node, so
# every notice crosses Redis to reach the readers of the other nodes. With NODES=1 it
# measures one node on Postgres + Redis.
#
#   loadtest/cluster.sh broadcast --readers 10000 --rate 10 --duration 20
#   NODES=1 loadtest/cluster.sh post --duration 10
#
# Needs: Postgres (DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres)
# and Redis (REDIS_URL, default redis://127.0.0.1:6379) running; taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:?usage: loadtest/cluster.sh SCENARIO [loadtest options]}"
shift
nodes="${NODES:-3}"
admin="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis="${REDIS_URL:-redis://127.0.0.1:6379}"
out="${TIDINGS_BENCH_DIR:-$(mktemp -d /tmp/tidings-cluster.XXXXXX)}"
mkdir -p "$out"
cargo build --release --workspace -q
BIN=$PWD/target/release

# A fresh database and Redis channel prefix for each run.
db="tidings_cluster_$$"
psql "$admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
url="${admin%/*}/$db"
prefix="tidings-cluster-$$"

wait_http() { for _ in $(seq 1 100); do curl -s -m 2 -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
pids=() urls=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; psql "$admin" -qc "DROP DATABASE IF EXISTS $db" || true; }
trap cleanup EXIT
for i in $(seq 1 "$nodes"); do
    port=$((8100 + i))
    DATABASE_URL="$url" REDIS_URL="$redis" TIDINGS_REDIS_PREFIX="$prefix" \
        TIDINGS_MAX_STREAMS_PER_IP=1000000 TIDINGS_MAX_CONNECTIONS_PER_IP=1000000 \
        TIDINGS_SIGN_UPS_PER_IP=1000000 TIDINGS_APPS_PER_IP=1000000 \
        TIDINGS_API_REQUESTS_PER_TOKEN=0 TIDINGS_API_REQUESTS_PER_IP=0 \
        TIDINGS_STATUSES_PER_ACCOUNT=0 TIDINGS_STREAMS_PER_IP_PER_SECOND=0 \
        taskset -c 0 "$BIN/tidings" --listen "127.0.0.1:$port" >"$out/node$i.log" 2>&1 &
    pids+=("$!")
    urls+=("http://127.0.0.1:$port")
    wait_http "http://127.0.0.1:$port/health"
done
echo "== $nodes Tidings node(s) on Postgres + Redis, pinned to core 0"
IFS=, 
taskset -c 1 "$BIN/tidings-loadtest" --target tidings --url "${urls[*]}" \
    --server-pid "${pids[*]}" "$scenario" "$@" | tee "$out/report.txt"
unset IFS
echo "report and node logs in $out"
