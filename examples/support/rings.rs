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

/// Alice's answer to what she received: the message converted, or `None` once Bob has left
/// ([`Error::Disconnected`]: his end is closed and everything he sent was read).
pub fn reply(
    received: ipcring::Result<impl std::ops::Deref<Target = [u8]>>,
) -> ipcring::Result<Option<String>> {
    match received {
        Ok(message) => Ok(Some(
            String::from_utf8_lossy(&message)
                .replace(['_', '-'], " ")
                .to_lowercase(),
        )),
        Err(Error::Disconnected) => Ok(None),
        Err(e) => Err(e),
    }
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
/// process killed by it). Alice calls it each time she holds the rings (not before: a second
/// Alice, refused with `RoleTaken`, must not remove the first one's rings); the first call
/// arms it, later ones do nothing.
pub fn remove_rings_on_signal(name: &str) -> ipcring::Result<()> {
    static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if ARMED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
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
