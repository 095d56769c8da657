//! The article's Bob as an RPC client: asks Alice to add and multiply, then breaks it on
//! purpose with bad arguments.
//!
//! ```text
//! cargo run --example rpc_bob --features rpc,socket                     # over two rings, binary codec
//! cargo run --example rpc_bob --features rpc,socket -- --json           # JSON-RPC 2.0 codec
//! cargo run --example rpc_bob --features rpc,socket -- --socket localhost:6000 --json
//! ```
//! Start `rpc_alice` (with the same flags) in another terminal, before or after this one.

use std::time::Duration;

use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::rpc::{BinaryCodec, Client, Codec, JsonCodec, RpcError};
use ipcring::socket::{Connection, SocketOptions, DEFAULT_AUTHKEY};
use ipcring::transport::{Receiver, Sender};

/// Long enough for Alice to be started by hand after Bob.
const WAIT: Duration = Duration::from_secs(120);

fn ask_alice<S: Sender, R: Receiver, C: Codec>(tx: S, rx: R, codec: C) -> Result<(), RpcError> {
    let mut alice = Client::new(tx, rx, codec);
    let sum: i64 = alice.call("add", (2, 5), WAIT)?;
    println!("Lets add 2 and 5: {sum}");
    let product: i64 = alice.call("multiply", (8, 5), WAIT)?;
    println!("Lets multiply 8 and 5: {product}");

    println!("Lets break it and cause an exception!");
    match alice.call::<_, i64>("add", ("bad", "data"), WAIT) {
        Err(e @ RpcError::BadArguments { .. }) => println!("Exception: {e}"),
        other => println!("Alice did not refuse it: {other:?}"),
    }
    Ok(())
}

fn run<C: Codec>(socket: Option<String>, name: &str, codec: C) -> Result<(), RpcError> {
    match socket {
        Some(addr) => {
            println!("Bob is calling Alice at {addr} (start rpc_alice if she is not there)");
            let opts = SocketOptions::new()
                .authkey(DEFAULT_AUTHKEY)
                .connect_timeout(WAIT);
            let (tx, rx) = Connection::connect(addr.as_str(), &opts)?.into_split();
            ask_alice(tx, rx, codec)
        }
        None => {
            println!("Bob is asking Alice on {name}.ab / {name}.ba (start rpc_alice if she is not there)");
            let opts = RingOptions::new().capacity(1 << 16).reclaim_stale(true);
            let (tx, rx) = duplex(name, Side::B, &opts)?;
            ask_alice(tx, rx, codec)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1).cloned()
    };
    let socket = value("--socket");
    let name = value("--name").unwrap_or_else(|| "/ipcring-rpc-demo".to_owned());
    let r = if args.iter().any(|a| a == "--json") {
        run(socket, &name, JsonCodec)
    } else {
        run(socket, &name, BinaryCodec)
    };
    if let Err(e) = r {
        eprintln!("Bob gives up: {e}");
        std::process::exit(1);
    }
}
