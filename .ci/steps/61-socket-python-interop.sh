# socket <-> Python multiprocessing.connection, both directions, with the machine's python3
# (CPython 3.11 on our machines): the article's Python Alice/Bob (tests/python/socket_*.py)
# against our Rust Bob/Alice (examples/socket_*.rs), over TCP and a Unix path; then the
# CPython 3.12 `{sha256}` handshake, checked frame by frame by tests/python/socket_handshake312.py.
# Every process is bounded by `timeout`, so a hang fails the step instead of stalling CI.
need_python3
echo "python: $(python3 --version)"
cargo build --all-features --example socket_alice --example socket_bob
SOCK_EX="${CARGO_TARGET_DIR:-target}/debug/examples"
SOCK_TMP="$(mktemp -d)"
on_exit "rm -rf '$SOCK_TMP'"

# run_pair NAME ALICE_CMD BOB_CMD: starts Alice, then Bob; both must exit 0, Bob must print 64
# and Alice must say Goodbye.
run_pair() {
  local name="$1" alice="$2" bob="$3"
  timeout 60 bash -c "$alice" >"$SOCK_TMP/$name.alice" 2>&1 &
  local apid=$!
  local brc=0 arc=0
  timeout 60 bash -c "$bob" >"$SOCK_TMP/$name.bob" 2>&1 || brc=$?
  wait "$apid" || arc=$?
  echo "--- $name: alice (rc $arc)"; cat "$SOCK_TMP/$name.alice"
  echo "--- $name: bob (rc $brc)"; cat "$SOCK_TMP/$name.bob"
  [ "$arc" -eq 0 ] && [ "$brc" -eq 0 ] || { echo "FAIL: $name"; return 1; }
  grep -q "Why Alice told me it's 64" "$SOCK_TMP/$name.bob" || { echo "FAIL: $name: Bob did not get 64"; return 1; }
  grep -q "Goodbye" "$SOCK_TMP/$name.alice" || { echo "FAIL: $name: Alice did not stop"; return 1; }
}

run_pair py-alice-rust-bob-tcp "python3 tests/python/socket_alice.py 6000" "$SOCK_EX/socket_bob"
run_pair rust-alice-py-bob-tcp "$SOCK_EX/socket_alice" "python3 tests/python/socket_bob.py 6000"
run_pair py-alice-rust-bob-unix "python3 tests/python/socket_alice.py $SOCK_TMP/a.sock" "$SOCK_EX/socket_bob $SOCK_TMP/a.sock"
run_pair rust-alice-py-bob-unix "$SOCK_EX/socket_alice $SOCK_TMP/b.sock" "python3 tests/python/socket_bob.py $SOCK_TMP/b.sock"
# Bob started first: he waits for Alice.
run_pair rust-bob-first "sleep 1; python3 tests/python/socket_alice.py 6001" "$SOCK_EX/socket_bob localhost:6001"
# CPython 3.12's handshake, frame by frame, in both roles.
run_pair py312-listener-rust-bob "python3 tests/python/socket_handshake312.py listener 6002" "$SOCK_EX/socket_bob localhost:6002"
run_pair rust-alice-py312-client "$SOCK_EX/socket_alice localhost:6003" "python3 tests/python/socket_handshake312.py client 6003"
grep -q "59-byte {sha256} challenge" "$SOCK_TMP/rust-alice-py312-client.bob"
grep -q "40-byte {sha256} answer" "$SOCK_TMP/py312-listener-rust-bob.alice"

# A wrong key is refused on both sides, and Alice keeps serving.
timeout 60 "$SOCK_EX/socket_alice" localhost:6004 >"$SOCK_TMP/wrong.alice" 2>&1 &
SOCK_APID=$!
if timeout 30 python3 -c "
import time
from multiprocessing.connection import Client, AuthenticationError
for _ in range(200):
    try:
        Client(('localhost', 6004), authkey=b'eve')
        raise SystemExit('FAIL: eve got in')
    except ConnectionRefusedError:
        time.sleep(0.05)
    except AuthenticationError as e:
        print('eve refused:', e)
        break
"; then :; else echo "FAIL: wrong-key check"; kill "$SOCK_APID" 2>/dev/null || true; false; fi
timeout 30 python3 tests/python/socket_bob.py 6004
wait "$SOCK_APID"
grep -q "refused a client" "$SOCK_TMP/wrong.alice"
echo "socket interop: all directions passed"
