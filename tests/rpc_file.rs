//! RPC over a pair of shared append-only logs (`file::LogWriter`/`LogReader`, one log each
//! way) between real separate processes: the test binary re-executes itself as Alice
//! (`file_peer_entry`).
#![cfg(all(feature = "rpc", feature = "file"))]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::path::Path;
use std::time::{Duration, Instant};

use ipcring::file::{LogOptions, LogReader, LogWriter};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const ENTRY: &str = "file_peer_entry";
const T: Duration = Duration::from_secs(20);

/// Alice's side: requests come in on `<dir>/req.log`, replies go out on `<dir>/rep.log`.
#[test]
fn file_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let dir = std::env::var(ADDR_VAR).unwrap();
    let dir = Path::new(&dir);
    let opts = LogOptions::new();
    let rx = LogReader::open(dir.join("req.log"), &opts).unwrap();
    let tx = LogWriter::open(dir.join("rep.log"), &opts).unwrap();
    match role.as_str() {
        "file-json" => alice(JsonCodec).serve(tx, rx).unwrap(),
        "file-binary" => alice(BinaryCodec).serve(tx, rx).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn bob<C: Codec>(dir: &Path, codec: C) -> Client<LogWriter, LogReader, C> {
    let opts = LogOptions::new();
    let rx = LogReader::open(dir.join("rep.log"), &opts).unwrap();
    let tx = LogWriter::open(dir.join("req.log"), &opts).unwrap();
    Client::new(tx, rx, codec)
}

fn alice_and_bob<C: Codec>(role: &str, codec: C, bob_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (peer, mut c) = if bob_first {
        let c = bob(dir.path(), codec);
        (Peer::spawn(ENTRY, role, dir.path(), &[]), c)
    } else {
        let peer = Peer::spawn(ENTRY, role, dir.path(), &[]);
        (peer, bob(dir.path(), codec))
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
    peer.finish(); // Alice's serve ended with Ok when Bob's writer was gone
}

#[test]
fn rpc_over_logs_binary_alice_first() {
    alice_and_bob("file-binary", BinaryCodec, false);
}

#[test]
fn rpc_over_logs_json_bob_first() {
    alice_and_bob("file-json", JsonCodec, true);
}

#[test]
fn pipelined_calls_over_logs_waited_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::spawn(ENTRY, "file-binary", dir.path(), &[]);
    let mut c = bob(dir.path(), BinaryCodec);
    let pending: Vec<_> = (0..100i64)
        .map(|i| c.start_call::<_, i64>("multiply", (i, 3), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate().rev() {
        assert_eq!(c.wait(p, T).unwrap(), 3 * i as i64);
    }
    drop(c);
    peer.finish();
}

#[test]
fn file_server_killed_mid_call_gives_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Peer::spawn(ENTRY, "file-binary", dir.path(), &[]);
    let mut c = bob(dir.path(), BinaryCodec);
    let marker = unique_path("file-marker");
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
