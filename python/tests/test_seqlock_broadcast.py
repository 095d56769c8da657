"""The seqlock cell and the broadcast ring from Python."""

from __future__ import annotations

import struct
import threading
import time

import pytest

import ipcring
from conftest import finish, start_peer


def test_seqlock_write_read_and_wait(name):
    w = ipcring.SeqlockWriter.create(name, size=16, type_tag=7)
    r = ipcring.SeqlockReader.open(name, size=16, type_tag=7)
    assert r.read() == (bytes(16), 0)
    assert w.write(struct.pack("<dd", 1.5, -2.0)) == 1
    value, version = r.read()
    assert struct.unpack("<dd", value) == (1.5, -2.0) and version == 1
    assert r.try_read() == (value, 1)
    got = []
    t = threading.Thread(target=lambda: got.append(r.wait_changed(1, timeout=30)))
    t.start()
    w.write(bytearray(b"x" * 16))
    t.join()
    assert got == [(b"x" * 16, 2)]
    with pytest.raises(ipcring.Timeout):
        r.wait_changed(2, timeout=0.05)
    with pytest.raises(ValueError):
        w.write(b"short")
    w.close()
    with pytest.raises(ipcring.Disconnected):
        r.wait_changed(2, timeout=30)
    assert r.read() == (b"x" * 16, 2)
    r.close()


def test_seqlock_sizes_and_tags_are_checked(name):
    with pytest.raises(ValueError):
        ipcring.SeqlockWriter.create(name, size=17)
    w = ipcring.SeqlockWriter.create(name, size=8)
    with pytest.raises(ipcring.Error):
        ipcring.SeqlockReader.open(name, size=16, timeout=0.2)
    with pytest.raises(ipcring.Error):
        ipcring.SeqlockReader.open(name, size=8, type_tag=1, timeout=0.2)
    with pytest.raises(ipcring.RoleTaken):
        ipcring.SeqlockWriter.open(name, size=8, timeout=0.2)
    assert ipcring.inspect(name)["kind"] == "seqlock"
    w.close()


def test_open_or_create_takes_the_shared_options(name):
    # The seqlock writer and the publisher take what Producer.open_or_create takes.
    cell = name + ".ab"
    w = ipcring.SeqlockWriter.open_or_create(cell, size=8, type_tag=3, reclaim_stale=True, wait="spin")
    with pytest.raises(ipcring.RoleTaken):
        ipcring.SeqlockWriter.open_or_create(cell, size=8, type_tag=3, timeout=0.2, wait="spin_yield")
    with pytest.raises(ipcring.RoleTaken):
        ipcring.SeqlockWriter.open(cell, size=8, type_tag=3, timeout=0.2, wait="spin")
    assert w.write(b"12345678") == 1
    assert ipcring.SeqlockReader.open(cell, size=8, type_tag=3).read() == (b"12345678", 1)
    w.close()
    pub = ipcring.Publisher.open_or_create(name, slots=8, max_message=64, reclaim_stale=True, wait="spin")
    sub = ipcring.Subscriber.open(name, start="next")
    assert pub.publish(b"x") == 0
    assert sub.recv(timeout=30) == (0, b"x")
    with pytest.raises(ipcring.RoleTaken):
        ipcring.Publisher.open_or_create(name, slots=8, max_message=64, timeout=0.2)
    pub.close()


def test_broadcast_exact_lag_count(name):
    pub = ipcring.Publisher.create(name, slots=8, max_message=64)
    fast = ipcring.Subscriber.open(name, start="next")
    slow = ipcring.Subscriber.open(name, start="next")
    for i in range(20):
        assert pub.publish(b"m%d" % i) == i
        assert fast.recv(timeout=1) == (i, b"m%d" % i)
    # The slow one missed 20 - 8 = 12 messages: told once, exactly.
    with pytest.raises(ipcring.Lagged) as e:
        slow.recv()
    assert e.value.count == 12
    assert slow.lagged_total == 12
    assert [slow.recv() for _ in range(8)] == [(i, b"m%d" % i) for i in range(12, 20)]
    assert slow.try_recv() is None
    with pytest.raises(ipcring.MessageTooLarge):
        pub.publish(b"x" * 65)
    assert pub.publish_batch([b"a", b"b"]) == 2
    pub.close()
    assert slow.recv() == (20, b"a")
    assert slow.recv() == (21, b"b")
    with pytest.raises(ipcring.Disconnected):
        slow.recv(timeout=30)


def test_broadcast_between_processes(name):
    # A Python publisher here, a Python subscriber in a child that prints what it got.
    pub = ipcring.Publisher.create(name, slots=64, max_message=64, keep=True)
    code = (
        "import ipcring, sys\n"
        f"s = ipcring.Subscriber.open({name!r}, start='oldest')\n"
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        try:\n"
        "            seq, msg = s.recv(timeout=30)\n"
        "        except ipcring.Lagged:\n"
        "            continue\n"
        "        assert msg == b'%d' % seq, (seq, msg)\n"
        "        n += 1\n"
        "except ipcring.Disconnected:\n"
        "    pass\n"
        "print(n, s.lagged_total)\n"
    )
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not pub.subscribers_attached():
        assert child.poll() is None, child.communicate()
        time.sleep(0.01)
    for i in range(5000):
        pub.publish(b"%d" % i)
    pub.close()
    out, _ = finish(child)
    received, lagged = map(int, out.split())
    # Every message either arrived or was counted as lost.
    assert received + lagged == 5000
