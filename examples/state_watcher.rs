//! The article's shared-memory reader, done right: prints the value each time it changes,
//! sleeping on a futex in between (no polling), and says how many updates it missed.
//! Start it before or after `state_writer`; it waits for a writer and survives restarts.
//!
//! ```text
//! cargo run --example state_watcher [NAME] [CHANGES]
//! ```
use std::time::Duration;

#[path = "support/state.rs"]
mod state;

use ipcring::seqlock::{Reader, SeqlockOptions};
use ipcring::Error;
use state::{State, DEFAULT_NAME, STATE_TAG};

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| DEFAULT_NAME.into());
    let mut changes: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(u64::MAX);
    let opts = SeqlockOptions::new()
        .type_tag(STATE_TAG)
        .open_timeout(Duration::from_secs(3600));
    'attach: loop {
        println!("waiting for {name} ...");
        let r = Reader::<State>::open(&name, &opts)?;
        let mut last = r.version();
        if last > 0 {
            let s = r.read()?;
            show(&s.value, s.version, 0);
        }
        loop {
            match r.wait_changed(last, Duration::MAX) {
                Ok(s) => {
                    show(&s.value, s.version, s.missed_since(last));
                    last = s.version;
                    changes = changes.saturating_sub(1);
                    if changes == 0 {
                        return Ok(());
                    }
                }
                Err(Error::Disconnected) => {
                    println!("writer gone (last version {last})");
                    // The writer removed the name when it exited; wait for the next one.
                    std::thread::sleep(Duration::from_millis(200));
                    continue 'attach;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn show(s: &State, version: u64, missed: u64) {
    let len = (s.len as usize).min(s.text.len());
    let text = String::from_utf8_lossy(&s.text[..len]);
    if missed > 0 {
        println!("v{version} (missed {missed}): #{} {text}", s.counter);
    } else {
        println!("v{version}: #{} {text}", s.counter);
    }
}
