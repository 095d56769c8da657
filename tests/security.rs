//! Named objects between two real users: the test runner (root in CI) and a peer that the
//! test binary re-executes as user `nobody` (`setpriv --reuid=65534 --regid=65534
//! --clear-groups`). Another user's segment, FIFO, file, registry or socket is refused with
//! `Error::PermissionDenied` at once, naming the owner and mode; `allow_owner` lets it in.
//!
//! Without root (or without `setpriv`) the two-user tests cannot run and say so; CI runs
//! them as root.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ipcring::ring::{Consumer, Producer, RingOptions};
use ipcring::Error;
use support::setup::LONG;
use support::{unique, Peer};

const NOBODY: u32 = 65534;

/// True if this process can run a peer as another user.
fn two_users() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !(root && setpriv) {
        eprintln!("skipped: needs root and setpriv to run a peer as nobody");
    }
    root && setpriv
}

/// Spawns this test binary as user nobody in peer `role`, stdin and stdout piped.
fn spawn_nobody(role: &str, args: &[&str]) -> Peer {
    args.iter()
        .fold(Peer::builder(role), |b, a| b.arg(a))
        .launcher(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .stdin_piped()
        .stdout_piped()
        .spawn()
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

/// Closes the peer's stdin (its signal to finish); returns every protocol line it writes
/// until it exits, which must be with success.
fn finish(mut peer: Peer) -> Vec<String> {
    peer.close_stdin();
    let rest = peer.finish_output();
    rest.lines().filter_map(ours).map(str::to_owned).collect()
}

/// [`finish`], which must find nothing more said.
fn finish_clean(peer: Peer) {
    assert_eq!(finish(peer), Vec::<String>::new());
}

/// A directory anyone may create files in (mode 01777, like /tmp), removed on drop.
#[allow(dead_code)] // used by the feature-gated tests
fn shared_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// In a two-user test: the value in `$setup` (an `Option`), or `return` when it is `None`
/// (the test skips, as [`two_users`] said).
#[allow(unused_macros)] // used by the feature-gated tests
macro_rules! or_skip {
    ($setup:expr) => {
        match $setup {
            Some(v) => v,
            None => return,
        }
    };
}

/// For a two-user test: a [`shared_dir`] and the path of `file` in it; `None` (the test
/// skips, saying so) when this process cannot run a peer as nobody.
#[allow(dead_code)] // used by the feature-gated tests
fn shared_path(file: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    if !two_users() {
        return None;
    }
    let dir = shared_dir();
    let path = dir.path().join(file);
    Some((dir, path))
}

/// Blocks until stdin closes (the test's signal that the peer may exit).
fn until_stdin_closes() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// Asserts `r` is PermissionDenied naming `owner`; returns the message.
fn assert_denied<T: std::fmt::Debug>(r: ipcring::Result<T>, owner: u32) -> String {
    match r {
        Err(e @ Error::PermissionDenied { owner: o, .. }) => {
            assert_eq!(o, Some(owner), "{e}");
            e.to_string()
        }
        other => panic!("expected PermissionDenied (owner {owner}), got {other:?}"),
    }
}

crate::peer_entry!(roles);

/// The peer roles this file's tests run, each in a process of its own.
fn roles(role: &str, args: Vec<String>) {
    let code = match role {
        // args: name, side — create the ring as that side, print READY, hold it until stdin
        // closes, then print what it received (consumer side).
        "create" => {
            let opts = RingOptions::new().capacity(4096);
            if args[1] == "producer" {
                let _tx = Producer::create(&args[0], &opts).expect("create producer");
                println!("READY");
                until_stdin_closes();
            } else {
                let mut rx = Consumer::create(&args[0], &opts).expect("create consumer");
                println!("READY");
                until_stdin_closes();
                while let Ok(m) = rx.try_recv() {
                    println!("GOT {}", String::from_utf8_lossy(&m));
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
                    println!(
                        "DENIED {} {:o}",
                        owner.map_or(-1, i64::from),
                        mode.unwrap_or(0)
                    );
                }
                Err(e) => println!("ERROR {e}"),
                Ok(mut rx) => loop {
                    match rx.recv() {
                        Ok(m) => println!("GOT {}", String::from_utf8_lossy(&m)),
                        Err(Error::Disconnected) => break,
                        Err(e) => {
                            println!("ERROR {e}");
                            break;
                        }
                    }
                },
            }
            println!("END");
            0
        }
        // args: kind, path — create the named object as this user, print READY, hold it
        // until stdin closes.
        "make" => {
            make_and_hold(&args[0], &args[1]);
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
        finish_clean(peer);
        // Nothing of root's reached nobody's ring, and its name is untouched.
        let r = ipcring::segment::inspect(&name);
        assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
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
    assert_eq!(finish(peer), ["DENIED 0 600", "END"]);
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
    assert_eq!(finish(peer), ["DENIED 0 666", "END"]);
    // Allowed owner and mode: it receives what root sends.
    let mut peer = spawn_nobody("open", &[&name, "666", "0"]);
    tx.send(b"hello nobody").unwrap();
    assert_eq!(peer.wait_line("GOT"), "GOT hello nobody");
    drop(tx);
    assert_eq!(finish(peer), ["END"]);
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

/// Peer role "make": creates a named object of `kind` at `path` and holds it. (Without the
/// features that name such objects every kind panics, so nothing after the match runs.)
#[cfg_attr(
    not(any(
        feature = "pipe",
        feature = "file",
        feature = "signal",
        feature = "socket",
        feature = "mq"
    )),
    allow(unused_variables, unreachable_code)
)]
fn make_and_hold(kind: &str, path: &str) {
    let hold: Box<dyn std::any::Any> = match kind {
        #[cfg(feature = "pipe")]
        "fifo" => Box::new(
            ipcring::pipe::PipeReceiver::open(path, &ipcring::pipe::PipeOptions::new())
                .expect("fifo"),
        ),
        #[cfg(feature = "file")]
        "log" => Box::new(
            ipcring::file::LogWriter::open(path, &ipcring::file::LogOptions::new()).expect("log"),
        ),
        #[cfg(feature = "file")]
        "mailbox" => Box::new(ipcring::file::mailbox::Mailbox::open(path).expect("mailbox")),
        #[cfg(feature = "signal")]
        "registry" => Box::new(
            ipcring::signal::Registry::open(&ipcring::signal::SignalOptions::new("svc").dir(path))
                .expect("registry"),
        ),
        #[cfg(feature = "socket")]
        "listener" => {
            let l = ipcring::socket::Listener::bind(path, &ipcring::socket::SocketOptions::new())
                .expect("listener");
            // Root may connect (root bypasses the file's mode); nobody's side then sees
            // root's client and closes it (root is not allowed here).
            Box::new(l)
        }
        #[cfg(feature = "socket")]
        "client-of-root" => {
            // Connect to root's listener, allowing root: root's listener closes us unheard.
            let opts = ipcring::socket::SocketOptions::new().allow_owner(0);
            let mut c = ipcring::socket::Connection::connect(path, &opts).expect("connect");
            println!("READY");
            let mut buf = Vec::new();
            let r = ipcring::Receiver::recv_timeout_into(&mut c, &mut buf, LONG);
            println!(
                "END {}",
                if r.as_ref().is_err_and(|e| e.is_disconnected()) {
                    "disconnected"
                } else {
                    "other"
                }
            );
            until_stdin_closes();
            return;
        }
        #[cfg(feature = "mq")]
        "mq" => Box::new(
            ipcring::mq::MessageQueue::create(path, &ipcring::mq::MqOptions::new()).expect("mq"),
        ),
        other => panic!("cannot make a {other}"),
    };
    println!("READY");
    until_stdin_closes();
    drop(hold);
}

/// Spawns nobody making a `kind` at `path` and waits until it holds it.
#[allow(dead_code)]
fn nobody_makes(kind: &str, path: &Path) -> Peer {
    let mut peer = spawn_nobody("make", &[kind, path.to_str().unwrap()]);
    peer.wait_line("READY");
    peer
}

/// For a two-user test: a [`shared_dir`], the path of `file` in it, and nobody holding a
/// `kind` it made there (see [`nobody_makes`]); `None` when the test cannot run.
#[allow(dead_code)] // used by the feature-gated tests
fn nobody_made(kind: &str, file: &str) -> Option<(tempfile::TempDir, PathBuf, Peer)> {
    let (dir, path) = shared_path(file)?;
    let peer = nobody_makes(kind, &path);
    Some((dir, path, peer))
}

#[cfg(feature = "pipe")]
#[test]
fn another_users_fifo_is_refused_at_both_ends() {
    use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
    use ipcring::Sender;
    let (_dir, path, peer) = or_skip!(nobody_made("fifo", "fifo"));
    assert_denied(PipeReceiver::open(&path, &PipeOptions::new()), NOBODY);
    let sent = PipeSender::open(&path, &PipeOptions::new())
        .and_then(|mut tx| tx.send_timeout(b"secret", LONG));
    assert_denied(sent, NOBODY);
    // Allowed, and a mode no wider than asked for: it opens.
    assert!(PipeReceiver::open(&path, &PipeOptions::new().allow_owner(NOBODY)).is_ok());
    finish_clean(peer);
}

#[cfg(feature = "file")]
#[test]
fn another_users_log_and_mailbox_are_refused() {
    use ipcring::file::mailbox::{Mailbox, MailboxOptions};
    use ipcring::file::{LogOptions, LogReader, LogWriter};
    let (dir, log, peer) = or_skip!(nobody_made("log", "events.log"));
    let msg = assert_denied(LogWriter::open(&log, &LogOptions::new()), NOBODY);
    assert!(msg.contains("events.log"), "{msg}");
    assert_denied(LogReader::open(&log, &LogOptions::new()), NOBODY);
    assert!(LogReader::open(&log, &LogOptions::new().allow_owner(NOBODY)).is_ok());
    finish_clean(peer);

    let mb = dir.path().join("shared.json");
    let peer = nobody_makes("mailbox", &mb);
    // The lock file nobody created is refused before the document is read.
    let msg = assert_denied(Mailbox::open(&mb), NOBODY);
    assert!(msg.contains("shared.json.lock"), "{msg}");
    assert!(Mailbox::open_with(&mb, &MailboxOptions::new().allow_owner(NOBODY)).is_ok());
    finish_clean(peer);
}

/// A lock file that another user planted beside our own log is refused too.
#[cfg(feature = "file")]
#[test]
fn a_planted_lock_file_is_refused() {
    use ipcring::file::{LogOptions, LogWriter};
    let (dir, log) = or_skip!(shared_path("mine.log"));
    let peer = nobody_makes("log", &dir.path().join("mine.log.lock-maker"));
    finish(peer);
    // nobody's log at "<x>.lock-maker" made "<x>.lock-maker.lock"; plant the lock itself:
    std::fs::rename(
        dir.path().join("mine.log.lock-maker.lock"),
        dir.path().join("mine.log.lock"),
    )
    .unwrap();
    let msg = assert_denied(LogWriter::open(&log, &LogOptions::new()), NOBODY);
    assert!(msg.contains("mine.log.lock"), "{msg}");
}

#[cfg(feature = "signal")]
#[test]
fn another_users_registry_is_refused() {
    use ipcring::signal::{Registry, SignalOptions};
    let (_dir, reg, peer) = or_skip!(nobody_made("registry", "reg"));
    assert_denied(Registry::open(&SignalOptions::new("svc").dir(&reg)), NOBODY);
    finish_clean(peer);
}

#[cfg(feature = "socket")]
#[test]
fn another_users_listener_is_refused_and_so_are_its_clients() {
    use ipcring::socket::{Connection, Listener, SocketOptions};
    // nobody listens first on the path root meant to use.
    let (dir, path, peer) = or_skip!(nobody_made("listener", "svc.sock"));
    let r = Connection::connect(path.as_path(), &SocketOptions::new());
    let msg = assert_denied(r, NOBODY);
    assert!(msg.contains("listener runs as uid 65534"), "{msg}");
    finish_clean(peer);

    // root listens; nobody (allowing root) connects; root's listener closes it unheard.
    let path = dir.path().join("root.sock");
    let l = Listener::bind(path.as_path(), &SocketOptions::new()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut peer = nobody_makes("client-of-root", &path);
    let r = l.accept_timeout(std::time::Duration::from_millis(300));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert_eq!(l.refused_peers(), 1);
    assert_eq!(peer.wait_line("END"), "END disconnected");
    finish_clean(peer);
}

#[cfg(all(feature = "mq", target_os = "linux"))]
#[test]
fn another_users_message_queue_is_refused() {
    use ipcring::mq::{MessageQueue, MqOptions};
    if !two_users() {
        return;
    }
    let name = unique("sec-mq");
    let peer = nobody_makes("mq", Path::new(&name));
    let msg = assert_denied(MessageQueue::open(&name, &MqOptions::new()), NOBODY);
    assert!(msg.contains(&name), "{msg}");
    assert_denied(
        MessageQueue::open_or_create(&name, &MqOptions::new()),
        NOBODY,
    );
    assert!(MessageQueue::open(&name, &MqOptions::new().allow_owner(NOBODY)).is_ok());
    finish_clean(peer);
}
