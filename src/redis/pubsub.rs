//! Pub/sub channels: [`Publisher`] (`PUBLISH`) and [`Subscriber`] (`SUBSCRIBE`/`PSUBSCRIBE`).

use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant, SystemTime};

use redis::Value;

use super::link::{to_error, Failure, Link};
use super::pipeline::Pipeline;
use super::presence::{self, Presence};
use super::{check_name, RedisOptions};
use crate::transport::{Deadline, Receiver};
use crate::{Error, Result};

/// Publishes byte messages on one Redis channel (`PUBLISH channel message`).
///
/// Fire and forget: a message reaches the subscribers connected at that moment, no one
/// else. Sends are pipelined ([the module docs](crate::redis#pipelining)):
/// [`Sender::send`](crate::Sender::send) returns once the message is written to the
/// server's connection, and the server's replies are collected by later calls;
/// [`Publisher::flush`] waits for all of them. A message whose connection broke before its
/// reply came is published again on a new connection (so a subscriber may rarely see it
/// twice).
///
/// ```no_run
/// use ipcring::redis::{Publisher, RedisOptions};
/// use ipcring::Sender;
///
/// # fn main() -> ipcring::Result<()> {
/// let mut bob = Publisher::connect("redis://127.0.0.1:6379", "my_channel", &RedisOptions::new())?;
/// bob.send(b"example data")?; // pipelined
/// bob.flush()?; // every message sent so far reached the server
/// let receivers = bob.publish(b"more")?; // one round trip: how many subscribers got it
/// # let _ = receivers;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Publisher {
    link: Link,
    pipe: Pipeline,
    channel: String,
    /// Keeps this publisher's liveness entry fresh (see the module docs).
    _presence: Option<Presence>,
}

impl Publisher {
    /// Connects to the server at `url` to publish on `channel`.
    ///
    /// ```no_run
    /// # use ipcring::redis::{Publisher, RedisOptions};
    /// let p = Publisher::connect("redis://127.0.0.1:6379/0", "my_channel", &RedisOptions::new());
    /// # let _ = p;
    /// ```
    pub fn connect(url: &str, channel: &str, opts: &RedisOptions) -> Result<Publisher> {
        check_name("channel", channel)?;
        let link = Link::open(url, &format!("channel {channel}"), opts)?;
        let presence = Presence::announce(url, &link.what, "channel", channel, opts)?;
        Ok(Publisher {
            link,
            pipe: Pipeline::new(opts.pipeline_msgs, opts.pipeline_bytes, opts.coalesce),
            channel: channel.to_owned(),
            _presence: presence,
        })
    }

    /// Publishes `msg` and waits for its reply (and those of every message sent before it),
    /// retrying across connection losses; returns how many subscribers received it (0 is
    /// not an error: pub/sub keeps nothing for absent subscribers).
    ///
    /// ```no_run
    /// # use ipcring::redis::{Publisher, RedisOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut p = Publisher::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// if p.publish(b"hello")? == 0 {
    ///     eprintln!("nobody is listening");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn publish(&mut self, msg: &[u8]) -> Result<u64> {
        self.publish_within(msg, Deadline::forever())
    }

    /// [`Publisher::publish`] with a deadline ([`Error::Timeout`] when it passes first).
    ///
    /// ```no_run
    /// # use ipcring::redis::{Publisher, RedisOptions};
    /// # use ipcring::transport::Deadline;
    /// # use std::time::Duration;
    /// # fn main() -> ipcring::Result<()> {
    /// # let mut p = Publisher::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// p.publish_within(b"hello", Deadline::after(Duration::from_secs(1)))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn publish_within(&mut self, msg: &[u8], deadline: Deadline) -> Result<u64> {
        self.send_within(msg, deadline)?;
        match self.pipe.flush(&mut self.link, deadline)? {
            Some(Value::Int(n)) => Ok(n.max(0) as u64),
            _ => Err(Error::Redis(Cow::Owned(format!(
                "{}: unexpected reply to PUBLISH",
                self.link.what
            )))),
        }
    }

    /// The pipelined send: `Ok` once `msg` is written to the connection (see the type's
    /// docs); an earlier message's refusal is reported here instead (this one not sent).
    fn send_within(&mut self, msg: &[u8], deadline: Deadline) -> Result<()> {
        Error::check_len(msg.len(), self.link.opts.max_message)?;
        let parts: [&[u8]; 3] = [b"PUBLISH", self.channel.as_bytes(), msg];
        self.pipe.send(&mut self.link, &parts, deadline)
    }

    /// Sends every message of `msgs`, in order, with as few writes as the window allows
    /// (one, when they fit in it): the batch form of [`Sender::send`](crate::Sender::send),
    /// with the same meaning once it returns `Ok` (all written; replies collected later).
    /// Sizes are checked first: a message over the limit fails the call before anything is
    /// sent. On another error, the messages of `msgs` queued before it stay queued and are
    /// written by the next call (or flush, or drop).
    ///
    /// ```no_run
    /// # use ipcring::redis::{Publisher, RedisOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let mut p = Publisher::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// p.send_all(&[b"one".as_slice(), b"two", b"three"])?;
    /// p.flush()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_all(&mut self, msgs: &[&[u8]]) -> Result<()> {
        let max = self.link.opts.max_message;
        msgs.iter()
            .try_for_each(|m| Error::check_len(m.len(), max))?;
        for msg in msgs {
            let parts: [&[u8]; 3] = [b"PUBLISH", self.channel.as_bytes(), msg];
            self.pipe
                .queue(&mut self.link, &parts, Deadline::forever())?;
        }
        self.pipe.write_queued(&mut self.link, Deadline::forever())
    }

    /// The channel this publisher sends on.
    ///
    /// ```no_run
    /// # use ipcring::redis::{Publisher, RedisOptions};
    /// # fn main() -> ipcring::Result<()> {
    /// let p = Publisher::connect("redis://127.0.0.1:6379", "my_channel", &RedisOptions::new())?;
    /// assert_eq!(p.channel(), "my_channel");
    /// # Ok(())
    /// # }
    /// ```
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

super::pipeline::pipelined_sender_methods!(
    Publisher,
    "message",
    "publisher",
    "# use ipcring::redis::{Publisher, RedisOptions};",
    "Publisher::connect(\"redis://127.0.0.1:6379\", \"c\", &RedisOptions::new())?"
);

/// A time when a [`Subscriber`] was not subscribed: whatever was published on its channels
/// between `lost_at` and `restored_at` never reached it.
///
/// ```
/// use ipcring::redis::Gap;
/// use std::time::{Duration, SystemTime};
/// let g = Gap { lost_at: SystemTime::UNIX_EPOCH, restored_at: SystemTime::UNIX_EPOCH, count: 1 };
/// assert_eq!(g.duration(), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// When the connection was found broken (the first one, if several are merged).
    pub lost_at: SystemTime,
    /// When the subscription was back (the last one, if several are merged).
    pub restored_at: SystemTime,
    /// How many interruptions this gap merges (all since the last [`Subscriber::take_gap`]).
    pub count: u64,
}

impl Gap {
    /// How long the subscriber was away (zero if the clock went backwards).
    ///
    /// ```
    /// # use ipcring::redis::Gap;
    /// # use std::time::{Duration, SystemTime};
    /// let t = SystemTime::UNIX_EPOCH;
    /// let g = Gap { lost_at: t, restored_at: t + Duration::from_secs(2), count: 1 };
    /// assert_eq!(g.duration(), Duration::from_secs(2));
    /// ```
    pub fn duration(&self) -> Duration {
        self.restored_at
            .duration_since(self.lost_at)
            .unwrap_or_default()
    }
}

/// Receives byte messages from Redis channels (`SUBSCRIBE`, `PSUBSCRIBE`).
///
/// Subscribed when the constructor returns: everything published from then on arrives, in
/// the order the server received it. On connection loss it re-subscribes by itself; what
/// was published meanwhile is lost, and the subscriber tells: [`Subscriber::gaps`] counts
/// the interruptions, [`Subscriber::take_gap`] says when, and with
/// [`Subscriber::set_gap_errors`] the next receive after one returns an [`Error::Redis`]
/// saying so (once; the receive after it goes on normally).
///
/// ```no_run
/// use ipcring::redis::{RedisOptions, Subscriber};
/// use ipcring::Receiver;
///
/// # fn main() -> ipcring::Result<()> {
/// let mut alice = Subscriber::connect("redis://127.0.0.1:6379", "my_channel", &RedisOptions::new())?;
/// loop {
///     let msg = alice.recv()?;
///     if let Some(gap) = alice.take_gap() {
///         eprintln!("may have missed messages for {:?}", gap.duration());
///     }
///     println!("{}", String::from_utf8_lossy(&msg));
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    link: Link,
    channels: Vec<String>,
    patterns: Vec<String>,
    subscribed: bool,
    gaps: u64,
    gap: Option<Gap>,
    gap_errors: bool,
    gap_error_due: bool,
    last_activity: Instant,
    last_channel: String,
    /// Watches the channels' publishers (none with patterns).
    presence: Option<Presence>,
}

impl Subscriber {
    /// Connects to `url` and subscribes to `channel`.
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// let s = Subscriber::connect("redis://127.0.0.1:6379", "my_channel", &RedisOptions::new());
    /// # let _ = s;
    /// ```
    pub fn connect(url: &str, channel: &str, opts: &RedisOptions) -> Result<Subscriber> {
        Self::connect_many(url, &[channel], &[], opts)
    }

    /// Connects to `url` and subscribes to every channel in `channels` and every glob
    /// pattern in `patterns` (`PSUBSCRIBE`, e.g. `"orders.*"`). At least one of either.
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// let s = Subscriber::connect_many("redis://127.0.0.1:6379", &["a", "b"], &["log.*"], &RedisOptions::new());
    /// # let _ = s;
    /// ```
    pub fn connect_many(
        url: &str,
        channels: &[&str],
        patterns: &[&str],
        opts: &RedisOptions,
    ) -> Result<Subscriber> {
        if channels.is_empty() && patterns.is_empty() {
            return Err(Error::InvalidConfig(Cow::Borrowed(
                "a redis subscriber needs at least one channel or pattern",
            )));
        }
        channels.iter().try_for_each(|c| check_name("channel", c))?;
        patterns.iter().try_for_each(|p| check_name("pattern", p))?;
        let mut all: Vec<&str> = channels.to_vec();
        all.extend_from_slice(patterns);
        let link = Link::open(url, &format!("channels {}", all.join(",")), opts)?;
        if !link.is_resp2() {
            return Err(Error::InvalidConfig(Cow::Borrowed(
                "a redis subscriber speaks RESP2: remove protocol=resp3 from the URL",
            )));
        }
        // Before subscribing, so that a publisher coming in between is known.
        let presence = if patterns.is_empty() {
            Presence::watch(url, &link.what, "channel", channels, opts)?
        } else {
            None
        };
        let mut sub = Subscriber {
            link,
            channels: channels.iter().map(|s| s.to_string()).collect(),
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            subscribed: false,
            gaps: 0,
            gap: None,
            gap_errors: false,
            gap_error_due: false,
            last_activity: Instant::now(),
            last_channel: String::new(),
            presence,
        };
        sub.ensure_subscribed(Deadline::after(opts.connect_timeout))?;
        Ok(sub)
    }

    /// How many times the subscription was interrupted (connection lost, then restored)
    /// since this subscriber was made. Messages published during an interruption are lost.
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// let s = Subscriber::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// assert_eq!(s.gaps(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// The interruptions not yet reported, merged into one [`Gap`]; `None` if there were none
    /// since the last call.
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// let mut s = Subscriber::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// assert!(s.take_gap().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_gap(&mut self) -> Option<Gap> {
        self.gap.take()
    }

    /// When on, the first receive after an interruption returns
    /// `Err(Error::Redis("... messages published meanwhile were missed"))` instead of a
    /// message; the gap stays available from [`Subscriber::take_gap`]. Off by default.
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// # fn main() -> ipcring::Result<()> {
    /// let mut s = Subscriber::connect("redis://127.0.0.1:6379", "c", &RedisOptions::new())?;
    /// s.set_gap_errors(true);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_gap_errors(&mut self, on: bool) {
        self.gap_errors = on;
    }

    /// The channel the last received message was published on (useful with patterns).
    ///
    /// ```no_run
    /// # use ipcring::redis::{RedisOptions, Subscriber};
    /// # use ipcring::Receiver;
    /// # fn main() -> ipcring::Result<()> {
    /// let mut s = Subscriber::connect_many("redis://127.0.0.1:6379", &[], &["log.*"], &RedisOptions::new())?;
    /// let msg = s.recv()?;
    /// println!("{}: {:?}", s.last_channel(), msg);
    /// # Ok(())
    /// # }
    /// ```
    pub fn last_channel(&self) -> &str {
        &self.last_channel
    }

    fn ensure_subscribed(&mut self, deadline: Deadline) -> Result<()> {
        if self.subscribed && self.link.is_connected() {
            return Ok(());
        }
        self.subscribed = false;
        let (channels, patterns) = (&self.channels, &self.patterns);
        self.link.run(deadline, |conn| {
            // The reply to a (P)SUBSCRIBE of n names is n confirmations; the server has
            // registered all of them once the first arrives (it runs one command at a time).
            // The others are skipped by the message reader.
            if !channels.is_empty() {
                redis::cmd("SUBSCRIBE").arg(channels).query::<Value>(conn)?;
            }
            if !patterns.is_empty() {
                redis::cmd("PSUBSCRIBE")
                    .arg(patterns)
                    .query::<Value>(conn)?;
            }
            Ok::<(), Failure>(())
        })?;
        self.subscribed = true;
        self.last_activity = Instant::now();
        if let Some((lost_at, restored_at)) = self.link.take_healed() {
            self.gaps += 1;
            let (lost_at, count) = self.gap.map_or((lost_at, 0), |g| (g.lost_at, g.count));
            self.gap = Some(Gap {
                lost_at,
                restored_at,
                count: count + 1,
            });
            self.gap_error_due = self.gap_errors;
        }
        Ok(())
    }

    /// The receive loop. `Ok(false)`: the deadline passed with nothing received.
    fn next_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<bool> {
        buf.clear();
        // Set once the publishers are found gone: one more read, then Disconnected.
        let mut last_look = false;
        loop {
            if self.gap_error_due {
                self.gap_error_due = false;
                let (when, n) = self
                    .gap
                    .map(|g| (g.duration(), g.count))
                    .unwrap_or_default();
                return Err(Error::Redis(Cow::Owned(format!(
                    "{}: subscription interrupted {n} time(s) (last outage {when:?}); \
                     messages published meanwhile were missed",
                    self.link.what
                ))));
            }
            match self.ensure_subscribed(deadline) {
                Ok(()) => {}
                Err(Error::Timeout) => return Ok(false),
                Err(e) => return Err(e),
            }
            let health = self.link.opts.health_check;
            let mut slice = match deadline.remaining() {
                None => health,
                Some(left) => left.min(health).max(Duration::from_millis(1)),
            };
            if self.presence.is_some() {
                slice = slice.min(presence::POLL);
            }
            let Some(conn) = self.link.conn_mut() else {
                continue;
            };
            let got = conn.set_read_timeout(Some(slice)).and_then(|()| {
                // `as_pubsub` borrows the connection; dropping the PubSub would unsubscribe,
                // so it is never dropped. It owns nothing: its message queue is only filled
                // by its own subscribe calls, which are not used.
                let mut ps = ManuallyDrop::new(conn.as_pubsub());
                ps.get_message()
            });
            match got {
                Ok(msg) => {
                    self.last_activity = Instant::now();
                    let payload = msg.get_payload_bytes();
                    Error::check_len(payload.len(), self.link.opts.max_message)?;
                    self.last_channel.clear();
                    self.last_channel.push_str(msg.get_channel_name());
                    buf.extend_from_slice(payload);
                    return Ok(true);
                }
                Err(e) if e.is_timeout() => {
                    if self.last_activity.elapsed() >= health {
                        // A write probe: on a connection the server closed this fails (or
                        // the read after it sees the end of stream). The pong itself is
                        // consumed by the message reader.
                        self.last_activity = Instant::now();
                        let ping = redis::cmd("PING").get_packed_command();
                        if let Some(conn) = self.link.conn_mut() {
                            if conn.send_packed_command(&ping).is_err() {
                                self.link.drop_connection();
                            }
                        }
                    }
                    if self.presence.as_ref().is_some_and(Presence::gone) {
                        // Every publisher is gone, long enough ago that what they
                        // published has reached this socket: one more read for the last
                        // of it, then the end.
                        if last_look {
                            return Err(Error::Disconnected);
                        }
                        last_look = true;
                        continue;
                    }
                    if deadline.expired() {
                        return Ok(false);
                    }
                }
                Err(e) if super::link::is_transient(&e) => self.link.drop_connection(),
                Err(e) => return Err(to_error(e)),
            }
        }
    }
}

impl Receiver for Subscriber {
    fn recv_deadline_into(&mut self, buf: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        loop {
            if self.next_into(buf, deadline)? {
                return Ok(());
            }
            if !deadline.is_forever() {
                return Err(Error::Timeout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Reads one RESP command (an array of bulk strings) from `s`; `None` at end of stream.
    fn read_command(s: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<Vec<u8>>> {
        fn parse(b: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
            let line = |from: usize| -> Option<(usize, usize)> {
                let end = b[from..].windows(2).position(|w| w == b"\r\n")? + from;
                let n = std::str::from_utf8(&b[from + 1..end]).ok()?.parse().ok()?;
                Some((n, end + 2))
            };
            let (n, mut at) = line(0)?;
            let mut args = Vec::new();
            for _ in 0..n {
                let (len, start) = line(at)?;
                if b.len() < start + len + 2 {
                    return None;
                }
                args.push(b[start..start + len].to_vec());
                at = start + len + 2;
            }
            Some((args, at))
        }
        loop {
            if let Some((args, used)) = parse(pending) {
                pending.drain(..used);
                return Some(args);
            }
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// A fake server that confirms the subscription, then sends `message` on `ch` in three
    /// pieces 60 ms apart, so the subscriber's 10 ms reads time out in the middle of it.
    #[test]
    fn a_message_split_across_read_timeouts_arrives_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let payload = b"0123456789".repeat(100);
        let server_payload = payload.clone();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut pending = Vec::new();
            while let Some(cmd) = read_command(&mut s, &mut pending) {
                if cmd[0].eq_ignore_ascii_case(b"SUBSCRIBE") {
                    s.write_all(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
                        .unwrap();
                    let mut frame = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n".to_vec();
                    frame.extend_from_slice(format!("${}\r\n", server_payload.len()).as_bytes());
                    frame.extend_from_slice(&server_payload);
                    frame.extend_from_slice(b"\r\n");
                    let third = frame.len() / 3;
                    for piece in [
                        &frame[..third],
                        &frame[third..2 * third],
                        &frame[2 * third..],
                    ] {
                        std::thread::sleep(Duration::from_millis(60));
                        s.write_all(piece).unwrap();
                        s.flush().unwrap();
                    }
                } else {
                    // A health check, or what the subscriber says as it leaves: it may be
                    // gone by the time the answer goes out (the next read then ends).
                    let ping = cmd[0].eq_ignore_ascii_case(b"PING");
                    let _ = s.write_all(if ping {
                        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
                    } else {
                        b"+OK\r\n"
                    });
                }
            }
        });
        // The fake server takes one connection and runs no scripts: no liveness keys.
        let opts = RedisOptions::new()
            .health_check(Duration::from_millis(10))
            .liveness_ttl(None);
        let url = format!("redis://127.0.0.1:{port}");
        let mut sub = Subscriber::connect(&url, "ch", &opts).unwrap();
        let mut buf = Vec::new();
        let mut misses = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = sub.try_recv_into(&mut buf) {
            assert!(e.is_empty(), "{e}");
            misses += 1;
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            misses > 3,
            "the reads timed out while the message was coming ({misses})"
        );
        assert_eq!(buf, payload);
        assert_eq!(sub.gaps(), 0);
        drop(sub);
        server.join().unwrap();
    }
}
