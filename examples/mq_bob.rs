//! POSIX message queue Bob: pushes a message to Alice's queue, like the article's Redis Bob
//! publishing `example data`.
//!
//! ```text
//! cargo run --example mq_bob --features mq -- [QUEUE] [MESSAGE] [PRIORITY]
//! ```
//! Defaults: `/ipcring-example`, `example data`, priority 0. Send `stop` to end Alice.

use ipcring::mq::{MessageQueue, MqOptions};

fn main() -> ipcring::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "/ipcring-example".to_owned());
    let message = args.next().unwrap_or_else(|| "example data".to_owned());
    let priority: u32 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    // keep(true): the queue (and this message) must outlive Bob until Alice reads it.
    let mut q = MessageQueue::open_or_create(&name, &MqOptions::new().keep(true))?;
    q.send_priority(message.as_bytes(), priority)?;
    println!("sent {message:?} to {name}");
    Ok(())
}
