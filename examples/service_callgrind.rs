//! A measuring tool, not a demo: the instructions the shared-memory service executes per
//! 64-byte round trip, both sides in one thread, so that a run under callgrind is
//! deterministic. Each round trip is the bench's (`benches/service.rs`): the client copies
//! the request in (`submit`), the server finds it (`recv`, `Spin`), answers in place
//! (`buffer` + `respond`), the client takes the answer (`wait`) and copies it out. With
//! `floor` it runs the one-line floor's loop instead (one cache line, both directions).
//!
//! Instructions per round trip = (I(2N) - I(N)) / N, which cancels setup and teardown:
//!
//! ```text
//! cargo build --release --example service_callgrind
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=cg.$n \
//!     target/release/examples/service_callgrind $n
//! done
//! callgrind_annotate cg.200000 | head -40      # where they go
//! ```
//!
//! Arguments: `N [service|floor|miss|clock]`. `miss` adds, per round trip, the polls that
//! find nothing (one by the server before the request is there, one by the client before
//! the answer is), the work a side does while it spins; `clock` runs one `Instant::now()`
//! per round (what a wait that starts its clock pays).

use std::time::Duration;

use ipcring::ring::WaitStrategy;
use ipcring::service::{Client, Listener, ServiceOptions, Ticket};
use ipcring::TryRecvError;
use std::sync::atomic::{AtomicU64, Ordering};

fn opts() -> ServiceOptions {
    ServiceOptions::new()
        .max_message(64)
        .slots(1)
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10))
}

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let mode = args.next().unwrap_or_else(|| "service".into());
    if mode == "floor" {
        floor(n);
        return Ok(());
    }
    if mode == "clock" {
        // What a wait that starts its clock pays per round trip, for comparison.
        for _ in 0..n {
            std::hint::black_box(std::time::Instant::now());
        }
        return Ok(());
    }
    let miss = mode == "miss";
    let name = format!("/ipcring-callgrind-{}", std::process::id());
    let mut l = Listener::bind(&name, &opts().max_clients(4))?;
    let connecting = std::thread::spawn({
        let name = name.clone();
        move || Client::connect(&name, &opts())
    });
    while l.clients() == 0 {
        match l.try_recv() {
            Ok(_) | Err(TryRecvError::Empty) => {}
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    let c = connecting.join().expect("connect thread")?;
    let req = [0x5Au8; 64];
    let mut out = Vec::with_capacity(64);
    for _ in 0..n {
        if miss {
            assert!(matches!(l.try_recv(), Err(TryRecvError::Empty)));
        }
        let t = client_send(&c, &req)?;
        if miss {
            assert!(!c.is_answered(&t)?);
        }
        server_answer(&mut l)?;
        client_take(&c, t, &mut out)?;
        assert_eq!(out[0], 0x5B);
    }
    Ok(())
}

// The three parts of a round trip, apart so that callgrind counts each side's share
// (`callgrind_annotate --inclusive=yes`).

#[inline(never)]
fn client_send(c: &Client, req: &[u8]) -> ipcring::Result<Ticket> {
    c.submit(req)
}

#[inline(never)]
fn server_answer(l: &mut Listener) -> ipcring::Result<()> {
    let mut r = l.recv()?;
    let len = r.len();
    let b = r.buffer();
    b[0] = b[0].wrapping_add(1);
    r.respond(len)
}

#[inline(never)]
fn client_take(c: &Client, t: Ticket, out: &mut Vec<u8>) -> ipcring::Result<()> {
    let a = c.wait(t)?;
    out.clear();
    out.extend_from_slice(&a);
    Ok(())
}

/// The one-line floor's loop as `measure::floor_spin` and its peer run it, both sides in
/// one thread: the pinger stores its round trip's number in the line; the peer, seeing a new
/// number, stores it back in the same line (`pong`); the pinger sees its number come back.
fn floor(n: u64) {
    let line = [AtomicU64::new(0), AtomicU64::new(0)];
    let (ping, pong) = (&line[0], &line[1]);
    let mut last = 0;
    for i in 1..=n {
        ping.store(i, Ordering::Release);
        // The peer.
        let v = ping.load(Ordering::Acquire);
        if v != last {
            pong.store(v, Ordering::Release);
            last = v;
        }
        // The pinger.
        while pong.load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
    }
}
