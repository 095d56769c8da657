//! POSIX message queue Alice: the service. Like the article's Redis Alice, she waits for
//! messages and prints them; a message `stop` ends her (and she removes the queue).
//!
//! ```text
//! cargo run --example mq_alice --features mq -- [QUEUE]      # default /ipcring-example
//! ```
//! Start her before or after Bob: whoever comes first creates the queue, and it keeps
//! Bob's messages until Alice reads them.

use ipcring::mq::{MessageQueue, MqOptions};

fn main() -> ipcring::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/ipcring-example".to_owned());
    let mut q = MessageQueue::open_or_create(&name, &MqOptions::new().keep(true))?;
    println!("waiting for messages on {name}");
    let mut buf = Vec::new();
    loop {
        let priority = q.recv_priority_into(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        if text == "stop" {
            println!("Goodbye");
            break;
        }
        println!("{text} (priority {priority})");
    }
    MessageQueue::unlink(&name)
}
