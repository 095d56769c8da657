# The article's Python Alice and Bob (shared JSON file + the `filelock` package from PyPI)
# against our Rust file_bob / file_alice examples, both ways. Sourced by .ci/run (bash,
# set -euo pipefail, on_exit available); everything runs in subshells or with prefixed names
# so nothing leaks into later steps.

# Python 3 with pip (a fresh Debian/Ubuntu image may have neither).
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null
fi
# The real filelock package (a system Python may need --break-system-packages, PEP 668).
python3 -m pip install --quiet --disable-pip-version-check filelock \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages filelock
python3 -c 'import filelock; print("filelock", filelock.__version__)'

cargo build --quiet --all-features --example file_alice --example file_bob
fpi_repo="$PWD"
fpi_ex="${CARGO_TARGET_DIR:-$fpi_repo/target}/debug/examples"
fpi_work="$(mktemp -d)"
on_exit "rm -rf '$fpi_work'"

# fpi_wait_for FILE: until FILE exists, at most 20 s.
fpi_wait_for() {
  local i
  for i in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2
  return 1
}

# fpi_check_bob DIR: Bob's output is the article's, and he died of Alice's error.
fpi_check_bob() {
  local d="$1"
  echo "--- bob stdout"; cat "$d/bob.out"; echo "--- bob stderr"; tail -3 "$d/bob.err"
  [ "$(cat "$d/bob.status")" = 1 ] || { echo "bob exited with $(cat "$d/bob.status"), expected 1"; return 1; }
  grep -qx 'Lets add 2 and 5: 7' "$d/bob.out"
  grep -qx 'Lets multiply 8 and 5: 40' "$d/bob.out"
  grep -qx 'Lets break it and cause an exception!' "$d/bob.out"
  grep -q 'Exception: Yeah, we are only going to add numbers' "$d/bob.err"
}

# 1) Rust Alice serves the article's Python Bob.
mkdir "$fpi_work/rust-alice"
(cd "$fpi_work/rust-alice" && exec "$fpi_ex/file_alice" > alice.out 2>&1) &
fpi_alice=$!
on_exit "kill $fpi_alice 2>/dev/null"
fpi_wait_for "$fpi_work/rust-alice/shared.json"
(
  cd "$fpi_work/rust-alice"
  st=0; IPC_TIMEOUT=20 timeout 60 python3 "$fpi_repo/tests/python/file_bob.py" > bob.out 2> bob.err || st=$?
  echo "$st" > bob.status
)
kill "$fpi_alice"
wait "$fpi_alice" || true
echo "--- rust alice"; cat "$fpi_work/rust-alice/alice.out"
fpi_check_bob "$fpi_work/rust-alice"
grep -q "running command add with args \[2, 5\]" "$fpi_work/rust-alice/alice.out"
grep -q "running command add with args \['bad', 'data'\]" "$fpi_work/rust-alice/alice.out"

# 2) The article's Python Alice serves our Rust Bob.
mkdir "$fpi_work/python-alice"
(cd "$fpi_work/python-alice" && IPC_TIMEOUT=60 exec python3 -u "$fpi_repo/tests/python/file_alice.py" > alice.out 2>&1) &
fpi_alice=$!
on_exit "kill $fpi_alice 2>/dev/null"
fpi_wait_for "$fpi_work/python-alice/shared.json"
(
  cd "$fpi_work/python-alice"
  st=0; MAILBOX_TIMEOUT=20 timeout 60 "$fpi_ex/file_bob" > bob.out 2> bob.err || st=$?
  echo "$st" > bob.status
)
kill "$fpi_alice"
wait "$fpi_alice" || true
echo "--- python alice"; cat "$fpi_work/python-alice/alice.out"
fpi_check_bob "$fpi_work/python-alice"
grep -q "running command multiply with args \[8, 5\]" "$fpi_work/python-alice/alice.out"
echo "file mailbox: Python <-> Rust interop OK both ways"
