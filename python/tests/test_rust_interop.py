"""Python <-> Rust between real processes: the `ipcring` CLI's send/recv against Python
peers, both directions and both start orders, with sequence numbers and checksums."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from conftest import finish, start_peer, wait_for_segment
from peer import check, message

COUNT = int(os.environ.get("IPCRING_PYTEST_RUST_MESSAGES", "200000"))


def frames(data: bytes):
    """The messages of `ipcring recv --framed` output (u32 LE length, then the bytes)."""
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        yield data[pos : pos + n]
        pos += n
    assert pos == len(data), "truncated frame at the end"


@pytest.mark.parametrize("first", ["python", "rust"])
def test_python_producer_rust_consumer(name, cli, first, tmp_path):
    # The CLI writes to a file, not a pipe: nobody reads a pipe until the producer is done,
    # and a full pipe would stop the CLI, then the ring, then the producer.
    out_path = tmp_path / "received.bin"
    with open(out_path, "wb") as out_file:
        recv_cmd = [cli, "recv", "--framed", name]
        if first == "python":
            py = start_peer("produce", name, str(COUNT), "create")
            wait_for_segment(name, py)
            rust = subprocess.Popen(recv_cmd, stdout=out_file, stderr=subprocess.PIPE)
        else:
            rust = subprocess.Popen(recv_cmd, stdout=out_file, stderr=subprocess.PIPE)
            wait_for_segment(name, rust)
            py = start_peer("produce", name, str(COUNT), "open")
        assert finish(py)[0].strip() == f"sent {COUNT}"
        _, err = rust.communicate(timeout=300)
    assert rust.returncode == 0, err.decode()
    n = 0
    for msg in frames(out_path.read_bytes()):
        check(n, msg)
        n += 1
    assert n == COUNT


@pytest.mark.parametrize("first", ["python", "rust"])
def test_rust_producer_python_consumer(name, cli, first, tmp_path):
    feed = tmp_path / "frames.bin"
    with open(feed, "wb") as f:
        for i in range(COUNT):
            m = message(i)
            f.write(struct.pack("<I", len(m)) + m)
    stdin = open(feed, "rb")
    try:
        if first == "python":
            py = start_peer("consume", name, str(COUNT), "create")
            wait_for_segment(name, py)
            rust = subprocess.Popen([cli, "send", "--framed", name], stdin=stdin, stderr=subprocess.PIPE)
        else:
            rust = subprocess.Popen([cli, "send", "--framed", name], stdin=stdin, stderr=subprocess.PIPE)
            wait_for_segment(name, rust)
            py = start_peer("consume", name, str(COUNT), "open")
        assert finish(py)[0].strip() == f"received {COUNT}"
        _, err = rust.communicate(timeout=300)
        assert rust.returncode == 0, err.decode()
    finally:
        stdin.close()
