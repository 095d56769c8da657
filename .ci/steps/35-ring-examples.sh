# The ring's alice/bob examples, as two separate programs, started in both orders.
cargo build --release --example ring_alice --example ring_bob
for order in alice-first bob-first; do
  example_pair ring_alice ring_bob "/ipcring-ci-example-$$-$order" "$order"
  echo "ring examples ($order): ok"
done
