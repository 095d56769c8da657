//! RPC over a pair of POSIX message queues (one queue each way) between real separate
//! processes: the test binary re-executes itself as Alice (`mq_peer_entry`).
#![cfg(all(feature = "rpc", feature = "mq", target_os = "linux"))]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipcring::mq::{MessageQueue, MqOptions};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const ENTRY: &str = "mq_peer_entry";
const T: Duration = Duration::from_secs(20);

/// A unique pair of queue names; both are unlinked when it drops (Alice is killed at the
/// end of each test, so her handles never unlink the queues she created).
struct Queues(String);

impl Queues {
    fn new() -> Queues {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Queues(format!("/ipcring-rpc-mq-{}-{n}", std::process::id()))
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let _ = MessageQueue::unlink(&format!("{}.req", self.0));
        let _ = MessageQueue::unlink(&format!("{}.rep", self.0));
    }
}

/// Small queues (4 messages of 1 KiB), well inside the default kernel limits.
fn opts() -> MqOptions {
    MqOptions::new().max_messages(4).message_size(1024)
}

/// Alice's side: requests on `<base>.req`, replies on `<base>.rep`. A queue has no notion
/// of a departed peer, so she serves until killed.
#[test]
fn mq_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let base = std::env::var(ADDR_VAR).unwrap();
    let rx = MessageQueue::open_or_create(&format!("{base}.req"), &opts()).unwrap();
    let tx = MessageQueue::open_or_create(&format!("{base}.rep"), &opts()).unwrap();
    match role.as_str() {
        "mq-json" => alice(JsonCodec).serve(tx, rx).unwrap(),
        "mq-binary" => alice(BinaryCodec).serve(tx, rx).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn bob<C: Codec>(base: &str, codec: C) -> Client<MessageQueue, MessageQueue, C> {
    let tx = MessageQueue::open_or_create(&format!("{base}.req"), &opts()).unwrap();
    let rx = MessageQueue::open_or_create(&format!("{base}.rep"), &opts()).unwrap();
    Client::new(tx, rx, codec)
}

fn alice_and_bob<C: Codec>(role: &str, codec: C, bob_first: bool) {
    let queues = Queues::new();
    let base = queues.0.as_str();
    let (_alice, mut c) = if bob_first {
        let c = bob(base, codec);
        (Peer::spawn(ENTRY, role, Path::new(base), &[]), c)
    } else {
        let alice = Peer::spawn(ENTRY, role, Path::new(base), &[]);
        (alice, bob(base, codec))
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
    // Far more calls in flight than the 4-message queues hold: the client takes replies
    // while it waits for room, so neither side waits for ever.
    let pending: Vec<_> = (0..500i64)
        .map(|i| c.start_call::<_, i64>("add", (i, 1), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate().rev() {
        assert_eq!(c.wait(p, T).unwrap(), i as i64 + 1);
    }
}

#[test]
fn rpc_over_message_queues_binary_alice_first() {
    alice_and_bob("mq-binary", BinaryCodec, false);
}

#[test]
fn rpc_over_message_queues_json_bob_first() {
    alice_and_bob("mq-json", JsonCodec, true);
}

/// A server SIGKILLed mid-call: the queues' liveness files tell the client, which gets
/// `Disconnected` (well before the call's timeout), not a hang.
#[test]
fn mq_server_killed_mid_call_gives_disconnected() {
    let queues = Queues::new();
    let mut c = bob(&queues.0, BinaryCodec);
    let mut alice = Peer::spawn(ENTRY, "mq-binary", Path::new(&queues.0), &[]);
    let marker = unique_path("mq-marker");
    let p = c
        .start_call::<_, ()>("hang", marker.to_str().unwrap(), T)
        .unwrap();
    let deadline = Instant::now() + T;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the handler never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&marker);
    alice.child.kill().unwrap();
    let r = c.wait(p, T);
    assert!(matches!(r, Err(RpcError::Disconnected)), "{r:?}");
}
