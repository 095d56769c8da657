//! Sockets with an auth key: Unix domain (path or Linux abstract name) and TCP behind one
//! [`Listener`] / [`Connection`] API, wire compatible with Python's
//! `multiprocessing.connection` `Listener` / `Client` (CPython 3.11 and 3.12+).
//!
//! - **Frames**: a 4-byte big-endian signed length, then the payload; payloads over
//!   2 GiB - 1 use the `FF FF FF FF` + 8-byte length escape. A frame longer than
//!   [`SocketOptions::max_frame`] is refused from its header, before any byte of it is read or
//!   any memory reserved, and the connection is closed.
//! - **Authentication**: with an authkey, both sides prove they know it by an HMAC
//!   challenge/response (3.12's `{sha256}` form by default; 3.11's HMAC-MD5 is understood and
//!   can be sent with [`Digest::LegacyMd5`]), compared in constant time. A peer that does not
//!   finish the handshake within [`SocketOptions::handshake_timeout`] is dropped.
//! - **Many clients**: [`Listener::serve`] runs each connection on its own thread (the
//!   handshake too, so a silent client holds nobody up), up to
//!   [`SocketOptions::max_clients`] at once.
//! - **Objects**: [`Connection::send_pickle`] / [`Connection::recv_pickle`] speak pickle, as
//!   Python's `conn.send(obj)` / `conn.recv()` do ([`pickle`]).
//!
//! Both [`Connection`] and its halves implement [`Sender`] and [`Receiver`].
//!
//! # Example
//!
//! ```
//! use ipcring::socket::{Connection, Flow, Listener, SocketOptions};
//! use ipcring::{Receiver, Sender};
//!
//! # fn main() -> ipcring::Result<()> {
//! let path = std::env::temp_dir().join(format!("ipcring-doc-{}.sock", std::process::id()));
//! let opts = SocketOptions::new().authkey(b"Do not let eve find us!");
//! let listener = Listener::bind(path.as_path(), &opts)?;
//!
//! std::thread::scope(|s| {
//!     // Process A (Alice): answer every request, stop after the first connection.
//!     s.spawn(|| {
//!         listener.serve(|conn| {
//!             let mut conn = conn?;
//!             let req = conn.recv()?;
//!             conn.send(&[req, b" back".to_vec()].concat())?;
//!             Ok(Flow::Stop)
//!         })
//!     });
//!     // Process B (Bob).
//!     let mut conn = Connection::connect(path.as_path(), &opts)?;
//!     conn.send(b"hello")?;
//!     assert_eq!(conn.recv()?, b"hello back");
//!     Ok(())
//! })
//! # }
//! ```

use std::fmt;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sys::socket::{no_sigpipe, wait_ready, Ready};
use crate::transport::{Deadline, Receiver, Sender};
use crate::{Error, Result, TrySendError};

pub(crate) mod auth;
mod codec;
mod frame;
pub mod pickle;

// The async (tokio) form, beside the blocking one.
#[cfg(feature = "async")]
mod tokio;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{AsyncConnection, AsyncListener, AsyncSocketReceiver, AsyncSocketSender};

pub use frame::{SocketReceiver, SocketSender};

/// The article's address: `('localhost', 6000)`.
pub const DEFAULT_ADDRESS: &str = "localhost:6000";
/// The article's authkey: `b'Do not let eve find us!'`.
pub const DEFAULT_AUTHKEY: &[u8] = b"Do not let eve find us!";

/// Where a socket lives: a Unix path, a Linux abstract name, or a TCP host and port.
///
/// Parsed from a string by [`Address::parse`]:
///
/// | string | address |
/// |--------|---------|
/// | `unix:/run/app.sock`, or anything with a `/` | Unix socket at that path |
/// | `@name` | Linux abstract Unix socket `name` (no file) |
/// | `tcp:host:port`, `host:port`, `[::1]:port` | TCP |
/// | anything else (`app.sock`) | Unix socket at that relative path |
///
/// ```
/// use ipcring::socket::Address;
/// assert_eq!(Address::parse("localhost:6000")?, Address::Tcp("localhost:6000".into()));
/// assert_eq!(Address::parse("/tmp/a.sock")?, Address::Unix("/tmp/a.sock".into()));
/// assert_eq!(Address::parse("@alice")?, Address::Abstract(b"alice".to_vec()));
/// # Ok::<(), ipcring::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix domain socket bound to a file system path.
    Unix(PathBuf),
    /// A Linux abstract Unix socket name (no file; gone when the listener closes).
    Abstract(Vec<u8>),
    /// A TCP `host:port` (IPv4 addresses are tried first, as Python's `AF_INET` does).
    Tcp(String),
}

impl Address {
    /// Parses an address string (see the table above).
    ///
    /// ```
    /// use ipcring::socket::Address;
    /// assert!(Address::parse("").is_err());
    /// assert_eq!(Address::parse("tcp:127.0.0.1:0")?, Address::Tcp("127.0.0.1:0".into()));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Address> {
        let bad = |reason: &'static str| Error::InvalidName {
            name: s.to_owned(),
            reason: reason.into(),
        };
        if s.is_empty() {
            return Err(bad("empty address"));
        }
        if s.contains('\0') {
            return Err(bad("contains a NUL byte"));
        }
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Address::Unix(PathBuf::from(p)));
        }
        let host_port = |t: &str| matches!(t.rsplit_once(':'), Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok());
        if let Some(t) = s.strip_prefix("tcp:") {
            if !host_port(t) {
                return Err(bad("expected tcp:host:port"));
            }
            return Ok(Address::Tcp(t.to_owned()));
        }
        if let Some(n) = s.strip_prefix('@') {
            if n.is_empty() {
                return Err(bad("an abstract name needs characters after '@'"));
            }
            return Ok(Address::Abstract(n.as_bytes().to_vec()));
        }
        if s.contains('/') {
            return Ok(Address::Unix(PathBuf::from(s)));
        }
        if host_port(s) {
            return Ok(Address::Tcp(s.to_owned()));
        }
        Ok(Address::Unix(PathBuf::from(s)))
    }

    /// Resolves a TCP address, IPv4 first (so `localhost` means 127.0.0.1, as for Python).
    fn resolve(hostport: &str) -> Result<Vec<SocketAddr>> {
        let mut v: Vec<SocketAddr> = hostport
            .to_socket_addrs()
            .map_err(|e| Error::io(format!("resolve {hostport}"), e))?
            .collect();
        v.sort_by_key(|a| a.is_ipv6());
        if v.is_empty() {
            return Err(Error::InvalidName {
                name: hostport.to_owned(),
                reason: "resolves to no address".into(),
            });
        }
        Ok(v)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
            Address::Tcp(h) => f.write_str(h),
        }
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Address> {
        Address::parse(s)
    }
}

/// Anything that names a socket: an [`Address`], a string (parsed by [`Address::parse`]),
/// a [`Path`] (a Unix socket) or a [`SocketAddr`] (TCP).
///
/// ```
/// use ipcring::socket::{Address, ToAddress};
/// let a = std::path::Path::new("x.sock").to_address()?;
/// assert_eq!(a, Address::Unix("x.sock".into()));
/// # Ok::<(), ipcring::Error>(())
/// ```
pub trait ToAddress {
    /// Converts to an [`Address`].
    fn to_address(self) -> Result<Address>;
}

/// `ToAddress` for each type, as a closure of its value.
macro_rules! to_address {
    ($($ty:ty => |$v:ident| $address:expr,)*) => {$(
        impl ToAddress for $ty {
            fn to_address(self) -> Result<Address> {
                let $v = self;
                $address
            }
        }
    )*};
}

to_address! {
    Address => |a| Ok(a),
    &Address => |a| Ok(a.clone()),
    &str => |s| Address::parse(s),
    &String => |s| Address::parse(s),
    String => |s| Address::parse(&s),
    &Path => |p| Ok(Address::Unix(p.to_path_buf())),
    PathBuf => |p| Ok(Address::Unix(p)),
    SocketAddr => |a| Ok(Address::Tcp(a.to_string())),
}

/// The digest a side uses when it *delivers* a challenge. Answers always follow whatever
/// the peer asked for (md5, sha256 or sha384).
///
/// ```
/// use ipcring::socket::{Digest, SocketOptions};
/// let opts = SocketOptions::new().authkey(b"k").digest(Digest::LegacyMd5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digest {
    /// CPython 3.12+: `{sha256}` + 40 random bytes; answered with HMAC-SHA256. A 3.11 peer
    /// answers it with HMAC-MD5 over the whole message, which is accepted (as 3.12 does).
    #[default]
    Sha256,
    /// `{sha384}` + 40 random bytes (Python 3.12+ peers only).
    Sha384,
    /// CPython 3.11 and older: 20 random bytes, answered with a raw 16-byte HMAC-MD5.
    LegacyMd5,
}

/// How to bind, connect and talk: authkey, limits and timeouts.
///
/// ```
/// use std::time::Duration;
/// use ipcring::socket::SocketOptions;
/// let opts = SocketOptions::new()
///     .authkey(b"Do not let eve find us!")
///     .max_frame(1 << 20)
///     .read_timeout(Some(Duration::from_secs(30)));
/// ```
#[derive(Clone)]
pub struct SocketOptions {
    authkey: Option<Vec<u8>>,
    digest: Digest,
    max_frame: usize,
    handshake_timeout: Duration,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    max_clients: usize,
    access: crate::Access,
}

impl fmt::Debug for SocketOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("SocketOptions")
            .field("authkey", &self.authkey.as_ref().map(|_| "<set>"))
            .field("digest", &self.digest)
            .field("max_frame", &self.max_frame)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_clients", &self.max_clients)
            .field("access", &self.access)
            .finish()
    }
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            authkey: None,
            digest: Digest::Sha256,
            max_frame: Self::DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            read_timeout: None,
            write_timeout: None,
            max_clients: 1024,
            access: crate::Access::new(),
        }
    }
}

impl SocketOptions {
    /// Default [`max_frame`](Self::max_frame): 64 MiB.
    pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

    /// The defaults: no authkey, 64 MiB frames, 10 s handshake and connect timeouts, no
    /// read/write timeouts, 1024 concurrent clients.
    ///
    /// ```
    /// let o = ipcring::socket::SocketOptions::new();
    /// ```
    pub fn new() -> SocketOptions {
        SocketOptions::default()
    }

    crate::access::access_option_methods!(access);

    /// The shared secret. With a key, both sides authenticate each other before any data
    /// flows; without one, there is no handshake (and a peer that expects one fails).
    /// An empty key is still a key (Python 3.11's `Listener` treats `b''` as none: give
    /// Python a non-empty key).
    ///
    /// ```
    /// let o = ipcring::socket::SocketOptions::new().authkey(b"secret");
    /// ```
    pub fn authkey(mut self, key: impl AsRef<[u8]>) -> SocketOptions {
        self.authkey = Some(key.as_ref().to_vec());
        self
    }

    /// Removes the authkey.
    ///
    /// ```
    /// let o = ipcring::socket::SocketOptions::new().authkey(b"k").no_authkey();
    /// ```
    pub fn no_authkey(mut self) -> SocketOptions {
        self.authkey = None;
        self
    }

    crate::builder::setters! {
        /// The digest this side asks for when it delivers a challenge (default
        /// [`Digest::Sha256`]).
        ///
        /// ```
        /// use ipcring::socket::{Digest, SocketOptions};
        /// let o = SocketOptions::new().digest(Digest::Sha384);
        /// ```
        digest(digest: Digest);

        /// The largest frame sent or accepted, in bytes (default 64 MiB). A peer announcing a
        /// larger one gets its connection closed, and the receiver an
        /// [`Error::MessageTooLarge`]; nothing is allocated for it.
        ///
        /// ```
        /// let o = ipcring::socket::SocketOptions::new().max_frame(4096);
        /// ```
        max_frame(bytes: usize);

        /// How long the whole handshake may take before the connection is dropped (default
        /// 10 s). Applies on both sides.
        ///
        /// ```
        /// use std::time::Duration;
        /// let o = ipcring::socket::SocketOptions::new().handshake_timeout(Duration::from_secs(2));
        /// ```
        handshake_timeout(t: Duration);

        /// How long [`Connection::connect`] keeps trying while the listener is not there yet
        /// (refused, or no socket file): default 10 s, so the two programs can start in any
        /// order. `Duration::ZERO` makes a single attempt, as Python's `Client` does.
        ///
        /// ```
        /// use std::time::Duration;
        /// let o = ipcring::socket::SocketOptions::new().connect_timeout(Duration::ZERO);
        /// ```
        connect_timeout(t: Duration);

        /// Time limit of the blocking [`Receiver::recv`] forms (default `None`: wait for ever).
        ///
        /// ```
        /// use std::time::Duration;
        /// use ipcring::socket::SocketOptions;
        /// let o = SocketOptions::new().read_timeout(Some(Duration::from_secs(5)));
        /// ```
        read_timeout(t: Option<Duration>);

        /// Time limit of the blocking [`Sender::send`] (default `None`: wait for ever). A send
        /// that times out after writing part of its frame leaves the connection unusable.
        ///
        /// ```
        /// use std::time::Duration;
        /// use ipcring::socket::SocketOptions;
        /// let o = SocketOptions::new().write_timeout(Some(Duration::from_secs(5)));
        /// ```
        write_timeout(t: Option<Duration>);
    }

    /// How many connections [`Listener::serve`] handles at once (default 1024); more wait
    /// in the listen backlog.
    ///
    /// ```
    /// let o = ipcring::socket::SocketOptions::new().max_clients(64);
    /// ```
    pub fn max_clients(mut self, n: usize) -> SocketOptions {
        self.max_clients = n.max(1);
        self
    }
}

/// A connected stream socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> Result<std::os::unix::net::SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name).map_err(|e| Error::InvalidName {
        name: String::from_utf8_lossy(name).into_owned(),
        reason: format!("not a usable abstract socket name: {e}").into(),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> Result<std::os::unix::net::SocketAddr> {
    Err(Error::Unsupported(
        "abstract Unix socket names exist on Linux only".into(),
    ))
}

/// A connection: framed, authenticated if an authkey was given. Sends and receives byte
/// messages ([`Sender`], [`Receiver`]) or pickled objects ([`Connection::send_pickle`]).
///
/// ```no_run
/// use ipcring::socket::{pickle::Value, Connection, SocketOptions, DEFAULT_AUTHKEY};
///
/// # fn main() -> ipcring::Result<()> {
/// // The article's Bob, against a Python (or Rust) Alice.
/// let opts = SocketOptions::new().authkey(DEFAULT_AUTHKEY);
/// let mut conn = Connection::connect("localhost:6000", &opts)?;
/// conn.send_pickle(&vec![8, 8])?;
/// let answer: Value = conn.recv_value()?;
/// println!("What is 8 * 8? Why Alice told me it's {answer}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Connection {
    tx: SocketSender,
    rx: SocketReceiver,
}

impl Connection {
    pub(crate) fn from_stream(stream: Stream, opts: &SocketOptions) -> Connection {
        if let Stream::Tcp(s) = &stream {
            // Frames are written whole; do not let Nagle hold a request back.
            let _ = s.set_nodelay(true);
        }
        no_sigpipe(stream.as_raw_fd());
        let stream = Arc::new(stream);
        Connection {
            tx: SocketSender::new(stream.clone(), opts.max_frame, opts.write_timeout),
            rx: SocketReceiver::new(stream, opts.max_frame, opts.read_timeout),
        }
    }

    /// One attempt: `Err` for an address that cannot be used, `Ok(Err)` if the connect failed.
    fn connect_once(addr: &Address, deadline: Deadline) -> Result<std::io::Result<Stream>> {
        Ok(match addr {
            Address::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Address::Abstract(n) => UnixStream::connect_addr(&abstract_addr(n)?).map(Stream::Unix),
            Address::Tcp(h) => {
                let mut last = None;
                for a in Address::resolve(h)? {
                    let r = match deadline.remaining() {
                        Some(d) if !d.is_zero() => TcpStream::connect_timeout(&a, d),
                        _ => TcpStream::connect(a),
                    };
                    match r {
                        Ok(s) => return Ok(Ok(Stream::Tcp(s))),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last
                    .unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrNotAvailable)))
            }
        })
    }

    /// Connects to a listener and, with an authkey, runs the handshake (answer the
    /// listener's challenge, then deliver ours: Python's `Client` order).
    ///
    /// While nobody listens yet (connection refused, no socket file), retries until
    /// [`SocketOptions::connect_timeout`]. Errors: [`Error::Auth`] for a wrong key or a
    /// handshake that did not finish in time, [`Error::Timeout`] when nobody came.
    ///
    /// ```no_run
    /// use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let conn = Connection::connect("@alice", &SocketOptions::new().authkey(b"k"))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(addr: impl ToAddress, opts: &SocketOptions) -> Result<Connection> {
        let addr = addr.to_address()?;
        let deadline = Deadline::after(opts.connect_timeout);
        let stream = loop {
            match Self::connect_once(&addr, deadline)? {
                Ok(s) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    return Err(Error::InvalidName {
                        name: addr.to_string(),
                        reason: "unusable address".into(),
                    });
                }
                Err(e) => {
                    let retry = matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EAGAIN)
                    );
                    let left = deadline.remaining().unwrap_or(Duration::ZERO);
                    if retry && !left.is_zero() {
                        std::thread::sleep(left.min(Duration::from_millis(20)));
                        continue;
                    }
                    if e.kind() == std::io::ErrorKind::TimedOut
                        || (retry && !opts.connect_timeout.is_zero())
                    {
                        return Err(Error::Timeout);
                    }
                    return Err(Error::io(format!("connect {addr}"), e));
                }
            }
        };
        if let Stream::Unix(s) = &stream {
            // A Unix socket's other end runs as a user the kernel knows: refuse a listener
            // of another user (who could have bound the path or name first) unless allowed.
            let (uid, gid) = crate::sys::socket::peer_ids(s)?;
            if !opts.access.trusts(uid, gid) {
                return Err(Error::PermissionDenied {
                    path: addr.to_string(),
                    owner: Some(uid),
                    mode: None,
                    reason: format!(
                        "the listener runs as uid {uid} (gid {gid}), not as this user (uid {}); \
                         allow it with allow_owner({uid}) or allow_group({gid})",
                        crate::Access::effective_uid()
                    )
                    .into(),
                });
            }
        }
        let mut conn = Connection::from_stream(stream, opts);
        if let Some(key) = &opts.authkey {
            let mut h = conn.handshake(key, opts.handshake_timeout);
            h.answer()?;
            h.deliver(opts.digest)?;
        }
        Ok(conn)
    }

    fn handshake<'a>(&'a mut self, key: &'a [u8], timeout: Duration) -> auth::Handshake<'a> {
        auth::Handshake {
            tx: &mut self.tx,
            rx: &mut self.rx,
            key,
            deadline: Deadline::after(timeout),
            timeout_ms: timeout.as_millis(),
        }
    }

    /// Pickles `value` and sends it: what Python's `conn.send(obj)` does.
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut conn = Connection::connect("localhost:6000", &SocketOptions::new())?;
    /// conn.send_pickle(&(8, 8))?; // Python receives the tuple (8, 8)
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_pickle<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let bytes = pickle::to_vec(value)?;
        self.tx.send(&bytes)
    }

    /// Receives a message and unpickles it: what Python's `conn.recv()` does. Receive
    /// into [`pickle::Value`] to accept any Python object.
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut conn = Connection::connect("localhost:6000", &SocketOptions::new())?;
    /// let n: i64 = conn.recv_pickle()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_pickle<T: DeserializeOwned>(&mut self) -> Result<T> {
        let bytes = self.rx.recv()?;
        pickle::from_slice(&bytes)
    }

    /// Sends a [`pickle::Value`]: any Python object this codec can express, such as the
    /// `bytes` object `b'stop server'`.
    ///
    /// ```no_run
    /// # use ipcring::socket::{pickle::Value, Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut conn = Connection::connect("localhost:6000", &SocketOptions::new())?;
    /// conn.send_value(&Value::Bytes(b"stop server".to_vec()))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_value(&mut self, value: &pickle::Value) -> Result<()> {
        let bytes = pickle::value_to_vec(value)?;
        self.tx.send(&bytes)
    }

    /// Receives any pickled Python object as a [`pickle::Value`].
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut conn = Connection::connect("localhost:6000", &SocketOptions::new())?;
    /// let v = conn.recv_value()?;
    /// println!("{v}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_value(&mut self) -> Result<pickle::Value> {
        let bytes = self.rx.recv()?;
        pickle::value_from_slice(&bytes)
    }

    /// Splits into a sending and a receiving half, usable from two threads.
    ///
    /// ```no_run
    /// # use ipcring::socket::{Connection, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let (tx, rx) = Connection::connect("localhost:6000", &SocketOptions::new())?.into_split();
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_split(self) -> (SocketSender, SocketReceiver) {
        (self.tx, self.rx)
    }
}

impl Sender for Connection {
    fn send_deadline(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        self.tx.send_deadline(msg, deadline)
    }
    fn try_send(&mut self, msg: &[u8]) -> Result<(), TrySendError> {
        self.tx.try_send(msg)
    }
    fn max_message(&self) -> usize {
        self.tx.max_message()
    }
}

impl Receiver for Connection {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        self.rx.recv_deadline_into(buf, deadline)
    }
}

/// A connection accepted by a [`Listener`] whose handshake has not run yet. Run it with
/// [`Pending::authenticate`], on any thread.
///
/// ```no_run
/// use ipcring::socket::{Listener, SocketOptions};
/// # fn main() -> ipcring::Result<()> {
/// let l = Listener::bind("@alice", &SocketOptions::new().authkey(b"k"))?;
/// let pending = l.accept_pending()?;
/// std::thread::spawn(move || pending.authenticate());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Pending {
    conn: Connection,
    authkey: Option<Vec<u8>>,
    digest: Digest,
    handshake_timeout: Duration,
}

impl Pending {
    /// Runs the listener's side of the handshake (deliver our challenge, then answer the
    /// client's: Python's `Listener.accept` order) within the handshake timeout. Without
    /// an authkey, returns the connection at once.
    ///
    /// ```no_run
    /// # use ipcring::socket::{Listener, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let l = Listener::bind("@alice", &SocketOptions::new())?;
    /// let conn = l.accept_pending()?.authenticate()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn authenticate(mut self) -> Result<Connection> {
        if let Some(key) = self.authkey.take() {
            let mut h = self.conn.handshake(&key, self.handshake_timeout);
            h.deliver(self.digest)?;
            h.answer()?;
        }
        Ok(self.conn)
    }
}

/// What [`Listener::serve`] does after a handler returns.
///
/// ```
/// use ipcring::socket::Flow;
/// assert_ne!(Flow::Continue, Flow::Stop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep accepting connections.
    Continue,
    /// Stop accepting; `serve` returns once the handlers still running have finished.
    Stop,
}

#[derive(Debug)]
enum Inner {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A listening socket. Accepts connections one at a time ([`Listener::accept`]) or serves
/// many at once, each on its own thread ([`Listener::serve`]).
///
/// A Unix socket file is created by `bind` (a stale file left by a dead listener is
/// replaced; one in use is [`Error::AlreadyExists`]) and removed on drop.
///
/// ```no_run
/// use ipcring::socket::{Flow, Listener, SocketOptions, DEFAULT_AUTHKEY};
/// use ipcring::{Receiver, Sender};
/// # fn main() -> ipcring::Result<()> {
/// let l = Listener::bind("localhost:6000", &SocketOptions::new().authkey(DEFAULT_AUTHKEY))?;
/// l.serve(|conn| {
///     let mut conn = conn?;
///     while let Ok(msg) = conn.recv() {
///         conn.send(&msg)?;
///     }
///     Ok(Flow::Continue)
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Listener {
    inner: Inner,
    opts: SocketOptions,
    address: Address,
    /// The socket file we created, with its (device, inode), removed on drop if unchanged.
    owned_path: Option<(PathBuf, u64, u64)>,
    /// Unix clients closed unheard because they run as a user the options do not allow.
    refused: std::sync::atomic::AtomicU64,
}

fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Binds a Unix socket at `p`, replacing a leftover of a dead listener that `access` trusts.
fn bind_unix(p: &Path, access: &crate::Access) -> Result<UnixListener> {
    let bind_err = |e| Error::io(format!("bind {}", p.display()), e);
    match UnixListener::bind(p) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
        r => return r.map_err(bind_err),
    }
    // A socket file nobody accepts on is a leftover of a dead listener.
    let refused = UnixStream::connect(p).err().and_then(|e| e.raw_os_error());
    if refused != Some(libc::ECONNREFUSED) {
        let shown = p.display();
        return Err(Error::AlreadyExists(format!(
            "{shown} (a listener is using it)"
        )));
    }
    // Only our own (or an allowed user's) leftover is removed.
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()));
    if let Some(st) = c.ok().and_then(|c| crate::sys::owner::lstat(&c)) {
        if !access.trusts(st.uid, st.gid) {
            let why = format!("a leftover socket of uid {}: not removed", st.uid);
            return Err(crate::sys::owner::denied(
                &p.display().to_string(),
                Some(&st),
                why,
            ));
        }
    }
    let _ = std::fs::remove_file(p);
    UnixListener::bind(p).map_err(bind_err)
}

impl Listener {
    /// Binds and listens.
    ///
    /// ```
    /// use ipcring::socket::{Address, Listener, SocketOptions};
    /// let l = Listener::bind("127.0.0.1:0", &SocketOptions::new())?;
    /// assert!(matches!(l.local_addr(), Address::Tcp(_)));
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn bind(addr: impl ToAddress, opts: &SocketOptions) -> Result<Listener> {
        let address = addr.to_address()?;
        let bind_err = |taken: String, e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::AlreadyExists(taken)
            } else {
                Error::io(format!("bind {address}"), e)
            }
        };
        let (inner, owned_path) = match &address {
            Address::Unix(p) => {
                let l = bind_unix(p, &opts.access)?;
                let id = file_id(p).unwrap_or((0, 0));
                (Inner::Unix(l), Some((p.clone(), id.0, id.1)))
            }
            Address::Abstract(n) => {
                let l = UnixListener::bind_addr(&abstract_addr(n)?)
                    .map_err(|e| bind_err(address.to_string(), e))?;
                (Inner::Unix(l), None)
            }
            Address::Tcp(h) => {
                // Each address in turn (IPv4 first); the last one's error if none binds.
                let l = TcpListener::bind(&Address::resolve(h)?[..])
                    .map_err(|e| bind_err(format!("{h} (the port is in use)"), e))?;
                (Inner::Tcp(l), None)
            }
        };
        let nb = match &inner {
            Inner::Unix(l) => l.set_nonblocking(true),
            Inner::Tcp(l) => l.set_nonblocking(true),
        };
        nb.map_err(|e| Error::io("set the listener non-blocking", e))?;
        let address = match &inner {
            Inner::Tcp(l) => l
                .local_addr()
                .map(|a| Address::Tcp(a.to_string()))
                .unwrap_or(address),
            Inner::Unix(_) => address,
        };
        Ok(Listener {
            inner,
            opts: opts.clone(),
            address,
            owned_path,
            refused: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many Unix-socket clients this listener closed unheard because they run as a
    /// user its options do not allow (see [`SocketOptions::allow_owner`]). TCP clients are
    /// authenticated by the authkey only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let l = ipcring::socket::Listener::bind(dir.path().join("s"), &Default::default())?;
    /// assert_eq!(l.refused_peers(), 0);
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn refused_peers(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The bound address (for TCP, with the real port when bound to port 0).
    ///
    /// ```
    /// # use ipcring::socket::{Listener, SocketOptions};
    /// let l = Listener::bind("127.0.0.1:0", &SocketOptions::new())?;
    /// println!("listening on {}", l.local_addr());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn local_addr(&self) -> &Address {
        &self.address
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Unix(l) => l.as_fd(),
            Inner::Tcp(l) => l.as_fd(),
        }
    }

    /// Accepts one socket, waiting until `deadline`. `Ok(None)` on time out.
    fn accept_stream(&self, deadline: Deadline) -> Result<Option<Stream>> {
        // The listening socket is non-blocking (set in `bind`): a client that is gone
        // between poll and accept cannot leave us blocked in accept past the deadline.
        loop {
            let r = match &self.inner {
                Inner::Unix(l) => l
                    .accept()
                    .and_then(|(s, _)| s.set_nonblocking(false).map(|_| Stream::Unix(s))),
                Inner::Tcp(l) => l
                    .accept()
                    .and_then(|(s, _)| s.set_nonblocking(false).map(|_| Stream::Tcp(s))),
            };
            match r {
                Ok(Stream::Unix(s)) => {
                    // A client of another user (unless allowed) is closed at once, before
                    // a byte is read or written: it sees the connection end.
                    let (uid, gid) = crate::sys::socket::peer_ids(&s)?;
                    if self.opts.access.trusts(uid, gid) {
                        return Ok(Some(Stream::Unix(s)));
                    }
                    self.refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(s) => return Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !wait_ready(self.fd().as_raw_fd(), Ready::Read, deadline)? {
                        return Ok(None);
                    }
                }
                // The client gave up before we accepted it: wait for the next one.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED) | Some(libc::EINTR)
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(Error::io(format!("accept on {}", self.address), e)),
            }
        }
    }

    fn pending(&self, stream: Stream) -> Pending {
        Pending {
            conn: Connection::from_stream(stream, &self.opts),
            authkey: self.opts.authkey.clone(),
            digest: self.opts.digest,
            handshake_timeout: self.opts.handshake_timeout,
        }
    }

    /// Accepts the next connection without running the handshake (see [`Pending`]).
    ///
    /// ```no_run
    /// # use ipcring::socket::{Listener, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let l = Listener::bind("@alice", &SocketOptions::new())?;
    /// let pending = l.accept_pending()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept_pending(&self) -> Result<Pending> {
        loop {
            if let Some(s) = self.accept_stream(Deadline::forever())? {
                return Ok(self.pending(s));
            }
        }
    }

    /// Accepts the next connection and authenticates it, as Python's `Listener.accept()`
    /// does. A client that fails the handshake yields [`Error::Auth`] (the listener stays
    /// usable); the handshake blocks this thread for at most the handshake timeout — use
    /// [`Listener::serve`] to keep serving others meanwhile.
    ///
    /// ```no_run
    /// # use ipcring::socket::{Listener, SocketOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let l = Listener::bind("@alice", &SocketOptions::new())?;
    /// let conn = l.accept()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept(&self) -> Result<Connection> {
        self.accept_pending()?.authenticate()
    }

    /// Like [`Listener::accept`], waiting at most `timeout` for a client to arrive (the
    /// handshake then has its own timeout). [`Error::Timeout`] if nobody came.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ipcring::socket::{Listener, SocketOptions};
    /// let l = Listener::bind("127.0.0.1:0", &SocketOptions::new())?;
    /// assert!(l.accept_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # Ok::<(), ipcring::Error>(())
    /// ```
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Connection> {
        match self.accept_stream(Deadline::after(timeout))? {
            Some(s) => self.pending(s).authenticate(),
            None => Err(Error::Timeout),
        }
    }

    /// Serves clients concurrently: each accepted connection is authenticated and handed to
    /// `handler` on its own thread (at most [`SocketOptions::max_clients`] at once), so a
    /// slow or silent client never delays the others. The handler receives the
    /// authentication result too (an `Err` for a wrong key or a client that did not answer
    /// in time: it may log it), and returns [`Flow::Stop`] to end the serving; an `Err`
    /// from the handler only ends that connection.
    ///
    /// Returns after a `Stop`, once every running handler has returned, or on an accept
    /// error that is not transient.
    ///
    /// ```no_run
    /// use ipcring::socket::{Flow, Listener, SocketOptions};
    /// use ipcring::{Receiver, Sender};
    /// # fn main() -> ipcring::Result<()> {
    /// let l = Listener::bind("/tmp/echo.sock", &SocketOptions::new())?;
    /// l.serve(|conn| {
    ///     let mut conn = conn?;
    ///     let msg = conn.recv()?;
    ///     conn.send(&msg)?;
    ///     Ok(Flow::Continue)
    /// })
    /// # }
    /// ```
    pub fn serve<F>(&self, handler: F) -> Result<()>
    where
        F: Fn(Result<Connection>) -> Result<Flow> + Sync,
    {
        let stop = AtomicBool::new(false);
        let active = (Mutex::new(0usize), Condvar::new());
        let max = self.opts.max_clients;
        let slice = Duration::from_millis(100);
        std::thread::scope(|s| {
            let result = loop {
                if stop.load(Ordering::Acquire) {
                    break Ok(());
                }
                {
                    let mut n = active.0.lock().unwrap_or_else(|p| p.into_inner());
                    while *n >= max && !stop.load(Ordering::Acquire) {
                        n = active
                            .1
                            .wait_timeout(n, slice)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
                let stream = match self.accept_stream(Deadline::after(slice)) {
                    Ok(Some(s)) => s,
                    Ok(None) => continue,
                    Err(Error::Io { source, .. })
                        if matches!(
                            source.raw_os_error(),
                            Some(libc::EMFILE)
                                | Some(libc::ENFILE)
                                | Some(libc::ENOBUFS)
                                | Some(libc::ENOMEM)
                        ) =>
                    {
                        // Out of descriptors or memory for now: let running handlers finish.
                        std::thread::sleep(slice);
                        continue;
                    }
                    Err(e) => break Err(e),
                };
                let pending = self.pending(stream);
                *active.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                let (stop, active, handler) = (&stop, &active, &handler);
                let spawned = std::thread::Builder::new()
                    .name("ipcring-socket-client".into())
                    .spawn_scoped(s, move || {
                        if let Ok(Flow::Stop) = handler(pending.authenticate()) {
                            stop.store(true, Ordering::Release);
                        }
                        *active.0.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                        active.1.notify_one();
                    });
                if spawned.is_err() {
                    // No thread for it: the connection was dropped (closed) with the closure.
                    *active.0.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                    std::thread::sleep(slice);
                }
            };
            stop.store(true, Ordering::Release);
            result
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((p, dev, ino)) = &self.owned_path {
            // Remove the socket file only if it is still ours (not replaced by a new listener).
            if file_id(p) == Some((*dev, *ino)) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[cfg(test)]
mod tests;
