//! The crate's one error type.
//!
//! Every failure of every method has a variant here, carrying the context a user needs
//! to act on it ("capacity 1000 is not a power of two", "frame of 4294967295 bytes exceeds
//! the limit of 16777216"). Nothing in the crate panics on bad input from a peer or a file:
//! such input becomes [`Error::Corrupt`], [`Error::BadSegment`] or [`Error::Framing`].

use std::borrow::Cow;
use std::io;

/// Shorthand for `Result<T, ipcring::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `ipcring`.
///
/// # Example
///
/// ```
/// use ipcring::Error;
/// let e = Error::MessageTooLarge { len: 10, max: 4 };
/// assert_eq!(e.to_string(), "message of 10 bytes exceeds the maximum of 4 bytes");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed. `op` names what was being done.
    #[error("{op}: {source}")]
    Io {
        /// What was being done, e.g. `"shm_open /orders"`.
        op: Cow<'static, str>,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A name or path that cannot be used (empty, too long, interior NUL, bad characters).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: Cow<'static, str>,
    },

    /// A configuration value was refused (capacity not a power of two, zero sizes, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(Cow<'static, str>),

    /// The object opened is not a usable segment of the expected kind: wrong magic,
    /// unknown layout version, truncated, inconsistent sizes.
    #[error("{path}: not a usable segment: {reason}")]
    BadSegment {
        /// The name or path that was opened.
        path: String,
        /// What exactly is wrong.
        reason: Cow<'static, str>,
    },

    /// The peer wrote an impossible value into shared state (a position going backwards,
    /// a record length past the end). The ring cannot be trusted any more.
    #[error("shared state is corrupt: {0}")]
    Corrupt(Cow<'static, str>),

    /// The role (producer, consumer, writer, publisher, ...) is held by another live handle.
    #[error("the {role} role of {name} is already taken by a live process")]
    RoleTaken {
        /// The role that was requested.
        role: &'static str,
        /// The segment's name.
        name: String,
    },

    /// The peer is gone (exited, killed, closed its end), and everything it had sent
    /// has been delivered.
    #[error("the peer has disconnected")]
    Disconnected,

    /// The consumer left before taking everything that was sent: `messages` messages of
    /// `bytes` payload bytes in all are still in the ring, unread (from
    /// `ring::Producer::wait_drained`). The producer cannot know whether a later consumer
    /// will take them.
    #[error("the consumer left with {messages} message(s) ({bytes} bytes) unread")]
    Undelivered {
        /// Messages committed and never released by a consumer.
        messages: u64,
        /// Their payload bytes.
        bytes: u64,
    },

    /// A `_timeout` operation ran out of time.
    #[error("timed out")]
    Timeout,

    /// A `try_` operation found no room (send) or no message (receive) right now. Comes
    /// from `?` on a [`TrySendError::Full`] or [`TryRecvError::Empty`], so that a full
    /// channel is never dropped silently:
    ///
    /// ```
    /// use ipcring::ring::{Producer, RingOptions};
    /// use ipcring::Error;
    ///
    /// fn send_now(tx: &mut Producer, msg: &[u8]) -> ipcring::Result<()> {
    ///     tx.try_send(msg)?; // "full" becomes Error::WouldBlock
    ///     Ok(())
    /// }
    /// # fn main() -> ipcring::Result<()> {
    /// # let name = format!("/ipcring-doc-wouldblock-{}", std::process::id());
    /// let mut tx = Producer::create(&name, &RingOptions::new().capacity(64))?;
    /// while send_now(&mut tx, b"0123456789").is_ok() {}
    /// assert!(matches!(send_now(&mut tx, b"x"), Err(Error::WouldBlock)));
    /// # Ok(()) }
    /// ```
    #[error("the operation would block: no room or no message right now")]
    WouldBlock,

    /// A named object (segment, FIFO, file, lock file, registry directory, socket) belongs
    /// to a user this side does not trust, lets in more users than asked for, or the OS
    /// refused to open it (EACCES). Reported at once, never as "does not exist" after a
    /// wait. `reason` says which, with the owner and mode and the option that would allow it.
    ///
    /// ```
    /// let e = ipcring::Error::PermissionDenied {
    ///     path: "/q".into(),
    ///     owner: Some(65534),
    ///     mode: Some(0o600),
    ///     reason: "owned by uid 65534, not by this user (uid 0)".into(),
    /// };
    /// assert_eq!(e.to_string(), "/q: permission denied: owned by uid 65534, not by this user (uid 0)");
    /// ```
    #[error("{path}: permission denied: {reason}")]
    PermissionDenied {
        /// The name or path that was opened.
        path: String,
        /// The object's owner (uid), when it could be read.
        owner: Option<u32>,
        /// The object's permission bits (`st_mode & 0o7777`), when they could be read.
        mode: Option<u32>,
        /// What exactly was refused, and how to allow it.
        reason: Cow<'static, str>,
    },

    /// The object already exists (creation with O_EXCL).
    #[error("{0} already exists")]
    AlreadyExists(String),

    /// The object does not exist (open of a missing name after its deadline).
    #[error("{0} does not exist")]
    NotFound(String),

    /// A message larger than the method's documented maximum.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The maximum this channel accepts.
        max: usize,
    },

    /// A malformed frame on a stream (pipe, socket, file log): bad header, absurd length,
    /// truncated frame before end of stream.
    #[error("framing error: {0}")]
    Framing(Cow<'static, str>),

    /// Authentication failed (wrong key, bad challenge, handshake timeout).
    #[error("authentication failed: {0}")]
    Auth(Cow<'static, str>),

    /// A system limit refused the request; `hint` says which limit and where it is set.
    #[error("system limit: {what} ({hint})")]
    SystemLimit {
        /// What was refused.
        what: Cow<'static, str>,
        /// Which limit, and where to change it.
        hint: Cow<'static, str>,
    },

    /// Encoding or decoding a value failed (serde codecs).
    #[error("codec error: {0}")]
    Codec(Cow<'static, str>),

    /// An error reported by the Redis client or server.
    #[error("redis: {0}")]
    Redis(Cow<'static, str>),

    /// The operation is not supported on this platform or by this method.
    #[error("unsupported: {0}")]
    Unsupported(Cow<'static, str>),
}

impl Error {
    /// Builds an [`Error::Io`] naming the operation.
    pub(crate) fn io(op: impl Into<Cow<'static, str>>, source: io::Error) -> Error {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// `Ok` if a message of `len` bytes is within the limit `max`, else
    /// [`Error::MessageTooLarge`].
    #[inline]
    pub(crate) fn check_len(len: usize, max: usize) -> Result<()> {
        if len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        Ok(())
    }

    /// Builds an [`Error::Corrupt`].
    pub(crate) fn corrupt(msg: impl Into<Cow<'static, str>>) -> Error {
        let msg = msg.into();
        #[cfg(feature = "tracing")]
        crate::log::corruption(&msg);
        Error::Corrupt(msg)
    }

    /// True for [`Error::Disconnected`].
    ///
    /// ```
    /// assert!(ipcring::Error::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected)
    }

    /// True for [`Error::Timeout`].
    ///
    /// ```
    /// assert!(ipcring::Error::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// True for [`Error::WouldBlock`].
    ///
    /// ```
    /// assert!(ipcring::Error::WouldBlock.is_would_block());
    /// ```
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::WouldBlock)
    }
}

/// The error of a `try_send` (and of every other `try_` form that sends or reserves): the
/// channel was [full](TrySendError::Full) and nothing was sent, or the send
/// [failed](TrySendError::Failed).
///
/// `?` turns it into an [`Error`] (`Full` becomes [`Error::WouldBlock`]), so a full channel
/// cannot be ignored by accident; `match` on it to treat "full" as a normal outcome.
///
/// ```
/// use ipcring::ring::{Producer, RingOptions};
/// use ipcring::TrySendError;
/// # fn main() -> ipcring::Result<()> {
/// # let name = format!("/ipcring-doc-trysend-{}", std::process::id());
/// let mut tx = Producer::create(&name, &RingOptions::new().capacity(64))?;
/// let mut sent = 0;
/// loop {
///     match tx.try_send(b"0123456789") {
///         Ok(()) => sent += 1,
///         Err(TrySendError::Full) => break, // the consumer is behind: try later
///         Err(e) => return Err(e.into()),
///     }
/// }
/// assert!(sent > 0);
/// assert!(tx.try_send(b"x").unwrap_err().is_full());
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TrySendError {
    /// No room right now: nothing was sent.
    #[error("the channel is full")]
    Full,
    /// The send failed (the peer is gone, the message is too large, ...).
    #[error(transparent)]
    Failed(#[from] Error),
}

/// A `try_` outcome as a wait loop's look, inside the crate: "full" or "empty" is not an
/// error there but "not yet".
#[cfg(feature = "async")]
pub(crate) trait TryOutcome<T> {
    /// `Ok(Some(v))` done, `Ok(None)` not yet (full, empty), `Err` failed.
    fn ready(self) -> Result<Option<T>>;

    /// `Ok(true)` done, `Ok(false)` not yet (full, empty), `Err` failed.
    fn done(self) -> Result<bool>
    where
        Self: Sized,
    {
        self.ready().map(|v| v.is_some())
    }
}

/// The error of a `try_recv` (and of every other `try_` form that receives): no message was
/// [waiting](TryRecvError::Empty), or the receive [failed](TryRecvError::Failed).
///
/// `?` turns it into an [`Error`] (`Empty` becomes [`Error::WouldBlock`]).
///
/// ```
/// use ipcring::ring::{Consumer, Producer, RingOptions};
/// use ipcring::TryRecvError;
/// # fn main() -> ipcring::Result<()> {
/// # let name = format!("/ipcring-doc-tryrecv-{}", std::process::id());
/// let opts = RingOptions::new().capacity(1024);
/// let mut tx = Producer::create(&name, &opts)?;
/// let mut rx = Consumer::open(&name, &opts)?;
/// let mut buf = Vec::new();
/// assert!(matches!(rx.try_recv_into(&mut buf), Err(TryRecvError::Empty)));
/// tx.send(b"hi")?;
/// rx.try_recv_into(&mut buf)?;
/// assert_eq!(buf, b"hi");
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TryRecvError {
    /// No message right now.
    #[error("no message is waiting")]
    Empty,
    /// The receive failed (the peer is gone and everything it sent was received, corrupt
    /// data, ...).
    #[error(transparent)]
    Failed(#[from] Error),
}

/// What [`TrySendError`] and [`TryRecvError`] share, written once for both: `$name` is the
/// error, `$not_yet` its "not now" variant and `$is_not_yet` the test for it, `$op` the
/// operation that was tried ("send", "receive").
macro_rules! try_error {
    ($name:ident, $not_yet:ident, $is_not_yet:ident, $op:literal) => {
        impl $name {
            #[doc = concat!("True for [`", stringify!($name), "::", stringify!($not_yet), "`].")]
            ///
            /// ```
            #[doc = concat!("assert!(ipcring::", stringify!($name), "::", stringify!($not_yet), ".", stringify!($is_not_yet), "());")]
            /// ```
            pub fn $is_not_yet(&self) -> bool {
                matches!(self, $name::$not_yet)
            }

            #[doc = concat!("True when the ", $op, " failed because the peer is gone ([`Error::Disconnected`]).")]
            ///
            /// ```
            #[doc = concat!("use ipcring::{Error, ", stringify!($name), "};")]
            #[doc = concat!("assert!(", stringify!($name), "::Failed(Error::Disconnected).is_disconnected());")]
            #[doc = concat!("assert!(!", stringify!($name), "::", stringify!($not_yet), ".is_disconnected());")]
            /// ```
            pub fn is_disconnected(&self) -> bool {
                matches!(self, $name::Failed(Error::Disconnected))
            }

            #[doc = concat!("The error as an [`Error`]: `", stringify!($not_yet), "` becomes [`Error::WouldBlock`].")]
            ///
            /// ```
            #[doc = concat!("use ipcring::{Error, ", stringify!($name), "};")]
            #[doc = concat!("assert!(matches!(", stringify!($name), "::", stringify!($not_yet), ".into_error(), Error::WouldBlock));")]
            /// ```
            pub fn into_error(self) -> Error {
                match self {
                    $name::$not_yet => Error::WouldBlock,
                    $name::Failed(e) => e,
                }
            }

            #[doc = concat!("The outcome of a ", $op, " with an already expired deadline as a `try_` outcome:")]
            #[doc = concat!("[`Error::Timeout`] becomes `", stringify!($not_yet), "`.")]
            pub(crate) fn from_deadline<T>(r: Result<T>) -> Result<T, $name> {
                match r {
                    Ok(v) => Ok(v),
                    Err(Error::Timeout) => Err($name::$not_yet),
                    Err(e) => Err($name::Failed(e)),
                }
            }
        }

        #[doc = concat!("`?` on a `try_` ", $op, " in a function returning [`crate::Result`]: `", stringify!($not_yet), "` is an")]
        /// error there ([`Error::WouldBlock`]).
        ///
        /// ```
        #[doc = concat!("use ipcring::{Error, ", stringify!($name), "};")]
        #[doc = concat!("assert!(matches!(Error::from(", stringify!($name), "::", stringify!($not_yet), "), Error::WouldBlock));")]
        /// ```
        impl From<$name> for Error {
            fn from(e: $name) -> Error {
                e.into_error()
            }
        }

        #[cfg(feature = "async")]
        impl<T> TryOutcome<T> for Result<T, $name> {
            fn ready(self) -> Result<Option<T>> {
                match self {
                    Ok(v) => Ok(Some(v)),
                    Err($name::$not_yet) => Ok(None),
                    Err($name::Failed(e)) => Err(e),
                }
            }
        }

        // The typed outcome costs nothing on the ring's hot path: a `try_` result is no
        // larger than the `Result<bool>` it replaces (both 64 bytes on x86_64: the size of
        // `Error`; `Full` and `Empty` take niches of `Error`'s discriminant).
        const _: () = assert!(
            std::mem::size_of::<Result<(), $name>>() <= std::mem::size_of::<Result<bool>>()
        );
    };
}

try_error!(TrySendError, Full, is_full, "send");
try_error!(TryRecvError, Empty, is_empty, "receive");

impl From<io::Error> for Error {
    /// Maps an I/O error to the variant a caller matches on: timeouts to [`Error::Timeout`],
    /// a peer's end closing to [`Error::Disconnected`], the rest to [`Error::Io`]. An
    /// `ipcring::Error` that was turned into an `io::Error` (see the impl below) comes back
    /// as itself.
    fn from(source: io::Error) -> Self {
        let source = match source.downcast::<Error>() {
            Ok(ours) => return ours,
            Err(source) => source,
        };
        match source.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout,
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof => Error::Disconnected,
            _ => Error::Io {
                op: Cow::Borrowed("io"),
                source,
            },
        }
    }
}

/// So that `?` works on this crate's results inside a function returning `io::Result`.
///
/// The kind says what happened ([`Error::Timeout`] is `TimedOut`, [`Error::WouldBlock`]
/// `WouldBlock`, [`Error::Disconnected`]
/// `BrokenPipe`, [`Error::NotFound`] `NotFound`, [`Error::Io`] the kind of the OS error, bad
/// input `InvalidInput`, bad data from a peer `InvalidData`, ...); the error inside is the
/// `ipcring::Error` itself, so its message and source chain are kept, and
/// `io::Error::downcast::<ipcring::Error>()` (or `ipcring::Error::from`) gives it back.
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use ipcring::ring::{Consumer, RingOptions};
///
/// fn open_orders() -> io::Result<Consumer> {
///     let opts = RingOptions::new().open_timeout(Duration::ZERO);
///     Ok(Consumer::open("/ipcring-doc-no-such-ring", &opts)?)
/// }
/// let err = open_orders().unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::NotFound);
/// assert!(matches!(ipcring::Error::from(err), ipcring::Error::NotFound(_)));
/// ```
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        use io::ErrorKind as K;
        let kind = match &err {
            Error::Io { source, .. } => source.kind(),
            Error::InvalidName { .. } | Error::InvalidConfig(_) | Error::MessageTooLarge { .. } => {
                K::InvalidInput
            }
            Error::BadSegment { .. } | Error::Corrupt(_) | Error::Framing(_) | Error::Codec(_) => {
                K::InvalidData
            }
            Error::RoleTaken { .. } => K::ResourceBusy,
            Error::Disconnected | Error::Undelivered { .. } => K::BrokenPipe,
            Error::Timeout => K::TimedOut,
            Error::WouldBlock => K::WouldBlock,
            Error::AlreadyExists(_) => K::AlreadyExists,
            Error::NotFound(_) => K::NotFound,
            Error::Auth(_) | Error::PermissionDenied { .. } => K::PermissionDenied,
            Error::Unsupported(_) => K::Unsupported,
            Error::SystemLimit { .. } | Error::Redis(_) => K::Other,
        };
        io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind as K;

    /// Every variant maps to the kind a caller of an `io::Result` function would test for,
    /// keeps its message, and comes back as the same variant.
    #[test]
    fn into_io_error_kinds_messages_and_back() {
        let cases: Vec<(Error, K)> = vec![
            (
                Error::io("shm_open /x", io::Error::from_raw_os_error(libc::EACCES)),
                K::PermissionDenied,
            ),
            (
                Error::InvalidName {
                    name: "a/b".into(),
                    reason: "slash".into(),
                },
                K::InvalidInput,
            ),
            (
                Error::InvalidConfig("capacity 1000 is not a power of two".into()),
                K::InvalidInput,
            ),
            (
                Error::BadSegment {
                    path: "/x".into(),
                    reason: "bad magic".into(),
                },
                K::InvalidData,
            ),
            (Error::corrupt("position went backwards"), K::InvalidData),
            (
                Error::RoleTaken {
                    role: "producer",
                    name: "/x".into(),
                },
                K::ResourceBusy,
            ),
            (Error::Disconnected, K::BrokenPipe),
            (
                Error::Undelivered {
                    messages: 3,
                    bytes: 192,
                },
                K::BrokenPipe,
            ),
            (Error::Timeout, K::TimedOut),
            (Error::WouldBlock, K::WouldBlock),
            (Error::AlreadyExists("/x".into()), K::AlreadyExists),
            (Error::NotFound("/x".into()), K::NotFound),
            (Error::MessageTooLarge { len: 10, max: 4 }, K::InvalidInput),
            (Error::Framing("bad header".into()), K::InvalidData),
            (Error::Auth("wrong key".into()), K::PermissionDenied),
            (
                Error::PermissionDenied {
                    path: "/q".into(),
                    owner: Some(65534),
                    mode: Some(0o600),
                    reason: "owned by uid 65534".into(),
                },
                K::PermissionDenied,
            ),
            (
                Error::SystemLimit {
                    what: "mq".into(),
                    hint: "msg_max".into(),
                },
                K::Other,
            ),
            (Error::Codec("eof".into()), K::InvalidData),
            (Error::Redis("down".into()), K::Other),
            (Error::Unsupported("here".into()), K::Unsupported),
        ];
        for (err, kind) in cases {
            let text = err.to_string();
            let variant = std::mem::discriminant(&err);
            let io_err = io::Error::from(err);
            assert_eq!(io_err.kind(), kind, "{text}");
            assert_eq!(io_err.to_string(), text);
            let back = Error::from(io_err);
            assert_eq!(std::mem::discriminant(&back), variant, "{text}");
            assert_eq!(back.to_string(), text);
        }
    }

    /// An OS error keeps its source chain through the conversion.
    #[test]
    fn io_variant_keeps_the_os_error_as_source() {
        let err = Error::io("open /x", io::Error::from_raw_os_error(libc::ENOENT));
        let io_err = io::Error::from(err);
        let inner = io_err.get_ref().expect("an inner error");
        let os = std::error::Error::source(inner)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the OS error as source");
        assert_eq!(os.raw_os_error(), Some(libc::ENOENT));
    }

    /// Plain I/O errors still map as before.
    #[test]
    fn plain_io_errors_map_by_kind() {
        assert!(Error::from(io::Error::from(K::TimedOut)).is_timeout());
        assert!(Error::from(io::Error::from(K::BrokenPipe)).is_disconnected());
        let r = Error::from(io::Error::from(K::PermissionDenied));
        assert!(matches!(r, Error::Io { .. }), "{r:?}");
    }
}
