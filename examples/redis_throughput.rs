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

fn main() -> ipcring::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let phases: Vec<String> = std::env::args().skip(2).collect();
    let run = |phase: &str| phases.is_empty() || phases.iter().any(|p| p == phase);
    let msg = [0x5Au8; 64];
    let tag = std::process::id();
    // No liveness entries: a bare sender, as redis-benchmark's clients are.
    let opts = RedisOptions::new().liveness_ttl(None);

    // PUBLISH, pipelined (nobody subscribed: the server's cost is the same as
    // redis-benchmark's PUBLISH).
    let mut p = Publisher::connect(&url, &format!("ipcring-bench:{tag}"), &opts)?;
    if run("publish") {
        let (n, t) = timed(budget, &mut p, &msg, Publisher::flush)?;
        println!("publish_msgs_per_s {:.0}", n as f64 / t);
    }
    // The same, 32 messages per call (`send_all`: one write for the 32).
    let batch = [msg.as_slice(); 32];
    if run("publish_batched") {
        let (n, t) = timed_batches(
            budget,
            &mut p,
            &batch,
            Publisher::send_all,
            Publisher::flush,
        )?;
        println!("publish_batched_msgs_per_s {:.0}", n as f64 / t);
    }

    // `send` again, with RedisOptions::coalesce(32) (opt-in: a returned send has only
    // queued the message; one write per 32).
    if run("publish_coalesced") {
        let copts = opts.clone().coalesce(32);
        let mut pc = Publisher::connect(&url, &format!("ipcring-bench:{tag}"), &copts)?;
        let (n, t) = timed(budget, &mut pc, &msg, Publisher::flush)?;
        println!("publish_coalesced_msgs_per_s {:.0}", n as f64 / t);
    }

    // XADD, pipelined, with the default MAXLEN ~ 100000.
    let key = format!("ipcring-bench:s:{tag}");
    let sopts = StreamOptions::new().redis(opts.clone());
    let mut tx = StreamProducer::connect(&url, &key, &sopts)?;
    if run("xadd") {
        let (added, t) = timed(budget, &mut tx, &msg, StreamProducer::flush)?;
        println!("xadd_msgs_per_s {:.0}", added as f64 / t);
    }
    if run("xadd_batched") {
        let (n, t) = timed_batches(
            budget,
            &mut tx,
            &batch,
            StreamProducer::send_all,
            StreamProducer::flush,
        )?;
        println!("xadd_batched_msgs_per_s {:.0}", n as f64 / t);
    }

    // Read back what is left in the stream (about 100 000 after trimming), in batches.
    if run("xadd_coalesced") {
        let copts = StreamOptions::new().redis(opts.clone().coalesce(32));
        let mut tc = StreamProducer::connect(&url, &key, &copts)?;
        let (n, t) = timed(budget, &mut tc, &msg, StreamProducer::flush)?;
        println!("xadd_coalesced_msgs_per_s {:.0}", n as f64 / t);
    }

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
            p.publish(&msg)?;
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

/// Sends `msg` in rounds of 1024 until `budget` passed, then flushes; (messages, seconds).
fn timed<S: Sender>(
    budget: Duration,
    tx: &mut S,
    msg: &[u8],
    flush: fn(&mut S) -> ipcring::Result<()>,
) -> ipcring::Result<(u64, f64)> {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1024 {
            tx.send(msg)?;
        }
        n += 1024;
    }
    flush(tx)?;
    Ok((n, start.elapsed().as_secs_f64()))
}

/// Sends `batch` (32 messages) with `send_all` until `budget` passed, then `flush`;
/// (messages, seconds).
fn timed_batches<S>(
    budget: Duration,
    tx: &mut S,
    batch: &[&[u8]],
    send_all: fn(&mut S, &[&[u8]]) -> ipcring::Result<()>,
    flush: fn(&mut S) -> ipcring::Result<()>,
) -> ipcring::Result<(u64, f64)> {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..32 {
            send_all(tx, batch)?;
        }
        n += 32 * batch.len() as u64;
    }
    flush(tx)?;
    Ok((n, start.elapsed().as_secs_f64()))
}
