//! The article's Alice for the RPC tests: `add` and `multiply`, plus methods that fail,
//! panic, hang or sleep, and the JSON-RPC 2.0 specification's example methods.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use ipcring::rpc::{Client, Codec, HandlerError, RpcError, Server};
use ipcring::{Receiver, Sender};
use serde::Deserialize;

static COUNTER: AtomicU64 = AtomicU64::new(0);
/// A gate that `gate_wait` waits on until `gate_open` opens it: proves two calls of one
/// client run at once (a server that runs one call at a time never gets to `gate_open`).
static GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

#[derive(Deserialize)]
struct Subtract {
    minuend: i64,
    subtrahend: i64,
}

#[derive(Deserialize)]
struct Person {
    name: String,
}

/// The article's Alice, with a few more methods for the tests.
pub fn alice<C: Codec>(codec: C) -> Server<C> {
    let mut s = Server::new(codec);
    s.register("add", |(a, b): (i64, i64)| Ok(a + b))
        .register("multiply", |(a, b): (i64, i64)| Ok(a * b))
        .register("divide", |(a, b): (i64, i64)| {
            a.checked_div(b)
                .ok_or_else(|| HandlerError::new("division by zero").with_code(-32042))
        })
        .register("subtract", |s: Subtract| Ok(s.minuend - s.subtrahend))
        .register("sum", |v: Vec<i64>| Ok(v.iter().sum::<i64>()))
        .register("get_data", |()| Ok(("hello", 5, "XYZ")))
        .register("update", |_: Vec<i64>| Ok(()))
        .register("notify_hello", |_: i64| Ok(()))
        .register("greet", |p: Person| Ok(format!("hello {}", p.name)))
        .register("boom", |msg: String| -> Result<(), HandlerError> {
            panic!("{msg}")
        })
        .register("sleep_ms", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(ms)
        })
        .register("hang", |marker: String| {
            std::fs::write(marker, b"in the handler")
                .map_err(|e| HandlerError::new(e.to_string()))?;
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        })
        .register("incr", |n: u64| {
            Ok(COUNTER.fetch_add(n, Ordering::SeqCst) + n)
        })
        .register("count", |()| Ok(COUNTER.load(Ordering::SeqCst)))
        .register("big", |n: usize| Ok(vec![7u8; n]))
        .register("gate_wait", |()| {
            let mut open = GATE.0.lock().unwrap();
            while !*open {
                open = GATE.1.wait(open).unwrap();
            }
            Ok("through the gate")
        })
        .register("gate_open", |()| {
            *GATE.0.lock().unwrap() = true;
            GATE.1.notify_all();
            Ok(())
        });
    s
}

/// Puts the calls `method(a, b)` (Alice's `add` or `multiply`), one for each pair of
/// `args`, in flight at once on `c`; then waits for each, the last sent first when
/// `last_first`, and checks its answer.
pub fn calls_in_flight<S: Sender, R: Receiver, C: Codec>(
    c: &mut Client<S, R, C>,
    method: &str,
    args: impl Iterator<Item = (i64, i64)>,
    last_first: bool,
) {
    let t = super::setup::LONG;
    let mut pending: Vec<_> = args
        .map(|(a, b)| (a, b, c.start_call::<_, i64>(method, (a, b), t).unwrap()))
        .collect();
    if last_first {
        pending.reverse();
    }
    for (a, b, p) in pending {
        let want = match method {
            "add" => a + b,
            "multiply" => a * b,
            other => panic!("{other} is not add or multiply"),
        };
        assert_eq!(c.wait(p, t).unwrap(), want, "{method}({a}, {b})");
    }
}

/// Runs `each(client, k)` for every client `k` on a thread of its own, each then adding one
/// to Alice's counter (`incr`): the counts they see are 1 to n, so one Alice served them
/// all at once, with one counter.
pub fn served_at_once<S, R, C>(clients: Vec<Client<S, R, C>>, each: fn(&mut Client<S, R, C>, i64))
where
    S: Sender + Send + 'static,
    R: Receiver + Send + 'static,
    C: Codec + Send + 'static,
{
    let n = clients.len() as u64;
    let threads: Vec<_> = clients
        .into_iter()
        .zip(0..)
        .map(|(mut c, k)| {
            std::thread::spawn(move || {
                each(&mut c, k);
                c.call::<_, u64>("incr", 1u64, super::setup::LONG).unwrap()
            })
        })
        .collect();
    let mut counts: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=n).collect::<Vec<_>>());
}

/// Alice's failures come back as what they are: `add` of two strings is `BadArguments` for
/// `add`, and the handler that panics (`boom`) is `Internal`, with the panic's message.
pub fn failures_come_back<S: Sender, R: Receiver, C: Codec>(c: &mut Client<S, R, C>) {
    let t = super::setup::LONG;
    match c.call::<_, i64>("add", ("bad", "data"), t) {
        Err(RpcError::BadArguments { method, .. }) => assert_eq!(method, "add"),
        other => panic!("add('bad', 'data') gave {other:?}"),
    }
    match c.call::<_, ()>("boom", "kaboom", t) {
        Err(RpcError::Internal { message, .. }) => assert!(message.contains("kaboom")),
        other => panic!("a panicking handler gave {other:?}"),
    }
}
