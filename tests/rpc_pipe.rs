//! RPC over a pair of named pipes (one FIFO each way) between real separate processes: the
//! test binary re-executes itself as Alice (`pipe_peer_entry`).
#![cfg(all(feature = "rpc", feature = "pipe"))]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::path::Path;
use std::time::{Duration, Instant};

use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const ENTRY: &str = "pipe_peer_entry";
const T: Duration = Duration::from_secs(20);

/// Alice's side: requests come in on `<dir>/req`, replies go out on `<dir>/rep`.
#[test]
fn pipe_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let dir = std::env::var(ADDR_VAR).unwrap();
    let dir = Path::new(&dir);
    // "-small": the smallest pipe buffer (one page) for the replies too.
    let opts = match role.strip_suffix("-small") {
        Some(_) => PipeOptions::new().pipe_size(4096),
        None => PipeOptions::new(),
    };
    let rx = PipeReceiver::open(dir.join("req"), &opts).unwrap();
    let mut tx = PipeSender::open(dir.join("rep"), &opts).unwrap();
    // Connect the reply pipe now rather than at the first reply: a FIFO reader sees its
    // writer's death only once that writer has opened it, so without this a server killed
    // before its first reply would leave Bob waiting for a writer instead of disconnected.
    tx.wait_for_reader(None).unwrap();
    match role.as_str() {
        "pipe-json" => alice(JsonCodec).serve(tx, rx).unwrap(),
        "pipe-binary" | "pipe-binary-small" => alice(BinaryCodec).serve(tx, rx).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn bob<C: Codec>(dir: &Path, codec: C, opts: &PipeOptions) -> Client<PipeSender, PipeReceiver, C> {
    let rx = PipeReceiver::open(dir.join("rep"), opts).unwrap();
    let tx = PipeSender::open(dir.join("req"), opts).unwrap();
    Client::new(tx, rx, codec)
}

fn alice_and_bob<C: Codec>(role: &str, codec: C, bob_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (peer, mut c) = if bob_first {
        let c = bob(dir.path(), codec, &PipeOptions::new());
        (Peer::spawn(ENTRY, role, dir.path(), &[]), c)
    } else {
        let peer = Peer::spawn(ENTRY, role, dir.path(), &[]);
        (peer, bob(dir.path(), codec, &PipeOptions::new()))
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
    c.notify("incr", 3u64, T).unwrap();
    assert_eq!(c.call::<_, u64>("count", (), T).unwrap(), 3);
    drop(c);
    peer.finish(); // Alice's serve ended with Ok when Bob's end of the pipe closed
}

#[test]
fn rpc_over_pipes_binary_alice_first() {
    alice_and_bob("pipe-binary", BinaryCodec, false);
}

#[test]
fn rpc_over_pipes_json_bob_first() {
    alice_and_bob("pipe-json", JsonCodec, true);
}

#[test]
fn thousands_of_calls_in_flight_through_small_pipes_do_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::spawn(ENTRY, "pipe-binary-small", dir.path(), &[]);
    // The smallest pipe buffer (one page) both ways: requests and replies fill their pipes,
    // so both sides wait for room unless the client takes replies while it sends.
    let mut c = bob(dir.path(), BinaryCodec, &PipeOptions::new().pipe_size(4096));
    let pending: Vec<_> = (0..5000i64)
        .map(|i| c.start_call::<_, i64>("multiply", (i, 3), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate() {
        assert_eq!(c.wait(p, T).unwrap(), 3 * i as i64);
    }
    drop(c);
    peer.finish();
}

#[test]
fn pipe_server_killed_mid_call_gives_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Peer::spawn(ENTRY, "pipe-binary", dir.path(), &[]);
    let mut c = bob(dir.path(), BinaryCodec, &PipeOptions::new());
    let marker = unique_path("pipe-marker");
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
