//! Redis Streams with a consumer group: [`StreamProducer`] (`XADD ... MAXLEN ~`) and
//! [`StreamConsumer`] (`XREADGROUP`, `XACK`, `XAUTOCLAIM`).
//!
//! Wire format: one stream entry per message, with one field, `data`, holding the message's
//! bytes (`XADD key * data <bytes>`), so `redis-cli` can write and read it too.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use redis::Value;

use super::link::{block_ms, Failure, Link};
use super::pipeline::Pipeline;
use super::presence::{self, Presence};
use super::{check_name, RedisOptions};
use crate::transport::{Deadline, Receiver};
use crate::{Error, Result};

/// The field of a stream entry that holds the message.
///
/// ```
/// assert_eq!(ipcring::redis::DATA_FIELD, "data"); // XADD key * data <bytes>
/// ```
pub const DATA_FIELD: &str = "data";

/// Where a new consumer group starts reading (only used when the group does not exist yet).
///
/// ```
/// use ipcring::redis::StartFrom;
/// assert_eq!(StartFrom::default(), StartFrom::Beginning);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// Every entry still in the stream (`0`): a consumer started after the producer still
    /// gets what was sent before it came.
    #[default]
    Beginning,
    /// Only entries added after the group is created (`$`).
    New,
}

/// When a [`StreamConsumer`] acknowledges (`XACK`) what it delivered.
///
/// ```
/// use ipcring::redis::AckMode;
/// assert_eq!(AckMode::default(), AckMode::OnNextRecv);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// A message counts as processed once the next one is asked for (or the consumer is
    /// dropped): a consumer killed while working on a message gets it again (or another
    /// consumer of the group claims it). The acknowledgements ride with the next command.
    #[default]
    OnNextRecv,
    /// Only [`StreamConsumer::ack`] acknowledges.
    Manual,
}

/// Settings of a stream producer or consumer.
///
/// ```
/// use std::time::Duration;
/// use ipcring::redis::{AckMode, StreamOptions};
/// let opts = StreamOptions::new()
///     .max_len(Some(10_000))
///     .claim_idle(Some(Duration::from_secs(10)))
///     .ack_mode(AckMode::Manual);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub(crate) redis: RedisOptions,
    pub(crate) max_len: Option<u64>,
    pub(crate) start: StartFrom,
    pub(crate) ack: AckMode,
    pub(crate) batch: usize,
    pub(crate) block: Duration,
    pub(crate) claim_idle: Option<Duration>,
    pub(crate) claim_every: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            redis: RedisOptions::default(),
            max_len: Some(100_000),
            start: StartFrom::Beginning,
            ack: AckMode::OnNextRecv,
            batch: 64,
            block: Duration::from_secs(1),
            claim_idle: Some(Duration::from_secs(30)),
            claim_every: Duration::from_secs(1),
        }
    }
}

impl StreamOptions {
    /// The defaults: streams trimmed to about 100 000 entries, groups start at the
    /// beginning, ack on next receive, read 64 entries at a time, claim entries another
    /// consumer left pending for 30 s (checked at most once a second).
    ///
    /// ```
    /// let opts = ipcring::redis::StreamOptions::new();
    /// # let _ = opts;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    crate::builder::setters! {
        /// The connection settings.
        ///
        /// ```
        /// use ipcring::redis::{RedisOptions, StreamOptions};
        /// let opts = StreamOptions::new().redis(RedisOptions::new().max_message(4096));
        /// # let _ = opts;
        /// ```
        redis(redis: RedisOptions);

        /// Producer: keep the stream at about this many entries (`XADD key MAXLEN ~ n`; Redis
        /// trims whole nodes, so a few more may stay). `None`: never trim. Trimming removes the
        /// oldest entries whether or not they were read: size it for the longest backlog you
        /// must survive. An entry trimmed before it was read is counted by
        /// [`StreamConsumer::trimmed`].
        ///
        /// ```
        /// let opts = ipcring::redis::StreamOptions::new().max_len(Some(1000));
        /// # let _ = opts;
        /// ```
        max_len(n: Option<u64>);

        /// Consumer: where a new group starts.
        ///
        /// ```
        /// use ipcring::redis::{StartFrom, StreamOptions};
        /// let opts = StreamOptions::new().start(StartFrom::New);
        /// # let _ = opts;
        /// ```
        start(start: StartFrom);

        /// Consumer: how many entries one read fetches (1..=10000).
        ///
        /// ```
        /// let opts = ipcring::redis::StreamOptions::new().batch(16);
        /// # let _ = opts;
        /// ```
        batch(n: usize);

        /// Consumer: the longest single `BLOCK` of a blocking read (a blocking receive loops).
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::StreamOptions::new().block(Duration::from_millis(500));
        /// # let _ = opts;
        /// ```
        block(d: Duration);

        /// Consumer: take over entries that another consumer of the group (a dead one, most
        /// likely) has left unacknowledged for at least this long (`XAUTOCLAIM`). `None`: never.
        /// Make it longer than the time a message takes to process, or a slow consumer's
        /// messages are processed twice.
        ///
        /// ```
        /// # use std::time::Duration;
        /// use ipcring::redis::StreamOptions;
        /// let opts = StreamOptions::new().claim_idle(Some(Duration::from_secs(60)));
        /// # let _ = opts;
        /// ```
        claim_idle(d: Option<Duration>);

        /// Consumer: how often to look for such entries.
        ///
        /// ```
        /// # use std::time::Duration;
        /// let opts = ipcring::redis::StreamOptions::new().claim_every(Duration::from_millis(200));
        /// # let _ = opts;
        /// ```
        claim_every(d: Duration);
    }

    /// Consumer: when to acknowledge.
    ///
    /// ```
    /// use ipcring::redis::{AckMode, StreamOptions};
    /// let opts = StreamOptions::new().ack_mode(AckMode::Manual);
    /// # let _ = opts;
    /// ```
    pub fn ack_mode(mut self, ack: AckMode) -> Self {
        self.ack = ack;
        self
    }

    fn validate(&self) -> Result<()> {
        self.redis.validate()?;
        let bad = |what: &str| {
            Err(Error::InvalidConfig(Cow::Owned(format!(
                "redis stream {what}"
            ))))
        };
        if self.max_len == Some(0) {
            return bad("max_len must not be 0 (use None for no trimming)");
        }
        if self.batch == 0 || self.batch > 10_000 {
            return bad("batch must be in 1..=10000");
        }
        if self.block.is_zero() || self.claim_every.is_zero() {
            return bad("block and claim_every must not be zero");
        }
        Ok(())
    }
}

/// Adds messages to a Redis stream (`XADD key MAXLEN ~ n * data <bytes>`).
///
/// Sends are pipelined ([the module docs](crate::redis#pipelining)):
/// [`Sender::send`](crate::Sender::send) returns once the entry is written to the server's
/// connection; the server's replies are collected by later calls, and
/// [`StreamProducer::flush`] waits for all of them. An entry the server answered is in the
/// stream (and on its disk once fsynced, with `appendonly yes`); one whose connection broke
/// before its reply came is added again on a new connection, in order, so it may (rarely)
/// be stored twice. [`StreamProducer::add`] waits for its own reply and returns the entry's
/// id.
///
/// ```no_run
/// use ipcring::redis::{StreamOptions, StreamProducer};
/// use ipcring::Sender;
///
/// # fn main() -> ipcring::Result<()> {
/// let mut tx = StreamProducer::connect("redis://127.0.0.1:6379", "orders", &StreamOptions::new())?;
/// tx.send(b"order 1")?; // pipelined
/// let id = tx.add(b"order 2")?; // one round trip: the entry's id, e.g. "1718000000000-0"
/// tx.flush()?;
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct StreamProducer {
    link: Link,
    pipe: Pipeline,
    key: String,
    /// `MAXLEN ~ n`, in decimal, when trimming.
    max_len: Option<String>,
    /// Keeps this producer's liveness entry fresh (see the module docs).
    _presence: Option<Presence>,
}

impl StreamProducer {
    /// Connects to `url` to add to the stream `key` (created by the first add).
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamOptions, StreamProducer};
    /// let tx = StreamProducer::connect("redis://127.0.0.1:6379", "orders", &StreamOptions::new());
    /// # let _ = tx;
    /// ```
    pub fn connect(url: &str, key: &str, opts: &StreamOptions) -> Result<StreamProducer> {
        opts.validate()?;
        check_name("stream key", key)?;
        let link = Link::open(url, &format!("stream {key}"), &opts.redis)?;
        let presence = Presence::announce(url, &link.what, "stream", key, &opts.redis)?;
        Ok(StreamProducer {
            link,
            pipe: Pipeline::new(
                opts.redis.pipeline_msgs,
                opts.redis.pipeline_bytes,
                opts.redis.coalesce,
            ),
            key: key.to_owned(),
            max_len: opts.max_len.map(|n| n.to_string()),
            _presence: presence,
        })
    }

    /// Adds `msg` and waits for its reply (and those of every entry sent before it),
    /// retrying across connection losses; returns the entry's id.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamOptions, StreamProducer};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut tx = StreamProducer::connect("redis://127.0.0.1:6379", "s", &StreamOptions::new())?;
    /// let id = tx.add(b"hello")?;
    /// # let _ = id;
    /// # Ok(())
    /// # }
    /// ```
    pub fn add(&mut self, msg: &[u8]) -> Result<String> {
        self.add_within(msg, Deadline::forever())
    }

    /// [`StreamProducer::add`] with a deadline ([`Error::Timeout`] when it passes first).
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamOptions, StreamProducer};
    /// # use ipcring::transport::Deadline;
    /// # use std::time::Duration;
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut tx = StreamProducer::connect("redis://127.0.0.1:6379", "s", &StreamOptions::new())?;
    /// tx.add_within(b"hello", Deadline::after(Duration::from_secs(1)))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_within(&mut self, msg: &[u8], deadline: Deadline) -> Result<String> {
        self.send_within(msg, deadline)?;
        match self.pipe.flush(&mut self.link, deadline)? {
            Some(v) => id_of(v, "XADD"),
            None => Err(bad_reply("XADD")),
        }
    }

    /// The pipelined send: `Ok` once `msg` is written to the connection (see the type's
    /// docs); an earlier entry's refusal is reported here instead (this one not sent).
    fn send_within(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        self.check_len(msg)?;
        self.enqueue(msg, deadline, true)
    }

    fn check_len(&self, msg: &[u8]) -> Result<()> {
        Error::check_len(msg.len(), self.link.opts.max_message)
    }

    /// Queues the `XADD` of `msg`; with `write`, writes it (a send), else leaves it queued.
    fn enqueue(&mut self, msg: &[u8], deadline: Deadline, write: bool) -> Result<()> {
        let (key, data) = (self.key.as_bytes(), DATA_FIELD.as_bytes());
        let parts: &[&[u8]] = match &self.max_len {
            Some(n) => &[b"XADD", key, b"MAXLEN", b"~", n.as_bytes(), b"*", data, msg],
            None => &[b"XADD", key, b"*", data, msg],
        };
        if write {
            self.pipe.send(&mut self.link, parts, deadline)
        } else {
            self.pipe.queue(&mut self.link, parts, deadline)
        }
    }

    /// Adds every message of `msgs`, in order, with as few writes as the window allows
    /// (one, when they fit in it): the batch form of [`Sender::send`](crate::Sender::send),
    /// with the same meaning once it returns `Ok` (all written; replies collected later).
    /// Sizes are checked first: a message over the limit fails the call before anything is
    /// sent. On another error, the messages of `msgs` queued before it stay queued and are
    /// written by the next call (or flush, or drop).
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamOptions, StreamProducer};
    /// # fn main() -> ipcring::Result<()> {
    /// let mut tx = StreamProducer::connect("redis://127.0.0.1:6379", "s", &StreamOptions::new())?;
    /// tx.send_all(&[b"one".as_slice(), b"two", b"three"])?;
    /// tx.flush()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_all(&mut self, msgs: &[&[u8]]) -> Result<()> {
        for msg in msgs {
            self.check_len(msg)?;
        }
        for msg in msgs {
            self.enqueue(msg, Deadline::forever(), false)?;
        }
        self.pipe.write_queued(&mut self.link, Deadline::forever())
    }

    /// The stream's key.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamOptions, StreamProducer};
    /// # fn main() -> ipcring::Result<()> {
    /// let tx = StreamProducer::connect("redis://127.0.0.1:6379", "orders", &StreamOptions::new())?;
    /// assert_eq!(tx.key(), "orders");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }
}

super::pipeline::pipelined_sender_methods!(
    StreamProducer,
    "entry",
    "producer",
    "# use ipcring::redis::{StreamOptions, StreamProducer};",
    "StreamProducer::connect(\"redis://127.0.0.1:6379\", \"s\", &StreamOptions::new())?"
);

/// One message received from a stream, with its entry id (needed for
/// [`StreamConsumer::ack`] in [`AckMode::Manual`]).
///
/// ```
/// let e = ipcring::redis::StreamEntry { id: "1-0".into(), data: b"x".to_vec() };
/// assert_eq!(e.data, b"x");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// The entry id, `<milliseconds>-<sequence>`.
    pub id: String,
    /// The message.
    pub data: Vec<u8>,
}

/// An entry as read: its data, or `None` if it was trimmed away while pending.
pub(crate) type RawEntry = (String, Option<Vec<Value>>);

/// Receives messages from a Redis stream as one consumer of a consumer group.
///
/// Each entry goes to one consumer of the group. Entries stay pending in the server until
/// acknowledged ([`AckMode`]); a restarted consumer (same group and consumer name) gets its
/// own pending entries again first, and a consumer with [`StreamOptions::claim_idle`] takes
/// over those another consumer left pending too long (`XAUTOCLAIM`). Delivery is at least
/// once: a message may come twice after a crash, never zero times (unless trimmed by
/// [`StreamOptions::max_len`] before anyone read it).
///
/// ```no_run
/// use ipcring::redis::{StreamConsumer, StreamOptions};
/// use ipcring::Receiver;
///
/// # fn main() -> ipcring::Result<()> {
/// let opts = StreamOptions::new();
/// let mut rx = StreamConsumer::connect("redis://127.0.0.1:6379", "orders", "workers", "worker-1", &opts)?;
/// let msg = rx.recv()?; // acknowledged when the next recv is called, or on drop
/// # let _ = msg;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct StreamConsumer {
    link: Link,
    key: String,
    group: String,
    consumer: String,
    opts: StreamOptions,
    /// Entries fetched, not yet handed out (they are pending under our name).
    backlog: VecDeque<RawEntry>,
    /// Handed out, not yet acknowledged.
    outstanding: BTreeSet<String>,
    /// To acknowledge with the next command.
    to_ack: Vec<String>,
    /// Read our own pending entries (from `pending_cursor`) before new ones: at start and
    /// after every reconnect, so nothing delivered to us on a lost connection is lost.
    scan_own: bool,
    pending_cursor: String,
    claim_cursor: String,
    next_claim: Instant,
    trimmed: u64,
    /// Watches the stream's producers.
    presence: Option<Presence>,
}

impl StreamConsumer {
    /// Connects to `url` as consumer `consumer` of group `group` on stream `key`; creates
    /// the group (and the stream) if missing, starting at [`StreamOptions::start`].
    ///
    /// Use a consumer name that is stable across restarts of the same worker (a restarted
    /// worker then gets back what it had not acknowledged) and unique among live workers.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamConsumer, StreamOptions};
    /// let rx = StreamConsumer::connect("redis://127.0.0.1:6379", "orders", "workers", "w1", &StreamOptions::new());
    /// # let _ = rx;
    /// ```
    pub fn connect(
        url: &str,
        key: &str,
        group: &str,
        consumer: &str,
        opts: &StreamOptions,
    ) -> Result<StreamConsumer> {
        opts.validate()?;
        check_name("stream key", key)?;
        check_name("group", group)?;
        check_name("consumer", consumer)?;
        let link = Link::open(
            url,
            &format!("stream {key} group {group} consumer {consumer}"),
            &opts.redis,
        )?;
        let presence = Presence::watch(url, &link.what, "stream", &[key], &opts.redis)?;
        let mut c = StreamConsumer {
            link,
            key: key.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            opts: opts.clone(),
            backlog: VecDeque::new(),
            outstanding: BTreeSet::new(),
            to_ack: Vec::new(),
            scan_own: true,
            pending_cursor: "0".into(),
            claim_cursor: "0-0".into(),
            next_claim: Instant::now(),
            trimmed: 0,
            presence,
        };
        c.create_group(Deadline::after(opts.redis.connect_timeout))?;
        Ok(c)
    }

    fn create_group(&mut self, deadline: Deadline) -> Result<()> {
        let start = match self.opts.start {
            StartFrom::Beginning => "0",
            StartFrom::New => "$",
        };
        let (key, group) = (&self.key, &self.group);
        self.link.run(deadline, |conn| {
            let r = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(key)
                .arg(group)
                .arg(start)
                .arg("MKSTREAM")
                .query::<()>(conn);
            match r {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                r => Ok(r?),
            }
        })
    }

    /// Receives the next entry, waiting until `deadline` ([`Error::Timeout`]).
    ///
    /// In [`AckMode::OnNextRecv`] this acknowledges the entry handed out before.
    ///
    /// ```no_run
    /// # use ipcring::redis::{AckMode, StreamConsumer, StreamOptions};
    /// # use ipcring::transport::Deadline;
    /// # fn main() -> ipcring::Result<()> {
    /// let opts = StreamOptions::new().ack_mode(AckMode::Manual);
    /// let mut rx = StreamConsumer::connect("redis://127.0.0.1:6379", "orders", "g", "w1", &opts)?;
    /// let entry = rx.recv_entry(Deadline::forever())?;
    /// // ... process entry.data ...
    /// rx.ack(&entry.id)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_entry(&mut self, deadline: Deadline) -> Result<StreamEntry> {
        let mut data = Vec::new();
        let id = self.next_into(&mut data, deadline)?.ok_or(Error::Timeout)?;
        Ok(StreamEntry { id, data })
    }

    /// Acknowledges entry `id` (`XACK`), retrying across connection losses.
    ///
    /// ```no_run
    /// # use ipcring::redis::{AckMode, StreamConsumer, StreamOptions};
    /// # use ipcring::transport::Deadline;
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut rx = StreamConsumer::connect("redis://127.0.0.1:6379", "s", "g", "w", &StreamOptions::new().ack_mode(AckMode::Manual))?;
    /// let e = rx.recv_entry(Deadline::forever())?;
    /// rx.ack(&e.id)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn ack(&mut self, id: &str) -> Result<()> {
        self.outstanding.remove(id);
        self.to_ack.push(id.to_owned());
        self.flush_acks(Deadline::forever())
    }

    /// Sends the acknowledgements that are due now instead of with the next command.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamConsumer, StreamOptions};
    /// # use ipcring::Receiver;
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut rx = StreamConsumer::connect("redis://127.0.0.1:6379", "s", "g", "w", &StreamOptions::new())?;
    /// let _msg = rx.recv()?;
    /// rx.commit()?; // in OnNextRecv mode: the message just received counts as processed
    /// # Ok(())
    /// # }
    /// ```
    pub fn commit(&mut self) -> Result<()> {
        self.due_acks();
        self.flush_acks(Deadline::forever())
    }

    /// In [`AckMode::OnNextRecv`], what was handed out counts as processed: queue its acks.
    fn due_acks(&mut self) {
        if self.opts.ack == AckMode::OnNextRecv {
            self.to_ack.extend(std::mem::take(&mut self.outstanding));
        }
    }

    fn flush_acks(&mut self, deadline: Deadline) -> Result<()> {
        if self.to_ack.is_empty() {
            return Ok(());
        }
        let (key, group, ids) = (&self.key, &self.group, &self.to_ack);
        self.link.run(deadline, |conn| {
            Ok(redis::cmd("XACK")
                .arg(key)
                .arg(group)
                .arg(ids)
                .query::<u64>(conn)?)
        })?;
        self.to_ack.clear();
        Ok(())
    }

    /// Entries of the group that were delivered to some consumer and not acknowledged
    /// (`XPENDING` summary count).
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamConsumer, StreamOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut rx = StreamConsumer::connect("redis://127.0.0.1:6379", "s", "g", "w", &StreamOptions::new())?;
    /// println!("{} pending", rx.pending()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pending(&mut self) -> Result<u64> {
        let (key, group) = (&self.key, &self.group);
        let v = self
            .link
            .run(Deadline::after(self.opts.redis.connect_timeout), |conn| {
                Ok(redis::cmd("XPENDING")
                    .arg(key)
                    .arg(group)
                    .query::<Value>(conn)?)
            })?;
        match v.as_sequence().and_then(<[Value]>::first) {
            Some(Value::Int(n)) => Ok((*n).max(0) as u64),
            _ => Err(Error::Redis(Cow::Borrowed("XPENDING: unexpected reply"))),
        }
    }

    /// How many entries this consumer found trimmed away (by `MAXLEN`) while they were
    /// pending: messages that were lost.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamConsumer, StreamOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let rx = StreamConsumer::connect("redis://127.0.0.1:6379", "s", "g", "w", &StreamOptions::new())?;
    /// assert_eq!(rx.trimmed(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn trimmed(&self) -> u64 {
        self.trimmed
    }

    /// Connections lost (and replaced) since this consumer was made.
    ///
    /// ```no_run
    /// # use ipcring::redis::{StreamConsumer, StreamOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let rx = StreamConsumer::connect("redis://127.0.0.1:6379", "s", "g", "w", &StreamOptions::new())?;
    /// println!("{} reconnects", rx.reconnects());
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconnects(&self) -> u64 {
        self.link.losses
    }

    /// The receive loop: `Ok(Some(id))` with the message in `buf`, `Ok(None)` when the
    /// deadline passed.
    fn next_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<Option<String>> {
        buf.clear();
        self.due_acks();
        let mut polled = false;
        // Set once the producers are found gone: one more read, then Disconnected.
        let mut last_look = false;
        loop {
            if let Some((id, fields)) = self.backlog.pop_front() {
                if self.take_entry(&id, fields, buf)? {
                    self.outstanding.insert(id.clone());
                    return Ok(Some(id));
                }
                continue; // trimmed away: counted, acknowledged
            }
            if polled && self.presence.as_ref().is_some_and(Presence::gone) {
                // Every producer is gone: read once more (what they added is in the
                // stream), then it is over.
                if last_look {
                    let _ = self.flush_acks(Deadline::after(Duration::ZERO));
                    return Err(Error::Disconnected);
                }
                last_look = true;
                polled = false;
            }
            if polled && deadline.expired() {
                // Acknowledge what is due even when nothing new came (one attempt).
                let _ = self.flush_acks(Deadline::after(Duration::ZERO));
                return Ok(None);
            }
            match self.fill(deadline) {
                Ok(read_new) => polled |= read_new,
                Err(Error::Timeout) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks one fetched entry; `Ok(true)` with its data in `buf`. A trimmed entry is
    /// acknowledged and counted (`Ok(false)`); a malformed or oversized one is acknowledged
    /// (so it cannot block the group) and reported as an error naming its id.
    fn take_entry(
        &mut self,
        id: &str,
        fields: Option<Vec<Value>>,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let Some(fields) = fields else {
            self.trimmed += 1;
            self.to_ack.push(id.to_owned());
            return Ok(false);
        };
        let max = self.opts.redis.max_message;
        match data_of(&fields) {
            Some(Value::BulkString(bytes)) if bytes.len() <= max => {
                buf.extend_from_slice(bytes);
                Ok(true)
            }
            Some(Value::BulkString(bytes)) => {
                self.to_ack.push(id.to_owned());
                Err(Error::MessageTooLarge {
                    len: bytes.len(),
                    max,
                })
            }
            _ => {
                self.to_ack.push(id.to_owned());
                Err(Error::Framing(Cow::Owned(format!(
                    "{}: entry {id} has no {DATA_FIELD:?} field; skipped and acknowledged \
                     (it stays in the stream)",
                    self.link.what
                ))))
            }
        }
    }

    /// One round trip: acknowledgements due, then our own pending entries (after a
    /// (re)connect), or entries claimed from dead consumers, or new entries.
    /// `Ok(true)` when the round trip looked for new entries (the others do not wait).
    fn fill(&mut self, deadline: Deadline) -> Result<bool> {
        let losses_before = self.link.losses;
        let result = self.fill_once(deadline);
        if self.link.losses != losses_before || !self.link.is_connected() {
            // Whatever a lost connection delivered to us sits in our pending list.
            self.rescan_own();
        }
        result
    }

    /// Reads our own pending list again from its start.
    fn rescan_own(&mut self) {
        self.scan_own = true;
        self.pending_cursor = "0".into();
    }

    fn fill_once(&mut self, deadline: Deadline) -> Result<bool> {
        if !self.link.is_connected() {
            self.rescan_own();
        }
        let now = Instant::now();
        let claim = match self.opts.claim_idle {
            Some(idle) if !self.scan_own && now >= self.next_claim => Some(idle),
            _ => None,
        };
        let (key, group, consumer) = (self.key.clone(), self.group.clone(), self.consumer.clone());
        let batch = self.opts.batch;
        let io = self.opts.redis.io_timeout;
        let longest = if self.presence.is_some() {
            self.opts.block.min(presence::POLL)
        } else {
            self.opts.block
        };
        let block = deadline.slice(longest);
        let scan_own = self.scan_own;
        let pending_cursor = self.pending_cursor.clone();
        let claim_cursor = self.claim_cursor.clone();
        let to_ack = self.to_ack.clone();
        let mut recreate_group = false;
        // `run` retries on a fresh connection after a transient failure. A reply lost with
        // the old connection may have delivered entries to us (they sit in our pending
        // list): the retry must read those first, not newer ones, or they would come out of
        // order (or only at the next rescan).
        let mut attempts = 0u32;
        let mut used_scan = scan_own;
        let reply = self.link.run(deadline, |conn| {
            attempts += 1;
            let retry_scan = !scan_own && attempts > 1;
            let scan_own = scan_own || retry_scan;
            let pending_cursor = if retry_scan {
                "0"
            } else {
                pending_cursor.as_str()
            };
            used_scan = scan_own;
            let claim = if scan_own { None } else { claim };
            let mut pipe = redis::pipe();
            if !to_ack.is_empty() {
                pipe.cmd("XACK").arg(&key).arg(&group).arg(&to_ack).ignore();
            }
            let mut read_timeout = io;
            if let Some(idle) = claim {
                pipe.cmd("XAUTOCLAIM")
                    .arg(&key)
                    .arg(&group)
                    .arg(&consumer)
                    .arg(idle.as_millis() as u64)
                    .arg(&claim_cursor)
                    .arg("COUNT")
                    .arg(batch);
            } else {
                let c = pipe
                    .cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&group)
                    .arg(&consumer)
                    .arg("COUNT")
                    .arg(batch);
                // Our pending list from its cursor, or new entries (a blocking read).
                if let Some(b) = block.filter(|_| !scan_own) {
                    c.arg("BLOCK").arg(block_ms(b));
                    read_timeout += b;
                }
                let from = if scan_own { pending_cursor } else { ">" };
                c.arg("STREAMS").arg(&key).arg(from);
            }
            conn.set_read_timeout(Some(read_timeout))?;
            let r = pipe.query::<Vec<Value>>(conn);
            conn.set_read_timeout(Some(io))?;
            match r {
                Err(e) if e.code() == Some("NOGROUP") => {
                    // The server lost the group (restarted without persistence, or someone
                    // deleted it): make it again.
                    recreate_group = true;
                    Ok(Vec::new())
                }
                r => Ok::<_, Failure>(r?),
            }
        });
        let reply = reply?;
        let scan_own = used_scan;
        let claim = if scan_own { None } else { claim };
        if scan_own && !self.scan_own {
            // A retry switched to our pending list: keep scanning it from the start.
            self.rescan_own();
        }
        // The acknowledgements went through with the command.
        self.to_ack.drain(..to_ack.len());
        if recreate_group {
            self.rescan_own();
            return self.create_group(deadline).map(|()| false);
        }
        let read_new = !scan_own && claim.is_none();
        let Some(last) = reply.into_iter().last() else {
            return Ok(read_new);
        };
        // Our pending list and claimed entries may hold entries already taken or queued.
        let entries = if scan_own {
            let entries = parse_read_reply(last)?;
            match entries.last() {
                None => self.scan_own = false,
                Some((id, _)) => self.pending_cursor = id.clone(),
            }
            entries
        } else if claim.is_some() {
            let (cursor, entries, deleted) = parse_autoclaim_reply(last)?;
            self.trimmed += deleted;
            if cursor == "0-0" {
                self.next_claim = now + self.opts.claim_every;
            }
            self.claim_cursor = cursor;
            entries
        } else {
            self.backlog.extend(parse_read_reply(last)?);
            return Ok(read_new);
        };
        for e in entries {
            if !self.outstanding.contains(&e.0) && !self.backlog.iter().any(|b| b.0 == e.0) {
                self.backlog.push_back(e);
            }
        }
        Ok(read_new)
    }
}

/// The message in an entry's fields: the value of its [`DATA_FIELD`] (the last one if
/// repeated).
pub fn data_of(fields: &[Value]) -> Option<&Value> {
    fields.chunks(2).rev().find_map(|pair| match pair {
        [Value::BulkString(k), v] if k == DATA_FIELD.as_bytes() => Some(v),
        _ => None,
    })
}

fn bad_reply(what: &str) -> Error {
    Error::Redis(Cow::Owned(format!("unexpected reply to {what}")))
}

fn id_of(v: Value, what: &str) -> Result<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).map_err(|_| bad_reply(what)),
        Value::SimpleString(s) => Ok(s),
        _ => Err(bad_reply(what)),
    }
}

/// `[id, [field, value, ...] | nil]`
fn parse_entry(v: Value, what: &str) -> Result<RawEntry> {
    let Value::Array(parts) = v else {
        return Err(bad_reply(what));
    };
    let Ok([id, fields]) = <[Value; 2]>::try_from(parts) else {
        return Err(bad_reply(what));
    };
    let id = id_of(id, what)?;
    match fields {
        Value::Array(f) => Ok((id, Some(f))),
        Value::Nil => Ok((id, None)),
        _ => Err(bad_reply(what)),
    }
}

/// XREADGROUP: nil, or `[[key, [entry, ...]]]`.
pub fn parse_read_reply(v: Value) -> Result<Vec<RawEntry>> {
    const W: &str = "XREADGROUP";
    let streams = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(s) => s,
        _ => return Err(bad_reply(W)),
    };
    let mut out = Vec::new();
    for s in streams {
        let Value::Array(mut kv) = s else {
            return Err(bad_reply(W));
        };
        let Some(Value::Array(entries)) = kv.pop() else {
            return Err(bad_reply(W));
        };
        for e in entries {
            out.push(parse_entry(e, W)?);
        }
    }
    Ok(out)
}

/// XAUTOCLAIM: `[next-cursor, [entry, ...], [deleted-id, ...]]` (the third part since 7.0).
pub fn parse_autoclaim_reply(v: Value) -> Result<(String, Vec<RawEntry>, u64)> {
    const W: &str = "XAUTOCLAIM";
    let Value::Array(parts) = v else {
        return Err(bad_reply(W));
    };
    let mut parts = parts.into_iter();
    let cursor = id_of(parts.next().ok_or_else(|| bad_reply(W))?, W)?;
    let Some(Value::Array(entries)) = parts.next() else {
        return Err(bad_reply(W));
    };
    let mut out = Vec::new();
    for e in entries {
        // Before 7.0 a claimed entry that was trimmed away comes back as nil.
        if e == Value::Nil {
            continue;
        }
        out.push(parse_entry(e, W)?);
    }
    let deleted = match parts.next() {
        Some(Value::Array(d)) => d.len() as u64,
        _ => 0,
    };
    Ok((cursor, out, deleted))
}

impl Receiver for StreamConsumer {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        loop {
            if self.next_into(buf, deadline)?.is_some() {
                return Ok(());
            }
            if !deadline.is_forever() {
                return Err(Error::Timeout);
            }
        }
    }
}

impl Drop for StreamConsumer {
    /// Acknowledges what is due (one attempt; what fails stays pending and comes back to
    /// this consumer name, or is claimed by another).
    fn drop(&mut self) {
        self.due_acks();
        let _ = self.flush_acks(Deadline::after(Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn read_reply_parses_entries_and_trimmed_ones() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("k"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("data"), bulk("a")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let entries = parse_read_reply(reply).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, "1-0");
        assert!(entries[1].1.is_none());
        assert!(parse_read_reply(Value::Nil).unwrap().is_empty());
        assert!(parse_read_reply(Value::Int(3)).is_err());
        assert!(parse_read_reply(Value::Array(vec![Value::Array(vec![
            bulk("k"),
            Value::Int(1)
        ])]))
        .is_err());
    }

    #[test]
    fn autoclaim_reply_parses_cursor_and_deleted() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("data"), bulk("x")]),
            ])]),
            Value::Array(vec![bulk("3-0"), bulk("4-0")]),
        ]);
        let (cursor, entries, deleted) = parse_autoclaim_reply(reply).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(entries.len(), 1);
        assert_eq!(deleted, 2);
        assert!(parse_autoclaim_reply(Value::Array(vec![])).is_err());
    }

    #[test]
    fn options_are_validated() {
        assert!(StreamOptions::new().validate().is_ok());
        assert!(StreamOptions::new().batch(0).validate().is_err());
        assert!(StreamOptions::new().max_len(Some(0)).validate().is_err());
        assert!(StreamOptions::new()
            .block(Duration::ZERO)
            .validate()
            .is_err());
    }
}
