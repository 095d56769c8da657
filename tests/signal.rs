//! Signals between real processes.
//!
//! This test has its own `main` (`harness = false` in Cargo.toml): signals belong to the
//! whole process, and libtest's extra threads would receive them through the fallback
//! handler rather than the ordered `signalfd` path. Here the listener is created on the main
//! thread before anything else, as the module docs advise, and the cases run one after the
//! other. The binary re-executes itself for the peer roles (through `support::Peer`).

#[path = "support/mod.rs"]
mod support;

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("signal tests: Linux only (signalfd, sigqueue, /proc)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main()
}

#[cfg(target_os = "linux")]
mod linux {

    use std::collections::HashSet;
    use std::path::PathBuf;
    use std::process::Command;

    use ipcring::signal::{send, Listener, Registry, Signal, SignalEvent, SignalOptions};
    use ipcring::{Error, TryRecvError};

    use crate::support::setup::LONG;
    use crate::support::{peer_role, wait_until, Peer};

    const DIR: &str = "IPCRING_SIGNAL_DIR";
    const VALUES: usize = 2000;

    fn opts(dir: &std::path::Path) -> SignalOptions {
        SignalOptions::new("test").dir(dir)
    }

    fn expect(l: &mut Listener, what: Signal) -> SignalEvent {
        let ev = l
            .recv_timeout(LONG)
            .unwrap_or_else(|e| panic!("waiting for {what:?}: {e}"));
        assert_eq!(ev.signal, what);
        ev
    }

    /// One test case: gets the process's listener and a directory of its own.
    type Case = fn(&mut Listener, &std::path::Path);

    pub fn main() {
        // The listener first, on the main thread, before any other thread exists. A peer
        // gets its case's directory as its first argument.
        let role = peer_role();
        let dir = match &role {
            Some((_, args)) => PathBuf::from(&args[0]),
            None => PathBuf::from(std::env::var(DIR).unwrap_or_else(|_| {
                std::env::temp_dir()
                    .join(format!("ipcring-signal-test-{}", std::process::id()))
                    .display()
                    .to_string()
            })),
        };
        let mut listener = Listener::new(&opts(&dir)).unwrap();
        if let Some((role, args)) = role {
            peer(&role, &dir, &args[1..], &mut listener);
            return;
        }
        // Each case with its name.
        macro_rules! cases {
            ($($case:ident),*) => { [$((stringify!($case), $case as Case)),*] };
        }
        let cases = cases!(
            kill_from_a_shell_is_the_same_event,
            values_from_another_process_arrive_in_order,
            standard_signals_coalesce_values_do_not,
            broadcast_reaches_clients_and_prunes_stale_pids,
            bad_input_is_refused
        );
        let filter: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        for (name, case) in cases {
            if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            let case_dir = dir.join(name);
            print!("test {name} ... ");
            case(&mut listener, &case_dir);
            // Nothing unexpected left over for the next case.
            let left = listener.try_recv();
            assert!(
                matches!(left, Err(TryRecvError::Empty)),
                "{name} left an event behind: {left:?}"
            );
            println!("ok");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(Listener::dropped(), 0);
        println!("test result: ok");
    }

    fn peer(role: &str, dir: &std::path::Path, args: &[String], listener: &mut Listener) {
        match role {
            "send-values" => {
                let target: u32 = args[0].parse().unwrap();
                for i in 0..VALUES {
                    let v = value(i);
                    // A full queue at the receiver is a clear error: wait and retry.
                    wait_until("room in the queue", || {
                        match send(target, Signal::Value(v), &opts(dir)) {
                            Ok(()) => true,
                            Err(Error::SystemLimit { .. }) => false,
                            Err(e) => panic!("{e}"),
                        }
                    });
                }
            }
            "client" => {
                let reg = Registry::open(&opts(dir)).unwrap();
                let _me = reg.register().unwrap();
                let ready = dir.join(format!("ready-{}", std::process::id()));
                std::fs::write(&ready, b"").unwrap();
                // Standard signals are taken lowest number first, not in send order: compare sets.
                let mut got = HashSet::new();
                while got.len() < 3 {
                    got.insert(listener.recv_timeout(LONG).unwrap().signal);
                }
                assert_eq!(
                    got,
                    HashSet::from([Signal::Usr1, Signal::Usr2, Signal::Value(7)])
                );
            }
            other => panic!("unknown role {other}"),
        }
    }

    /// The i-th value sent: the extremes first, then a sequence.
    fn value(i: usize) -> i32 {
        match i {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => 0,
            3 => -1,
            _ => i as i32 * 7919,
        }
    }

    fn kill_from_a_shell_is_the_same_event(l: &mut Listener, _dir: &std::path::Path) {
        let me = std::process::id();
        let kill = |sig: &str| {
            let mut sh = Command::new("sh")
                .arg("-c")
                .arg(format!("kill -{sig} {me}"))
                .spawn()
                .unwrap();
            assert!(sh.wait().unwrap().success());
            sh.id()
        };
        let sh_pid = kill("USR1");
        assert_eq!(expect(l, Signal::Usr1).sender_pid, sh_pid);
        kill("USR2");
        expect(l, Signal::Usr2);
    }

    fn values_from_another_process_arrive_in_order(l: &mut Listener, dir: &std::path::Path) {
        let me = std::process::id().to_string();
        let mut child = Peer::spawn("send-values", &[dir.to_str().unwrap(), &me]);
        let child_pid = child.id();
        for i in 0..VALUES {
            let ev = expect(l, Signal::Value(value(i)));
            assert_eq!(ev.sender_pid, child_pid);
        }
        child.finish();
    }

    fn standard_signals_coalesce_values_do_not(l: &mut Listener, dir: &std::path::Path) {
        let me = std::process::id();
        // Five SIGUSR1 sent before the listener looks: the kernel keeps one.
        for _ in 0..5 {
            send(me, Signal::Usr1, &opts(dir)).unwrap();
        }
        expect(l, Signal::Usr1);
        assert!(l.try_recv().unwrap_err().is_empty());
        // Five values: all five, in order.
        for v in 10..15 {
            send(me, Signal::Value(v), &opts(dir)).unwrap();
        }
        for v in 10..15 {
            expect(l, Signal::Value(v));
        }
        assert!(l.try_recv().unwrap_err().is_empty());
    }

    fn broadcast_reaches_clients_and_prunes_stale_pids(_l: &mut Listener, dir: &std::path::Path) {
        let reg = Registry::open(&opts(dir)).unwrap();
        let clients: Vec<_> = (0..2)
            .map(|_| Peer::spawn("client", &[dir.to_str().unwrap()]))
            .collect();
        for c in &clients {
            let ready = dir.join(format!("ready-{}", c.id()));
            wait_until("the client to register", || ready.exists());
        }
        // A dead client that never cleaned up.
        let mut dead = Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        std::fs::write(dir.join(dead_pid.to_string()), b"12345").unwrap();
        // A pid now used by an unrelated process (start time does not match): SIGUSR1 would kill
        // it (default action), so it must be pruned, not signalled.
        let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
        let by_pid = bystander.id();
        std::fs::write(dir.join(by_pid.to_string()), b"1").unwrap();

        let mut want: Vec<u32> = clients.iter().map(|c| c.id()).collect();
        want.sort_unstable();
        assert_eq!(reg.pids().unwrap().len(), 4);
        let r = reg.broadcast(Signal::Usr2).unwrap();
        assert_eq!(r.signalled, want);
        let mut pruned = r.pruned.clone();
        pruned.sort_unstable();
        let mut want_pruned = vec![dead_pid, by_pid];
        want_pruned.sort_unstable();
        assert_eq!(pruned, want_pruned);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert_eq!(reg.broadcast(Signal::Value(7)).unwrap().signalled, want);
        assert_eq!(reg.broadcast(Signal::Usr1).unwrap().signalled, want);
        // The bystander was never signalled.
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "an unrelated process was signalled"
        );
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        Peer::finish_all(clients);
        // Clients removed their entries when they exited.
        assert!(reg.pids().unwrap().is_empty());
    }

    fn bad_input_is_refused(_l: &mut Listener, dir: &std::path::Path) {
        let reg = Registry::open(&opts(dir)).unwrap();
        // Names that are not one positive pid are never signalled (0 and -1 would address
        // process groups).
        for name in ["0", "-1", "abc", "4294967295", "99999999999"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.join("subdir")).unwrap();
        let r = reg.broadcast(Signal::Usr1).unwrap();
        assert!(
            r.signalled.is_empty() && r.pruned.is_empty() && r.failed.is_empty(),
            "{r:?}"
        );
        // An entry with garbage instead of a start time is reported, not signalled.
        let me = std::process::id();
        std::fs::write(dir.join(me.to_string()), b"not a number").unwrap();
        let r = reg.broadcast(Signal::Usr1).unwrap();
        assert!(r.signalled.is_empty());
        assert_eq!(r.failed.len(), 1);
        std::fs::remove_file(dir.join(me.to_string())).unwrap();
        // Sending to a process that does not exist.
        let mut gone = Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        assert!(send(gone_pid, Signal::Usr1, &opts(dir))
            .unwrap_err()
            .is_disconnected());
        let got = send(0, Signal::Usr1, &opts(dir));
        assert!(matches!(got, Err(Error::InvalidConfig(_))), "{got:?}");
        // A second listener in one process, bad names and offsets.
        let got = Listener::new(&opts(dir));
        assert!(matches!(got, Err(Error::RoleTaken { .. })), "{got:?}");
        let got = Registry::open(&SignalOptions::new("../etc"));
        assert!(matches!(got, Err(Error::InvalidName { .. })), "{got:?}");
        let got = Registry::open(&opts(dir).rt_offset(1000));
        assert!(matches!(got, Err(Error::InvalidConfig(_))), "{got:?}");
    }
}
