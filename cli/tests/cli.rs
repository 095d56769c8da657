//! The `ipcring` binary, run end to end as a user runs it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ipcring::ring::{Consumer, Producer, RingOptions};

mod support;
use support::{
    assert_says, listed, listed_json, run, run_exit, run_json, run_ok, run_with_stdin, text, uniq,
    wait_until, EXE,
};

/// A fresh directory under the system temp dir.
fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(uniq(tag).trim_start_matches('/'));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_lists_the_commands_and_hides_the_peer() {
    let help = run_ok(&["--help"]);
    for cmd in [
        "compare",
        "ls",
        "inspect",
        "rm",
        "send",
        "recv",
        "Examples:",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(!help.contains("__peer"), "peer role shown in --help");
    assert!(run_ok(&["rm", "--help"]).contains("--force"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["--no-such-option"]).status.code(), Some(2));
    assert_eq!(run(&["rm"]).status.code(), Some(2));
    assert_says(
        &run_exit(&["compare", "--only", "no-such-method"], 2).stderr,
        "unknown method",
    );
}

#[test]
fn inspect_bad_names_and_missing_segments() {
    for bad in ["", "/"] {
        assert_says(&run_exit(&["inspect", bad], 2).stderr, "invalid name");
    }
    let name = uniq("missing");
    assert_says(&run_exit(&["inspect", &name], 1).stderr, "does not exist");
}

#[test]
fn inspect_and_rm_refuse_files_that_are_not_segments() {
    let dir = tmpdir("notseg");
    let junk = dir.join("junk");
    std::fs::write(&junk, vec![0x41u8; 4096]).unwrap();
    let short = dir.join("short");
    std::fs::write(&short, b"tiny").unwrap();
    let junk_s = junk.to_str().unwrap();
    let short_s = short.to_str().unwrap();

    // The same error text as the library gives.
    let lib_err = ipcring::ring::inspect(junk_s).unwrap_err().to_string();
    let out = run_exit(&["inspect", junk_s], 1);
    let err = text(&out.stderr);
    assert!(err.contains(&lib_err), "{err} vs {lib_err}");
    assert!(err.contains("wrong magic"), "{err}");

    assert_says(
        &run_exit(&["inspect", "--json", short_s], 1).stderr,
        "truncated",
    );

    // rm never removes what is not a segment, even with --force.
    run_exit(&["rm", "--force", junk_s, short_s], 1);
    assert!(junk.exists() && short.exists());

    // ls skips files that are not segments.
    assert!(!run_ok(&["ls", dir.to_str().unwrap()]).contains("junk"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_ls_rm_on_a_live_then_stale_ring() {
    let dir = tmpdir("lsrm");
    let path = dir.join("ring");
    let p = path.to_str().unwrap().to_owned();
    let mut tx = Producer::create(&p, &RingOptions::new().capacity(4096).keep(true)).unwrap();
    tx.send(b"12345").unwrap();

    let t = run_ok(&["inspect", &p]);
    assert!(t.contains("kind:       ring"), "{t}");
    assert!(t.contains("attached:   producer"), "{t}");
    assert!(t.contains("state:      live"), "{t}");
    assert!(t.contains("16 bytes waiting"), "{t}");

    let v = run_json(&["inspect", "--json", &p]);
    assert_eq!(v["kind"], "ring");
    assert_eq!(v["ring"]["capacity"], 4096);
    assert_eq!(v["ring"]["fill"], 16);
    assert_eq!(v["ring"]["producer_attached"], true);
    assert_eq!(v["ring"]["consumer_attached"], false);
    assert_eq!(v["creator_pid"], std::process::id());

    let me = listed_json(&run(&["ls", "--json", dir.to_str().unwrap()]).stdout, &p);
    assert_eq!(me["state"], "live");

    // Live: refused without --force, and still there.
    assert_says(&run_exit(&["rm", &p], 1).stderr, "--force");
    assert!(path.exists());

    // Stale once its producer is gone (kept on drop).
    drop(tx);
    let t = run_ok(&["ls", dir.to_str().unwrap()]);
    let line = listed(&t, &p);
    assert!(line.contains("stale"), "{line}");
    assert!(line.contains("4096"), "{line}");
    run_exit(&["rm", &p], 0);
    assert!(!path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rm_force_removes_a_live_segment_and_ls_finds_shm_names() {
    let name = uniq("force");
    let _rx = Consumer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    let t = run_ok(&["ls"]);
    let line = listed(&t, &name);
    assert!(line.contains("consumer") && line.contains("live"), "{line}");
    run_exit(&["rm", "--force", &name], 0);
    assert!(ipcring::segment::inspect(&name).is_err());
}

#[test]
fn send_then_recv_lines() {
    let name = uniq("lines");
    // send first: it creates the ring, then waits for a consumer to drain it.
    let send = start(&["send", &name], b"alpha\nbeta\n\ngamma");
    assert_eq!(run_ok(&["recv", &name]), "alpha\nbeta\n\ngamma\n");
    finish_exit(send, "send", 0);
}

#[test]
fn recv_then_send_frames() {
    let name = uniq("frames");
    // recv first: it creates the ring and waits for the producer.
    let recv = start(&["recv", "--framed", &name], b"");
    let mut input = Vec::new();
    let msgs: [&[u8]; 4] = [b"one", b"", b"with\nnewline", &[0u8, 255, 7]];
    for m in msgs {
        input.extend_from_slice(&(m.len() as u32).to_le_bytes());
        input.extend_from_slice(m);
    }
    std::thread::sleep(Duration::from_millis(50));
    let send = run_with_stdin(&["send", "--framed", &name], &input);
    assert!(send.status.success(), "{}", text(&send.stderr));
    assert_eq!(finish_exit(recv, "recv", 0).stdout, input);
}

#[test]
fn send_refuses_oversized_and_truncated_frames() {
    let name = uniq("badframe");
    // A frame claiming 4 GiB - 1: refused before any allocation.
    let mut input = u32::MAX.to_le_bytes().to_vec();
    input.extend_from_slice(b"xx");
    let out = run_with_stdin(&["send", "--framed", "--no-wait", &name], &input);
    assert_eq!(out.status.code(), Some(1));
    assert_says(&out.stderr, "exceeds the maximum");

    // A good frame, then one cut short: the good one is sent, then a framing error.
    let mut input = 2u32.to_le_bytes().to_vec();
    input.extend_from_slice(b"ok");
    input.extend_from_slice(&10u32.to_le_bytes());
    input.extend_from_slice(b"short");
    let rx_name = uniq("badframe2");
    let mut rx = Consumer::create(&rx_name, &RingOptions::new().capacity(4096)).unwrap();
    let out = run_with_stdin(&["send", "--framed", "--no-wait", &rx_name], &input);
    assert_eq!(out.status.code(), Some(1));
    assert_says(&out.stderr, "framing");
    assert_eq!(&*rx.recv().unwrap(), b"ok");
    assert!(matches!(rx.recv(), Err(ipcring::Error::Disconnected)));
}

#[test]
fn recv_count_stops_early() {
    let name = uniq("count");
    let mut tx = Producer::create(&name, &RingOptions::new().capacity(4096)).unwrap();
    for m in [b"1", b"2", b"3"] {
        tx.send(m).unwrap();
    }
    assert_eq!(run_ok(&["recv", "--count", "2", &name]), "1\n2\n");
}

#[test]
fn compare_lists_every_method_with_a_reason_when_it_cannot_run() {
    let t = run_ok(&["compare", "--list"]);
    for id in ["ring-spin", "ring-block", "redis"] {
        assert!(t.lines().any(|l| l.starts_with(id)), "{id} missing:\n{t}");
    }
    for l in t.lines() {
        assert!(
            l.ends_with("runs here") || l.contains("cannot run here: "),
            "no state or reason: {l}"
        );
    }
}

#[test]
fn compare_quick_measures_the_ring_against_the_floors() {
    let dir = tmpdir("compare");
    let json = dir.join("out.json");
    let svg = dir.join("out.svg");
    let t = run_ok(&[
        "compare",
        "--quick",
        "--only",
        "ring-spin,ring-block",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(t.contains("floor: cache-line ping-pong"), "{t}");
    assert!(t.contains("floor: futex ping-pong"), "{t}");
    assert!(t.contains("ipcring ring, busy-poll"), "{t}");

    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let methods = v["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    for (m, floor) in methods.iter().zip(["spin", "futex"]) {
        assert_eq!(m["rtt"]["status"], "ok", "{m}");
        let rtt = &m["rtt"]["value"];
        assert_eq!(rtt["floor"], floor);
        assert!(rtt["p50_ns"].as_f64().unwrap() > 0.0);
        assert!(rtt["p50_ratio"].as_f64().unwrap() > 0.0);
        for t in ["tput_small", "tput_large"] {
            assert_eq!(m[t]["status"], "ok", "{m}");
            assert!(m[t]["value"]["msgs_per_s"].as_f64().unwrap() > 0.0);
        }
    }
    let kinds: Vec<_> = v["floors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"spin".into()) && kinds.contains(&"futex".into()));
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.contains("ipcring ring, futex wake"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn run_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut c = Command::new(EXE);
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.output().expect("run ipcring")
}

#[test]
fn compare_redis_runs_against_redis_url_or_a_server_of_its_own() {
    // Neither REDIS_URL nor redis-server on the PATH: listed with the reason.
    let out = run_env(
        &["compare", "--list", "--only", "redis"],
        &[("REDIS_URL", None), ("PATH", Some("/nonexistent"))],
    );
    assert_says(&out.stdout, "cannot run here: no redis-server on the PATH");
    // With redis-server on the PATH: a server of the run's own, gone when the run ends.
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("redis-server").is_file()));
    if on_path {
        let out = run_env(
            &["compare", "--list", "--only", "redis"],
            &[("REDIS_URL", None)],
        );
        assert_says(&out.stdout, "runs here");
        let err = text(&out.stderr);
        let port: u16 = err
            .split("redis://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no server named on stderr: {err}"));
        // Stopped once the run ended (its supervisor sees the pipe close): within 10 s the
        // port refuses connections.
        let gone = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        });
        assert!(
            gone,
            "the run's redis-server on port {port} outlived the run"
        );
    } else {
        eprintln!("*** SKIPPED the run's own redis-server: no redis-server on the PATH");
    }
    // Nothing listens on port 1: listed with the reason, and a run reports it too.
    let env = [("REDIS_URL", Some("redis://127.0.0.1:1"))];
    let out = run_env(&["compare", "--quick", "--only", "redis"], &env);
    assert!(out.status.success());
    assert_says(&out.stdout, "not run here: Redis server not reachable");
    let Ok(url) = std::env::var("IPCRING_TEST_REDIS_URL") else {
        eprintln!("*** SKIPPED the Redis measurement: IPCRING_TEST_REDIS_URL is not set");
        return;
    };
    let dir = tmpdir("redis");
    let json = dir.join("out.json");
    let out = run_env(
        &[
            "compare",
            "--quick",
            "--only",
            "redis",
            "--json",
            json.to_str().unwrap(),
        ],
        &[("REDIS_URL", Some(&url))],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let m = &v["methods"][0];
    assert_eq!(m["id"], "redis");
    for k in ["rtt", "tput_small", "tput_large"] {
        assert_eq!(m[k]["status"], "ok", "{m}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ls_and_inspect_show_seqlock_and_broadcast_segments() {
    use ipcring::broadcast::{BroadcastOptions, Publisher};
    use ipcring::seqlock::{SeqlockOptions, Writer};
    let cell = uniq("cell");
    let bcast = uniq("bcast");
    let mut w = Writer::<[u8; 16]>::create(&cell, &SeqlockOptions::new()).unwrap();
    w.write(&[7; 16]);
    w.write(&[8; 16]);
    let mut p = Publisher::create(&bcast, &BroadcastOptions::new().slots(8)).unwrap();
    p.publish(b"x").unwrap();

    let t = run_ok(&["inspect", &cell]);
    assert!(t.contains("kind:       seqlock"), "{t}");
    assert!(t.contains("attached:   writer"), "{t}");
    assert!(t.contains("16 bytes") && t.contains("version 2"), "{t}");

    let v = run_json(&["inspect", "--json", &bcast]);
    assert_eq!(v["kind"], "broadcast");
    assert_eq!(v["broadcast"]["slots"], 8);
    assert_eq!(v["broadcast"]["published"], 1);
    assert_eq!(v["roles"][0], "publisher");

    let t = run_ok(&["ls"]);
    let line = listed(&t, &cell);
    assert!(
        line.contains("seqlock") && line.contains("v2") && line.contains("live"),
        "{line}"
    );
    let line = listed(&t, &bcast);
    assert!(
        line.contains("8 slots") && line.contains("publisher"),
        "{line}"
    );
}

#[test]
fn rm_goes_on_after_a_failure_and_exits_1() {
    let stale = uniq("stale");
    let missing = uniq("missing");
    drop(Producer::create(&stale, &RingOptions::new().capacity(4096).keep(true)).unwrap());
    let out = run_exit(&["rm", &missing, &stale], 1);
    assert_says(&out.stderr, "does not exist");
    assert!(text(&out.stdout).contains(&format!("removed {stale}")));
    assert!(ipcring::segment::inspect(&stale).is_err());
}

#[test]
fn send_refuses_a_line_longer_than_the_ring_takes() {
    let name = uniq("longline");
    let line = vec![b'x'; 3000];
    // A 4 KiB ring takes messages of at most 2040 bytes.
    let out = run_with_stdin(&["send", "--capacity", "4096", "--no-wait", &name], &line);
    assert_eq!(out.status.code(), Some(1));
    assert_says(&out.stderr, "exceeds the maximum");
}

/// Waits for `child` to exit, for at most a minute (a failure guard, not a timing check):
/// a command that hangs fails the test instead of hanging it.
fn finish(mut child: std::process::Child, what: &str) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what} still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// [`finish`], and `child` must have exited with `code`.
#[track_caller]
fn finish_exit(child: std::process::Child, what: &str, code: i32) -> Output {
    let out = finish(child, what);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    out
}

/// Starts `ipcring args` with `input` on stdin (written by a thread, then closed: the
/// command may stop reading early), output captured.
fn start(args: &[&str], input: &[u8]) -> std::process::Child {
    let mut child = Command::new(EXE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ipcring");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    child
}

fn lines(from: u32, to: u32) -> Vec<u8> {
    (from..=to)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect()
}

#[test]
fn send_ends_with_exit_3_when_the_consumer_leaves_early() {
    // `seq 1 100 | ipcring send /q` with `ipcring recv --count 10 /q`.
    let name = uniq("count10");
    let send = start(&["send", &name], &lines(1, 100));
    let recv = run(&["recv", "--count", "10", &name]);
    assert!(recv.status.success(), "{}", text(&recv.stderr));
    assert_eq!(text(&recv.stdout), text(&lines(1, 10)));
    let out = finish_exit(send, "send", 3);
    assert_says(&out.stderr, "left with 90 message(s)");

    // `ipcring recv /q | head -n 2`, with more input than the ring holds.
    let name = uniq("head");
    let send = start(&["send", "--capacity", "4096", &name], &lines(1, 100_000));
    let recv = Command::new("sh")
        .args(["-c", &format!("'{EXE}' recv '{name}' | head -n 2")])
        .output()
        .unwrap();
    assert_eq!(text(&recv.stdout), "1\n2\n");
    assert_says(&finish_exit(send, "send", 3).stderr, "unread");
}

#[test]
fn send_exits_0_once_everything_was_taken_even_if_the_name_or_header_changed() {
    let dir = tmpdir("drained");
    let path = dir.join("ring").to_str().unwrap().to_owned();
    let mut rx = Consumer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    let send = start(&["send", &path], b"a\nb\nc\n");
    wait_until("the three lines", || {
        ipcring::ring::inspect(&path).is_ok_and(|i| i.fill == 3 * 16)
    });
    // The header's magic overwritten and the name removed while send waits: neither
    // matters to the delivery, which it follows through the ring it holds.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    run_exit(&["rm", "--force", &path], 0);
    std::os::unix::fs::FileExt::write_all_at(&file, b"NOTARING", 0).unwrap();
    let got: Vec<_> = (0..3).map(|_| rx.recv().unwrap().to_vec()).collect();
    assert_eq!(got, [b"a", b"b", b"c"]);
    finish_exit(send, "send", 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn send_ends_when_its_name_is_removed_before_any_consumer_came() {
    // No consumer yet; the name removed while send waits: none can ever attach, so send
    // must end (not wait for ever) and say the lines were not delivered.
    let dir = tmpdir("unreachable");
    let path = dir.join("ring").to_str().unwrap().to_owned();
    let send = start(&["send", &path], b"a\nb\n");
    wait_until("the two lines", || {
        ipcring::ring::inspect(&path).is_ok_and(|i| i.fill > 0)
    });
    run_exit(&["rm", "--force", &path], 0);
    assert_says(&finish_exit(send, "send", 3).stderr, "name was removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stale_ring_from_an_interrupted_send_is_replaced_unless_resumed() {
    // A send interrupted with Ctrl-C (SIGINT) while nobody receives leaves its ring.
    let interrupted = |name: &str| {
        let mut cmd = Command::new(EXE);
        cmd.args(["send", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A shell without job control starts background commands with SIGINT ignored, and
        // an ignored signal stays ignored across exec: give the child Ctrl-C's default
        // action, as an interactive terminal would.
        // SAFETY: between fork and exec the closure calls only signal(2), which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut send = cmd.spawn().unwrap();
        let mut stdin = send.stdin.take().unwrap();
        stdin.write_all(&lines(1, 5)).unwrap();
        stdin.flush().unwrap();
        wait_until("five lines in the ring", || {
            ipcring::ring::inspect(name).is_ok_and(|i| i.fill == 5 * 16)
        });
        let kill = Command::new("kill")
            .args(["-INT", &send.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        assert!(!finish(send, "interrupted send").status.success());
        drop(stdin);
        assert!(ipcring::ring::inspect(name).unwrap().segment.is_stale());
    };
    let name = uniq("stale");
    interrupted(&name);
    let send = start(&["send", &name], &lines(100, 102));
    // The receiver comes once the sender has replaced the stale ring (a receiver racing the
    // replacement is the concurrent case, not this test's).
    wait_until("the stale ring replaced", || {
        ipcring::ring::inspect(&name).is_ok_and(|i| !i.segment.is_stale())
    });
    let recv = start(&["recv", &name], b"");
    let send = finish_exit(send, "send", 0);
    let recv = finish_exit(recv, "recv", 0);
    assert_eq!(text(&recv.stdout), "100\n101\n102\n");
    let notes = text(&send.stderr) + &text(&recv.stderr);
    assert!(
        notes.contains("replacing a stale ring") && notes.contains("80 bytes unread"),
        "{notes}"
    );

    let name = uniq("resume");
    interrupted(&name);
    let send = start(&["send", "--resume", &name], &lines(100, 102));
    wait_until("the resumed producer", || {
        ipcring::ring::inspect(&name).is_ok_and(|i| i.producer_attached)
    });
    let recv = finish(start(&["recv", &name], b""), "recv");
    let send = finish_exit(send, "send", 0);
    assert!(text(&send.stderr).contains("resuming a stale ring"));
    assert_eq!(
        text(&recv.stdout),
        text(&[lines(1, 5), lines(100, 102)].concat())
    );
    // Neither side created this ring: the name stays, stale, for the next run to replace.
    let _ = ipcring::segment::remove(&name, true);
}

#[test]
fn a_half_created_name_is_listed_removed_and_no_longer_blocks_send_and_recv() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tmpdir("half");
    let half = |name: &str| {
        let p = dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o200)
            .open(&p)
            .unwrap();
        p.to_str().unwrap().to_owned()
    };
    let (a, b) = (half("a"), half("b"));
    // Within the grace period a creator may still be at work: listed as such, kept.
    let t = run_ok(&["ls", dir.to_str().unwrap()]);
    assert!(
        t.contains("half-created") && t.contains("may still be at work"),
        "{t}"
    );
    run_exit(&["rm", &a], 1);
    std::thread::sleep(ipcring::segment::HALF_CREATED_GRACE + Duration::from_millis(200));

    let e = listed_json(&run(&["ls", "--json", dir.to_str().unwrap()]).stdout, &a);
    assert_eq!(e["state"], "half-created");
    assert_eq!(e["mode"], "0200");
    assert_eq!(e["in_progress"], false);
    assert_says(&run_exit(&["rm", &a], 0).stdout, "half-created");
    assert!(!std::path::Path::new(&a).exists());

    // send and recv on the other one: it is removed and a ring made in its place.
    let send = start(&["send", &b], b"x\ny\n");
    let recv = finish(start(&["recv", &b], b""), "recv");
    let send = finish_exit(send, "send", 0);
    assert_eq!(text(&recv.stdout), "x\ny\n");
    let notes = text(&send.stderr) + &text(&recv.stderr);
    assert!(notes.contains("removing a half-created segment"), "{notes}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recv_asleep_when_its_ring_is_truncated_exits_1_not_sigbus() {
    let dir = tmpdir("trunc");
    let path = dir.join("ring").to_str().unwrap().to_owned();
    let mut tx = Producer::create(&path, &RingOptions::new().capacity(4096)).unwrap();
    tx.send(b"one").unwrap();
    let recv = start(&["recv", &path], b"");
    wait_until("recv to take the message", || {
        ipcring::ring::inspect(&path).is_ok_and(|i| i.consumer_attached && i.fill == 0)
    });
    // Wait until it sleeps (its waiter word, offset 516, is set), then cut the file to
    // its header: the page recv polls stays mapped, so the outcome is exact.
    wait_until("recv to sleep", || {
        let mut w = [0u8; 4];
        use std::os::unix::fs::FileExt;
        std::fs::File::open(&path)
            .unwrap()
            .read_exact_at(&mut w, 516)
            .unwrap();
        u32::from_le_bytes(w) != 0
    });
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1024)
        .unwrap();
    let out = finish_exit(recv, "recv", 1);
    assert_eq!(text(&out.stdout), "one\n");
    assert_says(&out.stderr, "resized from 5120 to 1024");
    drop(tx);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exit_codes_are_documented_in_help() {
    let top = text(&run(&["--help"]).stdout);
    let send = text(&run(&["send", "--help"]).stdout);
    for t in [&top, &send] {
        assert!(t.contains("Exit codes"), "{t}");
        assert!(t.contains("3"), "{t}");
    }
    assert!(send.contains("--resume"), "{send}");
    assert!(text(&run(&["recv", "--help"]).stdout).contains("--resume"));
}

#[test]
fn inspect_flags_impossible_positions_and_recv_refuses_them() {
    let dir = tmpdir("badpos");
    let path = dir.join("ring").to_str().unwrap().to_owned();
    let mut tx = Producer::create(&path, &RingOptions::new().capacity(4096).keep(true)).unwrap();
    tx.send(b"x").unwrap();
    drop(tx);
    // write_pos (offset 256) two capacities past read_pos.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &8192u64.to_le_bytes(), 256).unwrap();
    assert_says(&run_exit(&["inspect", &path], 0).stdout, "INCONSISTENT");
    let v = run_json(&["inspect", "--json", &path]);
    assert_eq!(v["ring"]["positions_consistent"], false);
    assert_says(&run_exit(&["recv", "--resume", &path], 1).stderr, "corrupt");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn send_no_wait_without_a_consumer_keeps_its_messages_for_recv_resume() {
    let name = uniq("nowait");
    let out = run_with_stdin(&["send", "--no-wait", &name], b"p\nq\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_says(&out.stderr, "recv --resume");
    assert_eq!(
        run_ok(&["recv", "--resume", "--count", "2", &name]),
        "p\nq\n"
    );
    ipcring::segment::remove(&name, true).unwrap();
}
