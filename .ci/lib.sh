# Functions the steps share; sourced by .ci/run before the steps (it defines `on_exit`).

# Runs the ring examples $1 (Alice, once) and $2 (Bob) as two separate programs on the rings
# named $3, the one named by $4 (alice-first or bob-first) started first, and checks that
# each heard the other.
example_pair() {
  local alice=$1 bob=$2 name=$3 order=$4 out
  out=$(mktemp -d)
  local first=("./target/release/examples/$alice" --once) second=("./target/release/examples/$bob")
  local first_out=$out/alice.out second_out=$out/bob.out
  if [ "$order" = bob-first ]; then
    first=("./target/release/examples/$bob") second=("./target/release/examples/$alice" --once)
    first_out=$out/bob.out second_out=$out/alice.out
  fi
  IPCRING_EXAMPLE_NAME=$name timeout 60 "${first[@]}" >"$first_out" &
  sleep 0.3
  IPCRING_EXAMPLE_NAME=$name timeout 60 "${second[@]}" >"$second_out"
  wait
  grep -q "bob: alice says: terrible looking machine output" "$out/bob.out"
  grep -q "alice: bob left" "$out/alice.out"
  rm -f /dev/shm"$name".ab /dev/shm"$name".ba
  rm -rf "$out"
}

# Installs python3 (and the Debian packages named, e.g. python3-pip) if there is none.
need_python3() {
  command -v python3 >/dev/null 2>&1 && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 "$@" >/dev/null
}

# A throwaway redis-server (Debian's package, installed with redis-cli if missing) on
# 127.0.0.1, on the first free port from $1 up (never the default 6379), with a directory of
# its own and its append-only file fsynced on every write, stopped at exit. Sets REDIS_PORT
# and REDIS_DIR.
start_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  fi
  REDIS_PORT=$1
  while (echo >"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; do
    REDIS_PORT=$((REDIS_PORT + 1))
  done
  REDIS_DIR=$(mktemp -d)
  on_exit "scripts/redis-test-server.sh stop '$REDIS_DIR' $REDIS_PORT; rm -rf '$REDIS_DIR'"
  scripts/redis-test-server.sh start "$REDIS_DIR" "$REDIS_PORT"
}
