//! The article's shared-memory writer, done right: a named seqlock cell instead of a bare
//! mmap'd file. Readers never see half a write, know how many updates they missed, and
//! sleep (no polling) until the value changes.
//!
//! ```text
//! cargo run --example state_writer  [NAME] [UPDATES]     # terminal 1 (either order)
//! cargo run --example state_watcher [NAME]               # terminal 2, 3, ...
//! ```
use std::time::Duration;

#[path = "support/state.rs"]
mod state;

use bytemuck::Zeroable;
use ipcring::seqlock::{SeqlockOptions, Writer};
use state::{State, DEFAULT_NAME, STATE_TAG};

fn state(counter: u64, text: &str) -> State {
    let mut s = State::zeroed();
    let n = text.len().min(s.text.len());
    s.text[..n].copy_from_slice(&text.as_bytes()[..n]);
    s.len = n as u32;
    s.counter = counter;
    s
}

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| DEFAULT_NAME.into());
    let updates: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let opts = SeqlockOptions::new()
        .type_tag(STATE_TAG)
        .reclaim_stale(true); // a leftover of a killed run is reused
    let mut w = Writer::<State>::open_or_create(&name, &opts)?;
    let first = w.version();

    let v = w.write(&state(1, "now we are in memory"));
    println!("wrote version {v}: now we are in memory");
    std::thread::sleep(Duration::from_secs(2));
    let v = w.write(&state(2, "again"));
    println!("wrote version {v}: again");
    for i in 0..updates {
        std::thread::sleep(Duration::from_millis(500));
        // A burst: a watcher that only looks at the latest value sees it missed some.
        for k in 0..3 {
            w.write(&state(3 + i * 3 + k, &format!("update {i}.{k}")));
        }
        println!("wrote versions up to {}", w.version());
    }
    println!(
        "done: {} writes; readers attached now: {}",
        w.version() - first,
        w.readers_attached()?
    );
    Ok(())
}
