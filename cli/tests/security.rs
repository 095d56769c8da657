//! The `ipcring` command between two real users: the test runner (root in CI) and user
//! `nobody` (`setpriv --reuid=65534 --regid=65534 --clear-groups`). A name another user
//! created first is refused by `send` and `recv` with a non-zero exit and a message naming
//! the owner; a ring nobody may open is reported as such at once; `ls` lists both.

use std::process::{Child, Command, Stdio};

use ipcring::Error;

mod support;
use support::{listed, text, uniq, wait_until, with_stdin, EXE};

fn two_users() -> bool {
    let root = ipcring::Access::effective_uid() == 0;
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(root && setpriv) {
        eprintln!("skipped: needs root and setpriv to run ipcring as nobody");
    }
    root && setpriv
}

fn as_nobody(args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", EXE])
        .args(args);
    c
}

/// Waits until `name` exists (as seen by root: another user's segment is PermissionDenied).
fn wait_exists(name: &str, child: &mut Child) {
    wait_until(&format!("nobody's ipcring to create {name}"), || {
        let exists = !matches!(ipcring::segment::inspect(name), Err(Error::NotFound(_)));
        assert!(
            exists || child.try_wait().unwrap().is_none(),
            "nobody's ipcring ended before creating {name}"
        );
        exists
    });
}

/// The report, replayed: nobody's `recv` creates the name first; root's `send` of
/// secrets must fail (nothing reaches nobody), and so must root's `recv` (nothing forged
/// reaches root).
#[test]
fn send_and_recv_refuse_a_name_another_user_created() {
    if !two_users() {
        return;
    }
    let q = uniq("q");
    let mut nobody = as_nobody(&["recv", &q])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_exists(&q, &mut nobody);

    let out = with_stdin(
        Command::new(EXE).args(["send", &q]),
        b"SECRET-A\nSECRET-B\n",
    );
    let err = text(&out.stderr);
    assert!(!out.status.success(), "send exited 0: {err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("uid 65534"), "{err}");
    assert!(err.contains(&q), "{err}");

    let out = with_stdin(Command::new(EXE).args(["recv", &q]), b"");
    let err = text(&out.stderr);
    assert!(!out.status.success(), "recv exited 0: {err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(out.stdout.is_empty());

    // `ls` shows the name with its owner instead of hiding it.
    let out = Command::new(EXE).arg("ls").output().unwrap();
    let listing = text(&out.stdout);
    let line = listed(&listing, &q);
    assert!(
        line.contains("not opened") && line.contains("uid 65534"),
        "{line}"
    );

    nobody.kill().unwrap();
    let got = text(&nobody.wait_with_output().unwrap().stdout);
    assert!(!got.contains("SECRET"), "nobody received: {got}");
    // Its creator was killed: the name is left behind, still nobody's.
    let _ = std::fs::remove_file(format!("/dev/shm{q}"));
}

/// A ring root owns, seen by nobody: `recv` says "permission denied" at once (its open
/// timeout is 5 s; "does not exist" would mean it waited that out), and `ls` lists it.
#[test]
fn a_ring_nobody_may_not_open_is_reported_as_such() {
    if !two_users() {
        return;
    }
    let q = uniq("root");
    let tx = ipcring::ring::Producer::create(&q, &ipcring::ring::RingOptions::new()).unwrap();
    let out = with_stdin(&mut as_nobody(&["recv", &q]), b"");
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    assert!(err.contains("uid 0"), "{err}");

    let out = as_nobody(&["ls"]).output().unwrap();
    let listing = text(&out.stdout);
    assert!(!listing.contains("no ipcring segments"), "{listing}");
    let line = listed(&listing, &q);
    assert!(
        line.contains("not opened") && line.contains("uid 0"),
        "{line}"
    );
    drop(tx);
}
