//! Async (tokio) against blocking round trips, for the ring and the socket, between two
//! real processes, each figure beside the machine's floor (these machines are shared and
//! noisy: ratios hold, absolute figures drift). Run:
//! `cargo bench --features async,socket --bench async_ring` (`-- --quick` for a short run).
//!
//! The interesting line is "peer asleep": both sides have gone past their spin and sleep,
//! so each message costs a wake-up; for the async ring that wake goes futex -> blocking-pool
//! thread -> tokio task, against futex -> thread for the blocking ring.
//!
//! This binary re-executes itself as the peer (env `IPCRING_BENCH_PEER`).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use ipcring::measure::{self, Stats, BATCH};
use ipcring::ring::async_duplex as aduplex;
use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::socket::{AsyncConnection, AsyncListener};
use ipcring::socket::{Connection, Listener, SocketOptions};
use ipcring::transport::{AsyncReceiver, AsyncSender};
use ipcring::{Error, Result};
use support::{against_peer, divisor, floor_futex, floor_spin, uniq};

/// The prefix of the segment names this bench creates.
const NAMES: &str = "/ipcring-abench";

fn ropts() -> RingOptions {
    RingOptions::new()
        .capacity(1 << 20)
        .open_timeout(Duration::from_secs(10))
}

fn sopts() -> SocketOptions {
    SocketOptions::new()
        .no_authkey()
        .connect_timeout(Duration::from_secs(10))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn async_echo<S: AsyncSender, R: AsyncReceiver>(tx: &mut S, rx: &mut R) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        match rx.recv_into(&mut buf).await {
            Ok(()) => tx.send(&buf).await?,
            Err(Error::Disconnected) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// [`measure::round_trip`], awaited.
async fn async_round_trip<S: AsyncSender, R: AsyncReceiver>(
    tx: &mut S,
    rx: &mut R,
    size: usize,
    iters: usize,
    pause: Option<Duration>,
) -> Result<Stats> {
    let msg = vec![0xA5u8; size];
    let mut buf = Vec::with_capacity(size);
    for _ in 0..(iters / 10).max(1) {
        tx.send(&msg).await?;
        rx.recv_into(&mut buf).await?;
    }
    let per = if pause.is_some() { 1 } else { BATCH };
    let mut batches = Vec::with_capacity(iters / per + 1);
    for _ in 0..(iters / per).max(1) {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        let t = Instant::now();
        for _ in 0..per {
            tx.send(&msg).await?;
            rx.recv_into(&mut buf).await?;
        }
        batches.push(t.elapsed());
    }
    Ok(Stats::from_batches(batches, per))
}

fn peer(role: &str, name: &str, _extra: &str) {
    match role {
        "floor-spin" => measure::floor_spin_peer(name).unwrap(),
        "floor-futex" => measure::floor_futex_peer(name).unwrap(),
        "ring-blocking" => {
            let (mut tx, mut rx) = duplex(name, Side::B, &ropts()).unwrap();
            measure::echo_peer(&mut tx, &mut rx).unwrap();
        }
        "ring-async" => rt().block_on(async {
            let (mut tx, mut rx) = aduplex(name, Side::B, &ropts()).unwrap();
            async_echo(&mut tx, &mut rx).await.unwrap();
        }),
        "sock-blocking" => {
            let l = Listener::bind(name, &sopts()).unwrap();
            let (mut tx, mut rx) = l.accept().unwrap().into_split();
            measure::echo_peer(&mut tx, &mut rx).unwrap();
        }
        "sock-async" => rt().block_on(async {
            let l = AsyncListener::bind(name, &sopts()).unwrap();
            let (mut tx, mut rx) = l.accept().await.unwrap().into_split();
            async_echo(&mut tx, &mut rx).await.unwrap();
        }),
        _ => panic!("unknown peer role {role}"),
    }
}

fn ring(asyncly: bool, iters: usize, pause: Option<Duration>) -> Stats {
    if asyncly {
        against_peer("ring-async", &uniq("ra"), |name| {
            rt().block_on(async {
                let (mut tx, mut rx) = aduplex(name, Side::A, &ropts()).unwrap();
                async_round_trip(&mut tx, &mut rx, 64, iters, pause)
                    .await
                    .unwrap()
            })
        })
    } else {
        against_peer("ring-blocking", &uniq("rb"), |name| {
            let (mut tx, mut rx) = duplex(name, Side::A, &ropts()).unwrap();
            measure::round_trip(&mut tx, &mut rx, 64, iters, pause).unwrap()
        })
    }
}

fn socket(asyncly: bool, iters: usize, pause: Option<Duration>) -> Stats {
    let addr = format!(
        "@{}",
        uniq(if asyncly { "sa" } else { "sb" }).trim_start_matches('/')
    );
    if asyncly {
        against_peer("sock-async", &addr, |addr| {
            rt().block_on(async {
                let (mut tx, mut rx) = AsyncConnection::connect(addr, &sopts())
                    .await
                    .unwrap()
                    .into_split();
                async_round_trip(&mut tx, &mut rx, 64, iters, pause)
                    .await
                    .unwrap()
            })
        })
    } else {
        against_peer("sock-blocking", &addr, |addr| {
            let (mut tx, mut rx) = Connection::connect(addr, &sopts()).unwrap().into_split();
            measure::round_trip(&mut tx, &mut rx, 64, iters, pause).unwrap()
        })
    }
}

fn us(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e3
}

fn line(what: &str, s: Stats, floor: f64) {
    println!(
        "{:<52} {:>9.2}us {:>9.2}us {:>9.2}",
        what,
        us(s.p50),
        us(s.p99),
        us(s.p50) / floor
    );
}

fn main() {
    if support::run_peer(peer) {
        return;
    }
    let k = divisor();
    println!("ipcring async vs blocking round trips, 64 B, two processes.");
    println!(
        "{:<52} {:>11} {:>11} {:>9}",
        "round trip", "p50", "p99", "p50/floor"
    );

    let hot = 200_000 / k;
    let f1 = floor_spin(hot);
    let rb = ring(false, hot, None);
    let ra = ring(true, hot, None);
    let f2 = floor_spin(hot);
    let floor = us(f1.p50).min(us(f2.p50));
    line("floor: cache-line ping-pong", f1, floor);
    line("ring, blocking, peer answers at once", rb, floor);
    line("ring, async (tokio), peer answers at once", ra, floor);

    let n = 3000 / k;
    let pause = Some(Duration::from_micros(300));
    let g1 = floor_futex(n, pause);
    let rbs = ring(false, n, pause);
    let ras = ring(true, n, pause);
    let g2 = floor_futex(n, pause);
    let ffloor = us(g1.p50).min(us(g2.p50));
    line("floor: futex ping-pong, 300us apart", g1, ffloor);
    line("ring, blocking, 300us apart (peer asleep)", rbs, ffloor);
    line("ring, async, 300us apart (peer asleep)", ras, ffloor);

    let sn = 50_000 / k;
    let sb = socket(false, sn, None);
    let sa = socket(true, sn, None);
    line("unix socket, blocking", sb, ffloor);
    line("unix socket, async (AsyncFd)", sa, ffloor);
    let sbs = socket(false, n, pause);
    let sas = socket(true, n, pause);
    line("unix socket, blocking, 300us apart", sbs, ffloor);
    line("unix socket, async, 300us apart", sas, ffloor);
}
