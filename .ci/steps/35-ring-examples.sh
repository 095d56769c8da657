# The ring's alice/bob examples, as two separate programs, started in both orders.
cargo build --release --example ring_alice --example ring_bob
for order in alice-first bob-first; do
  name="/ipcring-ci-example-$$-$order"
  if [ "$order" = alice-first ]; then
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/ring_alice --once > /tmp/ring_alice.out &
    sleep 0.3
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/ring_bob > /tmp/ring_bob.out
  else
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/ring_bob > /tmp/ring_bob.out &
    sleep 0.3
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/ring_alice --once > /tmp/ring_alice.out
  fi
  wait
  grep -q "bob: alice says: terrible looking machine output" /tmp/ring_bob.out
  grep -q "alice: bob left" /tmp/ring_alice.out
  rm -f /dev/shm"$name".ab /dev/shm"$name".ba
  echo "ring examples ($order): ok"
done
