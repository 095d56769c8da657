"""ipcring.rpc: JSON-RPC 2.0 over the ring, between Python processes and with the Rust rpc
module's examples (rpc_alice serving a Python client, a Python server answering rpc_bob)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

import ipcring
import ipcring.rpc
from conftest import finish, wait_for_segment


def alice_server() -> ipcring.rpc.Server:
    server = ipcring.rpc.Server()

    @server.register
    def add(a, b):
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError("Yeah, we are only going to add numbers")
        return a + b

    @server.register
    def multiply(a, b):
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError("Yeah, we are only going to multiply numbers")
        return a * b

    @server.register(name="fail")
    def _fail():
        raise RuntimeError("it broke over there")

    return server


def test_python_client_and_server(name):
    server = alice_server()
    t = threading.Thread(target=server.serve_ring, args=(name,), kwargs={"once": True})
    t.start()
    try:
        with ipcring.rpc.Client(name, timeout=30) as c:
            assert c.call("add", 2, 5) == 7
            assert c.call("multiply", a=8, b=5) == 40
            with pytest.raises(ipcring.RemoteError) as e:
                c.call("add", "bad", "data")
            assert "only going to add numbers" in str(e.value)
            assert e.value.code == ipcring.rpc.INVALID_PARAMS
            with pytest.raises(ipcring.RemoteError) as e:
                c.call("fail")
            assert "it broke over there" in str(e.value)
            with pytest.raises(ipcring.RemoteError) as e:
                c.call("subtract", 1, 2)
            assert e.value.code == ipcring.rpc.METHOD_NOT_FOUND
            c.notify("add", 1, 1)
            assert c.call("add", 40, 2) == 42
    finally:
        t.join(30)
    assert not t.is_alive()


def test_server_answers_malformed_requests():
    server = alice_server()
    import json

    assert json.loads(server.handle(b"{oops"))["error"]["code"] == ipcring.rpc.PARSE_ERROR
    assert json.loads(server.handle(b'"text"'))["error"]["code"] == ipcring.rpc.INVALID_REQUEST
    batch = json.loads(server.handle(json.dumps([
        {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 5},
        {"jsonrpc": "2.0", "method": "add", "params": [3, 4]},
    ]).encode()))
    assert batch == [{"jsonrpc": "2.0", "result": 3, "id": 5}]


def test_python_client_calls_rust_rpc_alice(name, rpc_examples):
    alice = subprocess.Popen([str(rpc_examples / "rpc_alice"), "--json", "--once", "--name", name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with ipcring.rpc.Client(name, timeout=30) as c:
            assert c.call("add", 2, 5) == 7
            assert c.call("multiply", 8, 5) == 40
            with pytest.raises(ipcring.RemoteError) as e:
                c.call("add", "bad", "data")
            assert e.value.code == ipcring.rpc.INVALID_PARAMS
            with pytest.raises(ipcring.RemoteError) as e:
                c.call("subtract", 1, 2)
            assert e.value.code == ipcring.rpc.METHOD_NOT_FOUND
        out, _ = finish(alice, timeout=60)
    finally:
        if alice.poll() is None:
            alice.kill()
    assert "running command add with args [2, 5]" in out
    assert "running command multiply with args [8, 5]" in out


def test_rust_rpc_bob_calls_a_python_server(name, rpc_examples):
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from test_rpc import alice_server\n"
        "alice_server().serve_ring(%r, once=True)\n"
    ) % (str(__import__("pathlib").Path(__file__).parent), name)
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_segment(name + ".ab", server)
        bob = subprocess.run([str(rpc_examples / "rpc_bob"), "--json", "--name", name],
                             capture_output=True, timeout=120)
        assert bob.returncode == 0, bob.stderr.decode()
        finish(server, timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    lines = bob.stdout.decode().splitlines()
    assert "Lets add 2 and 5: 7" in lines
    assert "Lets multiply 8 and 5: 40" in lines
    assert any(l.startswith("Exception:") and "only going to add numbers" in l for l in lines), lines
