"""Request/response over the ring, from Python: JSON-RPC 2.0, the wire format of the Rust
crate's ``rpc`` module with its ``JsonCodec``, so Python and Rust processes call each other.

A channel is a duplex ring pair (``ipcring.duplex``): the server is side ``"a"``, the client
side ``"b"``, either may start first. One JSON text per message.

>>> import ipcring.rpc, threading, os
>>> name = f"/doc-rpc-{os.getpid()}"
>>> server = ipcring.rpc.Server()
>>> @server.register
... def add(a, b):
...     return a + b
>>> t = threading.Thread(target=server.serve_ring, args=(name,), kwargs={"once": True})
>>> t.start()
>>> with ipcring.rpc.Client(name) as alice:
...     alice.call("add", 2, 5)
7
>>> t.join()
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Dict, Optional

import ipcring
from ipcring._errors import RemoteError

__all__ = ["Client", "Server", "RemoteError", "PARSE_ERROR", "INVALID_REQUEST",
           "METHOD_NOT_FOUND", "INVALID_PARAMS", "INTERNAL_ERROR", "HANDLER_ERROR"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HANDLER_ERROR = -32000

# Ring geometry of the Rust rpc examples (rpc_alice / rpc_bob).
_CAPACITY = 1 << 16


def _raise_remote(error: Any) -> None:
    if not isinstance(error, dict):
        raise ipcring.CodecError(f"malformed JSON-RPC error object: {error!r}")
    message = str(error.get("message", ""))
    data = error.get("data")
    e = RemoteError(f"{message}: {data}" if data is not None else message)
    e.code = error.get("code")  # type: ignore[attr-defined]
    e.data = data  # type: ignore[attr-defined]
    raise e


class Client:
    """Calls the procedures of a server on the duplex ring ``name`` (this side is ``"b"``).

    ``call("add", 2, 5)`` sends ``{"jsonrpc":"2.0","method":"add","params":[2,5],"id":N}``
    and returns the result; a remote failure raises ``ipcring.RemoteError`` carrying the
    server's message (and ``.code``, ``.data``); no answer within ``timeout`` raises
    ``ipcring.Timeout``; a server that went away, ``ipcring.Disconnected``.
    """

    def __init__(self, name: str, *, timeout: Optional[float] = 30.0, capacity: int = _CAPACITY,
                 wait: Optional[str] = None):
        self.timeout = timeout
        self._tx, self._rx = ipcring.duplex(name, "b", capacity=capacity, reclaim_stale=True, wait=wait)
        self._ids = itertools.count(1)

    def call(self, method: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        """Calls ``method`` with positional ``args`` (or named ``kwargs``, not both) and
        returns its result."""
        if args and kwargs:
            raise TypeError("JSON-RPC takes positional or named arguments, not both")
        req_id = next(self._ids)
        req: Dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": req_id}
        if args or kwargs:
            req["params"] = list(args) if args else kwargs
        self._tx.send(json.dumps(req, separators=(",", ":")).encode())
        t = self.timeout if timeout is None else timeout
        while True:
            raw = self._rx.recv(timeout=t)
            try:
                reply = json.loads(raw)
            except ValueError as e:
                raise ipcring.CodecError(f"reply is not JSON: {e}") from None
            if not isinstance(reply, dict):
                raise ipcring.CodecError(f"reply is not a JSON-RPC object: {reply!r}")
            if reply.get("id") != req_id:
                continue  # an answer to an earlier call that timed out
            if "error" in reply:
                _raise_remote(reply["error"])
            return reply.get("result")

    def notify(self, method: str, *args: Any) -> None:
        """Sends a notification: the server runs it and sends no answer."""
        req: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if args:
            req["params"] = list(args)
        self._tx.send(json.dumps(req, separators=(",", ":")).encode())

    def close(self) -> None:
        """Detaches from both rings."""
        self._tx.close()
        self._rx.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Server:
    """Serves Python functions to clients (Python or Rust) on duplex rings.

    ``register(fn)`` (also a decorator, or ``register(fn, name="other")``) offers a
    function; ``serve_ring(name)`` answers calls until the client disconnects, then waits
    for the next one (``once=True``: return after one). A handler's exception becomes a
    JSON-RPC error with its message: ``TypeError`` and ``ValueError`` as "Invalid params"
    (-32602, what the Rust client reports as bad arguments), others as a handler error
    (-32000). A request that is not JSON, not JSON-RPC, or names no registered method gets
    the JSON-RPC error for that.
    """

    def __init__(self) -> None:
        self._handlers: Dict[str, Callable[..., Any]] = {}

    def register(self, fn: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None):
        """Registers ``fn`` under ``name`` (default: its ``__name__``); returns ``fn``."""
        def add(f: Callable[..., Any]) -> Callable[..., Any]:
            self._handlers[name or f.__name__] = f
            return f

        return add(fn) if fn is not None else add

    def handle(self, frame: bytes) -> Optional[bytes]:
        """The answer to one request frame (``None`` for notifications)."""
        try:
            msg = json.loads(frame)
        except ValueError as e:
            return self._encode(self._error(None, PARSE_ERROR, "Parse error", str(e)))
        if isinstance(msg, list):
            if not msg:
                return self._encode(self._error(None, INVALID_REQUEST, "Invalid Request", "empty batch"))
            replies = [r for r in (self._one(m) for m in msg) if r is not None]
            return self._encode(replies) if replies else None
        reply = self._one(msg)
        return None if reply is None else self._encode(reply)

    @staticmethod
    def _encode(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    @staticmethod
    def _error(req_id: Any, code: int, message: str, data: Any = None) -> Dict[str, Any]:
        err: Dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            err["data"] = data
        return {"jsonrpc": "2.0", "error": err, "id": req_id}

    def _one(self, req: Any) -> Optional[Dict[str, Any]]:
        if not isinstance(req, dict):
            return self._error(None, INVALID_REQUEST, "Invalid Request", "a request must be a JSON object")
        has_id = "id" in req
        req_id = req.get("id")
        if not isinstance(req_id, (str, int, float, type(None))) or isinstance(req_id, bool):
            return self._error(None, INVALID_REQUEST, "Invalid Request", '"id" must be a string, a number or null')
        if req.get("jsonrpc") != "2.0":
            return self._error(req_id, INVALID_REQUEST, "Invalid Request", '"jsonrpc" must be exactly "2.0"')
        method = req.get("method")
        if not isinstance(method, str):
            return self._error(req_id, INVALID_REQUEST, "Invalid Request", '"method" must be a string')
        params = req.get("params", [])
        if not isinstance(params, (list, dict)):
            return self._error(req_id, INVALID_REQUEST, "Invalid Request", '"params" must be an array or an object')
        fn = self._handlers.get(method)
        if fn is None:
            reply = self._error(req_id, METHOD_NOT_FOUND, "Method not found", f"no method named `{method}`")
        else:
            try:
                result = fn(*params) if isinstance(params, list) else fn(**params)
                json.dumps(result)  # a result JSON cannot carry is the handler's error
                reply = {"jsonrpc": "2.0", "result": result, "id": req_id}
            except (TypeError, ValueError) as e:
                reply = self._error(req_id, INVALID_PARAMS, "Invalid params", str(e))
            except Exception as e:  # noqa: BLE001 - every handler failure goes back to the caller
                reply = self._error(req_id, HANDLER_ERROR, str(e) or type(e).__name__)
        return reply if has_id else None

    def serve(self, tx: "ipcring.Producer", rx: "ipcring.Consumer") -> None:
        """Answers requests from ``rx`` on ``tx`` until the client disconnects."""
        try:
            for frame in rx:
                out = self.handle(frame)
                if out is not None:
                    tx.send(out)
        except ipcring.Disconnected:
            pass

    def serve_ring(self, name: str, *, once: bool = False, capacity: int = _CAPACITY,
                   wait: Optional[str] = None) -> None:
        """Serves clients on the duplex ring ``name`` (this side is ``"a"``), one after
        another; with ``once``, returns when the first client leaves."""
        while True:
            tx, rx = ipcring.duplex(name, "a", capacity=capacity, reclaim_stale=True, wait=wait)
            with tx, rx:
                self.serve(tx, rx)
            if once:
                return
