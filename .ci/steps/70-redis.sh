# The Redis transport against a real redis-server (Debian's package): a throwaway server on
# 127.0.0.1 with a port and a directory of its own, append-only file fsynced on every write,
# stopped at exit. Then the Redis tests for real (step 30 ran them without a server, skipped),
# and the article's two example programs against each other.

# redis-server and redis-cli (the tests use redis-cli as the outside peer).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi

# A free loopback port of our own (never the default 6379).
redis_port=46379
while (echo >"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; do
  redis_port=$((redis_port + 1))
done
redis_dir=$(mktemp -d)
on_exit "scripts/redis-test-server.sh stop '$redis_dir' $redis_port; rm -rf '$redis_dir'"
scripts/redis-test-server.sh start "$redis_dir" "$redis_port"

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
