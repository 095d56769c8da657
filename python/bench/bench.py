"""ipcring from Python, beside Python's other ways between two processes, in one run.

    python python/bench/bench.py            # about a minute
    python python/bench/bench.py --quick    # fewer round trips and messages, noisier

For each method, between this process and one child Python process (started with
multiprocessing's "spawn", so a fresh interpreter): the 64-byte round trip (p50, p99), the
64-byte one-way rate (messages/s, measured by the receiver from its first message to its
last), and the 64-KiB one-way rate (GB/s). Methods:

  ring-spin        ipcring ring (ipcring.duplex), busy-poll (wait="spin")
  ring-default     ipcring ring, the default strategy (spin 20 µs, then futex sleep)
  iceoryx2         iceoryx2's Python bindings (pip iceoryx2), publish-subscribe per
                   direction, the obvious busy-poll loop on receive()
  mp-pipe          multiprocessing.Pipe
  mp-listener      multiprocessing.connection Listener/Client (AF_UNIX)
  mp-queue         multiprocessing.Queue
  shm-posix-sem    multiprocessing.shared_memory + posix_ipc semaphores (the article's way)

and, when the `ipcring` CLI is found (IPCRING_CLI, or target/release/ipcring): the same ring
between this Python process and a Rust process (the CLI's echo and sink peers,
ring-spin), and between two Rust processes (`ipcring compare --only ring-spin,ring-block`).
A method whose package is missing is skipped with a note. Figures are medians of one run on
whatever machine this is: compare ratios within one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SMALL = 64
LARGE = 64 * 1024
NS = time.perf_counter_ns


class Plan:
    def __init__(self, quick: bool):
        k = 4 if quick else 1
        self.rt = 20_000 // k  # round trips measured
        self.rt_warmup = 2_000 // k
        self.small = 200_000 // k  # 64-byte messages streamed
        self.large = 20_000 // k  # 64-KiB messages streamed


# --- method implementations: each has server(args, n_rt) (echo), sink(args, n, size),
# and a client object with round_trips(n) and stream(n, size) -----------------------------


def round_trip(send, recv):
    """A client's round trip: ``send(msg)``, then what ``recv()`` returns."""

    def rt(msg):
        send(msg)
        return recv()

    return rt


def timed_sink(recv, n, out):
    """The one-way rate's receiving loop: says "ready", takes the first of ``n`` messages
    with ``recv()``, then sends the parent how long the other ``n - 1`` took (ns)."""
    out.send("ready")
    recv()
    t = NS()
    for _ in range(n - 1):
        recv()
    out.send(NS() - t)


# ipcring ring -----------------------------------------------------------------------------
def ring_server(name, wait, n):
    import ipcring

    tx, rx = ipcring.duplex(name, "b", capacity=1 << 22, wait=wait)
    for _ in range(n):
        tx.send(rx.recv())
    tx.close()
    rx.close()


def ring_sink(name, wait, n, size, out):
    import ipcring

    c = ipcring.Consumer.open_or_create(name, capacity=1 << 22, wait=wait, timeout=30)
    timed_sink(functools.partial(c.recv_into, bytearray(size)), n, out)
    c.close()


class RingClient:
    def __init__(self, name, wait):
        import ipcring

        self.ipcring = ipcring
        self.name, self.wait = name, wait

    def connect_rt(self):
        self.tx, self.rx = self.ipcring.duplex(self.name, "a", capacity=1 << 22, wait=self.wait)

    def rt(self, msg):
        self.tx.send(msg)
        return self.rx.recv()

    def close_rt(self):
        self.tx.close()
        self.rx.close()

    def connect_stream(self, sname):
        self.p = self.ipcring.Producer.open_or_create(sname, capacity=1 << 22, wait=self.wait, timeout=30)

    def send(self, msg):
        self.p.send(msg)

    def close_stream(self):
        self.p.close()


# iceoryx2 ---------------------------------------------------------------------------------
def _iox_types():
    class Small(ctypes.Structure):
        _fields_ = [("data", ctypes.c_uint8 * SMALL)]

    class Large(ctypes.Structure):
        _fields_ = [("data", ctypes.c_uint8 * LARGE)]

    return Small, Large


def _iox_service(node, iox2, name, t, stream):
    b = node.service_builder(iox2.ServiceName.new(name)).publish_subscribe(t)
    if stream:
        b = b.subscriber_max_buffer_size(64).enable_safe_overflow(False)
    return b.open_or_create()


def _iox_pub(service, iox2, stream):
    b = service.publisher_builder()
    if stream:
        b = b.backpressure_strategy(iox2.BackpressureStrategy.RetryUntilDelivered)
    return b.create()


def _iox_sub(service, stream):
    b = service.subscriber_builder()
    if stream:
        b = b.buffer_size(64)
    return b.create()


def iox_server(name, n):
    """Echoes every sample until one starts with 0xFF (n is unused: the client's handshake
    sends a few extra samples, since iceoryx2 delivers only to connected subscribers)."""
    import iceoryx2 as iox2

    Small, _ = _iox_types()
    node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
    pub = _iox_pub(_iox_service(node, iox2, name + "/ba", Small, False), iox2, False)
    sub = _iox_sub(_iox_service(node, iox2, name + "/ab", Small, False), False)
    while True:
        s = sub.receive()
        if s is None:
            continue
        payload = s.payload().contents
        stop = payload.data[0] == 0xFF
        pub.send_copy(payload)
        s.delete()
        if stop:
            break
    time.sleep(0.2)  # let the last sample be read before the publisher goes


def iox_sink(name, n, size, out):
    """Counts samples until one starting with 0xFF: iceoryx2 delivers only to subscribers
    the publisher has connected to, so the first few may be missed; the rate is computed
    from what arrived, first to last."""
    import iceoryx2 as iox2

    Small, Large = _iox_types()
    t_ = Small if size == SMALL else Large
    node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
    sub = _iox_sub(_iox_service(node, iox2, name, t_, True), True)
    out.send("ready")
    got = 0
    t = None
    while True:
        s = sub.receive()
        if s is None:
            continue
        data = bytes(s.payload().contents)
        s.delete()
        if data[0] == 0xFF:
            break
        if got == 0:
            t = NS()
        got += 1
    out.send((got, NS() - t))


class IoxClient:
    def __init__(self, name):
        import iceoryx2 as iox2

        self.iox2 = iox2
        self.name = name
        self.Small, self.Large = _iox_types()
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)

    def _send_small(self, msg):
        ctypes.memmove(self.msg.data, msg, len(msg))
        self.pub.send_copy(self.msg)

    def connect_rt(self):
        iox2 = self.iox2
        self.pub = _iox_pub(_iox_service(self.node, iox2, self.name + "/ab", self.Small, False), iox2, False)
        self.sub = _iox_sub(_iox_service(self.node, iox2, self.name + "/ba", self.Small, False), False)
        self.msg = self.Small()
        # Handshake: a sample sent before the server's subscriber is connected is lost, so
        # send until one comes back, then drain the extra answers.
        hello = b"\x01" * SMALL
        answered = False
        while not answered:
            self.pub.update_connections()
            self._send_small(hello)
            end = time.monotonic() + 0.02
            while time.monotonic() < end:
                s = self.sub.receive()
                if s is not None:
                    s.delete()
                    answered = True
                    break
        time.sleep(0.1)
        while (s := self.sub.receive()) is not None:
            s.delete()

    def rt(self, msg):
        self._send_small(msg)
        while True:
            s = self.sub.receive()
            if s is not None:
                r = bytes(s.payload().contents)
                s.delete()
                return r

    def close_rt(self):
        self._send_small(b"\xff" * SMALL)

    def connect_stream(self, sname, size=SMALL):
        iox2 = self.iox2
        t = self.Small if size == SMALL else self.Large
        self.spub = _iox_pub(_iox_service(self.node, iox2, sname, t, True), iox2, True)
        self.spub.update_connections()
        self.smsg = t()

    def send(self, msg):
        ctypes.memmove(self.smsg.data, msg, len(msg))
        self.spub.send_copy(self.smsg)

    def close_stream(self):
        self.send(b"\xff" * 8)


# multiprocessing Pipe / Listener / Queue ----------------------------------------------------
def conn_server(conn, n):
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def conn_sink(conn, n, size, out):
    timed_sink(conn.recv_bytes, n, out)


def listener_server(address, n):
    from multiprocessing.connection import Client

    conn_server(Client(address, family="AF_UNIX"), n)


def listener_sink(address, n, size, out):
    from multiprocessing.connection import Client

    conn_sink(Client(address, family="AF_UNIX"), n, size, out)


def queue_server(q_in, q_out, n):
    for _ in range(n):
        q_out.put(q_in.get())


def queue_sink(q, n, size, out):
    timed_sink(q.get, n, out)


# shared_memory + posix_ipc semaphores (the article's way) ----------------------------------
def shm_server(prefix, n):
    import posix_ipc
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(prefix.strip("/") + "-shm")
    req = posix_ipc.Semaphore(prefix + "-req")
    rep = posix_ipc.Semaphore(prefix + "-rep")
    buf = shm.buf
    for _ in range(n):
        req.acquire()
        ln = int.from_bytes(buf[:4], "little")
        data = bytes(buf[4 : 4 + ln])
        buf[4 : 4 + ln] = data
        rep.release()
    del buf
    shm.close()


def shm_sink(prefix, n, size, out):
    import posix_ipc
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(prefix.strip("/") + "-shm")
    ready = posix_ipc.Semaphore(prefix + "-req")
    free = posix_ipc.Semaphore(prefix + "-rep")
    buf = shm.buf

    def recv():
        ready.acquire()
        ln = int.from_bytes(buf[:4], "little")
        _ = bytes(buf[4 : 4 + ln])
        free.release()

    timed_sink(recv, n, out)
    del buf
    shm.close()


class ShmClient:
    def __init__(self, prefix):
        import posix_ipc
        from multiprocessing import shared_memory

        self.posix_ipc = posix_ipc
        self.prefix = prefix
        self.shm = shared_memory.SharedMemory(prefix.strip("/") + "-shm", create=True, size=LARGE + 64)
        self.buf = self.shm.buf

    def sems(self, rep_initial):
        p = self.posix_ipc
        for s in ("-req", "-rep"):
            try:
                p.unlink_semaphore(self.prefix + s)
            except p.ExistentialError:
                pass
        self.req = p.Semaphore(self.prefix + "-req", p.O_CREX, initial_value=0)
        self.rep = p.Semaphore(self.prefix + "-rep", p.O_CREX, initial_value=rep_initial)

    def put(self, msg):
        self.buf[:4] = len(msg).to_bytes(4, "little")
        self.buf[4 : 4 + len(msg)] = msg

    def rt(self, msg):
        self.put(msg)
        self.req.release()
        self.rep.acquire()
        ln = int.from_bytes(self.buf[:4], "little")
        return bytes(self.buf[4 : 4 + ln])

    def send(self, msg):
        self.rep.acquire()  # "free"
        self.put(msg)
        self.req.release()  # "ready"

    def close(self):
        for s in (self.req, self.rep):
            s.unlink()
        del self.buf
        self.shm.close()
        self.shm.unlink()


# Children of the method being measured, stopped if it runs out of time.
CHILDREN: list = []
# Longest one method may take before it is abandoned (a peer that lost a sample can hang).
METHOD_LIMIT_S = int(os.environ.get("BENCH_METHOD_LIMIT_S", "180"))


class MethodTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise MethodTimeout(f"no result within {METHOD_LIMIT_S} s")


# --- measurement -------------------------------------------------------------------------
def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure_rt(client_rt, plan):
    msg = bytes(range(SMALL))
    for _ in range(plan.rt_warmup):
        client_rt(msg)
    times = []
    for _ in range(plan.rt):
        t = NS()
        r = client_rt(msg)
        times.append(NS() - t)
    assert r == msg, "echo mismatch"
    return pct(times, 0.5), pct(times, 0.99)


def run_method(method, plan, ctx, uid):
    """Returns dict(p50, p99, small_rate, large_gbps) or raises."""
    res = {}
    rt_total = plan.rt + plan.rt_warmup
    parent_end, child_end = ctx.Pipe()

    def child(target, *args):
        p = ctx.Process(target=target, args=args, daemon=True)
        p.start()
        CHILDREN.append(p)
        return p

    def stream(make_sink, send, n, size, connect=None, close=None, end=None):
        p = make_sink(n, size)
        # The receiver is set up before the first message is sent: a rate measured while
        # it drains what piled up before it started would not be a rate of the channel.
        assert parent_end.recv() == "ready"
        if connect is not None:
            connect(size)
        msg = b"\x5a" * size
        for _ in range(n):
            send(msg)
        if end is not None:
            end()
        ns = parent_end.recv()
        if close is not None:
            close()
        p.join(60)
        return ns

    if method in ("ring-spin", "ring-default"):
        wait = "spin" if method == "ring-spin" else None
        name = f"/ipcring-bench-{uid}"
        c = RingClient(name, wait)
        srv = child(ring_server, name, wait, rt_total)
        c.connect_rt()
        res["rt"] = measure_rt(c.rt, plan)
        srv.join(60)
        c.close_rt()
        for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
            sname = f"{name}-{key}"
            ns = stream(
                lambda n, size: child(ring_sink, sname, wait, n, size, child_end),
                c.send,
                n,
                size,
                connect=lambda size: c.connect_stream(sname),
                close=c.close_stream,
            )
            res[key] = (n - 1, ns)
    elif method == "iceoryx2":
        name = f"ipcring-bench-iox-{uid}"
        c = IoxClient(name)
        srv = child(iox_server, name, rt_total)
        c.connect_rt()
        res["rt"] = measure_rt(c.rt, plan)
        c.close_rt()
        srv.join(60)
        for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
            sname = f"{name}-{key}"
            got, ns = stream(
                lambda n, size: child(iox_sink, sname, n, size, child_end),
                c.send,
                n,
                size,
                connect=lambda size: c.connect_stream(sname, size),
                end=c.close_stream,
            )
            res[key] = (got - 1, ns)
    elif method == "mp-pipe":
        a, b = ctx.Pipe()
        srv = child(conn_server, b, rt_total)
        res["rt"] = measure_rt(round_trip(a.send_bytes, a.recv_bytes), plan)
        srv.join(60)
        for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
            a, b = ctx.Pipe()
            ns = stream(lambda n, size: child(conn_sink, b, n, size, child_end), a.send_bytes, n, size)
            res[key] = (n - 1, ns)
    elif method == "mp-listener":
        from multiprocessing.connection import Listener

        d = tempfile.mkdtemp()
        try:
            addr = os.path.join(d, "rt.sock")
            with Listener(addr, family="AF_UNIX") as lst:
                srv = child(listener_server, addr, rt_total)
                conn = lst.accept()
                res["rt"] = measure_rt(round_trip(conn.send_bytes, conn.recv_bytes), plan)
                srv.join(60)
            for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
                addr = os.path.join(d, f"{key}.sock")
                with Listener(addr, family="AF_UNIX") as lst:
                    box = {}

                    def connect(size, lst=lst, box=box):
                        box["c"] = lst.accept()

                    ns = stream(
                        lambda n, size, addr=addr: child(listener_sink, addr, n, size, child_end),
                        lambda m, box=box: box["c"].send_bytes(m),
                        n,
                        size,
                        connect=connect,
                    )
                    res[key] = (n - 1, ns)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    elif method == "mp-queue":
        q1, q2 = ctx.Queue(), ctx.Queue()
        srv = child(queue_server, q1, q2, rt_total)
        res["rt"] = measure_rt(round_trip(q1.put, q2.get), plan)
        srv.join(60)
        for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
            q = ctx.Queue(maxsize=1024)
            ns = stream(lambda n, size, q=q: child(queue_sink, q, n, size, child_end), q.put, n, size)
            res[key] = (n - 1, ns)
    elif method == "shm-posix-sem":
        prefix = f"/ipcring-bench-sem-{uid}"
        c = ShmClient(prefix)
        try:
            c.sems(0)
            srv = child(shm_server, prefix, rt_total)
            res["rt"] = measure_rt(c.rt, plan)
            srv.join(60)
            for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
                c.sems(1)
                ns = stream(lambda n, size: child(shm_sink, prefix, n, size, child_end), c.send, n, size)
                res[key] = (n - 1, ns)
        finally:
            c.close()
    else:
        raise ValueError(method)
    return res


# --- the Rust side -----------------------------------------------------------------------
def find_cli():
    if os.environ.get("IPCRING_CLI"):
        return os.environ["IPCRING_CLI"]
    repo = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("CARGO_TARGET_DIR", repo / "target"))
    p = target / "release" / "ipcring"
    return str(p) if p.exists() else None


def python_rust(cli, plan, uid):
    """The ring between this Python process and a Rust process (ring-spin peers)."""
    import ipcring

    res = {}
    name = f"/ipcring-bench-pr-{uid}"
    peer = subprocess.Popen([cli, "__peer", "echo", name, "--method", "ring-spin"], stdout=subprocess.PIPE)
    tx, rx = ipcring.duplex(name, "a", capacity=1 << 22, wait="spin", timeout=10)
    assert peer.stdout.readline().strip() == b"ready"

    res["rt"] = measure_rt(round_trip(tx.send, rx.recv), plan)
    tx.close()
    rx.close()
    peer.wait(60)
    for size, n, key in ((SMALL, plan.small, "small"), (LARGE, plan.large, "large")):
        sname = f"{name}-{key}"
        peer = subprocess.Popen([cli, "__peer", "sink", sname, "--method", "ring-spin"], stdout=subprocess.PIPE)
        tx, rx = ipcring.duplex(sname, "a", capacity=1 << 22, wait="spin", timeout=10)
        assert peer.stdout.readline().strip() == b"ready"
        msg = b"\x5a" * size
        for _ in range(n):
            tx.send(msg)
        tx.send(b"")
        got, _bytes, ns = map(int, peer.stdout.readline().split())
        tx.close()
        rx.close()
        peer.wait(60)
        res[key] = (got - 1, ns)
    return res


def rust_rust(cli, quick):
    """`ipcring compare` for the ring between two Rust processes."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "c.json")
        args = [cli, "compare", "--only", "ring-spin,ring-block", "--json", out]
        if quick:
            args.append("--quick")
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def rust_rows(data):
    """The ring's rows of compare's JSON (its keys: cli/src/report.rs)."""
    return [m for m in data["methods"] if m["id"] in ("ring-spin", "ring-block")]


# --- report ------------------------------------------------------------------------------
def fmt_us(ns):
    return f"{ns / 1000:.2f}"


def row(label, r):
    p50, p99 = r["rt"]
    n, ns = r["small"]
    small = n / (ns / 1e9) if ns else float("nan")
    n, ns = r["large"]
    large = n * LARGE / (ns / 1e9) / 1e9 if ns else float("nan")
    return label, p50, p99, small, large


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer round trips and messages")
    ap.add_argument("--only", default="", help="comma-separated methods")
    ap.add_argument("--json", help="also write the results to this file")
    a = ap.parse_args()
    plan = Plan(a.quick)
    ctx = mp.get_context("spawn")
    uid = os.getpid()
    methods = ["ring-spin", "ring-default", "iceoryx2", "mp-pipe", "mp-listener", "mp-queue", "shm-posix-sem"]
    if a.only:
        methods = [m for m in methods if m in a.only.split(",")]
    rows, notes = [], []
    for m in methods:
        print(f"measuring {m} ...", file=sys.stderr, flush=True)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(METHOD_LIMIT_S)
        try:
            rows.append(row(m, run_method(m, plan, ctx, uid)))
        except ImportError as e:
            notes.append(f"{m}: skipped ({e})")
        except Exception as e:  # noqa: BLE001 - one method failing must not hide the rest
            tb = traceback.extract_tb(e.__traceback__)
            where = tb[-2] if isinstance(e, MethodTimeout) and len(tb) > 1 else tb[-1]
            notes.append(f"{m}: failed ({type(e).__name__}: {e}, at line {where.lineno}: {where.line})")
        finally:
            signal.alarm(0)
            for p in CHILDREN:
                if p.is_alive():
                    p.kill()
            CHILDREN.clear()
    cli = find_cli()
    rust = []
    if cli and not a.only:
        print("measuring ring Python<->Rust ...", file=sys.stderr, flush=True)
        try:
            rows.append(row("ring-spin Python<->Rust", python_rust(cli, plan, uid)))
        except Exception as e:  # noqa: BLE001
            notes.append(f"Python<->Rust: failed ({type(e).__name__}: {e})")
        print("measuring ring Rust<->Rust (ipcring compare) ...", file=sys.stderr, flush=True)
        try:
            rust = rust_rows(rust_rust(cli, a.quick))
        except Exception as e:  # noqa: BLE001
            notes.append(f"Rust<->Rust: failed ({type(e).__name__}: {e})")
    elif not cli:
        notes.append("Rust rows skipped: no ipcring CLI (cargo build --release -p ipcring-cli, or IPCRING_CLI)")

    base = {r[0]: r for r in rows}
    print()
    print("| method (Python <-> Python unless said) | 64 B round trip p50 | p99 | 64 B msg/s | 64 KiB GB/s | p50 vs ring-spin |")
    print("|---|---|---|---|---|---|")
    spin = base.get("ring-spin")
    for label, p50, p99, small, large in rows:
        ratio = f"{p50 / spin[1]:.1f}x" if spin else ""
        print(f"| {label} | {fmt_us(p50)} µs | {fmt_us(p99)} µs | {small / 1e6:.2f} M | {large:.2f} | {ratio} |")
    for r in rust:
        try:
            rtt = r["rtt"]["value"]
            small = r["tput_small"]["value"]["msgs_per_s"]
            large = r["tput_large"]["value"]["bytes_per_s"] / 1e9
            print(
                f"| {r['id']} Rust<->Rust (ipcring compare) | {fmt_us(rtt['p50_ns'])} µs | "
                f"{fmt_us(rtt['p99_ns'])} µs | {small / 1e6:.2f} M | {large:.2f} | "
                + (f"{rtt['p50_ns'] / spin[1]:.1f}x" if spin else "")
                + f" (floor p50 {fmt_us(rtt['floor_p50_ns'])} µs) |"
            )
        except (KeyError, TypeError):
            print(f"| {r.get('id')} Rust<->Rust (ipcring compare) | {json.dumps(r)} |")
    if spin:
        print()
        for other in ("mp-pipe", "mp-listener", "iceoryx2"):
            if other in base:
                print(f"ring-spin p50 is {base[other][1] / spin[1]:.1f}x faster than {other}")
    for n in notes:
        print("note:", n)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "rust": rust, "notes": notes}, f, indent=1)


if __name__ == "__main__":
    main()
