//! RPC over two shared-memory rings (`ring::duplex`) between real separate processes: the
//! test binary re-executes itself as Alice (`ring_peer_entry`).
#![cfg(feature = "rpc")]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipcring::ring::{duplex, Consumer, Producer, RingOptions, Side};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const ENTRY: &str = "ring_peer_entry";
const T: Duration = Duration::from_secs(20);

fn ring_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "/ipcring-rpc-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn opts() -> RingOptions {
    RingOptions::new().capacity(1 << 16).open_timeout(T)
}

/// Alice's side: serves until Bob is gone.
#[test]
fn ring_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let name = std::env::var(ADDR_VAR).unwrap();
    let (tx, rx) = duplex(&name, Side::A, &opts()).unwrap();
    match role.as_str() {
        "ring-json" => alice(JsonCodec).serve(tx, rx).unwrap(),
        "ring-binary" => alice(BinaryCodec).serve(tx, rx).unwrap(),
        "ring-binary-concurrent" => alice(BinaryCodec).serve_concurrent(tx, rx, 4).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn spawn_alice(role: &str, name: &str) -> Peer {
    Peer::spawn(ENTRY, role, Path::new(name), &[])
}

fn bob<C: Codec>(name: &str, codec: C) -> Client<Producer, Consumer, C> {
    let (tx, rx) = duplex(name, Side::B, &opts()).unwrap();
    Client::new(tx, rx, codec)
}

fn alice_and_bob<C: Codec>(role: &str, codec: C, bob_first: bool) {
    let name = ring_name();
    let (peer, mut c) = if bob_first {
        let c = bob(&name, codec);
        (spawn_alice(role, &name), c)
    } else {
        let peer = spawn_alice(role, &name);
        (peer, bob(&name, codec))
    };
    assert_eq!(c.call::<_, i64>("add", (2, 5), T).unwrap(), 7);
    assert_eq!(c.call::<_, i64>("multiply", (8, 5), T).unwrap(), 40);
    match c.call::<_, i64>("add", ("bad", "data"), T) {
        Err(RpcError::BadArguments { method, .. }) => assert_eq!(method, "add"),
        other => panic!("add('bad', 'data') gave {other:?}"),
    }
    match c.call::<_, ()>("boom", "kaboom", T) {
        Err(RpcError::Internal { message, .. }) => assert!(message.contains("kaboom")),
        other => panic!("a panicking handler gave {other:?}"),
    }
    assert!(matches!(
        c.call::<_, i64>("nope", (), T),
        Err(RpcError::UnknownMethod { .. })
    ));
    c.notify("incr", 2u64, T).unwrap();
    assert_eq!(c.call::<_, u64>("count", (), T).unwrap(), 2);
    let pending: Vec<_> = (0..100i64)
        .map(|i| c.start_call::<_, i64>("add", (i, i), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate().rev() {
        assert_eq!(c.wait(p, T).unwrap(), 2 * i as i64);
    }
    drop(c);
    peer.finish();
}

#[test]
fn rpc_over_rings_binary_alice_first() {
    alice_and_bob("ring-binary", BinaryCodec, false);
}

#[test]
fn rpc_over_rings_json_bob_first() {
    alice_and_bob("ring-json", JsonCodec, true);
}

#[test]
fn ring_server_killed_mid_call_gives_disconnected() {
    let name = ring_name();
    // Bob creates both rings, so their names go away with him even though Alice is killed.
    let mut c = bob(&name, BinaryCodec);
    let mut peer = spawn_alice("ring-binary", &name);
    let marker = unique_path("ring-marker");
    let p = c
        .start_call::<_, ()>("hang", marker.to_str().unwrap(), T)
        .unwrap();
    let deadline = Instant::now() + T;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the handler never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&marker);
    peer.child.kill().unwrap();
    let r = c.wait(p, Duration::from_secs(30));
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
}

#[test]
fn thousands_of_calls_in_flight_through_small_rings_do_not_deadlock() {
    let name = ring_name();
    // Bob creates both rings small (Alice opens them with Bob's geometry): far fewer
    // messages fit than there are calls in flight, so both sides fill up; the client must
    // keep taking replies while it waits for room to send.
    let small = RingOptions::new().capacity(1024).open_timeout(T);
    let (tx, rx) = duplex(&name, Side::B, &small).unwrap();
    let mut c = Client::new(tx, rx, BinaryCodec);
    let peer = spawn_alice("ring-binary", &name);
    let pending: Vec<_> = (0..3000i64)
        .map(|i| c.start_call::<_, i64>("multiply", (i, 2), T).unwrap())
        .collect();
    assert_eq!(c.in_flight(), 3000);
    for (i, p) in pending.into_iter().enumerate() {
        assert_eq!(c.wait(p, T).unwrap(), 2 * i as i64);
    }
    drop(c);
    peer.finish();
}

#[test]
fn client_and_server_over_rings_can_move_to_other_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Client<Producer, Consumer, BinaryCodec>>();
    send::<Client<Producer, Consumer, JsonCodec>>();
    send_sync::<ipcring::rpc::Server<BinaryCodec>>();
    send_sync::<ipcring::rpc::Server<JsonCodec>>();
    send::<ipcring::rpc::Pending<i64>>();
}

#[test]
fn serve_concurrent_over_rings_runs_calls_at_once() {
    let name = ring_name();
    let mut c = bob(&name, BinaryCodec);
    let peer = spawn_alice("ring-binary-concurrent", &name);
    // `gate_wait` holds one worker until `gate_open`, sent after it, runs on another.
    let waiting = c.start_call::<_, String>("gate_wait", (), T).unwrap();
    c.call::<_, ()>("gate_open", (), T).unwrap();
    assert_eq!(c.wait(waiting, T).unwrap(), "through the gate");
    let pending: Vec<_> = (0..200i64)
        .map(|i| c.start_call::<_, i64>("multiply", (i, 2), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate().rev() {
        assert_eq!(c.wait(p, T).unwrap(), 2 * i as i64);
    }
    drop(c);
    peer.finish();
}
