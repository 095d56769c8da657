//! Helpers for tests between real processes: the test binary re-executes itself in a peer
//! role (env `IPCRING_PEER`), selected by the `peer` test in each file.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "/ipcring-t-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Spawns this test binary as peer `role` with `args` (passed as env IPCRING_ARGS).
pub fn spawn_peer(role: &str, args: &[&str], stdout_piped: bool) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "peer", "--nocapture", "--test-threads", "1"])
        .env("IPCRING_PEER", role)
        .env("IPCRING_ARGS", args.join("\u{1f}"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if stdout_piped {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null());
    }
    cmd.spawn().expect("spawn peer")
}

/// The peer role and its args, if this process is a peer.
pub fn peer_role() -> Option<(String, Vec<String>)> {
    let role = std::env::var("IPCRING_PEER").ok()?;
    let args = std::env::var("IPCRING_ARGS").unwrap_or_default();
    let args = if args.is_empty() {
        vec![]
    } else {
        args.split('\u{1f}').map(str::to_owned).collect()
    };
    Some((role, args))
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
