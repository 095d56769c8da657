//! RPC methods: a call is a request and its reply over a transport pair, so they are
//! measured with calls rather than the byte drivers. The peer serves `echo` (returns its
//! argument) and `sink` (returns the argument's length).
//!
//! - round trip: one `echo` call of 64 bytes at a time, timed one by one, for the budget;
//! - throughput: `sink` calls with [`WINDOW`] in flight (`start_call` / `wait`), payload
//!   one way, counted at the caller when their replies are in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ipcring::measure::Stats;
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, Server};
use ipcring::service::Listener;
use ipcring::{Receiver, Sender};

/// Calls in flight in a throughput run.
pub const WINDOW: usize = 32;

const T: Duration = Duration::from_secs(30);

/// Which codec an RPC method uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCodec {
    /// The compact binary codec.
    Binary,
    /// JSON-RPC 2.0.
    Json,
}

/// Runs `$body` with `$c` bound to the codec value `$codec` names (each arm is its own
/// monomorphisation: the codecs are types, `RpcCodec` a run-time choice).
macro_rules! with_codec {
    ($codec:expr, |$c:ident| $body:expr) => {
        match $codec {
            RpcCodec::Binary => {
                let $c = BinaryCodec;
                $body
            }
            RpcCodec::Json => {
                let $c = JsonCodec;
                $body
            }
        }
    };
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The peer's server: `echo` returns its argument, `sink` its length.
fn echo_sink<C: Codec>(c: C) -> Server<C> {
    let mut s = Server::new(c);
    s.register("echo", |(b,): (Vec<u8>,)| Ok(b))
        .register("sink", |(b,): (Vec<u8>,)| Ok(b.len() as u64));
    s
}

/// Serves `echo` and `sink` until the caller is gone.
pub fn serve(codec: RpcCodec, tx: impl Sender, rx: impl Receiver) -> Result<(), String> {
    with_codec!(codec, |c| echo_sink(c).serve(tx, rx).map_err(text))
}

/// Serves `echo` and `sink` to the clients of a service listener, each reply written over
/// its request, until its client has gone.
pub fn serve_service(codec: RpcCodec, l: &mut Listener) -> Result<(), String> {
    with_codec!(codec, |c| {
        let s = echo_sink(c);
        let mut out = Vec::new();
        crate::drive::served_until_alone(l, |req| {
            if s.handle_frame(&req, &mut out) {
                req.respond_with(&out)
            } else {
                req.respond(0)
            }
        })
    })
}

/// Round trips of `echo(size bytes)`, sized to `budget` by a pilot.
pub fn round_trip(
    codec: RpcCodec,
    tx: impl Sender,
    rx: impl Receiver,
    size: usize,
    budget: Duration,
) -> Result<Stats, String> {
    with_codec!(codec, |c| {
        let mut client = Client::new(tx, rx, c);
        let payload = vec![0xA5u8; size];
        let mut call = || -> Result<Duration, String> {
            let t = Instant::now();
            let back: Vec<u8> = client.call("echo", (&payload,), T).map_err(text)?;
            let d = t.elapsed();
            if back.len() != size {
                return Err(format!("echo of {} bytes for {size}", back.len()));
            }
            Ok(d)
        };
        // A tenth of the budget warms up, then calls one by one until it is spent.
        let warm = Instant::now() + budget / 10;
        while Instant::now() < warm {
            call()?;
        }
        let end = Instant::now() + budget;
        let mut times = Vec::new();
        while Instant::now() < end && times.len() < 5_000_000 {
            times.push(call()?);
        }
        Ok(Stats::from_batches(times, 1))
    })
}

/// `sink(size bytes)` calls with [`WINDOW`] in flight for about `budget` (at most
/// `max_calls`): (calls completed, calls per second).
pub fn throughput(
    codec: RpcCodec,
    tx: impl Sender,
    rx: impl Receiver,
    size: usize,
    budget: Duration,
    max_calls: u64,
) -> Result<(u64, f64), String> {
    with_codec!(codec, |c| {
        let mut client = Client::new(tx, rx, c);
        let payload = vec![0x5Au8; size];
        let mut pending = VecDeque::with_capacity(WINDOW);
        let (mut started, mut done) = (0u64, 0u64);
        let t = Instant::now();
        loop {
            let more = started < max_calls && (started % 16 != 0 || t.elapsed() < budget);
            if !more && pending.is_empty() {
                break;
            }
            if pending.len() == WINDOW || (!more && !pending.is_empty()) {
                let p = pending.pop_front().expect("not empty");
                let n: u64 = client.wait(p, T).map_err(text)?;
                if n != size as u64 {
                    return Err(format!("sink counted {n} bytes for {size}"));
                }
                done += 1;
                continue;
            }
            pending.push_back(
                client
                    .start_call::<_, u64>("sink", (&payload,), T)
                    .map_err(text)?,
            );
            started += 1;
        }
        Ok((done, done as f64 / t.elapsed().as_secs_f64()))
    })
}
