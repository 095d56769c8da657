//! Subscribes to a broadcast ring and prints every message, and every loss. Start it before
//! or after `broadcast_publisher`; it waits for a publisher and survives restarts.
//!
//! ```text
//! cargo run --example broadcast_subscriber [NAME] [MESSAGES]
//! ```
use std::time::Duration;

use ipcring::broadcast::{BroadcastOptions, Recv, Start, Subscriber};
use ipcring::Error;

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "/ipcring-channel".into());
    let mut left: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(u64::MAX);
    let opts = BroadcastOptions::new()
        .start(Start::Oldest)
        .open_timeout(Duration::from_secs(3600));
    let mut buf = Vec::new();
    'attach: loop {
        println!("waiting for {name} ...");
        let mut s = Subscriber::open(&name, &opts)?;
        loop {
            match s.recv_into(&mut buf) {
                Ok(Recv::Message(n)) => {
                    println!("#{n}: {}", String::from_utf8_lossy(&buf));
                    left = left.saturating_sub(1);
                    if left == 0 {
                        return Ok(());
                    }
                }
                Ok(Recv::Lagged(n)) => println!("(lost {n} messages: too slow)"),
                Err(Error::Disconnected) => {
                    println!("publisher gone");
                    std::thread::sleep(Duration::from_millis(200));
                    continue 'attach;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
