"""Bob: sends the article's "gobbledygook" machine output to Alice over a shared-memory
ring and prints what she makes of it. See ring_alice.py; start them in either order, each
in Python or Rust (cargo run --release --example ring_bob)."""

import os

import ipcring


def main() -> None:
    name = os.environ.get("IPCRING_EXAMPLE_NAME", "/ipcring-example")
    tx, rx = ipcring.duplex(name, "b", capacity=1 << 16, keep=True)
    with tx, rx:
        for message in ["TERRIBLE_LOOKING-MACHINE_OUTPUT", "Howdy", "ANOTHER-ONE_BITES_THE-DUST"]:
            tx.send(message.encode())
            reply = rx.recv(timeout=30)
            print(f"bob: alice says: {reply.decode()}", flush=True)


if __name__ == "__main__":
    main()
