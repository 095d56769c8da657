# The service's alice/bob examples, as separate programs, started in both orders; in the
# first order two Bobs that leave Alice running come before the one that stops her.
cargo build --release --example service_alice --example service_bob
for order in alice-first bob-first; do
  name="/ipcring-ci-service-$$-$order"
  if [ "$order" = alice-first ]; then
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_alice > /tmp/service_alice.out &
    sleep 0.3
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_bob --stay > /tmp/service_bob1.out
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_bob --stay > /tmp/service_bob2.out
    grep -q "Why Alice told me it's 64" /tmp/service_bob1.out
    grep -q "Why Alice told me it's 64" /tmp/service_bob2.out
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_bob > /tmp/service_bob.out
  else
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_bob > /tmp/service_bob.out &
    sleep 0.3
    IPCRING_EXAMPLE_NAME=$name timeout 60 ./target/release/examples/service_alice > /tmp/service_alice.out
  fi
  wait
  grep -q "Why Alice told me it's 64" /tmp/service_bob.out
  grep -q "I have no idea what you want me to do" /tmp/service_bob.out
  grep -q "alice: Goodbye" /tmp/service_alice.out
  test -z "$(ls /dev/shm | grep "ipcring-ci-service-$$-$order")"
  echo "service examples ($order): ok"
done
