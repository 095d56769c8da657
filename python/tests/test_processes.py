"""Python <-> Python between real processes: a million checked messages in both start
orders, a producer killed mid-stream, Ctrl-C during a blocked receive."""

from __future__ import annotations

import os
import signal
import time

import pytest

import ipcring
from conftest import finish, start_peer, wait_for_segment
from peer import check, message

MILLION = int(os.environ.get("IPCRING_PYTEST_MESSAGES", "1000000"))


@pytest.mark.parametrize("first", ["producer", "consumer"])
def test_a_million_messages_between_python_processes(name, first):
    count = str(MILLION)
    if first == "producer":
        prod = start_peer("produce", name, count, "create")
        wait_for_segment(name, prod)
        cons = start_peer("consume", name, count, "open")
    else:
        cons = start_peer("consume", name, count, "create")
        wait_for_segment(name, cons)
        prod = start_peer("produce", name, count, "open")
    out_c, _ = finish(cons)
    out_p, _ = finish(prod)
    assert out_p.strip() == f"sent {MILLION}"
    assert out_c.strip() == f"received {MILLION}"


@pytest.mark.parametrize("how", ["open_or_create"])
def test_either_side_may_create(name, how):
    cons = start_peer("consume", name, "20000", how)
    prod = start_peer("produce", name, "20000", how)
    assert finish(prod)[0].strip() == "sent 20000"
    assert finish(cons)[0].strip() == "received 20000"


def test_producer_killed_mid_stream(name):
    c = ipcring.Consumer.create(name, capacity=1 << 14)
    prod = start_peer("produce_forever", name)
    try:
        received = 0
        # Mid-stream: the producer has filled the ring several times over.
        while received < 5000:
            check(received, c.recv(timeout=30))
            received += 1
    finally:
        prod.send_signal(signal.SIGKILL)
        prod.wait()
    # Everything it committed before dying is delivered, in order, then Disconnected.
    committed = ipcring.inspect(name)["write_pos"]
    with pytest.raises(ipcring.Disconnected):
        while True:
            check(received, c.recv(timeout=30))
            received += 1
    info = ipcring.inspect(name)
    assert info["read_pos"] == info["write_pos"] == committed
    assert received > 5000
    c.close()


def test_ctrl_c_interrupts_a_blocked_recv(name):
    c_owner = ipcring.Producer.create(name, capacity=4096)
    child = start_peer("block_recv", name)
    try:
        assert child.stdout.readline().strip() == b"ready"
        # The child is in recv() or about to be; the traceback below says which.
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        c_owner.close()
    err = err.decode()
    # Python exits with status 1, or (3.8+) dies of SIGINT after printing the traceback.
    assert child.returncode in (1, -signal.SIGINT), err
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    # Interrupted inside the blocked receive, not before it.
    assert "c.recv()" in err.splitlines()[-2], err


def test_producer_sees_a_killed_consumer(name):
    # A Python consumer killed while blocked: the producer waiting for room gets
    # Disconnected.
    p = ipcring.Producer.create(name, capacity=1024)
    child = start_peer("block_recv", name)
    assert child.stdout.readline().strip() == b"ready"
    child.send_signal(signal.SIGKILL)
    child.wait()
    with pytest.raises(ipcring.Disconnected):
        for i in range(10_000):
            p.send(message(i), timeout=30)
    p.close()


def test_message_helpers_are_consistent():
    for i in (0, 1, 119, 120, 12345):
        check(i, message(i))
    with pytest.raises(AssertionError):
        check(1, message(2))
