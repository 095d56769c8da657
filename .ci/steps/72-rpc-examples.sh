# The rpc examples as separate programs, in both orders, over two rings and over a socket;
# then a plain Python JSON-RPC 2.0 client (tests/python/rpc_jsonrpc_client.py, speaking
# multiprocessing.connection framing) against the Rust JSON-RPC server. Every process is
# bounded by `timeout`, so a hang fails the step instead of stalling CI.
need_python3
cargo build --all-features --example rpc_alice --example rpc_bob
rpc_ex="${CARGO_TARGET_DIR:-target}/debug/examples"
rpc_tmp="$(mktemp -d)"
on_exit "rm -rf '$rpc_tmp'"

# rpc_pair NAME ALICE_ARGS BOB_ARGS FIRST: starts FIRST (alice|bob) then the other; Alice
# serves one Bob (--once); both must exit 0 and Bob must print the article's answers.
rpc_pair() {
  local name="$1" aargs="$2" bargs="$3" first="$4" arc=0 brc=0 pid
  if [ "$first" = alice ]; then
    timeout 60 "$rpc_ex/rpc_alice" --once $aargs >"$rpc_tmp/$name.alice" 2>&1 &
    pid=$!
    sleep 0.3
    timeout 60 "$rpc_ex/rpc_bob" $bargs >"$rpc_tmp/$name.bob" 2>&1 || brc=$?
    wait "$pid" || arc=$?
  else
    timeout 60 "$rpc_ex/rpc_bob" $bargs >"$rpc_tmp/$name.bob" 2>&1 &
    pid=$!
    sleep 0.3
    timeout 60 "$rpc_ex/rpc_alice" --once $aargs >"$rpc_tmp/$name.alice" 2>&1 || arc=$?
    wait "$pid" || brc=$?
  fi
  echo "--- $name: alice (rc $arc)"; cat "$rpc_tmp/$name.alice"
  echo "--- $name: bob (rc $brc)"; cat "$rpc_tmp/$name.bob"
  [ "$arc" -eq 0 ] && [ "$brc" -eq 0 ] || { echo "FAIL: $name"; return 1; }
  grep -q "Lets add 2 and 5: 7" "$rpc_tmp/$name.bob"
  grep -q "Lets multiply 8 and 5: 40" "$rpc_tmp/$name.bob"
  grep -q "Exception: bad arguments for \`add\`" "$rpc_tmp/$name.bob"
  grep -q "running command add with args \[2, 5\]" "$rpc_tmp/$name.alice"
}

rpc_ring="/ipcring-ci-rpc-$$"
on_exit "rm -f /dev/shm$rpc_ring.ab /dev/shm$rpc_ring.ba"
rpc_pair ring-alice-first "--name $rpc_ring" "--name $rpc_ring" alice
rpc_pair ring-bob-first-json "--name $rpc_ring --json" "--name $rpc_ring --json" bob
rpc_pair socket-alice-first "--socket $rpc_tmp/a.sock" "--socket $rpc_tmp/a.sock" alice
rpc_pair socket-bob-first-json "--socket $rpc_tmp/b.sock --json" "--socket $rpc_tmp/b.sock --json" bob

# Python's multiprocessing.connection Client as a JSON-RPC 2.0 client of the Rust server.
timeout 60 "$rpc_ex/rpc_alice" --once --json --socket "$rpc_tmp/py.sock" >"$rpc_tmp/py.alice" 2>&1 &
rpc_apid=$!
timeout 60 python3 tests/python/rpc_jsonrpc_client.py "$rpc_tmp/py.sock" "Do not let eve find us!"
wait "$rpc_apid"
echo "rpc examples and the Python JSON-RPC client: ok"
