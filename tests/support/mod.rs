//! What the integration tests share, included by each test file with
//! `#[path = "support/mod.rs"] mod support;`:
//! - [`peer`]: the one harness that runs a peer in a real separate process (the test binary
//!   re-executed in a role, with a deadline, killed on drop, its stderr kept for failures);
//! - [`message`] / [`check`]: self-checking messages, so a receiver checks every byte;
//! - [`conformance`]: the transport contract (blocking and async), written once and run for
//!   every transport from the table in `tests/conformance.rs`;
//! - [`setup`]: the options and names the transport suites open transports with;
//! - [`frames`]: a test-only transport (length-prefixed frames on a Unix stream);
//! - [`rpc_alice`]: the RPC tests' server, Alice.
#![allow(dead_code, unused_imports)]

pub mod conformance;
pub mod frames;
pub mod peer;
#[cfg(feature = "rpc")]
pub mod rpc_alice;
pub mod setup;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub use peer::{peer_role, Peer};

/// Defines a test file's `#[test] fn peer()`, the entry point of every peer role: in a
/// process that [`Peer`] started it calls `$roles(role, args)`; in the normal test run it is
/// a no-op.
///
/// ```ignore
/// crate::peer_entry!(roles);
///
/// fn roles(role: &str, args: Vec<String>) {
///     match role { "writer" => { /* ... */ } other => panic!("unknown role {other}") }
/// }
/// ```
#[macro_export]
macro_rules! peer_entry {
    ($roles:ident) => {
        /// Entry point of every peer role; a no-op in the normal test run.
        #[test]
        fn peer() {
            if let Some((role, args)) = $crate::support::peer_role() {
                $roles(&role, args);
            }
        }
    };
}

/// The name of the test it is expanded in (for a SKIPPED line): the path of a function
/// defined there ends with it (then, in an async test, with the body's closure).
#[macro_export]
macro_rules! this_test {
    () => {{
        fn here() {}
        let path = std::any::type_name_of_val(&here).trim_end_matches("::here");
        path.trim_end_matches("::{{closure}}")
            .rsplit("::")
            .next()
            .unwrap()
    }};
}

/// The page faults (minor: no disk read) the calling thread has taken so far.
pub fn thread_page_faults() -> i64 {
    // SAFETY: `rusage` is plain data, valid zeroed; getrusage only writes the struct it is
    // handed.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_THREAD is a valid `who` on Linux.
    let r = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    assert_eq!(r, 0, "getrusage: {}", std::io::Error::last_os_error());
    u.ru_minflt
}

/// In a peer that must stay alive (attached to what it opened) until the test kills it.
pub fn hang() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Env var giving the Redis server the tests use; unset, they skip (saying so).
pub const REDIS_URL_VAR: &str = "IPCRING_TEST_REDIS_URL";

/// Waits (bounded by [`setup::LONG`], as a failure guard) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < setup::LONG, "gave up waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A `try_` send's outcome in a test: `true` sent, `false` full (the normal way a fill
/// loop ends); any failure fails the test.
pub fn sent<T>(r: Result<T, ipcring::TrySendError>) -> bool {
    match r {
        Ok(_) => true,
        Err(ipcring::TrySendError::Full) => false,
        Err(e) => panic!("try_send failed: {e}"),
    }
}

/// A `try_` receive's outcome in a test: `Some` a message, `None` empty (the normal way a
/// drain loop ends); any failure fails the test.
pub fn got<T>(r: Result<T, ipcring::TryRecvError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(ipcring::TryRecvError::Empty) => None,
        Err(e) => panic!("try_recv failed: {e}"),
    }
}

/// Sends messages 0, 1, ... (see [`message`]) with `try_send` until `tx` reports itself
/// full (at most `limit`); returns how many it took, at least one.
pub fn fill<S: ipcring::Sender>(tx: &mut S, limit: u64) -> u64 {
    let mut m = Vec::new();
    for n in 0..limit {
        message(n, &mut m);
        if !sent(tx.try_send(&m)) {
            assert!(n > 0, "no room for one message");
            return n;
        }
    }
    panic!("try_send never reported full after {limit} messages");
}

/// Checks a receiver that has nothing to take now: `try_recv_into` is `Empty` and leaves the
/// buffer empty, and `?` into an `ipcring::Result` makes the same outcome `WouldBlock`.
pub fn assert_nothing_now<R: ipcring::Receiver>(rx: &mut R) {
    fn take_now<R: ipcring::Receiver>(rx: &mut R, buf: &mut Vec<u8>) -> ipcring::Result<()> {
        rx.try_recv_into(buf)?;
        Ok(())
    }
    let mut buf = vec![1, 2, 3];
    let r = rx.try_recv_into(&mut buf);
    assert!(matches!(r, Err(ipcring::TryRecvError::Empty)), "{r:?}");
    assert!(
        buf.is_empty(),
        "an empty try_recv_into leaves the buffer empty"
    );
    let r = take_now(rx, &mut buf);
    assert!(matches!(r, Err(ipcring::Error::WouldBlock)), "{r:?}");
}

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "/ipcring-t-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A socket path unique to this process and call.
pub fn unique_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.sock", &unique(tag)[1..]))
}

/// The number in env var `var`, or `default` when it is unset or not a number.
pub fn env_count<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Writes straight to stderr: `eprintln!` would be captured (hidden) by the test harness.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// The Redis server to test against, or `None` after saying loudly that `test` skipped
/// (no server: `.ci/steps/71-rpc-redis.sh` and `70-redis.sh` start one and set the var).
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            loud(&format!(
                "\n*** SKIPPED redis test {test}: {REDIS_URL_VAR} is not set, so there is no \
                 redis-server to test against. Run .ci/steps/70-redis.sh or 71-rpc-redis.sh \
                 (or start one with scripts/redis-test-server.sh and set {REDIS_URL_VAR}). ***\n"
            ));
            None
        }
    }
}

/// Deterministic message `seq`: 16..=272 bytes; bytes 0..8 = seq, 8..12 = len, the rest
/// derived from seq, so the receiver can check every byte.
pub fn message(seq: u64, out: &mut Vec<u8>) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    let len = 16 + (x % 257) as usize;
    out.clear();
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    let mut b = (x >> 8) as u8;
    while out.len() < len {
        out.push(b);
        b = b.wrapping_mul(5).wrapping_add(1);
    }
}

/// Message `seq` of `len` bytes, for the suites that vary sizes: byte `i` is `i * mul + seq`
/// (wrapping), then the first 4 bytes (when there are 4) are `seq`, little-endian.
pub fn sized_message(seq: u32, len: usize, mul: u32) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(mul).wrapping_add(seq) as u8)
        .collect();
    if len >= 4 {
        v[..4].copy_from_slice(&seq.to_le_bytes());
    }
    v
}

/// Sends messages `seqs` (see [`message`]) on `tx`.
pub fn send_seqs<S: ipcring::Sender>(tx: &mut S, seqs: impl IntoIterator<Item = u64>) {
    let mut m = Vec::new();
    for seq in seqs {
        message(seq, &mut m);
        tx.send(&m).unwrap_or_else(|e| panic!("send {seq}: {e}"));
    }
}

/// A sending peer's role: messages 0..n (see [`message`]) on `tx`, sleeping `pause` before
/// each one `pause_at` picks (so the receiver has to wait for them). Returns 0, the role's
/// exit code.
pub fn send_paced<S: ipcring::Sender>(
    mut tx: S,
    n: u64,
    pause_at: fn(u64) -> bool,
    pause: std::time::Duration,
) -> i32 {
    for seq in 0..n {
        if pause_at(seq) {
            std::thread::sleep(pause);
        }
        send_seqs(&mut tx, [seq]);
    }
    0
}

/// Receives messages `seqs` on `rx`, each within [`setup::LONG`], checking every byte.
pub fn recv_seqs<R: ipcring::Receiver>(rx: &mut R, seqs: impl IntoIterator<Item = u64>) {
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in seqs {
        rx.recv_timeout_into(&mut buf, setup::LONG)
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        check(seq, &buf, &mut scratch).unwrap();
    }
}

/// Receives messages `from`, `from + 1`, ... on `rx` (each within [`setup::LONG`]), checking
/// every byte, until it says `Disconnected`; returns the number of the next message.
pub fn recv_seqs_to_end<R: ipcring::Receiver>(rx: &mut R, from: u64) -> u64 {
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in from.. {
        match rx.recv_timeout_into(&mut buf, setup::LONG) {
            Ok(()) => check(seq, &buf, &mut scratch).unwrap(),
            Err(ipcring::Error::Disconnected) => return seq,
            Err(e) => panic!("after {seq} messages: {e}"),
        }
    }
    unreachable!("more than u64::MAX messages")
}

/// [`recv_seqs`] on an async receiver.
#[cfg(feature = "async")]
pub async fn recv_seqs_async<R: ipcring::transport::AsyncReceiver>(
    rx: &mut R,
    seqs: impl IntoIterator<Item = u64>,
) {
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    for seq in seqs {
        rx.recv_timeout_into(&mut buf, setup::LONG)
            .await
            .unwrap_or_else(|e| panic!("message {seq}: {e}"));
        check(seq, &buf, &mut scratch).unwrap();
    }
}

/// Checks that `got` is exactly message `seq`; returns a description of the first mismatch.
pub fn check(seq: u64, got: &[u8], scratch: &mut Vec<u8>) -> Result<(), String> {
    message(seq, scratch);
    if got == &scratch[..] {
        return Ok(());
    }
    let got_seq = got
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    Err(format!(
        "expected message {seq} ({} bytes), got {} bytes with seq {got_seq:?}",
        scratch.len(),
        got.len()
    ))
}

/// Starts a call of Alice's `hang` method, waits until its handler runs, SIGKILLs Alice
/// (`peer`), and returns what waiting for the call then gives (30 s at most).
#[cfg(feature = "rpc")]
pub fn hang_then_kill_alice<S, R, C>(
    c: &mut ipcring::rpc::Client<S, R, C>,
    peer: &mut Peer,
) -> Result<(), ipcring::rpc::RpcError>
where
    S: ipcring::Sender,
    R: ipcring::Receiver,
    C: ipcring::rpc::Codec,
{
    let marker = unique_path(&format!("{}-marker", peer.role()));
    let t = setup::LONG;
    let p = c.start_call::<_, ()>("hang", marker.to_str().unwrap(), t)?;
    wait_until("the handler to run", || marker.exists());
    let _ = std::fs::remove_file(&marker);
    peer.kill();
    c.wait(p, t)
}
