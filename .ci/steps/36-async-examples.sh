# The async (tokio) ring examples as separate programs, in both orders, and against the
# blocking ring examples (same rings, same wire).
cargo build --release --all-features --example async_alice --example async_bob --example ring_alice --example ring_bob
for pair in async_alice:async_bob async_alice:ring_bob ring_alice:async_bob; do
  alice=${pair%%:*}
  bob=${pair##*:}
  for order in alice-first bob-first; do
    example_pair "$alice" "$bob" "/ipcring-ci-async-$$-$alice-$bob-$order" "$order"
    echo "async examples ($alice + $bob, $order): ok"
  done
done
