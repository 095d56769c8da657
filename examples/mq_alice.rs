//! POSIX message queue Alice: the service. Like the article's Redis Alice, she waits for
//! messages and prints them; a message `stop` ends her (and she removes the queue).
//!
//! ```text
//! cargo run --example mq_alice --features mq -- [QUEUE]      # default /ipcring-example
//! ```
//! Start her before or after Bob: whoever comes first creates the queue, and it keeps
//! Bob's messages until Alice reads them. Any number of Bobs may come and go meanwhile.

use ipcring::mq::{MessageQueue, MqOptions};

fn main() -> ipcring::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/ipcring-example".to_owned());
    // She serves Bob after Bob until one says `stop`: a Bob leaving is not the end of her
    // service, so she does not watch for her peers' death (liveness off; a Bob's wait still
    // ends with Disconnected if she dies).
    let opts = MqOptions::new().keep(true).liveness(false);
    let mut q = MessageQueue::open_or_create(&name, &opts)?;
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
