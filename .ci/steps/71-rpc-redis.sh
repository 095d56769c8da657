# RPC over Redis streams and the transport contract over them (the redis rows of
# tests/rpc_transports.rs and tests/conformance.rs) against a throwaway redis-server of its
# own (loopback, its own port and directory, stopped at exit); step 30 ran these tests
# without a server, skipped.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi
rpc_redis_port=47379
while (echo >"/dev/tcp/127.0.0.1/$rpc_redis_port") 2>/dev/null; do
  rpc_redis_port=$((rpc_redis_port + 1))
done
rpc_redis_dir=$(mktemp -d)
on_exit "scripts/redis-test-server.sh stop '$rpc_redis_dir' $rpc_redis_port; rm -rf '$rpc_redis_dir'"
scripts/redis-test-server.sh start "$rpc_redis_dir" "$rpc_redis_port"
IPCRING_TEST_REDIS_URL="redis://127.0.0.1:$rpc_redis_port" cargo test --all-features --test rpc_transports --test conformance redis
