//! The methods `compare` measures: one table entry per method.
//!
//! Adding a method = adding one [`Method`] to [`all`]: its id and label, the article's
//! qualitative columns, whether it busy-polls or blocks (which floor it is compared with),
//! a check that says why it cannot run here (if so), and a constructor of this side's
//! (sender, receiver) pair from a run-unique name. Side A is the measuring process, side B
//! the peer process; either may connect first.

use std::path::PathBuf;
use std::time::Duration;

use ipcring::ring::{duplex, RingOptions, Side, WaitStrategy};
use ipcring::{Receiver, Sender};

use crate::report::{Qual, Wait};
use crate::rpcbench::{self, RpcCodec};

/// This side's sending half.
pub type Tx = Box<dyn Sender>;
/// This side's receiving half.
pub type Rx = Box<dyn Receiver>;
/// Connects side `side` of a two-way channel identified by `name` (unique per run: use it
/// to derive shm names, socket paths, queue names).
pub type Connect = fn(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)>;

impl Wait {
    /// The wait strategy of a method row that waits this way: spin, or sleep on the futex
    /// at once (the default strategy spins 20 µs first, so when the peer answers at once
    /// its round trip would be the busy-poll one; sleeping at once is the futex floor's
    /// work).
    const fn strategy(self) -> WaitStrategy {
        match self {
            Wait::BusyPoll => WaitStrategy::Spin,
            Wait::Blocking => WaitStrategy::SpinBlock {
                spin: Duration::ZERO,
            },
        }
    }
}

/// The article's rows, as its table and its per-method pros and cons give them.
mod article {
    use super::Qual;
    use std::borrow::Cow::Borrowed;

    /// The row `row` with its columns: cross platform, needs a file, needs a service, easy.
    const fn row(row: &'static str, [cross, file, service, easy]: [&'static str; 4]) -> Qual {
        Qual {
            article_row: Borrowed(row),
            cross_platform: Borrowed(cross),
            needs_file: Borrowed(file),
            needs_service: Borrowed(service),
            easy: Borrowed(easy),
        }
    }

    pub const SHARED_MEMORY: Qual = row("Shared Memory", ["Yes", "Yes", "No", "No"]);
    pub const PIPES: Qual = row("Pipes", ["No", "Yes", "No", "No"]);
    pub const FILES: Qual = row("Files", ["Yes", "Yes", "No", "Yes"]);
    pub const SIGNALS: Qual = row("Signals", ["No", "No", "No", "Yes"]);
    pub const SOCKETS: Qual = row("Sockets", ["Yes", "No", "No", "Yes"]);
    pub const MESSAGE_QUEUES: Qual = row("Message Queues", ["Yes", "No", "Yes", "Yes"]);
    /// POSIX message queues: the article lists them among message queues, but they need
    /// no service, and macOS has none.
    pub const POSIX_MQ: Qual = row("Message Queues (POSIX)", ["No", "No", "No", "Yes"]);
    /// RPC over the ring: shared memory, made easy by the RPC layer.
    pub const RPC_RING: Qual = row("Shared Memory (RPC)", ["Yes", "Yes", "No", "Yes"]);
    /// The article's last section (RPC over sockets).
    pub const RPC: Qual = row("Sockets (RPC)", ["Yes", "No", "No", "Yes"]);
}

/// One measurable method.
#[derive(Debug, Clone)]
pub struct Method {
    /// Short id for `--only` and JSON ("ring-spin").
    pub id: &'static str,
    /// What it is, for the table.
    pub label: &'static str,
    /// The article's columns.
    pub qual: Qual,
    /// Busy-poll or blocking.
    pub wait: Wait,
    /// `Err(reason)` if it cannot run here (not built, no server, a system limit).
    pub check: fn() -> Result<(), String>,
    /// This side's transport pair.
    pub connect: Connect,
    /// The peer's receive returns `Disconnected` when this side drops its pair (so the peer
    /// exits by itself); if not (Redis keeps no notion of the other side), the peer is
    /// stopped once the measurement is done.
    pub peer_sees_close: bool,
    /// Why one-way throughput does not apply (a latest-value cell), if it does not.
    pub no_stream: Option<&'static str>,
    /// The most bytes one throughput run may send (a file log keeps every byte on disk).
    pub max_stream_bytes: u64,
    /// An RPC method: measured with calls (`rpcbench`) over `connect`'s pair, with this
    /// codec, instead of the byte drivers.
    pub rpc: Option<RpcCodec>,
    /// Removes what a measurement left behind (files, directories), given its name. Runs
    /// after both processes are done.
    pub cleanup: fn(&str),
    /// A method whose server is not a byte-transport pair (the shared-memory service: a
    /// listener answers each request in place): the peer process runs this instead of
    /// its echo or RPC loop.
    pub serve: Option<Serve>,
}

/// The peer side of a [`Method::serve`] method: binds `name`, calls `ready` once a client
/// may connect, then answers (an echo, or RPC calls if the method is an RPC one) until
/// its client has gone.
pub type Serve = fn(
    name: &str,
    method: &Method,
    ready: &mut dyn FnMut() -> ipcring::Result<()>,
) -> Result<(), String>;

/// A method with the defaults: runs everywhere, the peer sees the close, streams without
/// limit, nothing to clean up. Override fields with `Method { x, ..method(..) }`.
const fn method(
    id: &'static str,
    label: &'static str,
    qual: Qual,
    wait: Wait,
    connect: Connect,
) -> Method {
    Method {
        id,
        label,
        qual,
        wait,
        check: || Ok(()),
        connect,
        peer_sees_close: true,
        no_stream: None,
        max_stream_bytes: u64::MAX,
        rpc: None,
        cleanup: |_| {},
        serve: None,
    }
}

fn boxed<S: Sender + 'static, R: Receiver + 'static>(
    pair: ipcring::Result<(S, R)>,
) -> ipcring::Result<(Tx, Rx)> {
    pair.map(|(s, r)| (Box::new(s) as Tx, Box::new(r) as Rx))
}

/// Ring options for the comparison: 4 MiB each way (a 64-KiB message fits many times).
fn ring_opts(wait: WaitStrategy) -> RingOptions {
    RingOptions::new()
        .capacity(1 << 22)
        .wait(wait)
        .open_timeout(Duration::from_secs(10))
}

fn ring_spin(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    boxed(duplex(name, side, &ring_opts(Wait::BusyPoll.strategy())))
}

/// The blocking ring with no spin phase: every wait sleeps on the futex.
fn ring_block(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    boxed(duplex(name, side, &ring_opts(Wait::Blocking.strategy())))
}

/// Every method, in table order. Methods whose module has not landed in this build are
/// listed with that reason.
pub fn all() -> Vec<Method> {
    use article::*;
    use Wait::{Blocking, BusyPoll};
    vec![
        method(
            "ring-spin",
            "ipcring ring, busy-poll",
            SHARED_MEMORY,
            BusyPoll,
            ring_spin,
        ),
        method(
            "ring-block",
            "ipcring ring, futex wake",
            SHARED_MEMORY,
            Blocking,
            ring_block,
        ),
        served(method(
            "service",
            "ipcring service, busy-poll",
            SHARED_MEMORY,
            BusyPoll,
            service_spin,
        )),
        served(method(
            "service-block",
            "ipcring service, futex",
            SHARED_MEMORY,
            Blocking,
            service_block,
        )),
        Method {
            no_stream: Some("a seqlock cell keeps only the latest value: no stream"),
            ..method(
                "seqlock",
                "seqlock cell, busy-poll",
                SHARED_MEMORY,
                BusyPoll,
                seqlock_pair,
            )
        },
        method(
            "broadcast",
            "broadcast ring, busy-poll",
            SHARED_MEMORY,
            BusyPoll,
            broadcast_pair,
        ),
        Method {
            cleanup: remove_paths,
            ..method("pipe", "named pipe (FIFO)", PIPES, Blocking, pipe_pair)
        },
        Method {
            cleanup: remove_file_logs,
            // The log keeps every byte on disk until it is removed.
            max_stream_bytes: 256 << 20,
            ..method("file", "shared file + lock", FILES, Blocking, file_pair)
        },
        Method {
            cleanup: remove_signal_registries,
            // A receiver of signals cannot tell that the sender has gone.
            peer_sees_close: false,
            ..method(
                "signal",
                "signals (sigqueue, 3 B)",
                SIGNALS,
                Blocking,
                signal_pair,
            )
        },
        Method {
            cleanup: remove_paths,
            ..method("socket-unix", "Unix socket", SOCKETS, Blocking, socket_unix)
        },
        Method {
            cleanup: remove_paths,
            ..method(
                "socket-tcp",
                "TCP socket (loopback)",
                SOCKETS,
                Blocking,
                socket_tcp,
            )
        },
        Method {
            check: mq_check,
            cleanup: mq_cleanup,
            // A queue has no connection: a receiver never learns that the sender left.
            peer_sees_close: false,
            ..method("mq", "POSIX message queue", POSIX_MQ, Blocking, mq_pair)
        },
        Method {
            check: redis_check,
            peer_sees_close: false,
            ..method(
                "redis",
                "Redis pub/sub",
                MESSAGE_QUEUES,
                Blocking,
                redis_pubsub,
            )
        },
        Method {
            rpc: Some(RpcCodec::Binary),
            ..method(
                "rpc-ring",
                "RPC, ring (binary codec)",
                RPC_RING,
                Blocking,
                ring_block,
            )
        },
        Method {
            rpc: Some(RpcCodec::Binary),
            ..served(method(
                "rpc-service",
                "RPC, service (binary)",
                RPC_RING,
                Blocking,
                service_block,
            ))
        },
        Method {
            rpc: Some(RpcCodec::Json),
            cleanup: remove_paths,
            ..method(
                "rpc-socket",
                "RPC, Unix socket (JSON)",
                RPC,
                Blocking,
                socket_unix,
            )
        },
    ]
}

/// `m` as a shared-memory service row: the measuring side is a client, the peer a
/// listener that answers in place. Requests and answers, no one-way stream.
fn served(m: Method) -> Method {
    Method {
        no_stream: Some(
            "request/response: every request waits for its answer (pipelined rates: cargo bench --bench service)",
        ),
        serve: Some(service_serve),
        cleanup: service_cleanup,
        ..m
    }
}

/// Service options for the comparison: the defaults (4 slots of 4088 bytes), with this
/// wait strategy.
fn service_opts(wait: WaitStrategy) -> ipcring::service::ServiceOptions {
    ipcring::service::ServiceOptions::new()
        .wait(wait)
        .open_timeout(Duration::from_secs(10))
}

/// The client of a service, as a request/answer pair (side A only: side B is the listener
/// of [`service_serve`]).
fn service_client(name: &str, side: Side, wait: WaitStrategy) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::service::{split, Client};
    if side == Side::B {
        return Err(ipcring::Error::Unsupported(
            "the service's server side is a listener (Method::serve), not a pair".into(),
        ));
    }
    boxed(Ok(split(Client::connect(name, &service_opts(wait))?)))
}

fn service_spin(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    service_client(name, side, Wait::BusyPoll.strategy())
}

/// Every wait sleeps on the futex at once, as `ring-block` does.
fn service_block(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    service_client(name, side, Wait::Blocking.strategy())
}

/// The service's peer: a listener with the wait of its method's row, answering one client
/// until it has left: an echo copies each request out and writes it back over itself (the
/// work the ring's echo peer does); RPC serves `echo` and `sink` as every RPC row does.
fn service_serve(
    name: &str,
    m: &Method,
    ready: &mut dyn FnMut() -> ipcring::Result<()>,
) -> Result<(), String> {
    use ipcring::service::Listener;
    let text = |e: ipcring::Error| e.to_string();
    let mut l = Listener::bind(name, &service_opts(m.wait.strategy())).map_err(text)?;
    ready().map_err(text)?;
    match m.rpc {
        Some(codec) => rpcbench::serve_service(codec, &mut l),
        None => crate::drive::serve_echo(&mut l),
    }
}

/// The listener's name goes with its server; a killed peer leaves it: remove it.
fn service_cleanup(name: &str) {
    let _ = ipcring::segment::remove(name, true);
}

/// The two directions of a duplex channel made of two one-way channels: (out, in).
fn directions(name: &str, side: Side) -> (String, String) {
    let base = name.trim_start_matches('/');
    let (ab, ba) = (format!("{base}.ab"), format!("{base}.ba"));
    match side {
        Side::A => (ab, ba),
        Side::B => (ba, ab),
    }
}

/// The Redis server to measure against: `REDIS_URL` if set (a comparison never pokes at
/// whatever listens on the default port); else, when `redis-server` is on the PATH, one
/// started for this run on a free loopback port ([`own_redis_server`]); else the reason
/// there is none.
fn redis_url() -> Result<String, String> {
    match std::env::var("REDIS_URL") {
        Ok(u) if !u.trim().is_empty() => Ok(u),
        _ => own_redis_server().clone(),
    }
}

/// A `redis-server` of this run's own: loopback only, a free port, no persistence, and it
/// ends with this process. It runs under `sh`, which waits on a pipe from this process and
/// stops the server when the pipe closes (this process ended, however), so nothing is left
/// running. Started once, on first use; the URL goes into `REDIS_URL`, so the peer processes
/// use the same server.
fn own_redis_server() -> &'static Result<String, String> {
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join("redis-server").is_file()))
            .unwrap_or(false);
        if !found {
            return Err("no redis-server on the PATH and REDIS_URL is not set: Redis not measured \
                        (install redis-server, or set REDIS_URL)"
                .into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port for redis-server: {e}"))?
            .port();
        let script = "redis-server --bind 127.0.0.1 --port \"$1\" --save '' --appendonly no \
                      --protected-mode yes --logfile '' >/dev/null 2>&1 & pid=$!; \
                      cat >/dev/null; kill \"$pid\" 2>/dev/null; wait \"$pid\" 2>/dev/null";
        let child = Command::new("sh")
            .args(["-c", script, "ipcring-redis", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        // The pipe's write end lives (leaked, with the child handle) as long as this
        // process; the kernel closes it when the process ends, which stops the server.
        let child = Box::leak(Box::new(child));
        let url = format!("redis://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match ipcring::redis::Publisher::connect(&url, "ipcring-compare-check", &redis_opts()) {
                Ok(_) => break,
                Err(e) if std::time::Instant::now() >= deadline => {
                    // Closing the pipe makes `sh` stop the server.
                    drop(child.stdin.take());
                    return Err(format!("the redis-server started for this run did not answer: {e}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        eprintln!("ipcring compare: measuring Redis against a redis-server of its own at {url} (stopped at exit)");
        std::env::set_var("REDIS_URL", &url);
        Ok(url)
    })
}

fn redis_opts() -> ipcring::redis::RedisOptions {
    ipcring::redis::RedisOptions::new()
        .connect_timeout(Duration::from_secs(2))
        .give_up_after(Some(Duration::from_secs(10)))
}

fn redis_check() -> Result<(), String> {
    let url = redis_url()?;
    ipcring::redis::Publisher::connect(&url, "ipcring-compare-check", &redis_opts())
        .map(drop)
        .map_err(|e| format!("Redis server not reachable: {e}"))
}

/// Pub/sub, the article's example: subscribe to the incoming channel first, so nothing the
/// peer publishes after it saw us ready is missed. Pub/sub keeps nothing in the server, so a
/// run leaves nothing behind.
fn redis_pubsub(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::redis::{Publisher, Subscriber};
    let url = redis_url().map_err(|r| ipcring::Error::Unsupported(r.into()))?;
    let (out, inn) = directions(name, side);
    let rx = Subscriber::connect(&url, &inn, &redis_opts())?;
    let tx = Publisher::connect(&url, &out, &redis_opts())?;
    boxed(Ok((tx, rx)))
}

/// The method with this id.
pub fn find(id: &str) -> Option<Method> {
    all().into_iter().find(|m| m.id == id)
}

/// Files of a run live in the temp directory, named after the run's unique name.
fn temp_path(name: &str, suffix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}{suffix}", name.trim_start_matches('/')))
}

/// [`directions`] as paths in the temp directory: (out, in).
fn temp_directions(name: &str, side: Side) -> (PathBuf, PathBuf) {
    let tmp = std::env::temp_dir();
    let (out, inn) = directions(name, side);
    (tmp.join(out), tmp.join(inn))
}

/// Removes `<tmp>/<name>.ab` and `.ba` (FIFOs and the like) if still there.
fn remove_paths(name: &str) {
    for s in [".ab", ".ba"] {
        let _ = std::fs::remove_file(temp_path(name, s));
    }
}

/// Two FIFOs, one each way. Each side creates what is missing; the reader never blocks
/// on open, the writer waits for a reader on its first send.
fn pipe_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::pipe::{PipeOptions, PipeReceiver, PipeSender};
    let (out, inn) = temp_directions(name, side);
    let rx = PipeReceiver::open(inn, &PipeOptions::new())?;
    boxed(Ok((PipeSender::open(out, &PipeOptions::new())?, rx)))
}

/// Two append-only logs, one each way (not durable: other processes see a committed
/// message at once; an `fdatasync` per message would measure the disk).
fn file_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::file::{LogOptions, LogReader, LogWriter};
    let (out, inn) = temp_directions(name, side);
    let tx = LogWriter::open(out, &LogOptions::new())?;
    boxed(Ok((tx, LogReader::open(inn, &LogOptions::new())?)))
}

/// Removes both logs and their lock (and cursor) files.
fn remove_file_logs(name: &str) {
    let (ab, ba) = directions(name, Side::A);
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        if f.starts_with(&ab) || f.starts_with(&ba) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn signal_opts(name: &str, who: &str) -> ipcring::signal::SignalOptions {
    ipcring::signal::SignalOptions::new(who.to_owned()).dir(temp_path(name, &format!(".{who}.sig")))
}

/// Each side listens, registers its pid in its own registry, then waits for the other's
/// pid; a message is one queued real-time signal whose `i32` holds a length byte and up to
/// 3 bytes.
fn signal_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::signal::{Listener, Registry};
    let (me, other) = match side {
        Side::A => ("a", "b"),
        Side::B => ("b", "a"),
    };
    let (mine, theirs) = (signal_opts(name, me), signal_opts(name, other));
    let listener = Listener::new(&mine)?;
    let registration = Registry::open(&mine)?.register()?;
    let pid = wait_for(|| match Registry::open(&theirs) {
        Ok(reg) => Ok(reg.pids()?.first().copied()),
        Err(_) => Ok(None),
    })?;
    boxed(Ok((
        crate::adapters::SignalTx { pid, opts: mine },
        crate::adapters::SignalRx {
            listener,
            _registration: registration,
        },
    )))
}

/// Polls `ready` every 2 ms until it gives a value, for at most 10 s (then `Timeout`).
fn wait_for<T>(mut ready: impl FnMut() -> ipcring::Result<Option<T>>) -> ipcring::Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(t) = ready()? {
            return Ok(t);
        }
        if std::time::Instant::now() > deadline {
            return Err(ipcring::Error::Timeout);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Removes both registry directories.
fn remove_signal_registries(name: &str) {
    for who in ["a", "b"] {
        let _ = std::fs::remove_dir_all(temp_path(name, &format!(".{who}.sig")));
    }
}

/// Two seqlock cells, one each way, read with a busy-poll wait: a message is a new value
/// (up to 88 bytes). Each side creates its own cell first, then opens the peer's.
fn seqlock_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
    let (out, inn) = directions(name, side);
    let opts = SeqlockOptions::new()
        .wait(WaitStrategy::Spin)
        .open_timeout(Duration::from_secs(10));
    let w = Writer::<crate::adapters::Cell>::open_or_create(&format!("/{out}"), &opts)?;
    let r = Reader::<crate::adapters::Cell>::open(&format!("/{inn}"), &opts)?;
    boxed(Ok((
        crate::adapters::CellTx(w),
        crate::adapters::CellRx { reader: r, last: 0 },
    )))
}

/// Two broadcast rings, one each way, each with one subscriber that busy-polls. The
/// publisher never waits for subscribers: in a throughput run the subscriber may lose
/// messages (counted as lost by the ring, not in the rate).
fn broadcast_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::broadcast::{BroadcastOptions, Publisher, Start, Subscriber};
    let (out, inn) = directions(name, side);
    let opts = BroadcastOptions::new()
        .slots(64)
        .max_message(64 * 1024)
        .wait(WaitStrategy::Spin)
        .start(Start::Next)
        .open_timeout(Duration::from_secs(10));
    let tx = Publisher::open_or_create(&format!("/{out}"), &opts)?;
    let rx = Subscriber::open(&format!("/{inn}"), &opts)?;
    boxed(Ok((tx, rx)))
}

/// One connection, split in two. Side A listens (and accepts one client), side B
/// connects (retrying until A listens).
fn socket_pair(
    side: Side,
    listen: impl FnOnce() -> ipcring::Result<ipcring::socket::Listener>,
    connect_to: impl FnOnce() -> ipcring::Result<String>,
) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::socket::{Connection, SocketOptions};
    let conn = match side {
        Side::A => listen()?.accept_timeout(Duration::from_secs(10))?,
        Side::B => Connection::connect(connect_to()?.as_str(), &SocketOptions::new())?,
    };
    boxed(Ok(conn.into_split()))
}

fn socket_unix(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::socket::{Listener, SocketOptions};
    let path = temp_path(name, ".ab");
    let addr = format!("unix:{}", path.display());
    socket_pair(
        side,
        || Listener::bind(addr.as_str(), &SocketOptions::new()),
        || Ok(addr.clone()),
    )
}

/// TCP on the loopback: side A binds port 0 and writes the port it got to a file that
/// side B waits for.
fn socket_tcp(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::socket::{Address, Listener, SocketOptions};
    let port_file = temp_path(name, ".ab");
    socket_pair(
        side,
        || {
            let l = Listener::bind("tcp:127.0.0.1:0", &SocketOptions::new())?;
            let Address::Tcp(a) = l.local_addr().clone() else {
                return Err(ipcring::Error::InvalidConfig("not a TCP address".into()));
            };
            let tmp = temp_path(name, ".ba");
            let io = |op: &'static str| {
                move |source| ipcring::Error::Io {
                    op: op.into(),
                    source,
                }
            };
            std::fs::write(&tmp, &a).map_err(io("write port file"))?;
            std::fs::rename(&tmp, &port_file).map_err(io("rename port file"))?;
            Ok(l)
        },
        || {
            wait_for(|| {
                Ok(std::fs::read_to_string(&port_file)
                    .ok()
                    .map(|a| format!("tcp:{a}")))
            })
        },
    )
}

/// POSIX message queues with the defaults an unprivileged process may create (10 messages
/// of at most 8192 bytes: 64 KiB messages do not fit, and are reported so).
fn mq_opts() -> ipcring::mq::MqOptions {
    ipcring::mq::MqOptions::new()
}

fn mq_check() -> Result<(), String> {
    let name = format!("/ipcring-cmp-check-{}", std::process::id());
    ipcring::mq::MessageQueue::create(&name, &mq_opts())
        .map(drop)
        .map_err(|e| format!("cannot create a queue here: {e}"))
}

/// Two queues, one each way; either side may create them.
fn mq_pair(name: &str, side: Side) -> ipcring::Result<(Tx, Rx)> {
    use ipcring::mq::MessageQueue;
    let (out, inn) = directions(name, side);
    let tx = MessageQueue::open_or_create(&format!("/{out}"), &mq_opts())?;
    let rx = MessageQueue::open_or_create(&format!("/{inn}"), &mq_opts())?;
    boxed(Ok((tx, rx)))
}

fn mq_cleanup(name: &str) {
    let (ab, ba) = directions(name, Side::A);
    for q in [ab, ba] {
        let _ = ipcring::mq::MessageQueue::unlink(&format!("/{q}"));
    }
}
