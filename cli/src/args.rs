//! The options of each command and the failure every command returns: what `main`
//! parses and the commands read (a module of its own, so that no command imports `main`).

use std::path::PathBuf;

use clap::Args;

/// Exit code for a failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad usage (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `send` when the consumer left before taking every message.
pub const EXIT_UNDELIVERED: u8 = 3;

/// Options of `compare`.
#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// A short run (about 15 s): fewer round trips and messages, noisier figures.
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// A long run (several minutes): steadier figures.
    #[arg(long)]
    pub full: bool,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw round trip and throughput per method as an SVG to FILE.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Only these methods (comma-separated ids, see `--list`).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub only: Vec<String>,
    /// List the methods and whether each can run here, without measuring.
    #[arg(long)]
    pub list: bool,
}

/// Options of `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Directories to scan besides /dev/shm (for segments created by path).
    pub dirs: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Segment name (`/name` for POSIX shared memory) or file path.
    pub name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Segment names or paths.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Also remove segments that a live process is attached to (it keeps its mapping).
    #[arg(long, short)]
    pub force: bool,
}

/// The ring `send` and `recv` use (each creates it if missing).
#[derive(Debug, Args)]
pub struct RingArgs {
    /// Ring name (`/name`) or file path.
    pub name: String,
    /// Capacity in bytes if this side creates the ring (a power of two).
    #[arg(long, default_value_t = 1 << 20)]
    pub capacity: u64,
}

/// Options of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub ring: RingArgs,
    /// Read frames (u32 little-endian length, then the bytes) instead of lines.
    #[arg(long)]
    pub framed: bool,
    /// Do not wait at end of input for a consumer to receive everything. With no
    /// consumer attached, the ring is kept with its messages (`recv --resume` takes them).
    #[arg(long)]
    pub no_wait: bool,
    /// Continue a stale ring left by an earlier run (its unread messages stay first)
    /// instead of replacing it.
    #[arg(long)]
    pub resume: bool,
}

/// Options of `recv`.
#[derive(Debug, Args)]
pub struct RecvArgs {
    #[command(flatten)]
    pub ring: RingArgs,
    /// Write frames (u32 little-endian length, then the bytes) instead of lines.
    #[arg(long)]
    pub framed: bool,
    /// Exit after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Continue a stale ring left by an earlier run (receive its unread messages first)
    /// instead of replacing it.
    #[arg(long)]
    pub resume: bool,
}

/// A failure of a command: the message and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for stderr.
    pub msg: String,
    /// Process exit code.
    pub code: u8,
}

impl From<ipcring::Error> for Failure {
    fn from(e: ipcring::Error) -> Self {
        let code = match e {
            ipcring::Error::InvalidName { .. } => EXIT_USAGE,
            ipcring::Error::Undelivered { .. } => EXIT_UNDELIVERED,
            _ => EXIT_FAILURE,
        };
        Failure {
            msg: e.to_string(),
            code,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure {
            msg: e.to_string(),
            code: EXIT_FAILURE,
        }
    }
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(msg: impl Into<String>) -> Failure {
        Failure {
            msg: msg.into(),
            code: EXIT_FAILURE,
        }
    }
}
