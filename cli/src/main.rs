//! The `ipcring` command.
//!
//! - `ipcring` / `ipcring compare`: measures every IPC method compiled in between two real
//!   processes, beside the machine's floors, and prints the article's table with the
//!   measured columns added.
//! - `ipcring ls | inspect | rm`: the crate's segments in /dev/shm (or a directory).
//! - `ipcring send | recv`: lines or length-prefixed frames between stdin/stdout and a ring.
//!
//! Exit codes (also in `--help` and docs/cli.md): 0 success (for `send`: a consumer took
//! every message), 1 failure (the message says what failed), 2 bad usage (unknown option,
//! invalid segment name), 3 `send` only: the consumer left with messages unread, or the name was removed before any consumer came.

mod adapters;
mod args;
mod compare;
mod drive;
mod methods;
mod peer;
mod plot;
mod report;
mod rpcbench;
mod segtools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use args::{CompareArgs, InspectArgs, LsArgs, RecvArgs, RmArgs, SendArgs};

#[derive(Debug, Parser)]
#[command(
    name = "ipcring",
    version,
    about = "Compare every IPC method on this machine; list, inspect, remove, feed and drain ipcring segments.",
    long_about = "Compare every IPC method on this machine (the default command); list, inspect, \
remove, feed and drain ipcring segments.\n\nWith no command, runs `compare`: every method \
compiled in is measured between two real processes, beside the machine's floors, and printed \
with the article's qualitative columns.",
    after_help = "Examples:\n  ipcring                          compare every method (about a minute)\n  \
ipcring --quick --json out.json  a short run, results also as JSON\n  \
ipcring ls                       the segments in /dev/shm\n  \
seq 10 | ipcring send /q         feed lines into ring /q (another terminal: ipcring recv /q)\n\n\
Exit codes:\n  \
0  success; for `send`: a consumer took every message\n  \
1  failure (the message says what); for `send`: delivery not known to be complete\n  \
2  bad usage\n  \
3  `send`: the consumer left with messages unread (the message says how many), or the name was removed before any consumer came",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compare: CompareArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure every method between two processes, beside the machine's floors (default).
    #[command(
        long_about = "Measures, for every method compiled in, the round trip (p50, p99) of a \
64-byte message and the throughput of 64-byte and 64-KiB messages, between this process and a \
peer process (this binary re-run in a hidden peer role). Each round trip is shown as a ratio to \
the floor of its kind measured right before and after it: the cache-line ping-pong for \
busy-polling methods, the futex ping-pong for blocking ones; each throughput as a ratio to a \
memcpy of the same size. A method that cannot run here is listed with the reason.",
        after_help = "Examples:\n  ipcring compare\n  ipcring compare --quick\n  \
ipcring compare --full --json results.json --plot results.svg\n  \
ipcring compare --only ring-spin,ring-block"
    )]
    Compare(CompareArgs),
    /// List the ipcring segments in /dev/shm and in the given directories.
    #[command(after_help = "Examples:\n  ipcring ls\n  ipcring ls /tmp/rings --json")]
    Ls(LsArgs),
    /// Show the header and state of one segment, read-only.
    #[command(after_help = "Examples:\n  ipcring inspect /orders\n  \
ipcring inspect /tmp/rings/orders --json")]
    Inspect(InspectArgs),
    /// Remove segments: stale ones (no live producer/consumer), live ones only with --force.
    #[command(after_help = "Examples:\n  ipcring rm /orders /jobs\n  ipcring rm --force /orders")]
    Rm(RmArgs),
    /// Send stdin into a ring: one message per line, or length-prefixed frames.
    #[command(
        long_about = "Sends stdin into the ring NAME (created if missing, so either side may \
start first): one message per line (without its newline), or with --framed, frames of a \
4-byte little-endian length then the bytes. At the end of input, waits until a consumer has \
received everything, then exits 0; if the consumer leaves first, exits 3 saying how many \
messages it left unread.\n\nA ring left by an earlier run that nobody uses any more (a \
stale ring: no live producer or consumer, e.g. after Ctrl-C) is reported and replaced by a \
fresh one, so runs never mix; --resume continues it instead. A name whose creator died \
while creating it is removed.",
        after_help = "Examples:\n  producer | ipcring send /q\n  \
ipcring send --framed /q < frames.bin\n  \
ipcring send --resume /q < more.txt   continue a stale ring\n\n\
Exit codes: 0 a consumer took every message (--no-wait: all put in the ring); 1 failure, \
delivery not known to be complete; 2 bad usage; 3 the consumer left with messages unread."
    )]
    Send(SendArgs),
    /// Receive from a ring to stdout: one line per message, or length-prefixed frames.
    #[command(
        long_about = "Receives from the ring NAME (created if missing) and writes each message \
to stdout followed by a newline, or with --framed as a 4-byte little-endian length then the \
bytes. Exits 0 when the producer has gone and everything it sent was written (or after \
--count messages, or when stdout's reader has gone); 1 on a failure, such as a ring found \
corrupt, truncated or overwritten while in use.\n\nA stale ring left by an earlier run (no \
live producer or consumer) is reported and replaced by a fresh one, unless --resume, which \
receives its unread messages first. A name whose creator died while creating it is removed.",
        after_help = "Examples:\n  ipcring recv /q | consumer\n  ipcring recv --count 1 /q\n  \
ipcring recv --resume /q          take what an interrupted run left first"
    )]
    Recv(RecvArgs),
    #[command(name = "__peer", hide = true)]
    Peer(peer::PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => compare::run(&cli.compare),
        Some(Command::Compare(a)) => compare::run(&a),
        Some(Command::Ls(a)) => segtools::ls(&a),
        Some(Command::Inspect(a)) => segtools::inspect(&a),
        Some(Command::Rm(a)) => segtools::rm(&a),
        Some(Command::Send(a)) => segtools::send(&a),
        Some(Command::Recv(a)) => segtools::recv(&a),
        Some(Command::Peer(a)) => peer::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.msg.is_empty() {
                eprintln!("ipcring: {}", f.msg);
            }
            ExitCode::from(f.code)
        }
    }
}
