# mq <-> Python's posix_ipc (PyPI): a message sent by Python arrives in Rust, and the
# reverse, priorities included. Every process is bounded by `timeout`.
need_python3 python3-pip
python3 -c "import posix_ipc" 2>/dev/null || python3 -m pip install -q posix_ipc \
  || python3 -m pip install -q --break-system-packages posix_ipc
cargo build --all-features --example mq_alice --example mq_bob
MQ_EX="${CARGO_TARGET_DIR:-target}/debug/examples"
MQ_TMP="$(mktemp -d)"
MQ_NAME="/ipcring-ci-mq-$$"
on_exit "rm -rf '$MQ_TMP'; python3 -c 'import posix_ipc; posix_ipc.unlink_message_queue(\"$MQ_NAME\")' 2>/dev/null; rm -f '/dev/shm/ipcring-mq.${MQ_NAME#/}'"

# Python Bob -> Rust Alice (Bob first: the queue keeps his messages until Alice reads them).
timeout 30 python3 tests/python/mq_bob.py "$MQ_NAME" "example data" 0
timeout 30 python3 tests/python/mq_bob.py "$MQ_NAME" "from python, urgent" 7
timeout 30 python3 tests/python/mq_bob.py "$MQ_NAME" "stop" 0
timeout 30 "$MQ_EX/mq_alice" "$MQ_NAME" | tee "$MQ_TMP/rust-alice.out"
# The priority-7 message overtakes the earlier priority-0 one.
head -2 "$MQ_TMP/rust-alice.out" | tail -1 | grep -qx "from python, urgent (priority 7)"
grep -qx "example data (priority 0)" "$MQ_TMP/rust-alice.out"
grep -qx "Goodbye" "$MQ_TMP/rust-alice.out"

# Rust Bob -> Python Alice (Alice first this time, blocked in receive).
timeout 30 python3 tests/python/mq_alice.py "$MQ_NAME" >"$MQ_TMP/py-alice.out" &
MQ_APID=$!
timeout 30 "$MQ_EX/mq_bob" "$MQ_NAME" "example data from rust" 3
timeout 30 "$MQ_EX/mq_bob" "$MQ_NAME" "stop"
wait "$MQ_APID"
cat "$MQ_TMP/py-alice.out"
grep -qx "example data from rust (priority 3)" "$MQ_TMP/py-alice.out"
grep -qx "Goodbye" "$MQ_TMP/py-alice.out"
echo "mq interop: both directions passed"
