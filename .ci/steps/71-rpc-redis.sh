# RPC over Redis streams and the transport contract over them (the redis rows of
# tests/rpc_transports.rs and tests/conformance.rs) against a throwaway redis-server of its
# own (loopback, its own port and directory, stopped at exit); step 30 ran these tests
# without a server, skipped.
start_redis 47379
IPCRING_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" cargo test --all-features --test rpc_transports --test conformance redis
