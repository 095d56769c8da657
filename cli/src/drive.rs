//! The drivers that `ipcring compare` and `ipcring-peers` share (peers/ includes this
//! file), so that both measure the same way: run-unique names, the peer process's answers,
//! the one-way stream to a sink peer, and the service peers' answering loop. The round trip
//! is `ipcring::measure::round_trip_for`, the floors `ipcring::measure::floor_*`.
//!
//! Only `std` and `ipcring` here: the file is compiled in both crates.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipcring::service::{Listener, Request};
use ipcring::{measure, Sender};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A run-unique shm name: `/{prefix}-{pid}-{tag}-{n}`.
pub fn unique(prefix: &str, tag: &str) -> String {
    format!(
        "/{prefix}-{}-{tag}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The peer process's next line on its stdout, trimmed.
pub fn read_line(out: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    match out.read_line(&mut line) {
        Ok(0) => Err("the peer exited before answering".into()),
        Ok(_) => Ok(line.trim().to_owned()),
        Err(e) => Err(format!("reading the peer's output: {e}")),
    }
}

/// A duration in nanoseconds.
pub fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Iterations to fill `budget` at `per` ns each, within bounds, a multiple of `step`.
pub fn iters_for(budget: Duration, per: f64, min: usize, max: usize, step: usize) -> usize {
    let n = if per > 0.0 {
        (ns(budget) / per) as usize
    } else {
        max
    };
    (n.clamp(min, max) / step).max(1) * step
}

/// Answers requests with `answer` until the listener, having served, has no client left
/// (the loop of every service peer: RPC calls, or [`serve_echo`]).
pub fn served_until_alone(
    l: &mut Listener,
    mut answer: impl FnMut(Request<'_>) -> ipcring::Result<()>,
) -> Result<(), String> {
    let mut served = false;
    loop {
        match l.recv_timeout(Duration::from_millis(50)) {
            Ok(req) => {
                served = true;
                answer(req).map_err(|e| e.to_string())?;
                continue;
            }
            Err(ipcring::Error::Timeout) => {}
            Err(e) => return Err(e.to_string()),
        }
        if served && l.clients() == 0 {
            return Ok(());
        }
    }
}

/// Answers each request with a copy of it (copied out, then written back over itself: the
/// work of the ring's echo peer) until the listener, having served, has no client left.
pub fn serve_echo(l: &mut Listener) -> Result<(), String> {
    let mut buf = Vec::new();
    served_until_alone(l, |req| {
        buf.clear();
        buf.extend_from_slice(&req);
        req.respond_with(&buf)
    })
}

/// Streams `size`-byte messages to a sink peer (`ipcring::measure::throughput_peer`,
/// printing `messages bytes nanoseconds` per round on `out`) for about `budget`, at most
/// `cap` bytes: (messages, messages per second), as the receiver counted and timed them.
///
/// A pilot round, then rounds of about a quarter of the budget each, until the budget is
/// spent; the rate is the total of the timed rounds, as the receiver timed them. Rounds
/// are sized by the wall-clock rate here (a small round fits in the kernel's buffers and
/// would look far faster to the receiver) and grow at most 8x from one to the next.
pub fn stream<S: Sender>(
    tx: &mut S,
    out: &mut impl BufRead,
    size: usize,
    budget: Duration,
    cap: u64,
) -> Result<(u64, f64), String> {
    // One round: `count` messages; the peer's (messages, seconds), and the round's wall
    // time here (send start to the peer's report).
    let mut round = |count: usize| -> Result<(u64, f64, f64), String> {
        let wall = Instant::now();
        measure::throughput_send(tx, size, count).map_err(|e| e.to_string())?;
        let line = read_line(out)?;
        let f: Vec<f64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match f[..] {
            [n, _bytes, t] => Ok((n as u64, t / 1e9, wall.elapsed().as_secs_f64())),
            _ => Err(format!("unexpected peer output {line:?}")),
        }
    };
    let pilot_n = if size >= 4096 { 32 } else { 256 };
    let start = Instant::now();
    let (n0, t0, w0) = round(pilot_n)?;
    let (mut n, mut t, mut wall) = (0u64, 0f64, 0f64);
    let mut last = pilot_n;
    let mut sent = n0.saturating_mul(size as u64);
    for _ in 0..8 {
        if start.elapsed() >= budget || sent >= cap {
            break;
        }
        let rate = if wall > 0.0 {
            n as f64 / wall
        } else {
            n0 as f64 / w0.max(1e-9)
        };
        let left = (cap - sent) / size as u64;
        let count = iters_for(budget / 4, 1e9 / rate.max(1.0), 1, 50_000_000, 1)
            .min(last.saturating_mul(8))
            .min(usize::try_from(left).unwrap_or(usize::MAX))
            .max(1);
        let (rn, rt, rw) = round(count)?;
        n += rn;
        t += rt;
        wall += rw;
        last = count;
        sent = sent.saturating_add(rn.saturating_mul(size as u64));
    }
    if n == 0 {
        (n, t) = (n0, t0);
    }
    Ok((n, if t > 0.0 { n as f64 / t } else { 0.0 }))
}
