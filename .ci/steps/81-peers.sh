# The peers comparison (peers/, outside default-members) as a smoke run: it builds, every
# contender connects and is measured, and the verdict lines are printed. Debug build and a
# quick run: the figures mean nothing here.
# iceoryx2 (a contender) builds its POSIX bindings with bindgen, which needs libclang and
# clang's headers (libclang-dev brings both; found without LIBCLANG_PATH).
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi
peers_out=$(mktemp)
on_exit "rm -f '$peers_out'"
timeout 300 cargo run -q -p shmring-peers -- --quick | tee "$peers_out"
if grep -q "^failed" "$peers_out"; then
  echo "a contender failed" >&2
  exit 1
fi
grep -q "most 64 KiB bytes per second" "$peers_out"
