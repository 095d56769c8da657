//! What the tests of the `ipcring` binary share: running it and reading what it said.
// Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The binary under test.
pub const EXE: &str = env!("CARGO_BIN_EXE_ipcring");

/// A shm name unique to this test process and call.
pub fn uniq(tag: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        "/ipcring-clitest-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `ipcring args` with no input.
pub fn run(args: &[&str]) -> Output {
    Command::new(EXE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ipcring")
}

/// Runs `cmd` with `input` on its stdin.
pub fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ipcring");
    // A command that refuses its ring exits before reading its input: a broken pipe here is
    // that, and what it printed is checked by the caller.
    match child.stdin.take().unwrap().write_all(input) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("writing to ipcring: {e}"),
    }
    child.wait_with_output().unwrap()
}

/// Runs `ipcring args` with `input` on its stdin.
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    with_stdin(Command::new(EXE).args(args), input)
}

/// Output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `out` (a stdout or stderr) says `what`, showing all of it if not.
#[track_caller]
pub fn assert_says(out: &[u8], what: &str) {
    let t = text(out);
    assert!(t.contains(what), "{what:?} not said:\n{t}");
}

/// The line of an `ls` listing that names `name`.
#[track_caller]
pub fn listed<'a>(listing: &'a str, name: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} not listed:\n{listing}"))
}

/// The entry that names `name` in the output of `ls --json`.
#[track_caller]
pub fn listed_json(ls_json: &[u8], name: &str) -> serde_json::Value {
    let all: serde_json::Value = serde_json::from_slice(ls_json).expect("ls --json says JSON");
    let entries = all.as_array().expect("ls --json says an array");
    match entries.iter().find(|e| e["name"] == name) {
        Some(e) => e.clone(),
        None => panic!("{name} not listed: {all}"),
    }
}

/// Waits (bounded, as a failure guard) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Runs `ipcring args`, which must exit with `code`.
#[track_caller]
pub fn run_exit(args: &[&str], code: i32) -> Output {
    let out = run(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "ipcring {args:?}: {err}");
    out
}

/// Runs `ipcring args` (a `--json` form): what it said, parsed.
#[track_caller]
pub fn run_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&run(args).stdout).expect("JSON on stdout")
}

/// Runs `ipcring args`, which must succeed: its stdout.
#[track_caller]
pub fn run_ok(args: &[&str]) -> String {
    text(&run_exit(args, 0).stdout)
}
