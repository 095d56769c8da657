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

# fpi_check_bob DIR: Bob's output is the article's, and he died of Alice's error.
fpi_check_bob() {
  local d="$1"
  [ "$(cat "$d/bob.status")" = 1 ] || { echo "bob exited with $(cat "$d/bob.status"), expected 1"; return 1; }
  grep -qx 'Lets add 2 and 5: 7' "$d/bob.out" &&
  grep -qx 'Lets multiply 8 and 5: 40' "$d/bob.out" &&
  grep -qx 'Lets break it and cause an exception!' "$d/bob.out" &&
  grep -q 'Exception: Yeah, we are only going to add numbers' "$d/bob.err"
}

# fpi_check_alice DIR: Alice ran each of Bob's three commands.
fpi_check_alice() {
  grep -q "running command add with args \[2, 5\]" "$1/alice.out" &&
  grep -q "running command multiply with args \[8, 5\]" "$1/alice.out" &&
  grep -q "running command add with args \['bad', 'data'\]" "$1/alice.out"
}

# fpi_run N: one Alice/Bob sequence, in a directory reused from run to run (as people do):
# run N picks the pairing (Rust Alice + the article's Python Bob, or the article's Python
# Alice + our Rust Bob), who starts first, and the delay before the other starts (0, 100 ms
# or 1 s). Between runs the mailbox and its lock file are removed (`rm shared.json*`), so
# every run starts on a new lock file. The article's Python Bob needs shared.json to exist:
# a leftover `{"commands": {}}` from an earlier run stands in for it.
fpi_run() {
  local n=$1 pair order delay d alice bob_st=0
  pair=$(( n % 2 )); order=$(( n / 2 % 2 ))
  delay=$(echo "0 0.1 1" | cut -d' ' -f$(( n / 4 % 3 + 1 )))
  d="$fpi_work/pair$pair"
  mkdir -p "$d"
  rm -f "$d"/shared.json* "$d"/alice.out "$d"/bob.*
  if [ "$pair" = 0 ]; then
    printf '{"commands": {}}' > "$d/shared.json"
    fpi_alice_cmd=("$fpi_ex/file_alice"); fpi_bob_cmd=(python3 "$fpi_repo/tests/python/file_bob.py")
  else
    fpi_alice_cmd=(python3 -u "$fpi_repo/tests/python/file_alice.py"); fpi_bob_cmd=("$fpi_ex/file_bob")
  fi
  local what="run $n: $([ "$pair" = 0 ] && echo "Rust Alice + Python Bob" || echo "Python Alice + Rust Bob"), $([ "$order" = 0 ] && echo "Alice" || echo "Bob") first, then ${delay} s"
  (
    cd "$d"
    if [ "$order" = 1 ]; then
      IPC_TIMEOUT=20 MAILBOX_TIMEOUT=20 timeout 60 "${fpi_bob_cmd[@]}" > bob.out 2> bob.err &
      bob=$!
      sleep "$delay"
      IPC_TIMEOUT=60 exec "${fpi_alice_cmd[@]}" > alice.out 2>&1 &
      alice=$!
    else
      IPC_TIMEOUT=60 exec "${fpi_alice_cmd[@]}" > alice.out 2>&1 &
      alice=$!
      sleep "$delay"
      IPC_TIMEOUT=20 MAILBOX_TIMEOUT=20 timeout 60 "${fpi_bob_cmd[@]}" > bob.out 2> bob.err &
      bob=$!
    fi
    st=0; wait "$bob" || st=$?
    echo "$st" > bob.status
    kill "$alice" 2>/dev/null || true
    wait "$alice" || true
  )
  if fpi_check_bob "$d" && fpi_check_alice "$d"; then
    fpi_ok=$(( fpi_ok + 1 ))
  else
    echo "FAILED $what"
    echo "--- alice"; cat "$d/alice.out"
    echo "--- bob stdout"; cat "$d/bob.out"; echo "--- bob stderr"; tail -5 "$d/bob.err"
    return 1
  fi
}

# 50 sequences: each pairing, order and delay at least four times; every one must be right.
fpi_ok=0
fpi_start=$(date +%s)
for fpi_n in $(seq 0 49); do
  fpi_run "$fpi_n"
done
echo "file mailbox: Python <-> Rust interop OK, $fpi_ok of 50 mixed runs (both pairings, both orders, delays 0/0.1/1 s) in $(( $(date +%s) - fpi_start )) s"
