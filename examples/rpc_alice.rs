//! The article's Alice as an RPC server: she offers `add` and `multiply` to whoever connects,
//! until stopped with Ctrl-C.
//!
//! ```text
//! cargo run --example rpc_alice --features rpc,socket                    # two rings /ipcring-rpc-demo.{ab,ba}, binary codec
//! cargo run --example rpc_alice --features rpc,socket -- --json          # JSON-RPC 2.0 codec
//! cargo run --example rpc_alice --features rpc,socket -- --name /other   # other ring names
//! cargo run --example rpc_alice --features rpc,socket -- --socket localhost:6000 --json
//! cargo run --example rpc_alice --features rpc,socket -- --once          # stop after one Bob
//! ```
//! Start `rpc_bob` (with the same flags) in another terminal, before or after this one.
//! Over rings she serves one Bob after another; over a socket, many at once (a thread each),
//! with the article's authkey. Over a socket with `--json`, any JSON-RPC 2.0 client that speaks
//! Python's `multiprocessing.connection` framing can call her
//! (`tests/python/rpc_jsonrpc_client.py`).

use ipcring::ring::{duplex, RingOptions, Side};
use ipcring::rpc::{BinaryCodec, Codec, JsonCodec, RpcError, Server};
use ipcring::socket::{Flow, Listener, SocketOptions, DEFAULT_AUTHKEY};

fn alice<C: Codec>(codec: C) -> Server<C> {
    let mut server = Server::new(codec);
    server
        .register("add", |(a, b): (i64, i64)| {
            println!("running command add with args [{a}, {b}]");
            Ok(a + b)
        })
        .register("multiply", |(a, b): (i64, i64)| {
            println!("running command multiply with args [{a}, {b}]");
            Ok(a * b)
        });
    server
}

fn serve_rings<C: Codec>(name: &str, codec: C, once: bool) -> Result<(), RpcError> {
    let server = alice(codec);
    // Reclaim rings left behind by a killed run; either side may create them.
    let opts = RingOptions::new().capacity(1 << 16).reclaim_stale(true);
    loop {
        let (tx, rx) = duplex(name, Side::A, &opts)?;
        println!("Alice is waiting for Bob on {name}.ab / {name}.ba");
        server.serve(tx, rx)?;
        println!("Bob has left");
        if once {
            return Ok(());
        }
    }
}

fn serve_socket<C: Codec>(addr: &str, codec: C, once: bool) -> Result<(), RpcError> {
    let server = alice(codec);
    let listener = Listener::bind(addr, &SocketOptions::new().authkey(DEFAULT_AUTHKEY))?;
    println!("Alice is listening on {}", listener.local_addr());
    Ok(listener.serve(|conn| {
        match conn {
            Ok(conn) => {
                println!("Bob has connected");
                let (tx, rx) = conn.into_split();
                match server.serve(tx, rx) {
                    Ok(()) => println!("Bob has left"),
                    Err(e) => println!("Bob's connection failed: {e}"),
                }
            }
            Err(e) => {
                println!("refused a client: {e}");
                return Ok(Flow::Continue);
            }
        }
        Ok(if once { Flow::Stop } else { Flow::Continue })
    })?)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1).cloned()
    };
    let json = args.iter().any(|a| a == "--json");
    let once = args.iter().any(|a| a == "--once");
    let r = match (value("--socket"), json) {
        (Some(addr), true) => serve_socket(&addr, JsonCodec, once),
        (Some(addr), false) => serve_socket(&addr, BinaryCodec, once),
        (None, json) => {
            let name = value("--name").unwrap_or_else(|| "/ipcring-rpc-demo".to_owned());
            if json {
                serve_rings(&name, JsonCodec, once)
            } else {
                serve_rings(&name, BinaryCodec, once)
            }
        }
    };
    if let Err(e) = r {
        eprintln!("Alice stops: {e}");
        std::process::exit(1);
    }
}
