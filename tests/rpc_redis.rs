//! RPC over Redis streams (one stream each way) between real separate processes: the test
//! binary re-executes itself as Alice (`redis_peer_entry`).
//!
//! Needs `IPCRING_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:46379`); without it every test
//! says loudly that it skipped. `.ci/steps/71-rpc-redis.sh` starts a throwaway server and
//! sets it.
#![cfg(all(feature = "rpc", feature = "redis"))]

#[path = "common/rpc_alice.rs"]
mod rpc_alice;
#[path = "common/unix_frames.rs"]
mod unix_frames;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ipcring::redis::{RedisOptions, StreamConsumer, StreamOptions, StreamProducer};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use rpc_alice::alice;
use unix_frames::{unique_path, Peer, ADDR_VAR, ROLE_VAR};

const URL_VAR: &str = "IPCRING_TEST_REDIS_URL";
const ENTRY: &str = "redis_peer_entry";
const T: Duration = Duration::from_secs(20);

fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n*** SKIPPED rpc-over-redis test {test}: {URL_VAR} is not set, so there is \
                 no redis-server to test against. Run .ci/steps/71-rpc-redis.sh (or start one \
                 with scripts/redis-test-server.sh and set {URL_VAR}). ***\n"
            );
            None
        }
    }
}

fn unique_base() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ipcring-test:rpc:{}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn opts() -> StreamOptions {
    let redis = RedisOptions::new()
        .backoff(Duration::from_millis(10), Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(5))
        .io_timeout(Duration::from_secs(5));
    StreamOptions::new()
        .redis(redis)
        .block(Duration::from_millis(100))
}

/// One direction: a producer on `<base>:<dir>` for one side, a consumer for the other.
fn link(url: &str, base: &str, dir: &str, who: &str) -> (StreamProducer, StreamConsumer) {
    let (out, inn) = match dir {
        "alice" => ("rep", "req"),
        _ => ("req", "rep"),
    };
    let tx = StreamProducer::connect(url, &format!("{base}:{out}"), &opts()).unwrap();
    let rx = StreamConsumer::connect(
        url,
        &format!("{base}:{inn}"),
        who,
        &format!("{who}-1"),
        &opts(),
    )
    .unwrap();
    (tx, rx)
}

/// Alice's side: serves until killed (Redis has no notion of a departed peer).
#[test]
fn redis_peer_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let base = std::env::var(ADDR_VAR).unwrap();
    let url = std::env::var(URL_VAR).unwrap();
    let (tx, rx) = link(&url, &base, "alice", "alice");
    match role.as_str() {
        "redis-json" => alice(JsonCodec).serve(tx, rx).unwrap(),
        "redis-binary" => alice(BinaryCodec).serve(tx, rx).unwrap(),
        other => panic!("unknown role {other}"),
    }
}

fn alice_and_bob<C: Codec>(test: &str, role: &str, codec: C) {
    let Some(url) = server_url(test) else { return };
    let base = unique_base();
    // Bob first: the streams keep his requests until Alice reads them.
    let (tx, rx) = link(&url, &base, "bob", "bob");
    let mut c = Client::new(tx, rx, codec);
    let first = c.start_call::<_, i64>("add", (2, 5), T).unwrap();
    let _alice = Peer::spawn(ENTRY, role, Path::new(&base), &[]);
    assert_eq!(c.wait(first, T).unwrap(), 7);
    assert_eq!(c.call::<_, i64>("multiply", (8, 5), T).unwrap(), 40);
    match c.call::<_, i64>("add", ("bad", "data"), T) {
        Err(RpcError::BadArguments { method, .. }) => assert_eq!(method, "add"),
        other => panic!("add('bad', 'data') gave {other:?}"),
    }
    match c.call::<_, ()>("boom", "kaboom", T) {
        Err(RpcError::Internal { message, .. }) => assert!(message.contains("kaboom")),
        other => panic!("a panicking handler gave {other:?}"),
    }
    let pending: Vec<_> = (0..20i64)
        .map(|i| c.start_call::<_, i64>("add", (i, 1), T).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate().rev() {
        assert_eq!(c.wait(p, T).unwrap(), i as i64 + 1);
    }
}

#[test]
fn rpc_over_redis_streams_json() {
    alice_and_bob("rpc_over_redis_streams_json", "redis-json", JsonCodec);
}

#[test]
fn rpc_over_redis_streams_binary() {
    alice_and_bob("rpc_over_redis_streams_binary", "redis-binary", BinaryCodec);
}

/// A server SIGKILLed mid-call: its reply producer's liveness entry expires, and the call
/// ends with `Disconnected` (within `disconnect_bound`, well before the call's timeout).
#[test]
fn redis_server_killed_mid_call_gives_disconnected() {
    let Some(url) = server_url("redis_server_killed_mid_call_gives_disconnected") else {
        return;
    };
    let base = unique_base();
    let (tx, rx) = link(&url, &base, "bob", "bob");
    let mut c = Client::new(tx, rx, BinaryCodec);
    let mut alice = Peer::spawn(ENTRY, "redis-binary", Path::new(&base), &[]);
    let marker = unique_path("redis-marker");
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
