//! The hidden `__peer` command: the other process of every measurement. `compare` re-runs
//! its own executable with it; it prints `ready` on stdout once connected, and for `sink`
//! one line `messages bytes nanoseconds` per throughput round.

use std::io::Write;

use clap::{Args, ValueEnum};
use ipcring::measure;
use ipcring::ring::Side;

use crate::args::Failure;
use crate::methods;

/// What the peer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Answer the cache-line ping-pong floor.
    FloorSpin,
    /// Answer the futex ping-pong floor.
    FloorFutex,
    /// Echo every message back until the other side disconnects.
    Echo,
    /// Receive throughput rounds, reporting each on stdout.
    Sink,
    /// Serve RPC calls (`echo`, `sink`) until the caller is gone.
    RpcServer,
}

/// Arguments of `__peer`.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// The role.
    #[arg(value_enum)]
    pub role: Role,
    /// The run-unique name of the channel or floor page.
    pub name: String,
    /// The method id (echo and sink).
    #[arg(long, default_value = "")]
    pub method: String,
}

fn say(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// A method with its own server ([`methods::Method::serve`]) runs it for the echo and
/// RPC roles: true once it has served.
fn served_alone(a: &PeerArgs) -> Result<bool, Failure> {
    let Some(m) = methods::find(&a.method) else {
        return Ok(false);
    };
    let Some(serve) = m.serve else {
        return Ok(false);
    };
    serve(&a.name, &m, &mut || {
        say("ready").map_err(|f| ipcring::Error::Io {
            op: "write to stdout".into(),
            source: std::io::Error::other(f.msg),
        })
    })
    .map_err(Failure::new)?;
    Ok(true)
}

/// Runs the peer role.
pub fn run(a: &PeerArgs) -> Result<(), Failure> {
    match a.role {
        Role::FloorSpin => measure::floor_spin_peer(&a.name)?,
        Role::FloorFutex => measure::floor_futex_peer(&a.name)?,
        Role::Echo | Role::RpcServer if served_alone(a)? => {}
        Role::RpcServer => {
            let m = methods::find(&a.method)
                .ok_or_else(|| Failure::new(format!("unknown method {:?}", a.method)))?;
            let codec = m
                .rpc
                .ok_or_else(|| Failure::new(format!("{} is not an RPC method", m.id)))?;
            let (tx, rx) = (m.connect)(&a.name, Side::B)?;
            say("ready")?;
            crate::rpcbench::serve(codec, tx, rx).map_err(Failure::new)?;
        }
        Role::Echo | Role::Sink => {
            let m = methods::find(&a.method)
                .ok_or_else(|| Failure::new(format!("unknown method {:?}", a.method)))?;
            let (mut tx, mut rx) = (m.connect)(&a.name, Side::B)?;
            say("ready")?;
            if a.role == Role::Echo {
                measure::echo_peer(&mut tx, &mut rx)?;
            } else {
                loop {
                    match measure::throughput_peer(&mut rx) {
                        Ok((n, bytes, dt)) => say(&format!("{n} {bytes} {}", dt.as_nanos()))?,
                        Err(ipcring::Error::Disconnected) => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }
    Ok(())
}
