//! The article's socket Bob: asks Alice for 8 * 8, prints the answer, then stops her.
//!
//! ```text
//! cargo run --example socket_bob --features socket -- [ADDRESS] [AUTHKEY]
//! ```
//! Defaults: `localhost:6000` and `Do not let eve find us!`, so it works against the
//! article's Python Alice unchanged. Started before Alice, it waits for her (up to 10 s).

#[path = "support/socket_args.rs"]
mod socket_args;

use ipcring::socket::pickle::Value;
use ipcring::socket::{Connection, SocketOptions};

fn main() -> ipcring::Result<()> {
    let (address, authkey) = socket_args::address_and_authkey();
    let opts = SocketOptions::new().authkey(authkey);

    {
        let mut conn = Connection::connect(address.as_str(), &opts)?;
        conn.send_pickle(&vec![8, 8])?; // a Vec is a Python list (an array would be a tuple)
        let answer: Value = conn.recv_value()?;
        println!("What is 8 * 8? Why Alice told me it's {answer}");
    }

    // We have to connect again because Alice can only handle one request at a time
    // (the article's Python Alice; ours could take it on the same connection).
    let mut conn = Connection::connect(address.as_str(), &opts)?;
    // Bob's a party pooper and going to end it for everyone
    conn.send_value(&Value::Bytes(b"stop server".to_vec()))?;
    Ok(())
}
