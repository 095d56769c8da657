//! Named objects between two real users: the test runner (root in CI) and a peer that the
//! test binary re-executes as user `nobody` (`setpriv --reuid=65534 --regid=65534
//! --clear-groups`). Another user's segment, FIFO, file, registry or socket is refused with
//! `Error::PermissionDenied` at once, naming the owner and mode; `allow_owner` lets it in.
//!
//! Without root (or without `setpriv`) the two-user tests cannot run and say so; CI runs
//! them as root.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{peer_role, unique};
use ipcring::ring::{Consumer, Producer, RingOptions};
use ipcring::Error;

const NOBODY: u32 = 65534;
const LONG: Duration = Duration::from_secs(30);

/// True if this process can run a peer as another user.
fn two_users() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !(root && setpriv) {
        eprintln!("skipped: needs root and setpriv to run a peer as nobody");
    }
    root && setpriv
}

/// A peer running as nobody: its process and its stdout.
struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

/// Spawns this test binary as user nobody in peer `role`, stdin and stdout piped.
fn spawn_nobody(role: &str, args: &[&str]) -> Peer {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["--exact", "peer", "--nocapture", "--test-threads", "1"])
        .env("IPCRING_PEER", role)
        .env("IPCRING_ARGS", args.join("\u{1f}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer as nobody");
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    Peer { child, out }
}

/// The peer's protocol lines: each begins with one of these words. (The test harness of the
/// peer writes its own lines too, and puts "test peer ... " before the first of ours.)
const WORDS: [&str; 5] = ["READY", "DENIED", "GOT", "ERROR", "END"];

/// The protocol line in `raw`, if any.
fn ours(raw: &str) -> Option<&str> {
    let line = raw.trim_end();
    let line = line.strip_prefix("test peer ... ").unwrap_or(line);
    WORDS.iter().any(|w| line.starts_with(w)).then_some(line)
}

impl Peer {
    /// Reads until a protocol line starting with `prefix`; returns it.
    fn wait_line(&mut self, prefix: &str) -> String {
        let mut raw = String::new();
        loop {
            raw.clear();
            let n = self.out.read_line(&mut raw).expect("read peer stdout");
            assert!(n > 0, "peer ended before a line starting {prefix:?}");
            if let Some(line) = ours(&raw) {
                assert!(
                    line.starts_with(prefix) || line.starts_with("READY"),
                    "expected {prefix}, got {line}"
                );
                if line.starts_with(prefix) {
                    return line.to_owned();
                }
            }
        }
    }

    /// Closes the peer's stdin (its signal to finish); returns every protocol line it
    /// writes until it exits, and its exit code.
    fn finish(mut self) -> (Vec<String>, i32) {
        drop(self.child.stdin.take());
        let mut text = String::new();
        self.out.read_to_string(&mut text).expect("read peer stdout");
        let lines = text.lines().filter_map(ours).map(str::to_owned).collect();
        let code = self.child.wait().expect("wait peer").code().unwrap_or(-1);
        (lines, code)
    }
}

/// A directory anyone may create files in (mode 01777, like /tmp), removed on drop.
#[allow(dead_code)] // used by the feature-gated tests
fn shared_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// Blocks until stdin closes (the test's signal that the peer may exit).
fn until_stdin_closes() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// Asserts `r` is PermissionDenied naming `owner`; returns the message.
fn assert_denied<T: std::fmt::Debug>(r: ipcring::Result<T>, owner: u32) -> String {
    match r {
        Err(e @ Error::PermissionDenied { .. }) => {
            let Error::PermissionDenied { owner: o, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*o, Some(owner), "{e}");
            e.to_string()
        }
        other => panic!("expected PermissionDenied (owner {owner}), got {other:?}"),
    }
}

/// Entry point of every peer role; a no-op in the normal test run.
#[test]
fn peer() {
    let Some((role, args)) = peer_role() else {
        return;
    };
    let code = match role.as_str() {
        // args: name, side — create the ring as that side, print READY, hold it until stdin
        // closes, then print what it received (consumer side).
        "create" => {
            let opts = RingOptions::new().capacity(4096);
            if args[1] == "producer" {
                let _tx = Producer::create(&args[0], &opts).expect("create producer");
                say("READY");
                until_stdin_closes();
            } else {
                let mut rx = Consumer::create(&args[0], &opts).expect("create consumer");
                say("READY");
                until_stdin_closes();
                while let Ok(Some(m)) = rx.try_recv() {
                    say(&format!("GOT {}", String::from_utf8_lossy(&m)));
                }
            }
            0
        }
        // args: name, mode, allow ("-" or a uid) — open as consumer and print the outcome:
        // DENIED <owner> <mode>, or every message until the producer leaves.
        "open" => {
            let mut opts = RingOptions::new()
                .open_timeout(LONG)
                .mode(u32::from_str_radix(&args[1], 8).unwrap());
            if args[2] != "-" {
                opts = opts.allow_owner(args[2].parse().unwrap());
            }
            match Consumer::open(&args[0], &opts) {
                Err(Error::PermissionDenied { owner, mode, .. }) => {
                    say(&format!(
                        "DENIED {} {:o}",
                        owner.map_or(-1, i64::from),
                        mode.unwrap_or(0)
                    ));
                }
                Err(e) => say(&format!("ERROR {e}")),
                Ok(mut rx) => loop {
                    match rx.recv() {
                        Ok(m) => say(&format!("GOT {}", String::from_utf8_lossy(&m))),
                        Err(Error::Disconnected) => break,
                        Err(e) => {
                            say(&format!("ERROR {e}"));
                            break;
                        }
                    }
                },
            }
            say("END");
            0
        }
        other => panic!("unknown peer role {other}"),
    };
    std::process::exit(code);
}

/// The case: nobody creates the name first; root's producer must not send into it
/// (nobody would read the secrets), nor root's consumer read from it (nobody's forgeries).
#[test]
fn another_users_segment_is_refused_on_both_sides() {
    if !two_users() {
        return;
    }
    for nobody_side in ["consumer", "producer"] {
        let name = unique("sec-foreign");
        let mut peer = spawn_nobody("create", &[&name, nobody_side]);
        peer.wait_line("READY");
        let opts = RingOptions::new().open_timeout(LONG);
        let msg = if nobody_side == "consumer" {
            assert_denied(Producer::open_or_create(&name, &opts), NOBODY);
            assert_denied(Producer::open(&name, &opts), NOBODY)
        } else {
            assert_denied(Consumer::open_or_create(&name, &opts), NOBODY);
            assert_denied(Consumer::open(&name, &opts), NOBODY)
        };
        assert!(msg.contains(&name), "{msg}");
        assert!(msg.contains("uid 65534"), "{msg}");
        assert!(msg.contains("0600"), "{msg}");
        assert_eq!(peer.finish(), (vec![], 0));
        // Nothing of root's reached nobody's ring, and its name is untouched.
        assert!(matches!(
            ipcring::segment::inspect(&name),
            Err(Error::NotFound(_))
        ));
    }
}

/// Root's ring opened by nobody: PermissionDenied (not "does not exist" after the open
/// timeout, which is 30 s here: the variant shows no wait ended it).
#[test]
fn a_segment_nobody_may_not_open_is_reported_at_once() {
    if !two_users() {
        return;
    }
    let name = unique("sec-root");
    let tx = Producer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let peer = spawn_nobody("open", &[&name, "600", "-"]);
    assert_eq!(peer.finish(), (vec!["DENIED 0 600".into(), "END".into()], 0));
    drop(tx);
}

/// `allow_owner` lets another user's segment in, if its mode is no wider than asked for.
#[test]
fn allow_owner_lets_another_users_segment_in() {
    if !two_users() {
        return;
    }
    let name = unique("sec-allow");
    let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096).mode(0o666)).unwrap();
    // Allowed owner, but a mode wider than nobody's own 0600: refused, naming the mode.
    let peer = spawn_nobody("open", &[&name, "600", "0"]);
    assert_eq!(peer.finish(), (vec!["DENIED 0 666".into(), "END".into()], 0));
    // Allowed owner and mode: it receives what root sends.
    let mut peer = spawn_nobody("open", &[&name, "666", "0"]);
    tx.send(b"hello nobody").unwrap();
    assert_eq!(peer.wait_line("GOT"), "GOT hello nobody");
    drop(tx);
    assert_eq!(peer.finish(), (vec!["END".into()], 0));
}

/// Same user, but a segment whose mode is wider than this side asked for.
#[test]
fn a_mode_wider_than_asked_for_is_refused() {
    let name = unique("sec-mode");
    let _tx = Producer::create(&name, &RingOptions::new().capacity(4096).mode(0o644)).unwrap();
    let me = ipcring::Access::effective_uid();
    let msg = assert_denied(Consumer::open(&name, &RingOptions::new()), me);
    assert!(msg.contains("mode 0644"), "{msg}");
    let rx = Consumer::open(&name, &RingOptions::new().mode(0o644));
    assert!(rx.is_ok(), "{rx:?}");
}

/// A symlink at a segment's path is not followed.
#[test]
fn a_symlink_in_place_of_a_segment_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let link = dir.path().join("link");
    let real_s = real.to_str().unwrap();
    let _tx = Producer::create(real_s, &RingOptions::new().capacity(4096)).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let r = Consumer::open(link.to_str().unwrap(), &RingOptions::new());
    assert!(
        matches!(&r, Err(Error::PermissionDenied { reason, .. }) if reason.contains("symbolic link")),
        "{r:?}"
    );
}
