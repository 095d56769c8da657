"""Alice: the ring's counterpart of the article's converter server, in Python.

She reads messages from Bob over a shared-memory ring, converts them (lower case, "_" and
"-" to spaces) and sends the result back. Start her and Bob from two terminals, in either
order, in any mix of languages:

    python python/examples/ring_alice.py          # or: cargo run --release --example ring_alice
    python python/examples/ring_bob.py            # or: cargo run --release --example ring_bob

The channel is two rings, /ipcring-example.ab and .ba, each opened or created by whichever
side comes first (ipcring.duplex). Alice serves until Bob disconnects, then waits for the
next Bob (run her with --once to stop after one).
"""

import os
import sys

import ipcring


def converter(message: bytes) -> str:
    return message.decode("utf-8", "replace").replace("_", " ").replace("-", " ").lower()


def main() -> None:
    once = "--once" in sys.argv[1:]
    name = os.environ.get("IPCRING_EXAMPLE_NAME", "/ipcring-example")
    while True:
        tx, rx = ipcring.duplex(name, "a", capacity=1 << 16, keep=True)
        with tx, rx:
            print(f"alice: waiting for messages on {name}", flush=True)
            for message in rx:  # until Bob disconnects
                reply = converter(message)
                print(f"alice: {reply}", flush=True)
                tx.send(reply.encode())
        print("alice: bob left", flush=True)
        if once:
            return


if __name__ == "__main__":
    main()
