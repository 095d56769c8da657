//! What the ring examples' Alices and Bobs share (blocking `ring_*` and tokio `async_*`:
//! same rings, same wire), included by each with `#[path = "support/rings.rs"] mod rings;`.
#![allow(dead_code)]

use ipcring::ring::RingOptions;
use ipcring::{segment, Error};

/// The channel's name: `IPCRING_EXAMPLE_NAME`, else `/ipcring-example` (its two rings are
/// `<name>.ab` and `<name>.ba`).
pub fn name() -> String {
    std::env::var("IPCRING_EXAMPLE_NAME").unwrap_or_else(|_| "/ipcring-example".into())
}

/// The rings both sides open: 64 KiB, kept when one side leaves (Alice removes them).
pub fn opts() -> RingOptions {
    RingOptions::new().capacity(1 << 16).keep(true)
}

/// Bob's messages: the article's "gobbledygook" machine output.
pub const MESSAGES: [&str; 3] = [
    "TERRIBLE_LOOKING-MACHINE_OUTPUT",
    "Howdy",
    "ANOTHER-ONE_BITES_THE-DUST",
];

/// Alice's answer to a message.
pub fn converter(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .replace(['_', '-'], " ")
        .to_lowercase()
}

/// Removes the two rings' names. Forced: Alice owns the channel, and a Bob still attached
/// keeps his mapping and sees her leave. A ring already gone is fine.
pub fn remove_rings(name: &str) {
    for ring in [format!("{name}.ab"), format!("{name}.ba")] {
        match segment::remove(&ring, true) {
            Ok(_) | Err(Error::NotFound(_)) => println!("alice: removed {ring}"),
            Err(e) => eprintln!("alice: could not remove {ring}: {e}"),
        }
    }
}

/// On SIGINT or SIGTERM, removes the rings and exits (128 + the signal, as a shell reports a
/// process killed by it).
pub fn remove_rings_on_signal(name: &str) -> ipcring::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let name = name.to_owned();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            remove_rings(&name);
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Bob giving up: removes the rings unless a live Alice holds them (not forced).
pub fn bob_gives_up(name: &str) {
    for ring in [format!("{name}.ab"), format!("{name}.ba")] {
        let _ = segment::remove(&ring, false);
    }
}
