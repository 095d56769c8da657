# The Redis transport against a real redis-server (Debian's package): a throwaway server on
# 127.0.0.1 with a port and a directory of its own, append-only file fsynced on every write,
# stopped at exit. Then the Redis tests for real (step 30 ran them without a server, skipped),
# and the article's two example programs against each other.

start_redis 46379
redis_port=$REDIS_PORT
redis_dir=$REDIS_DIR

export IPCRING_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
# The server-restart test crashes (SIGKILL) and restarts this server through this command.
export IPCRING_TEST_REDIS_RESTART="$PWD/scripts/redis-test-server.sh restart '$redis_dir' $redis_port"
cargo test --all-features --test redis
cargo test --all-features --test aio_more

# The article's Alice and Bob: Alice waits for one message, Bob publishes until heard.
cargo build -q --all-features --example redis_alice --example redis_bob
redis_examples=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/examples
REDIS_URL=$IPCRING_TEST_REDIS_URL timeout 30 "$redis_examples/redis_alice" 1 >"$redis_dir/alice.out" &
redis_alice_pid=$!
REDIS_URL=$IPCRING_TEST_REDIS_URL timeout 30 "$redis_examples/redis_bob"
wait "$redis_alice_pid"
grep -qx 'example data' "$redis_dir/alice.out" || { cat "$redis_dir/alice.out"; exit 1; }
unset IPCRING_TEST_REDIS_URL IPCRING_TEST_REDIS_RESTART
