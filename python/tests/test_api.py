"""The Python face in one process: types, errors, views, timeouts, threads, corruption."""

from __future__ import annotations

import array
import threading

import pytest

import ipcring


@pytest.fixture
def pair(name):
    p = ipcring.Producer.create(name, capacity=4096)
    c = ipcring.Consumer.open(name)
    yield p, c
    c.close()
    p.close()


def test_bytes_like_inputs_arrive_whole(pair):
    p, c = pair
    p.send(b"bytes")
    p.send(bytearray(b"bytearray"))
    p.send(memoryview(b"xmemoryview")[1:])
    p.send(array.array("H", [1, 2]))
    assert p.try_send(b"try")
    p.send(b"", timeout=1.0)
    assert c.recv() == b"bytes"
    assert c.recv() == b"bytearray"
    assert c.recv(timeout=1.0) == b"memoryview"
    assert c.recv() == array.array("H", [1, 2]).tobytes()
    assert c.try_recv() == b"try"
    assert c.recv() == b""
    assert c.try_recv() is None


@pytest.mark.parametrize("bad", ["text", 42, None, [b"a"], 1.5])
def test_wrong_types_raise_type_error(pair, bad):
    p, c = pair
    with pytest.raises(TypeError):
        p.send(bad)
    with pytest.raises(TypeError):
        p.try_send(bad)
    with pytest.raises(TypeError):
        p.send_batch([b"ok", bad])
    # The one before the bad item was sent; nothing else.
    assert c.try_recv() == b"ok"
    assert c.try_recv() is None
    with pytest.raises(TypeError):
        c.recv_into(b"immutable bytes")
    with pytest.raises(TypeError):
        ipcring.Producer.create(42)


def test_message_too_large_is_a_value_error_and_the_ring_still_works(pair):
    p, c = pair
    big = b"x" * (p.max_message + 1)
    with pytest.raises(ipcring.MessageTooLarge) as e:
        p.send(big)
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, ipcring.Error)
    with pytest.raises(ipcring.MessageTooLarge):
        p.try_send(big)
    p.send(b"y" * p.max_message)
    assert c.recv() == b"y" * p.max_message


def test_recv_into_too_small_loses_nothing(pair):
    p, c = pair
    p.send(b"0123456789")
    small = bytearray(4)
    with pytest.raises(ValueError):
        c.recv_into(small)
    with pytest.raises(ipcring.BufferTooSmall):
        c.recv_into(memoryview(small))
    big = bytearray(64)
    assert c.recv_into(big) == 10
    assert big[:10] == b"0123456789"
    assert c.try_recv_into(big) is None


def test_recv_into_numpy_like_buffer(pair):
    p, c = pair
    p.send(b"\x01\x00\x02\x00")
    out = array.array("H", [0, 0, 0])
    assert c.recv_into(out) == 4
    assert list(out) == [1, 2, 0]


def test_timeouts_raise_timeout_error(pair):
    p, c = pair
    with pytest.raises(ipcring.Timeout) as e:
        c.recv(timeout=0.05)
    assert isinstance(e.value, TimeoutError)
    with pytest.raises(TimeoutError):
        c.recv(timeout=0)
    while p.try_send(b"z" * 100):
        pass
    with pytest.raises(ipcring.Timeout):
        p.send(b"z" * 100, timeout=0.05)
    with pytest.raises(ValueError):
        c.recv(timeout=-1)


def test_view_is_released_at_the_end_of_the_block(pair):
    p, c = pair
    p.send(b"zero-copy")
    p.send(b"next")
    with c.recv_view() as mv:
        assert isinstance(mv, memoryview)
        assert mv.readonly
        assert bytes(mv) == b"zero-copy"
        assert mv[0] == ord("z")
        with pytest.raises(TypeError):
            mv[0] = 1
        # Nothing else is received while a view is lent out.
        with pytest.raises(BufferError):
            c.recv()
    with pytest.raises(ValueError):
        bytes(mv)
    with pytest.raises(ValueError):
        mv[0]
    assert c.recv() == b"next"


def test_view_slice_keeps_the_message_until_it_is_gone(pair):
    p, c = pair
    p.send(b"abcdef")
    p.send(b"after")
    with c.recv_view() as mv:
        tail = mv[2:]
    # The slice still reads the message: it was not freed under it.
    assert bytes(tail) == b"cdef"
    with pytest.raises(BufferError):
        c.try_recv()
    with pytest.raises(BufferError):
        c.close()
    # The exporter refuses new views of a message once it is freed.
    exporter = tail.obj
    del tail
    assert c.try_recv() == b"after"
    with pytest.raises(BufferError):
        memoryview(exporter)


def test_view_release_without_with(pair):
    p, c = pair
    p.send(b"one")
    v = c.recv_view()
    assert len(v) == 3
    mv = v.__enter__()
    assert bytes(mv) == b"one"
    v.release()
    with pytest.raises(ValueError):
        mv.tobytes()
    assert c.try_recv() is None


def test_iteration_ends_when_the_producer_is_gone(pair):
    p, c = pair
    assert p.send_batch(f"m{i}".encode() for i in range(100)) == 100
    p.close()
    assert list(c) == [f"m{i}".encode() for i in range(100)]
    with pytest.raises(ipcring.Disconnected) as e:
        c.recv()
    assert isinstance(e.value, ConnectionError)


def test_recv_batch(pair):
    p, c = pair
    p.send_batch([b"a", b"b", b"c"])
    assert c.recv_batch(2) == [b"a", b"b"]
    assert c.recv_batch() == [b"c"]
    with pytest.raises(ipcring.Timeout):
        c.recv_batch(timeout=0.01)


def test_send_batch_larger_than_the_ring_waits_for_room(name):
    p = ipcring.Producer.create(name, capacity=1024)
    c = ipcring.Consumer.open(name)
    got = []
    t = threading.Thread(target=lambda: got.extend(c))
    t.start()
    try:
        assert p.send_batch(b"%05d" % i for i in range(5000)) == 5000
    finally:
        p.close()
        t.join()
    c.close()
    assert got == [b"%05d" % i for i in range(5000)]


def test_another_thread_runs_while_one_blocks(pair):
    p, c = pair
    result = []

    def blocker():
        try:
            result.append(c.recv(timeout=30))
        except Exception as e:  # noqa: BLE001 - reported below
            result.append(e)

    t = threading.Thread(target=blocker)
    t.start()
    # This thread needs the GIL to compute and to send: if the blocked recv held it, the
    # blocker would time out instead of receiving this.
    total = sum(i * i for i in range(200_000))
    p.send(str(total).encode())
    t.join()
    assert result == [str(total).encode()]


def test_roles_and_errors(name):
    p = ipcring.Producer.create(name, capacity=4096)
    with pytest.raises(ipcring.RoleTaken):
        ipcring.Producer.open(name, timeout=1)
    with pytest.raises(ipcring.AlreadyExists) as e:
        ipcring.Consumer.create(name)
    assert isinstance(e.value, FileExistsError)
    with pytest.raises(ipcring.NotFound) as e:
        ipcring.Consumer.open(name + "-missing", timeout=0.1)
    assert isinstance(e.value, FileNotFoundError)
    with pytest.raises(ipcring.InvalidConfig):
        ipcring.Producer.create(name + "-bad", capacity=1000)
    with pytest.raises(ValueError):
        ipcring.Producer.create(name + "-bad", wait="sometimes")
    p.close()
    with pytest.raises(ValueError):
        p.send(b"closed")


def test_inspect_and_remove(name):
    p = ipcring.Producer.create(name, capacity=4096, keep=True)
    p.send(b"12345")
    info = ipcring.inspect(name)
    assert info["kind"] == "ring"
    assert info["capacity"] == 4096
    assert info["fill"] == 16
    assert info["producer_attached"] and not info["consumer_attached"]
    assert info["consumer_waiting"] is False and info["consumer_asleep"] is False
    assert info["producer_asleep"] is False
    with pytest.raises(ipcring.RoleTaken):
        ipcring.remove(name)
    p.close()
    assert ipcring.remove(name)["name"] == name
    with pytest.raises(ipcring.NotFound):
        ipcring.inspect(name)


@pytest.mark.parametrize("wait", ["spin", "spin_yield", "spin_block"])
def test_wait_strategies(name, wait):
    p = ipcring.Producer.create(name, capacity=4096, wait=wait, spin=0.0001)
    c = ipcring.Consumer.open(name, wait=wait)
    t = threading.Thread(target=lambda: [p.send(b"%d" % i) for i in range(1000)])
    t.start()
    assert [c.recv(timeout=30) for _ in range(1000)] == [b"%d" % i for i in range(1000)]
    t.join()
    p.close()
    c.close()


def test_duplex_both_ways(name):
    a_tx, a_rx = ipcring.duplex(name, "a", capacity=4096)
    b_tx, b_rx = ipcring.duplex(name, "b")
    a_tx.send(b"ping")
    assert b_rx.recv() == b"ping"
    b_tx.send(b"pong")
    assert a_rx.recv() == b"pong"
    with pytest.raises(ValueError):
        ipcring.duplex(name, "c")
    for h in (a_tx, a_rx, b_tx, b_rx):
        h.close()


def test_corrupt_record_raises_corrupt_not_a_crash(tmp_path):
    path = str(tmp_path / "ring")
    p = ipcring.Producer.create(path, capacity=4096, keep=True)
    p.send(b"fine")
    p.send(b"also fine")
    c = ipcring.Consumer.open(path)
    assert c.recv() == b"fine"
    # The second record starts at data offset 16 (8-byte header + 4 bytes, aligned):
    # overwrite its kind word with garbage.
    with open(path, "r+b") as f:
        f.seek(1024 + 16 + 4)
        f.write(b"\xef\xbe\xad\xde")
    with pytest.raises(ipcring.Corrupt):
        c.recv(timeout=1)
    with pytest.raises(ipcring.Corrupt):
        c.try_recv()
    # A record length past the end of the ring.
    with open(path, "r+b") as f:
        f.seek(1024 + 16)
        f.write((1 << 30).to_bytes(4, "little") + (0x4D534731).to_bytes(4, "little"))
    with pytest.raises(ipcring.Corrupt):
        c.recv_into(bytearray(100))
    with pytest.raises(ipcring.Corrupt):
        with c.recv_view():
            pass
    c.close()
    p.close()


def test_not_a_segment_raises_bad_segment(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"not a segment at all" * 100)
    with pytest.raises(ipcring.BadSegment):
        ipcring.Consumer.open(str(path), timeout=0.2)
    with pytest.raises(ipcring.BadSegment):
        ipcring.inspect(path)


def _thread_page_faults():
    import resource

    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def _assert_faults(work, prefault, at_least):
    """Runs ``work()`` and checks this thread's page faults meanwhile: fewer than 32 if the
    segment was prefaulted, else at least ``at_least`` (one per page it first touches)."""
    before = _thread_page_faults()
    work()
    faults = _thread_page_faults() - before
    if prefault:
        assert faults < 32, faults
    else:
        assert faults >= at_least, faults


@pytest.mark.parametrize("prefault", [True, False])
def test_prefault_takes_the_first_laps_page_faults_at_attach(name, prefault):
    # A 1 MiB ring is 256 pages: without prefaulting, the first lap faults each of them in
    # (the producer's writes); prefaulted, create and open took them all already.
    capacity = 1 << 20
    p = ipcring.Producer.create(name, capacity=capacity, prefault=prefault)
    c = ipcring.Consumer.open(name, prefault=prefault)
    msg = b"m" * 100
    n = 2 * capacity // 112  # two laps of 100-byte messages (112-byte records)

    def laps():
        for i in range(n):
            p.send(msg)
            assert c.recv() == msg

    _assert_faults(laps, prefault, 256)
    c.close()
    p.close()


@pytest.mark.parametrize("prefault", [True, False])
def test_publisher_open_takes_prefault(name, prefault):
    # A ring of 256 slots of 4000 bytes is some 1 MiB (256+ pages), created without
    # prefaulting and left in place: the publisher that opens it takes the pages at
    # open when asked to, else one fault per page on its first lap.
    creator = ipcring.Publisher.create(name, slots=256, max_message=4000, keep=True, prefault=False)
    creator.close()
    pub = ipcring.Publisher.open(name, prefault=prefault)
    msg = b"p" * 4000
    _assert_faults(lambda: [pub.publish(msg) for _ in range(256)], prefault, 200)
    pub.close()


def test_every_create_and_open_takes_prefault(name):
    tx, rx = ipcring.duplex(name, "a", capacity=4096, prefault=False)
    w = ipcring.SeqlockWriter.create(name + ".s", 16, prefault=True)
    r = ipcring.SeqlockReader.open(name + ".s", 16, prefault=False)
    pub = ipcring.Publisher.create(name + ".b", prefault=False)
    sub = ipcring.Subscriber.open(name + ".b", prefault=True)
    pub.publish(b"x")
    assert sub.recv(timeout=5)[1] == b"x"
    w.write(bytes(16))
    assert r.read()[0] == bytes(16)
    for h in (sub, pub, r, w, rx, tx):
        h.close()
