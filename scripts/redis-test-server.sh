#!/usr/bin/env bash
# A throwaway redis-server for the Redis tests: loopback only, a port and a directory of its own,
# append-only file fsynced on every write (so a SIGKILL loses nothing the server acknowledged).
#
#   scripts/redis-test-server.sh start   DIR PORT   start it (daemonized), wait until it answers PING
#   scripts/redis-test-server.sh stop    DIR PORT   stop it (SIGTERM, then SIGKILL), wait until gone
#   scripts/redis-test-server.sh restart DIR PORT   SIGKILL it (a crash, not a clean shutdown), start again
#
# tests/redis.rs runs `restart` through IPCRING_TEST_REDIS_RESTART (a command line) in the test
# of a server restart in the middle of a stream.
set -euo pipefail
cmd=${1:?usage: redis-test-server.sh start|stop|restart DIR PORT}
dir=${2:?directory}
port=${3:?port}
pidfile="$dir/redis.pid"

wait_ping() {
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.05
  done
  echo "redis-server on port $port did not answer; its log:" >&2
  tail -n 30 "$dir/redis.log" >&2 || true
  return 1
}

kill_wait() {
  local sig=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.05
  done
  return 1
}

start() {
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --appendonly yes --appendfsync always --save '' \
    --daemonize yes --pidfile "$pidfile" --logfile "$dir/redis.log"
  wait_ping
}

case "$cmd" in
  start) start ;;
  stop) kill_wait TERM || kill_wait KILL ;;
  restart) kill_wait KILL; start ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
