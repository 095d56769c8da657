//! The article's socket Alice: hosts a server party and executes incoming requests.
//!
//! A pickled list `[a, b]` gets `a * b` back, the pickled bytes `b'stop server'` stops the
//! server, anything else gets `b'I have no idea what you want me to do'`. Unlike the
//! article's Python Alice, this one serves many clients at once, and each connection may
//! carry many requests.
//!
//! ```text
//! cargo run --example socket_alice --features socket -- [ADDRESS] [AUTHKEY]
//! ```
//! Defaults: `localhost:6000` and `Do not let eve find us!`, so the article's Python Bob
//! works against it unchanged. ADDRESS may also be a Unix path or `@abstract-name`.

#[path = "support/socket_args.rs"]
mod socket_args;

use ipcring::socket::pickle::{self, Value};
use ipcring::socket::{Flow, Listener, SocketOptions};
use ipcring::Receiver;

fn function_to_execute(args: &[Value]) -> Option<Value> {
    match args {
        [Value::I64(a), Value::I64(b)] => a.checked_mul(*b).map(Value::I64),
        [Value::F64(a), Value::F64(b)] => Some(Value::F64(a * b)),
        _ => None,
    }
}

fn main() -> ipcring::Result<()> {
    let (address, authkey) = socket_args::address_and_authkey();
    let listener = Listener::bind(address.as_str(), &SocketOptions::new().authkey(authkey))?;
    println!("waiting for someone to ask for something");
    listener.serve(|conn| {
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("refused a client: {e}");
                return Ok(Flow::Continue);
            }
        };
        loop {
            let msg = match conn.recv() {
                Ok(m) => m,
                Err(e) if e.is_disconnected() => break,
                Err(e) => return Err(e),
            };
            let result = match pickle::value_from_slice(&msg)? {
                Value::Bytes(b) if b == b"stop server" => {
                    println!("Goodbye");
                    return Ok(Flow::Stop);
                }
                Value::List(items) | Value::Tuple(items) => function_to_execute(&items),
                _ => None,
            };
            // Very basic check, must be more secure in production
            let reply = match result {
                Some(result) => {
                    println!("Someone wants me to do something");
                    result
                }
                None => Value::Bytes(b"I have no idea what you want me to do".to_vec()),
            };
            conn.send_value(&reply)?;
        }
        println!("waiting for someone to ask for something");
        Ok(Flow::Continue)
    })
}
