//! Alice, the article's service that tells its clients when it goes up or down, with
//! signals.
//!
//! On start she sends SIGUSR2 ("on") to every pid registered in the `my_service` registry,
//! and SIGUSR1 ("off") when stopped with Ctrl-C (or SIGTERM). Stale entries (clients that
//! died without cleaning up) are pruned on each broadcast. With an integer argument she
//! instead queues that number to every client on a real-time signal and exits.
//!
//! ```text
//! cargo run --features signal --example signal_bob        # terminal 1 (any number of Bobs)
//! cargo run --features signal --example signal_alice      # terminal 2: Bob prints "service is on"
//! cargo run --features signal --example signal_alice 42   # Bob prints "Alice sent 42"
//! ```
//!
//! (The article's Alice sends SIGUSR1 on start while its client reads SIGUSR1 as "off"; here
//! on is SIGUSR2 and off is SIGUSR1 on both sides, as the client's handlers say.)
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipcring::signal::{Registry, Signal, SignalOptions};

fn let_them_know(reg: &Registry, signal: Signal) -> ipcring::Result<()> {
    let r = reg.broadcast(signal)?;
    println!(
        "Alice sent {signal:?} to {:?} (pruned stale {:?})",
        r.signalled, r.pruned
    );
    for (pid, why) in r.failed {
        eprintln!("could not signal {pid}: {why}");
    }
    Ok(())
}

fn main() -> ipcring::Result<()> {
    let reg = Registry::open(&SignalOptions::new("my_service"))?;
    if let Some(arg) = std::env::args().nth(1) {
        let v: i32 = arg
            .parse()
            .map_err(|_| ipcring::Error::InvalidConfig(format!("{arg:?} is not an i32").into()))?;
        return let_them_know(&reg, Signal::Value(v));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for s in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(s, Arc::clone(&stop))?;
    }
    println!(
        "Alice's service is up (registry {}); Ctrl-C to stop",
        reg.dir().display()
    );
    let_them_know(&reg, Signal::Usr2)?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let_them_know(&reg, Signal::Usr1)?;
    Ok(())
}
