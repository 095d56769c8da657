//! How fast the Redis senders go against one server: 64-byte messages published
//! (`Publisher`, pipelined), added to a stream (`StreamProducer`, pipelined), read back and
//! acknowledged in batches (`StreamConsumer`), and the round trip of one `publish` that
//! waits for its reply (what `redis-cli --latency` measures with `PING`).
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --release --features redis --example redis_throughput [SECONDS [PHASE...]]
//! ```
//!
//! Prints one `key value` line per figure (messages/s, microseconds). PHASE picks what runs
//! (`publish`, `publish_batched`, `publish_coalesced`, `xadd`, `xadd_batched`,
//! `xadd_coalesced`, `xreadgroup`, `rtt`; all by
//! default), e.g. to count system calls of one phase under `strace -c -f`.
//! `scripts/redis-bench.sh` runs it beside `redis-benchmark` and `redis-cli --latency`
//! against a server of its own and prints the ratios.

use std::time::{Duration, Instant};

use ipcring::redis::{Publisher, RedisOptions, StreamConsumer, StreamOptions, StreamProducer};
use ipcring::{Receiver, Sender};

/// The message every phase sends.
const MSG: [u8; 64] = [0x5A; 64];

fn main() -> ipcring::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let phases: Vec<String> = std::env::args().skip(2).collect();
    let run = |phase: &str| phases.is_empty() || phases.iter().any(|p| p == phase);
    let tag = std::process::id();
    // No liveness entries: a bare sender, as redis-benchmark's clients are.
    let opts = RedisOptions::new().liveness_ttl(None);

    // PUBLISH, pipelined (nobody subscribed: the server's cost is the same as
    // redis-benchmark's PUBLISH).
    let channel = format!("ipcring-bench:{tag}");
    let mut p = Publisher::connect(&url, &channel, &opts)?;
    let coalesced = opts.clone().coalesce(32);
    send_phases(
        "publish",
        &run,
        budget,
        &mut p,
        || Publisher::connect(&url, &channel, &coalesced),
        Publisher::send_all,
        Publisher::flush,
    )?;

    // XADD, pipelined, with the default MAXLEN ~ 100000.
    let key = format!("ipcring-bench:s:{tag}");
    let sopts = StreamOptions::new().redis(opts.clone());
    let mut tx = StreamProducer::connect(&url, &key, &sopts)?;
    send_phases(
        "xadd",
        &run,
        budget,
        &mut tx,
        || StreamProducer::connect(&url, &key, &StreamOptions::new().redis(coalesced.clone())),
        StreamProducer::send_all,
        StreamProducer::flush,
    )?;

    // Read back what is left in the stream (about 100 000 after trimming), in batches.
    if run("xreadgroup") {
        let mut rx = StreamConsumer::connect(&url, &key, "bench", "c1", &sopts)?;
        let mut buf = Vec::new();
        let start = Instant::now();
        let mut got = 0u64;
        loop {
            match rx.try_recv_into(&mut buf) {
                Ok(()) => got += 1,
                Err(ipcring::TryRecvError::Empty) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let t = start.elapsed().as_secs_f64();
        rx.commit()?;
        println!("xreadgroup_msgs_per_s {:.0}", got as f64 / t);
    }

    // One command's round trip: publish() waits for its reply.
    if run("rtt") {
        let mut rtts = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget {
            let t = Instant::now();
            p.publish(&MSG)?;
            rtts.push(t.elapsed());
        }
        rtts.sort();
        let mean = rtts.iter().sum::<Duration>() / rtts.len().max(1) as u32;
        println!("publish_rtt_p50_us {:.1}", us(rtts[rtts.len() / 2]));
        println!("publish_rtt_mean_us {:.1}", us(mean));
    }

    // Leave nothing behind.
    let mut c = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .map_err(|e| ipcring::Error::Redis(e.to_string().into()))?;
    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&key).query(&mut c);
    Ok(())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The phases `label` (`send`, one message a call), `{label}_batched` (`send_all`, 32 a
/// call: one write for the 32) and `{label}_coalesced` (`send` on the sender `coalesced`
/// connects, with RedisOptions::coalesce(32): a returned send has only queued the message;
/// one write per 32), each that `run` picks timed over `budget`, flush included.
fn send_phases<S: Sender>(
    label: &str,
    run: &dyn Fn(&str) -> bool,
    budget: Duration,
    tx: &mut S,
    coalesced: impl FnOnce() -> ipcring::Result<S>,
    send_all: fn(&mut S, &[&[u8]]) -> ipcring::Result<()>,
    flush: fn(&mut S) -> ipcring::Result<()>,
) -> ipcring::Result<()> {
    let batch = [MSG.as_slice(); 32];
    if run(label) {
        timed(label, budget, tx, 1, |tx| tx.send(&MSG), flush)?;
    }
    let phase = format!("{label}_batched");
    if run(&phase) {
        timed(&phase, budget, tx, 32, |tx| send_all(tx, &batch), flush)?;
    }
    let phase = format!("{label}_coalesced");
    if run(&phase) {
        let mut tc = coalesced()?;
        timed(&phase, budget, &mut tc, 1, |tx| tx.send(&MSG), flush)?;
    }
    Ok(())
}

/// Calls `send` (`per_call` messages a call) until `budget` passed, reading the clock every
/// 1024 messages, then `flush`; prints `{phase}_msgs_per_s`.
fn timed<S>(
    phase: &str,
    budget: Duration,
    tx: &mut S,
    per_call: u64,
    mut send: impl FnMut(&mut S) -> ipcring::Result<()>,
    flush: fn(&mut S) -> ipcring::Result<()>,
) -> ipcring::Result<()> {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1024 / per_call {
            send(tx)?;
        }
        n += 1024 / per_call * per_call;
    }
    flush(tx)?;
    let t = start.elapsed().as_secs_f64();
    println!("{phase}_msgs_per_s {:.0}", n as f64 / t);
    Ok(())
}
