# The peers comparison (peers/, outside default-members) as a smoke run: it builds, every
# contender connects and is measured, and the verdict lines are printed. Debug build and a
# quick run: the figures mean nothing here.
# (libclang-dev, which iceoryx2's bindgen needs, is installed by 00-toolchain.sh: the
# clippy step already builds this crate.)
peers_out=$(mktemp)
on_exit "rm -f '$peers_out'"
timeout 300 cargo run -q -p ipcring-peers -- --quick | tee "$peers_out"
if grep -q "^failed" "$peers_out"; then
  echo "a contender failed" >&2
  exit 1
fi
grep -q "most 64 KiB bytes per second" "$peers_out"
