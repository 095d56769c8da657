//! RPC between real separate processes: the test binary re-executes itself as the server
//! (`peer`, in a role), over the test-only framed Unix stream transport. The suite run over
//! every real transport is `tests/rpc_transports.rs`.
#![cfg(feature = "rpc")]

#[path = "support/mod.rs"]
mod support;

use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use ipcring::rpc::{BinaryCodec, Client, Codec, Incoming, JsonCodec, RpcError};
use ipcring::transport::{Receiver, Sender};
use serde_json::{json, Value};
use support::frames::{
    connect_retry, connect_to_parent, framed, spawn_connected, FrameRx, FrameTx, MAX_FRAME,
};
use support::rpc_alice::{alice, calls_in_flight, failures_come_back, served_at_once};
use support::{unique_path, Peer};

const T: Duration = Duration::from_secs(20);
/// How many requests the out-of-order peer reads before answering them backwards.
const REVERSED: usize = 6;

crate::peer_entry!(roles);

/// The server roles, run in the re-executed test binary.
fn roles(role: &str, args: Vec<String>) {
    let parent = args[0].as_str();
    match role {
        "json" => serve_parent(parent, JsonCodec),
        "binary" => serve_parent(parent, BinaryCodec),
        "binary-concurrent" => {
            let (tx, rx) = framed(connect_to_parent(parent));
            alice(BinaryCodec).serve_concurrent(tx, rx, 4).unwrap();
        }
        "reverse-json" => answer_backwards(parent, JsonCodec),
        "reverse-binary" => answer_backwards(parent, BinaryCodec),
        "many-json" => {
            let listener = UnixListener::bind(parent).unwrap();
            let conns = listener
                .incoming()
                .take(3)
                .map(|s| s.map(framed).map_err(ipcring::Error::from));
            alice(JsonCodec).serve_incoming(conns).unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

fn serve_parent<C: Codec>(parent: &str, codec: C) {
    let (tx, rx) = framed(connect_to_parent(parent));
    alice(codec).serve(tx, rx).unwrap();
}

/// Reads `REVERSED` requests, then answers `add` for each, last first.
fn answer_backwards<C: Codec>(parent: &str, codec: C) {
    let (mut tx, mut rx) = framed(connect_to_parent(parent));
    let frames: Vec<Vec<u8>> = (0..REVERSED).map(|_| rx.recv().unwrap()).collect();
    for f in frames.iter().rev() {
        let Incoming::Single(Ok(req)) = codec.decode_request(f) else {
            panic!("bad request")
        };
        let (a, b): (i64, i64) = codec.decode_params(f, req.params).unwrap();
        let mut out = Vec::new();
        codec
            .encode_result(&req.id.unwrap(), &(a + b), &mut out)
            .unwrap();
        tx.send(&out).unwrap();
    }
    assert!(rx.recv().unwrap_err().is_disconnected());
}

fn start<C: Codec>(role: &str, codec: C) -> (Peer, Client<FrameTx, FrameRx, C>) {
    let (peer, Raw { tx, rx }) = Raw::start(role);
    (peer, Client::new(tx, rx, codec))
}

fn alice_and_bob<C: Codec>(role: &str, codec: C) {
    let (mut peer, mut bob) = start(role, codec);
    assert_eq!(bob.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
    assert_eq!(bob.call::<_, i64>("multiply", (8, 5), T).unwrap(), 40);

    match bob.call::<_, i64>("add", ("bad", "data"), T) {
        Err(RpcError::BadArguments { method, message }) => {
            assert_eq!(method, "add");
            assert!(!message.is_empty());
        }
        other => panic!("add('bad', 'data') gave {other:?}"),
    }
    match bob.call::<_, i64>("subtract_all", (1, 2), T) {
        Err(e @ RpcError::UnknownMethod { .. }) => {
            assert_eq!(e.code(), Some(-32601));
            assert!(e.to_string().contains("subtract_all"));
        }
        other => panic!("unknown method gave {other:?}"),
    }
    match bob.call::<_, i64>("divide", (1, 0), T) {
        Err(RpcError::Handler {
            method,
            code,
            message,
        }) => {
            assert_eq!(
                (method.as_str(), code, message.as_str()),
                ("divide", -32042, "division by zero")
            );
        }
        other => panic!("divide by zero gave {other:?}"),
    }
    assert_eq!(bob.call::<_, i64>("divide", (9, 3), T).unwrap(), 3);
    if role == "json" {
        // Named parameters (a JSON object; a struct handler).
        assert_eq!(
            bob.call::<_, String>("greet", json!({"name": "Bob"}), T)
                .unwrap(),
            "hello Bob"
        );
    }

    // Notifications run, send nothing back, and an unknown one is ignored.
    bob.notify("incr", 5u64, T).unwrap();
    bob.notify("no_such_method", 1u64, T).unwrap();
    bob.notify("incr", 5u64, T).unwrap();
    assert_eq!(bob.call::<_, u64>("count", (), T).unwrap(), 10);
    assert_eq!(bob.in_flight(), 0);

    // A result of the wrong type is a local codec error, and the client goes on.
    match bob.call::<_, Vec<String>>("add", (1, 1), T) {
        Err(RpcError::Codec { .. }) => {}
        other => panic!("wrong result type gave {other:?}"),
    }
    assert_eq!(bob.call::<_, i64>("add", (-2, 2), T).unwrap(), 0);

    peer.hang_up(bob); // the server's loop ended with Ok on the client's disconnection
}

#[test]
fn alice_and_bob_json() {
    alice_and_bob("json", JsonCodec);
}

#[test]
fn alice_and_bob_binary() {
    alice_and_bob("binary", BinaryCodec);
}

fn pipelined_out_of_order<C: Codec>(role: &str, codec: C) {
    let (mut peer, mut c) = start(role, codec);
    let mut pending: Vec<_> = (0..REVERSED as i64)
        .map(|i| Some(c.start_call::<_, i64>("add", (i, 100), T).unwrap()))
        .collect();
    assert_eq!(c.in_flight(), REVERSED);
    // Forget one call: its reply must be discarded, not handed to another call.
    drop(pending[2].take());
    // Wait first-sent first: every reply before it (sent last-first) is kept for later.
    for (i, p) in pending.into_iter().enumerate() {
        if let Some(p) = p {
            assert_eq!(p.id(), i as u64 + 1);
            assert_eq!(c.wait(p, T).unwrap(), i as i64 + 100);
        }
    }
    assert_eq!(c.in_flight(), 0);
    peer.hang_up(c);
}

#[test]
fn pipelined_calls_answered_out_of_order_json() {
    pipelined_out_of_order("reverse-json", JsonCodec);
}

#[test]
fn pipelined_calls_answered_out_of_order_binary() {
    pipelined_out_of_order("reverse-binary", BinaryCodec);
}

#[test]
fn many_calls_in_flight_waited_in_reverse() {
    let (mut peer, mut c) = start("binary", BinaryCodec);
    calls_in_flight(&mut c, "multiply", (0..50).map(|i| (i, 3)), true);
    peer.hang_up(c);
}

fn handler_panic<C: Codec>(role: &str, codec: C) {
    let (mut peer, mut c) = start(role, codec);
    match c.call::<_, ()>("boom", "kaboom", T) {
        Err(RpcError::Internal { method, message }) => {
            assert_eq!(method, "boom");
            assert!(
                message.contains("panicked") && message.contains("kaboom"),
                "{message}"
            );
        }
        other => panic!("a panicking handler gave {other:?}"),
    }
    assert_eq!(c.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
    peer.hang_up(c);
}

#[test]
fn handler_panic_is_an_error_and_the_server_keeps_serving_json() {
    handler_panic("json", JsonCodec);
}

#[test]
fn handler_panic_is_an_error_and_the_server_keeps_serving_binary() {
    handler_panic("binary", BinaryCodec);
}

#[test]
fn timed_out_call_is_forgotten_and_its_late_reply_discarded() {
    let (mut peer, mut c) = start("json", JsonCodec);
    let r = c.call::<_, u64>("sleep_ms", 1500u64, Duration::from_millis(50));
    assert!(matches!(r, Err(RpcError::Timeout)), "{r:?}");
    assert_eq!(c.in_flight(), 0);
    // The late reply (id 1) comes first and must not be taken for this call's.
    assert_eq!(c.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
    peer.hang_up(c);
}

#[test]
fn server_killed_mid_call_gives_disconnected() {
    let (mut peer, mut c) = start("binary", BinaryCodec);
    let r = support::hang_then_kill_alice(&mut c, &mut peer);
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
    let r = c.call::<_, i64>("add", (1, 2), Duration::from_secs(30));
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
}

#[test]
fn too_large_reply_becomes_an_error_reply() {
    let (mut peer, mut c) = start("binary", BinaryCodec);
    match c.call::<_, Vec<u8>>("big", 2 * MAX_FRAME, T) {
        Err(RpcError::Internal { message, .. }) => {
            assert!(message.contains("exceeds"), "{message}")
        }
        other => panic!("an oversized reply gave {other:?}"),
    }
    assert_eq!(c.call::<_, Vec<u8>>("big", 3usize, T).unwrap(), [7, 7, 7]);
    peer.hang_up(c);
}

/// A raw connection to a server peer: frames in, frames out, no client logic.
struct Raw {
    tx: FrameTx,
    rx: FrameRx,
}

impl Raw {
    fn start(role: &str) -> (Peer, Raw) {
        let (peer, stream) = spawn_connected(role);
        let (tx, rx) = framed(stream);
        (peer, Raw { tx, rx })
    }
    fn ask(&mut self, frame: &[u8]) -> Vec<u8> {
        self.tx.send(frame).unwrap();
        self.rx.recv_timeout(T).unwrap()
    }
    fn ask_json(&mut self, frame: &str) -> Value {
        serde_json::from_slice(&self.ask(frame.as_bytes())).unwrap()
    }
    /// Sends a frame that must get no reply: the next reply must be the marker call's.
    fn tell_nothing_back(&mut self, frame: &[u8]) {
        self.tx.send(frame).unwrap();
        let marker = self.ask(br#"{"jsonrpc":"2.0","method":"add","params":[40,2],"id":"marker"}"#);
        assert_eq!(marker, br#"{"jsonrpc":"2.0","result":42,"id":"marker"}"#);
    }
}

fn error_of(v: &Value) -> (i64, Value) {
    (
        v["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an error: {v}")),
        v["id"].clone(),
    )
}

#[test]
fn malformed_json_requests_each_get_an_error_reply() {
    let (mut peer, mut raw) = Raw::start("json");
    let cases: &[(&[u8], i64, Value)] = &[
        (b"{oops", -32700, Value::Null),
        (b"", -32700, Value::Null),
        (b"\xff\xfe", -32700, Value::Null),
        (br#""just a string""#, -32600, Value::Null),
        (b"[]", -32600, Value::Null),
        (br#"{"jsonrpc":"2.0","method":1,"id":1}"#, -32600, json!(1)),
        (
            br#"{"jsonrpc":"1.0","method":"add","params":[1,2],"id":"a"}"#,
            -32600,
            json!("a"),
        ),
        (
            br#"{"method":"add","params":[1,2],"id":2}"#,
            -32600,
            json!(2),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"add","params":"x","id":3}"#,
            -32600,
            json!(3),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"add","id":{"no":1}}"#,
            -32600,
            Value::Null,
        ),
        (
            br#"{"jsonrpc":"2.0","method":"add","params":[1],"id":4}"#,
            -32602,
            json!(4),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"add","params":[1,2,3],"id":5}"#,
            -32602,
            json!(5),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"nope","id":6}"#,
            -32601,
            json!(6),
        ),
    ];
    for (frame, code, id) in cases {
        let reply: Value = serde_json::from_slice(&raw.ask(frame)).unwrap();
        assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
        assert_eq!(
            error_of(&reply),
            (*code, id.clone()),
            "reply to {:?}",
            String::from_utf8_lossy(frame)
        );
    }
    // Still serving.
    assert_eq!(
        raw.ask_json(r#"{"jsonrpc":"2.0","method":"add","params":[2,5],"id":7}"#)["result"],
        7
    );
    peer.hang_up(raw);
}

#[test]
fn malformed_binary_requests_each_get_an_error_reply() {
    let (mut peer, mut raw) = Raw::start("binary");
    let codec = BinaryCodec;
    let frames: &[(&[u8], i64)] = &[
        (b"", -32700),
        (&[0x00], -32600),
        (
            br#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}"#,
            -32600,
        ),
        (&[0xB1], -32700),
        (
            &[
                0xB1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            -32700,
        ),
        (&[0xB1, 9, 200, 1, b'a'], -32700),
        (&[0xB1, 9, 2, 0xff, 0xfe], -32700),
        (&[0xB3, 1, 0], -32600),
        (&[0xB1, 9, 3, b'a', b'd', b'd', 1], -32602),
        (&[0xB1, 9, 3, b'a', b'd', b'd', 2, 4, 0], -32602),
        (&[0xB1, 9, 3, b's', b'u', b'b', 2, 4], -32601),
    ];
    for (frame, code) in frames {
        let reply = raw.ask(frame);
        let r = codec.decode_reply(&reply).unwrap();
        assert_eq!(r.outcome.unwrap_err().code, *code, "reply to {frame:?}");
    }
    let mut req = Vec::new();
    codec
        .encode_request(Some(10), "add", &(2i64, 5i64), &mut req)
        .unwrap();
    let reply = raw.ask(&req);
    let r = codec.decode_reply(&reply).unwrap();
    assert_eq!(r.id, Some(10));
    assert_eq!(
        codec
            .decode_result::<i64>(&reply, r.outcome.unwrap())
            .unwrap(),
        7
    );
    peer.hang_up(raw);
}

/// The exact bytes of the client's requests and notifications.
#[test]
fn json_rpc_2_conformance_of_client_frames() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (tx, rx) = framed(ours);
    let (_their_tx, mut their_rx) = framed(theirs);
    let mut c = Client::new(tx, rx, JsonCodec);
    let p = c.start_call::<_, i64>("add", (2, 5), T).unwrap();
    c.notify("update", [1, 2, 3, 4, 5], T).unwrap();
    let q = c
        .start_call::<_, String>("greet", json!({"name": "Bob"}), T)
        .unwrap();
    let r = c.start_call::<_, u64>("count", (), T).unwrap();
    let s = c.start_call::<_, f64>("sqrt", 2.0, T).unwrap();
    let expected = [
        r#"{"jsonrpc":"2.0","method":"add","params":[2,5],"id":1}"#,
        r#"{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]}"#,
        r#"{"jsonrpc":"2.0","method":"greet","params":{"name":"Bob"},"id":2}"#,
        r#"{"jsonrpc":"2.0","method":"count","id":3}"#,
        r#"{"jsonrpc":"2.0","method":"sqrt","params":[2.0],"id":4}"#,
    ];
    for e in expected {
        assert_eq!(String::from_utf8(their_rx.recv().unwrap()).unwrap(), e);
    }
    drop((p, q, r, s));
}

/// The examples of the JSON-RPC 2.0 specification (section 7), against the server.
#[test]
fn json_rpc_2_conformance_of_server_replies() {
    let (mut peer, mut raw) = Raw::start("json");
    let exact: &[(&str, &str)] = &[
        (
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
            r#"{"jsonrpc":"2.0","result":19,"id":1}"#,
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
            r#"{"jsonrpc":"2.0","result":19,"id":3}"#,
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":"no method named `foobar`"},"id":"1"}"#,
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "divide", "params": [1, 0], "id": null}"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32042,"message":"division by zero"},"id":null}"#,
        ),
    ];
    for (req, want) in exact {
        assert_eq!(String::from_utf8(raw.ask(req.as_bytes())).unwrap(), *want);
    }
    // Notifications get nothing back, even for unknown methods or bad params.
    raw.tell_nothing_back(br#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#);
    raw.tell_nothing_back(br#"{"jsonrpc": "2.0", "method": "foobar"}"#);
    raw.tell_nothing_back(br#"{"jsonrpc": "2.0", "method": "boom", "params": ["quietly"]}"#);
    raw.tell_nothing_back(br#"{"jsonrpc": "2.0", "method": "add", "params": ["bad", "data"]}"#);
    raw.tell_nothing_back(
        br#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#,
    );

    let msg = |v: &Value| v["error"]["message"].clone();
    let v = raw.ask_json(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#);
    assert_eq!(
        (error_of(&v), msg(&v)),
        ((-32700, Value::Null), json!("Parse error"))
    );
    let v = raw.ask_json(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#);
    assert_eq!(
        (error_of(&v), msg(&v)),
        ((-32600, Value::Null), json!("Invalid Request"))
    );
    let v = raw.ask_json(
        r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method""#,
    );
    assert_eq!(error_of(&v), (-32700, Value::Null));
    let v = raw.ask_json("[]");
    assert_eq!(error_of(&v), (-32600, Value::Null));
    let v = raw.ask_json("[1]");
    assert_eq!(
        v.as_array()
            .map(|a| a.iter().map(error_of).collect::<Vec<_>>()),
        Some(vec![(-32600, Value::Null)])
    );
    let v = raw.ask_json("[1,2,3]");
    assert_eq!(v.as_array().map(|a| a.len()), Some(3));
    for e in v.as_array().unwrap() {
        assert_eq!(error_of(e), (-32600, Value::Null));
    }

    // The specification's mixed batch; compared without our "data" details.
    let mut v = raw.ask_json(
        r#"[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]"#,
    );
    for r in v.as_array_mut().unwrap() {
        if let Some(e) = r.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("data");
        }
    }
    assert_eq!(
        v,
        json!([
            {"jsonrpc": "2.0", "result": 7, "id": "1"},
            {"jsonrpc": "2.0", "result": 19, "id": "2"},
            {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
            {"jsonrpc": "2.0", "result": ["hello", 5, "XYZ"], "id": "9"}
        ])
    );
    peer.hang_up(raw);
}

#[test]
fn serve_incoming_serves_many_connections_at_once() {
    let path = unique_path("many");
    let mut peer = Peer::spawn("many-json", &[path.to_str().unwrap()]);
    let clients = (0..3)
        .map(|_| {
            let (tx, rx) = framed(connect_retry(&path));
            Client::new(tx, rx, JsonCodec)
        })
        .collect();
    // One process, one counter, three connections served by their own threads.
    served_at_once(clients, |c, k| {
        calls_in_flight(c, "multiply", (0..20).map(|i| (i, k)), false)
    });
    peer.finish();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn serve_concurrent_runs_calls_of_one_client_at_once() {
    let (mut peer, mut c) = start("binary-concurrent", BinaryCodec);
    // `gate_wait` blocks its worker until `gate_open` runs on another one; its reply comes
    // after `gate_open`'s although it was sent first.
    let waiting = c.start_call::<_, String>("gate_wait", (), T).unwrap();
    c.call::<_, ()>("gate_open", (), T).unwrap();
    assert_eq!(c.wait(waiting, T).unwrap(), "through the gate");
    // The rest behaves as with `serve`.
    calls_in_flight(&mut c, "add", (0..100).map(|i| (i, 1)), false);
    failures_come_back(&mut c);
    peer.hang_up(c); // ended with Ok once the client was gone and every call answered
}
