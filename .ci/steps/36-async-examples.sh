# The async (tokio) ring examples as separate programs, in both orders, and against the
# blocking ring examples (same rings, same wire).
cargo build --release --all-features --example async_alice --example async_bob --example ring_alice --example ring_bob
for pair in async_alice:async_bob async_alice:ring_bob ring_alice:async_bob; do
  alice=${pair%%:*}
  bob=${pair##*:}
  for order in alice-first bob-first; do
    name="/ipcring-ci-async-$$-$alice-$bob-$order"
    if [ "$order" = alice-first ]; then
      IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/$alice --once > /tmp/async_alice.out &
      sleep 0.3
      IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/$bob > /tmp/async_bob.out
    else
      IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/$bob > /tmp/async_bob.out &
      sleep 0.3
      IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/$alice --once > /tmp/async_alice.out
    fi
    wait
    grep -q "bob: alice says: terrible looking machine output" /tmp/async_bob.out
    grep -q "alice: bob left" /tmp/async_alice.out
    rm -f /dev/shm"$name".ab /dev/shm"$name".ba
    echo "async examples ($alice + $bob, $order): ok"
  done
done
