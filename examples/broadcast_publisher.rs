//! The article's publish/subscribe, without a broker: a broadcast ring in shared memory.
//! The publisher never waits for subscribers; slow ones learn how many messages they lost.
//!
//! ```text
//! cargo run --example broadcast_publisher  [NAME] [COUNT]   # terminal 1 (either order)
//! cargo run --example broadcast_subscriber [NAME]           # terminals 2, 3, ...
//! ```
use std::time::Duration;

use ipcring::broadcast::{BroadcastOptions, Publisher};

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "/ipcring-channel".into());
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let opts = BroadcastOptions::new()
        .slots(16)
        .max_message(256)
        .reclaim_stale(true); // a leftover of a killed run is reused
    let mut p = Publisher::open_or_create(&name, &opts)?;
    for i in 0..count {
        let msg = format!("example data {i}");
        let n = p.publish(msg.as_bytes())?;
        println!("published #{n}: {msg}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // A burst larger than the ring: subscribers that are not quick enough see Lagged.
    for i in 0..40u32 {
        p.publish(format!("burst {i}").as_bytes())?;
    }
    println!("published a burst of 40; total {}", p.published());
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}
