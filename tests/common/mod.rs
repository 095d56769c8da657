//! Kept for the test files that still include `mod common;` (tests/service.rs and
//! tests/security.rs): everything lives in `tests/support/`; this adds the old spawning call.
#![allow(dead_code, unused_imports)]

#[path = "../support/mod.rs"]
mod support;

pub use support::*;

use std::process::{Child, Stdio};

/// Spawns this test binary as peer `role` with `args`, stdout piped or discarded. New tests
/// use [`Peer`], which adds a deadline, kill-on-drop and the peer's stderr on failure.
pub fn spawn_peer(role: &str, args: &[&str], stdout_piped: bool) -> Child {
    let mut cmd = peer_command(role, args);
    if stdout_piped {
        cmd.stdout(Stdio::piped());
    }
    cmd.spawn().expect("spawn peer")
}
