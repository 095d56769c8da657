"""A plain JSON-RPC 2.0 client in Python, talking to the Rust rpc_alice example
(`rpc_alice --socket ADDR --json`) through multiprocessing.connection framing.

usage: python3 rpc_jsonrpc_client.py ADDR [AUTHKEY]
ADDR is a Unix socket path or a TCP port on localhost. Exits non-zero on any mismatch.
"""
import json
import sys
import time
from multiprocessing.connection import Client


def connect(addr, key):
    target = ("localhost", int(addr)) if addr.isdigit() else addr
    for _ in range(600):  # Alice may start after us: retry for up to 30 s
        try:
            return Client(target, authkey=key)
        except (ConnectionRefusedError, FileNotFoundError):
            time.sleep(0.05)
    raise SystemExit(f"nobody listens on {addr}")


def main():
    addr = sys.argv[1]
    key = sys.argv[2].encode() if len(sys.argv) > 2 else None
    conn = connect(addr, key)

    def ask(obj):
        conn.send_bytes(json.dumps(obj).encode())
        return json.loads(conn.recv_bytes())

    def check(reply, expected):
        if reply != expected:
            raise SystemExit(f"FAIL: got {reply!r}, expected {expected!r}")

    check(ask({"jsonrpc": "2.0", "method": "add", "params": [2, 5], "id": 1}),
          {"jsonrpc": "2.0", "result": 7, "id": 1})
    print("Lets add 2 and 5:", 7)
    check(ask({"jsonrpc": "2.0", "method": "multiply", "params": [8, 5], "id": "two"}),
          {"jsonrpc": "2.0", "result": 40, "id": "two"})
    print("Lets multiply 8 and 5:", 40)

    bad = ask({"jsonrpc": "2.0", "method": "add", "params": ["bad", "data"], "id": 3})
    if bad.get("id") != 3 or bad.get("error", {}).get("code") != -32602:
        raise SystemExit(f"FAIL: bad arguments gave {bad!r}")
    print("Lets break it and cause an exception!", bad["error"]["message"] + ":", bad["error"].get("data"))

    missing = ask({"jsonrpc": "2.0", "method": "subtract", "params": [1, 2], "id": 4})
    if missing.get("error", {}).get("code") != -32601:
        raise SystemExit(f"FAIL: unknown method gave {missing!r}")

    # A notification gets no reply: the next frame is the batch's reply.
    conn.send_bytes(json.dumps({"jsonrpc": "2.0", "method": "add", "params": [1, 1]}).encode())
    batch = ask([
        {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 5},
        {"jsonrpc": "2.0", "method": "multiply", "params": [3, 4]},
        {"jsonrpc": "2.0", "method": "multiply", "params": [3, 4], "id": 6},
    ])
    check(batch, [{"jsonrpc": "2.0", "result": 3, "id": 5},
                  {"jsonrpc": "2.0", "result": 12, "id": 6}])

    garbage = ask("not json at all")  # a JSON string: valid JSON, invalid request
    if garbage.get("error", {}).get("code") != -32600 or garbage.get("id") is not None:
        raise SystemExit(f"FAIL: invalid request gave {garbage!r}")
    conn.send_bytes(b"{oops")
    parse = json.loads(conn.recv_bytes())
    if parse.get("error", {}).get("code") != -32700:
        raise SystemExit(f"FAIL: parse error gave {parse!r}")

    check(ask({"jsonrpc": "2.0", "method": "add", "params": [40, 2], "id": 7}),
          {"jsonrpc": "2.0", "result": 42, "id": 7})
    conn.close()
    print("python JSON-RPC client: all replies as specified")


if __name__ == "__main__":
    main()
