# The Redis transports across "machines": producer, consumer and server each in a network
# namespace of its own, joined by veth pairs (producer <-> server, consumer <-> server), so
# every byte crosses a real (virtual) network link and nothing uses loopback. Mid-stream the
# producer's link goes down for a second, then the consumer's, then the server is crashed
# (SIGKILL) and restarted with its append-only file. The roles (tests/redis_netns.rs) check
# that the stream lost nothing and delivered in order, and that pub/sub's losses all fall in
# a gap the subscriber reported. About 30 s after the build.

if ! command -v ip >/dev/null || ! command -v redis-server >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends iproute2 redis-server redis-tools >/dev/null
fi

netns_s="ipcr-s-$$"
netns_p="ipcr-p-$$"
netns_c="ipcr-c-$$"
netns_dir=$(mktemp -d)
netns_pids=""
netns_cleanup() {
  for p in $netns_pids; do kill -9 "$p" 2>/dev/null || true; done
  [ -f "$netns_dir/redis.pid" ] && kill -9 "$(cat "$netns_dir/redis.pid")" 2>/dev/null || true
  for n in "$netns_s" "$netns_p" "$netns_c"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$netns_dir"
}
on_exit netns_cleanup

if ! ip netns add "$netns_s" 2>"$netns_dir/err"; then
  echo "*** SKIPPED 73-redis-netns: the kernel refuses network namespaces here: $(cat "$netns_dir/err") ***" >&2
  echo "*** SKIPPED 73-redis-netns: the cross-namespace Redis test did NOT run ***" >&2
  netns_cleanup
else
  ip netns add "$netns_p"
  ip netns add "$netns_c"
  for n in "$netns_s" "$netns_p" "$netns_c"; do ip -n "$n" link set lo up; done
  # producer 10.231.1.2 <-> 10.231.1.1 server; consumer 10.231.2.2 <-> 10.231.2.1 server
  ip link add ipr-pp netns "$netns_p" type veth peer name ipr-ps netns "$netns_s"
  ip link add ipr-cc netns "$netns_c" type veth peer name ipr-cs netns "$netns_s"
  ip -n "$netns_s" addr add 10.231.1.1/24 dev ipr-ps
  ip -n "$netns_s" addr add 10.231.2.1/24 dev ipr-cs
  ip -n "$netns_p" addr add 10.231.1.2/24 dev ipr-pp
  ip -n "$netns_c" addr add 10.231.2.2/24 dev ipr-cc
  for l in "$netns_s ipr-ps" "$netns_s ipr-cs" "$netns_p ipr-pp" "$netns_c ipr-cc"; do
    set -- $l
    ip -n "$1" link set "$2" up
  done

  netns_server() {
    ip netns exec "$netns_s" redis-server --bind 0.0.0.0 --port 6390 --protected-mode no \
      --dir "$netns_dir" --appendonly yes --appendfsync always --save '' \
      --daemonize yes --pidfile "$netns_dir/redis.pid" --logfile "$netns_dir/redis.log"
    for _ in $(seq 1 200); do
      [ "$(ip netns exec "$netns_s" redis-cli -p 6390 ping 2>/dev/null)" = PONG ] && return 0
      sleep 0.05
    done
    echo "redis-server in $netns_s did not answer:" >&2
    tail -n 20 "$netns_dir/redis.log" >&2
    return 1
  }
  netns_server
  # The producer's namespace cannot reach the consumer's: only through the server.
  if ip netns exec "$netns_p" ping -c 1 -W 1 10.231.2.2 >/dev/null 2>&1; then
    echo "producer namespace reaches the consumer directly: topology wrong" >&2
    exit 1
  fi

  netns_bin=$(cargo test -q --all-features --test redis_netns --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  netns_role() { # namespace role args... (output to $netns_dir/<role>.out)
    local ns=$1 role=$2
    shift 2
    ip netns exec "$ns" env IPCRING_NETNS_ROLE="$role" IPCRING_NETNS_ARGS="$*" \
      "$netns_bin" --exact netns_role --nocapture --test-threads 1 >"$netns_dir/$role.out" 2>&1 &
    netns_pids="$netns_pids $!"
    eval "netns_pid_${role//-/_}=$!"
  }
  netns_role "$netns_c" stream-consume redis://10.231.2.1:6390 netns-stream
  netns_role "$netns_c" subscribe redis://10.231.2.1:6390 netns-chan
  sleep 1.5 # both subscribed / the group made
  netns_role "$netns_p" stream-produce redis://10.231.1.1:6390 netns-stream 12
  netns_role "$netns_p" publish redis://10.231.1.1:6390 netns-chan 12

  sleep 3
  echo "73-redis-netns: producer link down for 1 s"
  ip -n "$netns_p" link set ipr-pp down
  sleep 1
  ip -n "$netns_p" link set ipr-pp up
  sleep 2
  echo "73-redis-netns: consumer link down for 1 s"
  ip -n "$netns_c" link set ipr-cc down
  sleep 1
  ip -n "$netns_c" link set ipr-cc up
  sleep 2
  echo "73-redis-netns: server crash (SIGKILL) and restart"
  kill -9 "$(cat "$netns_dir/redis.pid")"
  while ip netns exec "$netns_s" redis-cli -p 6390 ping >/dev/null 2>&1; do sleep 0.05; done
  rm -f "$netns_dir/redis.pid"
  sleep 0.5
  netns_server

  netns_failed=0
  for role in stream-produce publish stream-consume subscribe; do
    pid_var="netns_pid_${role//-/_}"
    if ! timeout 150 tail --pid="${!pid_var}" -f /dev/null || ! wait "${!pid_var}"; then
      echo "73-redis-netns: role $role FAILED; its output:" >&2
      cat "$netns_dir/$role.out" >&2
      netns_failed=1
    else
      grep '^NETNS ' "$netns_dir/$role.out" || { echo "73-redis-netns: role $role said nothing:" >&2; cat "$netns_dir/$role.out" >&2; netns_failed=1; }
    fi
  done
  [ "$netns_failed" = 0 ]
  netns_cleanup
  netns_pids=""
fi
