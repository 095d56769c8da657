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
    /// Builds an [`Error::Io`] from the last OS error, naming the operation.
    pub(crate) fn last_os(op: impl Into<Cow<'static, str>>) -> Error {
        Error::Io {
            op: op.into(),
            source: io::Error::last_os_error(),
        }
    }

    /// Builds an [`Error::Io`] naming the operation.
    pub(crate) fn io(op: impl Into<Cow<'static, str>>, source: io::Error) -> Error {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// Builds an [`Error::Corrupt`].
    pub(crate) fn corrupt(msg: impl Into<Cow<'static, str>>) -> Error {
        Error::Corrupt(msg.into())
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
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
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
