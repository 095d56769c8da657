//! Redis as the message queue between programs that may not share a machine (feature `redis`).
//!
//! Two ways, both implementing [`Sender`](crate::Sender) / [`Receiver`](crate::Receiver):
//!
//! | types | Redis feature | delivery |
//! |-------|---------------|----------|
//! | [`Publisher`] / [`Subscriber`] | pub/sub channel (`PUBLISH`, `SUBSCRIBE`) | fire and forget: only subscribers connected at that moment get a message |
//! | [`StreamProducer`] / [`StreamConsumer`] | stream + consumer group (`XADD`, `XREADGROUP`, `XACK`, `XAUTOCLAIM`) | kept in the server until acknowledged; survives a restart of either program (and of the server, with persistence on); at least once |
//!
//! Every type is made from a URL, `redis://[user:password@]host:port/db` (or
//! `redis+unix:///path.sock`; `rediss://` for TLS once the `redis` crate's own TLS feature,
//! e.g. `tls-rustls`, is enabled in your Cargo.toml), and [`RedisOptions`].
//!
//! # Connection loss
//!
//! Every type reconnects by itself with exponential backoff ([`RedisOptions::backoff`]); a
//! blocking call keeps trying (or until [`RedisOptions::give_up_after`]), a `_timeout` call
//! until its deadline ([`Error::Timeout`]), a `try_` call makes one
//! attempt (`Ok(false)`).
//!
//! * A [`StreamConsumer`] resumes without loss: after every reconnect it first re-reads its own
//!   pending entries (delivered to it but not acknowledged), then goes on with new ones.
//! * A [`Subscriber`] re-subscribes, but whatever was published while it was away is gone:
//!   it says so through [`Subscriber::gaps`] / [`Subscriber::take_gap`], or as an error from
//!   the next receive if [`Subscriber::set_gap_errors`] is on.
//! * A message whose reply did not come before a connection loss is sent again, in order,
//!   on the next connection, so a message may (rarely) arrive twice; none that a flush
//!   reported as done is lost (for streams: with server persistence, `appendonly yes`).
//!
//! # Pipelining
//!
//! [`Publisher`] and [`StreamProducer`] do not wait for the server's reply to each message:
//! a [`Sender::send`](crate::Sender::send) encodes the command, writes it to the connection
//! and returns, and the replies are read later, many at a time. What that means exactly:
//!
//! * **`send` returned `Ok`**: the message is written to the connection (the kernel's socket
//!   buffer), behind every message sent before it, and the sender keeps it until the server
//!   has answered it. If the connection breaks first, it is written again on the next
//!   connection (after the messages before it), so it is not lost while the sender lives.
//! * **`flush` returned `Ok`** ([`Publisher::flush`], [`StreamProducer::flush`]): the server
//!   answered every message sent so far; for streams they are in the stream (and on disk
//!   when fsynced, with `appendonly yes`). [`Publisher::publish`] and [`StreamProducer::add`]
//!   flush too (they return the reply). Dropping a sender flushes for at most `io_timeout`;
//!   a process that ends without dropping it (`std::process::exit`, a crash, SIGKILL) can
//!   lose the messages the server had not answered: flush before that when it matters.
//! * **The window** ([`RedisOptions::pipeline`], default 128 messages or 1 MiB): a send
//!   that finds that many replies outstanding first reads replies until half of the
//!   window is free (back-pressure, bounded by its deadline). A send also collects the
//!   replies to messages sent more than 1 ms before, so a slow sender learns of failures
//!   soon.
//! * **Batches**: [`Publisher::send_all`] and [`StreamProducer::send_all`] write a batch in
//!   one write when the window has room for it (making room first), where `send` makes one
//!   write per message. That write per message is what bounds a `send` loop;
//!   [`RedisOptions::coalesce`] (opt-in) lets `send` queue messages and write them
//!   together, at the price of "returned" meaning "queued" instead of "written".
//! * **A refused message** (the server answers with an error, e.g. `WRONGTYPE`) is
//!   reported once, as [`Error::Redis`] naming the server's error, by the next call that
//!   collects replies or the next send after it (that send then sends nothing), or by
//!   `flush`; never dropped silently.
//! * **`Err` from a send**: this message was not sent (earlier ones stay queued and go out
//!   with the next call).
//! * After every reconnect the first unanswered message goes alone and its reply is
//!   awaited before the rest follow, so a server still loading its data (`-LOADING`)
//!   cannot accept some and refuse others, which would reorder them.
//!
//! # Peer death
//!
//! Redis has no notion of "the peer left", so this crate adds one: every sender
//! ([`Publisher`], [`StreamProducer`]) keeps an entry with a short lifetime
//! ([`RedisOptions::liveness_ttl`], 2 s by default) in a sorted set beside its channel or
//! stream (`ipcring:live:channel:<name>` / `ipcring:live:stream:<key>`, with an attach
//! counter `ipcring:gen:...`), refreshed every `ttl / 4` by a thread with its own connection
//! and removed when the sender is dropped. Every receiver ([`Subscriber`] on channels,
//! [`StreamConsumer`]) watches it the same way, and once every sender it has known (alive
//! when it connected, or come since) is gone, a receive that finds nothing returns
//! [`Error::Disconnected`], within [`disconnect_bound`] (3.75 s by default) of the last
//! sender's death, SIGKILL included:
//!
//! * a [`StreamConsumer`] first gets every entry the dead producer added (they are in the
//!   stream; it reads once more after the verdict);
//! * a [`Subscriber`] first gets every message that reached it; what was published while it
//!   was not subscribed is lost and counted ([`Subscriber::gaps`]), as always;
//! * a new sender revives the channel or stream for the same receiver.
//!
//! Peers that do not use this crate (`redis-cli`, other languages) keep no entry: while only
//! they are the senders, nothing is ever reported. A [`Subscriber`] with patterns never
//! reports `Disconnected` (its senders cannot be known). `liveness_ttl(None)` turns it off.
//!
//! # Example
//!
//! ```no_run
//! use ipcring::redis::{Publisher, RedisOptions, Subscriber};
//! use ipcring::{Receiver, Sender};
//!
//! # fn main() -> ipcring::Result<()> {
//! let url = "redis://127.0.0.1:6379";
//! let opts = RedisOptions::new();
//! let mut alice = Subscriber::connect(url, "my_channel", &opts)?; // program A
//! let mut bob = Publisher::connect(url, "my_channel", &opts)?;    // program B
//! bob.send(b"example data")?;
//! assert_eq!(alice.recv()?, b"example data");
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::time::Duration;

use crate::{Error, Result};

mod link;
mod pipeline;
mod presence;
mod pubsub;
pub(crate) mod streams;

// The async (tokio) form, beside the blocking one.
#[cfg(feature = "async")]
mod tokio;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use self::tokio::{
    AsyncPublisher, AsyncStreamConsumer, AsyncStreamProducer, AsyncSubscriber, Pooled,
};

pub use pubsub::{Gap, Publisher, Subscriber};
pub use streams::{
    AckMode, StartFrom, StreamConsumer, StreamEntry, StreamOptions, StreamProducer, DATA_FIELD,
};

/// The default lifetime of a sender's liveness entry ([`RedisOptions::liveness_ttl`]).
pub const DEFAULT_LIVENESS_TTL: Duration = Duration::from_secs(2);

/// How long after its last sender's death a waiting receiver returns
/// [`Error::Disconnected`], at most (plus scheduling delay), for a liveness TTL of `ttl`:
/// `1.75 × ttl + 250 ms`, 3.75 s with the default.
///
/// ```
/// use std::time::Duration;
/// use ipcring::redis::{disconnect_bound, DEFAULT_LIVENESS_TTL};
/// assert_eq!(disconnect_bound(DEFAULT_LIVENESS_TTL), Duration::from_millis(3750));
/// ```
pub fn disconnect_bound(ttl: Duration) -> Duration {
    ttl + ttl / 4 + ttl / 2 + presence::POLL
}

/// The default send window of [`Publisher`] and [`StreamProducer`]
/// ([`RedisOptions::pipeline`]): at most 128 messages or 1 MiB whose replies are outstanding.
///
/// ```
/// assert_eq!(ipcring::redis::DEFAULT_PIPELINE, (128, 1 << 20));
/// ```
pub const DEFAULT_PIPELINE: (usize, usize) = (128, 1 << 20);

/// The default largest message: 16 MiB (Redis itself allows 512 MB).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Connection settings shared by every Redis type.
///
/// ```
/// use std::time::Duration;
/// use ipcring::redis::RedisOptions;
/// let opts = RedisOptions::new()
///     .io_timeout(Duration::from_secs(2))
///     .backoff(Duration::from_millis(20), Duration::from_secs(1))
///     .give_up_after(Some(Duration::from_secs(60)));
/// assert_eq!(opts.max_message_len(), ipcring::redis::DEFAULT_MAX_MESSAGE);
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    pub(crate) connect_timeout: Duration,
    pub(crate) io_timeout: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) give_up_after: Option<Duration>,
    pub(crate) max_message: usize,
    pub(crate) health_check: Duration,
    pub(crate) client_name: Option<String>,
    pub(crate) liveness_ttl: Option<Duration>,
    pub(crate) pipeline_msgs: usize,
    pub(crate) pipeline_bytes: usize,
    pub(crate) coalesce: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            give_up_after: None,
            max_message: DEFAULT_MAX_MESSAGE,
            health_check: Duration::from_secs(5),
            client_name: None,
            liveness_ttl: Some(DEFAULT_LIVENESS_TTL),
            pipeline_msgs: DEFAULT_PIPELINE.0,
            pipeline_bytes: DEFAULT_PIPELINE.1,
            coalesce: 1,
        }
    }
}

impl RedisOptions {
    /// The defaults: 5 s to connect (constructors retry within it), 5 s for the server to
    /// answer a command, backoff from 50 ms doubling to 2 s, never give up, 16 MiB messages,
    /// an idle subscriber checks its connection every 5 s.
    ///
    /// ```
    /// let opts = ipcring::redis::RedisOptions::new();
    /// # let _ = opts;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    crate::builder::setters! {
        /// How long a constructor keeps trying to reach the server (and the bound of one
        /// connection attempt).
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::RedisOptions::new().connect_timeout(Duration::from_secs(1));
        /// # let _ = opts;
        /// ```
        connect_timeout(d: Duration);

        /// How long the server has to answer a command (beyond a `BLOCK` the command asked for)
        /// before the connection is taken as dead and replaced.
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::RedisOptions::new().io_timeout(Duration::from_secs(1));
        /// # let _ = opts;
        /// ```
        io_timeout(d: Duration);

        /// After this long of failing in a row, a call returns the last error ([`Error::Redis`])
        /// instead of trying again. `None` (the default): blocking calls try forever.
        ///
        /// ```
        /// # use std::time::Duration;
        /// use ipcring::redis::RedisOptions;
        /// let opts = RedisOptions::new().give_up_after(Some(Duration::from_secs(30)));
        /// # let _ = opts;
        /// ```
        give_up_after(d: Option<Duration>);

        /// The largest message sent or accepted, in bytes (at most 512 MB, Redis' own limit).
        /// A larger one is refused on send with [`Error::MessageTooLarge`]; one arriving is
        /// dropped (and acknowledged, for streams) with the same error.
        ///
        /// ```
        /// let opts = ipcring::redis::RedisOptions::new().max_message(1 << 20);
        /// assert_eq!(opts.max_message_len(), 1 << 20);
        /// ```
        max_message(bytes: usize);

        /// How often an idle [`Subscriber`] pings the server to find out that its connection
        /// broke.
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::RedisOptions::new().health_check(Duration::from_secs(1));
        /// # let _ = opts;
        /// ```
        health_check(d: Duration);

        /// Peer liveness (see [the module docs](crate::redis#peer-death)): senders keep an
        /// entry that lives `ttl` after each refresh (refreshed every `ttl / 4` by a thread of
        /// their own), and receivers report [`Error::Disconnected`] once every sender they knew
        /// is gone, within [`disconnect_bound`]`(ttl)`. `None` turns it off (no liveness keys,
        /// no threads; receivers then never return `Disconnected`). Default
        /// [`DEFAULT_LIVENESS_TTL`] (2 s); at least 200 ms. A sender cut off from the server
        /// for longer than `ttl` counts as gone.
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::RedisOptions::new().liveness_ttl(Some(Duration::from_secs(5)));
        /// # let _ = opts;
        /// ```
        liveness_ttl(ttl: Option<Duration>);

        /// Opt-in, **changes what a returned `send` means**: [`Publisher`] and
        /// [`StreamProducer`] keep up to `messages` sent messages in the process and write them
        /// together, instead of one write per `send` (default 1: every `send` writes its
        /// message before it returns). With `coalesce(n)`, `n > 1`, a `send` that returns `Ok`
        /// has only *queued* the message; the queue is written when it holds `n` messages (or the
        /// window's bytes), by a later send that finds a message of the window older than 1 ms,
        /// and by `flush`, `publish`/`add` and drop. So a message sent last waits for the next
        /// send or flush (call `flush` when nothing more comes), and a process that ends
        /// without dropping or flushing its sender loses up to `n` more messages. Worth it
        /// for many small messages sent one by one: one write per `n` instead of one per
        /// message, which is what limits a pipelined `send` (see the module docs).
        /// `messages` in `1..=` the window's message count ([`RedisOptions::pipeline`]).
        ///
        /// ```
        /// let opts = ipcring::redis::RedisOptions::new().coalesce(32);
        /// # let _ = opts;
        /// ```
        coalesce(messages: usize);
    }

    /// Reconnect backoff: wait `initial` after the first failure, doubling up to `max`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let opts = ipcring::redis::RedisOptions::new()
    ///     .backoff(Duration::from_millis(10), Duration::from_millis(500));
    /// # let _ = opts;
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// The largest message, as set by [`RedisOptions::max_message`].
    ///
    /// ```
    /// assert!(ipcring::redis::RedisOptions::new().max_message_len() > 0);
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.max_message
    }

    /// A name set with `CLIENT SETNAME` on every connection, so `CLIENT LIST` shows who is
    /// who. Letters, digits, `-`, `_`, `.`, `:` only.
    ///
    /// ```
    /// let opts = ipcring::redis::RedisOptions::new().client_name("orders-worker-1");
    /// # let _ = opts;
    /// ```
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// The send window of [`Publisher`] and [`StreamProducer`] (see
    /// [the module docs](crate::redis#pipelining)): a send writes its message and returns
    /// without waiting for the server's reply while fewer than `messages` replies (and
    /// `bytes` of their messages) are outstanding; a send that finds the window full waits
    /// for replies first (back-pressure). `pipeline(1, _)` keeps at most one message in
    /// flight. Default [`DEFAULT_PIPELINE`]; `messages` in 1..=100000, `bytes` at least 1
    /// (one message is always let through, however large).
    ///
    /// ```
    /// let opts = ipcring::redis::RedisOptions::new().pipeline(32, 256 << 10);
    /// # let _ = opts;
    /// ```
    pub fn pipeline(mut self, messages: usize, bytes: usize) -> Self {
        self.pipeline_msgs = messages;
        self.pipeline_bytes = bytes;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let positive = [
            ("connect_timeout", self.connect_timeout),
            ("io_timeout", self.io_timeout),
            ("backoff initial", self.backoff_initial),
            ("backoff max", self.backoff_max),
            ("health_check", self.health_check),
        ];
        let bad = |m: String| Err(Error::InvalidConfig(m.into()));
        if let Some((name, _)) = positive.iter().find(|(_, d)| d.is_zero()) {
            return bad(format!("redis {name} must not be zero"));
        }
        if self
            .liveness_ttl
            .is_some_and(|t| t < Duration::from_millis(200))
        {
            return bad("redis liveness_ttl must be at least 200 ms".into());
        }
        if self.max_message == 0 || self.max_message > 512 << 20 {
            return bad(format!(
                "redis max_message {} must be in 1..=536870912",
                self.max_message
            ));
        }
        if self.pipeline_msgs == 0 || self.pipeline_msgs > 100_000 || self.pipeline_bytes == 0 {
            return bad(format!(
                "redis pipeline ({} messages, {} bytes): messages in 1..=100000, bytes at least 1",
                self.pipeline_msgs, self.pipeline_bytes
            ));
        }
        if self.coalesce == 0 || self.coalesce > self.pipeline_msgs {
            return bad(format!(
                "redis coalesce {} must be in 1..={} (the pipeline window's messages)",
                self.coalesce, self.pipeline_msgs
            ));
        }
        if let Some(name) = &self.client_name {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            {
                return bad(format!(
                    "redis client name {name:?}: use letters, digits, '-', '_', '.', ':'"
                ));
            }
        }
        Ok(())
    }
}

/// Refuses names Redis would take but that make no sense as a channel/stream/group name.
pub(crate) fn check_name(kind: &'static str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidName {
            name: name.into(),
            reason: Cow::Owned(format!("empty {kind}")),
        });
    }
    if name.len() > 1024 {
        return Err(Error::InvalidName {
            name: name.chars().take(32).collect::<String>() + "...",
            reason: Cow::Owned(format!("{kind} longer than 1024 bytes")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        let refused = |o: RedisOptions| matches!(o.validate(), Err(Error::InvalidConfig(_)));
        assert!(RedisOptions::new().validate().is_ok());
        assert!(refused(RedisOptions::new().io_timeout(Duration::ZERO)));
        assert!(refused(RedisOptions::new().max_message(0)));
        assert!(refused(RedisOptions::new().client_name("has space")));
        assert!(refused(RedisOptions::new().pipeline(0, 1)));
        assert!(refused(RedisOptions::new().coalesce(0)));
        assert!(refused(
            RedisOptions::new().pipeline(16, 1 << 20).coalesce(17)
        ));
        assert!(RedisOptions::new()
            .pipeline(16, 1 << 20)
            .coalesce(16)
            .validate()
            .is_ok());
        assert!(check_name("channel", "").is_err());
        assert!(check_name("channel", &"x".repeat(2000)).is_err());
        assert!(check_name("channel", "my_channel").is_ok());
    }

    #[test]
    fn bad_url_is_invalid_config() {
        let e = Publisher::connect("http://nope", "c", &RedisOptions::new()).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    }

    #[test]
    fn unreachable_server_times_out_in_constructor() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let opts = RedisOptions::new()
            .connect_timeout(Duration::from_millis(200))
            .backoff(Duration::from_millis(10), Duration::from_millis(50));
        let e = Publisher::connect("redis://127.0.0.1:1", "c", &opts).unwrap_err();
        assert!(e.is_timeout(), "{e}");
    }
}
