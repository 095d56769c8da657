#!/usr/bin/env bash
# The Redis senders against the server's own tools, on one throwaway server (loopback, a free
# port, no persistence), in the same run: 64-byte PUBLISH and XADD throughput of
# examples/redis_throughput (one pipelined client) against `redis-benchmark -P 32` (50
# clients, pipelines of 32), and one command's round trip (`publish` waiting for its reply)
# against `redis-cli --latency` (PING).
#
#   scripts/redis-bench.sh [ROUNDS]     (default 3; needs redis-server, redis-benchmark, redis-cli)
#   BENCH_BIN=path/to/redis_throughput scripts/redis-bench.sh   (a prebuilt example, e.g. of
#                                        another commit, to compare before/after in one session)
#
# Prints each round's figures and ratios (also against `redis-benchmark -c 1 -P 32`: what one
# connection gets, as ours is one connection), and the load average before and after.
set -euo pipefail
rounds=${1:-3}
cd "$(dirname "$0")/.."
if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
else
  cargo build -q --release --features redis --example redis_throughput
  bin=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/examples/redis_throughput
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

port=47379
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
dir=$(mktemp -d)
stop() {
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$dir"
}
trap stop EXIT
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.05
done

data=$(head -c 64 /dev/zero | tr '\0' Z)
bench() { # command... -> requests/s
  redis-benchmark -p "$port" -P 32 -n 400000 -q "$@" 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}
for r in $(seq 1 "$rounds"); do
  pub_ref=$(bench PUBLISH ipcring-bench:ref "$data")
  pub_ref1=$(bench -c 1 PUBLISH ipcring-bench:ref "$data")
  xadd_ref=$(bench XADD ipcring-bench:ref:s MAXLEN '~' 100000 '*' data "$data")
  redis-cli -p "$port" del ipcring-bench:ref:s >/dev/null
  lat_ms=$(timeout -s INT 4 redis-cli -p "$port" --latency --raw 2>/dev/null | tail -n 1 | awk '{print $3}') || true
  ours=$(REDIS_URL="redis://127.0.0.1:$port" "$bin" 2)
  get() { echo "$ours" | awk -v k="$1" '$1 == k {print $2}'; }
  pub=$(get publish_msgs_per_s)
  xadd=$(get xadd_msgs_per_s)
  rtt=$(get publish_rtt_mean_us)
  awk -v r="$r" -v p="$pub" -v pr="$pub_ref" -v pr1="$pub_ref1" -v x="$xadd" -v xr="$xadd_ref" \
    -v pb="$(get publish_batched_msgs_per_s)" -v xb="$(get xadd_batched_msgs_per_s)" \
    -v pc="$(get publish_coalesced_msgs_per_s)" -v xc="$(get xadd_coalesced_msgs_per_s)" \
    -v t="$rtt" -v l="$lat_ms" -v rd="$(get xreadgroup_msgs_per_s)" -v p50="$(get publish_rtt_p50_us)" 'BEGIN {
    printf "round %s: PUBLISH send %.0f/s, send_all(32) %.0f/s, coalesce(32) %.0f/s vs redis-benchmark -P 32 %.0f/s = %.2fx, %.2fx, %.2fx (vs -c 1 -P 32 %.0f/s: %.2fx, %.2fx, %.2fx)\n",
      r, p, pb, pc, pr, p / pr, pb / pr, pc / pr, pr1, p / pr1, pb / pr1, pc / pr1
    printf "round %s: XADD send %.0f/s, send_all(32) %.0f/s, coalesce(32) %.0f/s vs redis-benchmark -P 32 %.0f/s = %.2fx, %.2fx, %.2fx | XREADGROUP %.0f/s\n",
      r, x, xb, xc, xr, x / xr, xb / xr, xc / xr, rd
    printf "round %s: round trip mean %.1f us (p50 %.1f) vs redis-cli --latency avg %.0f us = %.2fx\n",
      r, t, p50, l * 1000, (l > 0 ? t / (l * 1000) : 0) }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
