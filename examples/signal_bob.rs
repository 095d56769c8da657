//! Bob, a client of the article's service: registers his pid with Alice's registry and
//! keeps track of whether her service runs, from SIGUSR1 (off) and SIGUSR2 (on); he also
//! prints numbers she queues on the real-time signal. Ctrl-C removes his registration and
//! exits.
//!
//! ```text
//! cargo run --features signal --example signal_bob        # terminal 1 (either order)
//! cargo run --features signal --example signal_alice      # terminal 2
//! kill -USR1 <Bob's pid>                                  # from any shell works too
//! ```
use std::time::Duration;

use ipcring::signal::{Listener, Registry, Signal, SignalOptions};
use ipcring::Error;

fn main() -> ipcring::Result<()> {
    let opts = SignalOptions::new("my_service");
    // First, on the main thread: the listener (signals are blocked and read in order).
    let mut events = Listener::new(&opts)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for s in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(s, std::sync::Arc::clone(&stop))?;
    }
    let registry = Registry::open(&opts)?;
    let _registration = registry.register()?;
    println!(
        "Bob (pid {}) registered in {}",
        std::process::id(),
        registry.dir().display()
    );
    let mut service_running = false;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let ev = match events.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => ev,
            Err(Error::Timeout) => continue,
            Err(e) => return Err(e),
        };
        match ev.signal {
            Signal::Usr1 => service_running = false,
            Signal::Usr2 => service_running = true,
            Signal::Value(v) => println!("Alice sent {v} (from pid {})", ev.sender_pid),
        }
        println!("service is {}", if service_running { "on" } else { "off" });
    }
    Ok(())
}
