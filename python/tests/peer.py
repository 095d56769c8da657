"""A Python peer for the tests, run in its own process: `python peer.py ROLE ARGS...`.

Roles:
  produce NAME COUNT HOW       send messages 0..COUNT-1 (see `message`), HOW = create |
                               open | open_or_create, then close; prints "sent COUNT"
  consume NAME COUNT HOW       receive until the producer is gone, checking that message i
                               is exactly `message(i)` and that COUNT arrived; prints
                               "received COUNT"
  produce_forever NAME         open as producer and send message(0), message(1), ...
                               until killed
  block_recv NAME              open as consumer, print "ready", then block in recv()
"""

from __future__ import annotations

import signal
import struct
import sys
import zlib

import ipcring

_POOL = bytes((i * 131 + 7) % 256 for i in range(512))


def message(i: int) -> bytes:
    """Message number i: its sequence number (u64 LE), 0..119 bytes of a pattern that
    depends on i, and the CRC-32 of both (u32 LE)."""
    n = (i * 37) % 120
    start = i % 97
    head = struct.pack("<Q", i) + _POOL[start : start + n]
    return head + struct.pack("<I", zlib.crc32(head))


def check(i: int, msg: bytes) -> None:
    """Raises AssertionError unless msg is message(i) with a valid checksum."""
    if len(msg) < 12:
        raise AssertionError(f"message {i}: only {len(msg)} bytes")
    (seq,) = struct.unpack_from("<Q", msg)
    (crc,) = struct.unpack_from("<I", msg, len(msg) - 4)
    if seq != i:
        raise AssertionError(f"expected message {i}, got {seq}")
    if crc != zlib.crc32(msg[:-4]):
        raise AssertionError(f"message {i}: bad checksum")
    if msg != message(i):
        raise AssertionError(f"message {i}: wrong content")


def _open(cls, name: str, how: str):
    if how == "create":
        return cls.create(name, capacity=1 << 16, keep=True)
    if how == "open":
        return cls.open(name, timeout=30)
    if how == "open_or_create":
        return cls.open_or_create(name, capacity=1 << 16, keep=True, timeout=30)
    raise SystemExit(f"unknown HOW {how!r}")


def main(argv: list[str]) -> int:
    role, name = argv[0], argv[1]
    if role == "produce":
        count, how = int(argv[2]), argv[3]
        with _open(ipcring.Producer, name, how) as p:
            batch = []
            for i in range(count):
                batch.append(message(i))
                if len(batch) == 64:
                    p.send_batch(batch)
                    batch.clear()
            p.send_batch(batch)
        print(f"sent {count}", flush=True)
        return 0
    if role == "consume":
        count, how = int(argv[2]), argv[3]
        n = 0
        with _open(ipcring.Consumer, name, how) as c:
            for msg in c:
                check(n, msg)
                n += 1
        print(f"received {n}", flush=True)
        return 0 if n == count else 1
    if role == "produce_forever":
        p = ipcring.Producer.open(name, timeout=30)
        i = 0
        while True:
            p.send(message(i))
            i += 1
    if role == "block_recv":
        # Ctrl-C raises KeyboardInterrupt, as in a terminal, even when this process was
        # started with SIGINT ignored (a background job of a shell without job control):
        # Python installs its handler only where SIGINT was not ignored at start.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        c = ipcring.Consumer.open(name, timeout=30)
        print("ready", flush=True)
        c.recv()
        return 3
    raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
