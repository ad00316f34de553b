#!/usr/bin/env bash
# Run one load-test scenario against a cluster of Tidings nodes sharing Postgres and
# Redis on this machine: the nodes pinned to core 0, the load generator to core 1.
# Readers are spread over the nodes in turn; the publisher posts to the first node, so
# every notice crosses Redis to reach the readers of the other nodes. With NODES=1 it
# measures one node on Postgres + Redis.
#
#   loadtest/cluster.sh broadcast --readers 10000 --rate 10 --duration 20
#   NODES=1 loadtest/cluster.sh post --duration 10
#   loadtest/cluster.sh broadcast --event --readers 50000 --per-process 12500 --rate 10
#   RATE=10 loadtest/cluster.sh event-storm --readers 10000 --duration 15
#   PROCS=4 RATE=1 loadtest/cluster.sh event-storm --readers 12500 --duration 30
#
# `event-storm` runs PROCS (default 2) reconnect-storm generators on one live event at
# once (PROCS × the readers given) and reports the replay reads the nodes made.
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
all_urls="${urls[*]}" all_pids="${pids[*]}"
unset IFS
# A counter of the nodes' /metrics, summed: replay_reads_total (resumes answered from
# the database), replay_shared_total (resumes served by a read another had started).
metric_sum() {
    local n=0 u v
    for u in "${urls[@]}"; do
        v=$(curl -s "$u/metrics" | awk -v m="tidings_$1" '$1 == m {print $2}')
        n=$((n + ${v:-0}))
    done
    echo "$n"
}
case "$scenario" in
event-storm)
    # A live event's readers resume all at once, from PROCS generator processes (default
    # 2; one process holds at most ~20,000 sockets here): the first publishes and counts
    # completeness, the others only read the same event. All of them drop their readers
    # at the same moment (--drop-at), DROP_AFTER seconds (default 10 + 3 per process)
    # after the first starts, when every process has connected.
    name="storm$$"
    procs="${PROCS:-2}"
    drop_at=$(python3 -c "import time; print(time.time() + ${DROP_AFTER:-$((10 + 3 * procs))})")
    reads=$(metric_sum replay_reads_total) shared=$(metric_sum replay_shared_total)
    gens=()
    for p in $(seq 1 "$procs"); do
        rate=0
        [ "$p" = 1 ] && rate="${RATE:-10}"
        taskset -c 1 "$BIN/tidings-loadtest" --target tidings --url "$all_urls" --event \
            --stream-name "$name" --rate "$rate" --svg "$out/storm-$p.svg" \
            reconnect-storm --drop-at "$drop_at" --first-index $(((p - 1) * 20000)) "$@" \
            >"$out/storm-$p.txt" &
        gens+=("$!")
        # The first process makes the event; the others subscribe to it.
        [ "$p" = 1 ] && sleep 1
    done
    wait "${gens[@]}"
    reads=$(($(metric_sum replay_reads_total) - reads)) shared=$(($(metric_sum replay_shared_total) - shared))
    echo "== publishing process (completeness over its readers)"; cat "$out/storm-1.txt"
    for p in $(seq 2 "$procs"); do echo "== reading process $p"; cat "$out/storm-$p.txt"; done
    echo "resumes read from the database: $reads; served by a read another resume had started: $shared" | tee -a "$out/storm-1.txt"
    ;;
*)
    taskset -c 1 "$BIN/tidings-loadtest" --target tidings --url "$all_urls" \
        --server-pid "$all_pids" --svg "$out/$scenario.svg" "$scenario" "$@" | tee "$out/report.txt"
    ;;
esac
echo "report, pictures (*.svg) and node logs in $out"
