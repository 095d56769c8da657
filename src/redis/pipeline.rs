//! The pipelined sending half shared by [`Publisher`](super::Publisher) and
//! [`StreamProducer`](super::StreamProducer): every command is written at once, its reply is
//! collected later, so the connection carries many messages per round trip.
//!
//! What it keeps: the encoded commands whose replies have not come (`buf[head..]`, one
//! [`Slot`] each, oldest first), so that after a lost connection they are written again,
//! in order, on the next one. After every (re)connect the first command goes alone and its
//! reply is awaited before the others follow: a server still loading its data answers
//! `-LOADING` to it, and a pipeline must not straddle the end of loading (some refused,
//! later ones accepted, which would reorder them on the retry).
//!
//! Written by hand on top of the redis crate's blocking connection (`send_packed_command`,
//! `recv_response`): the crate's own `Pipeline` waits for all its replies at once, and its
//! async multiplexer would bring a runtime into the blocking types.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use super::link::{is_transient, to_error, Failure, Link};
use crate::transport::Deadline;
use crate::{Error, Result};

/// A reply older than this is collected by the next send, so a refusal is reported soon
/// even when the window never fills.
pub(crate) const LINGER: Duration = Duration::from_millis(1);

/// One command whose reply has not been read.
#[derive(Debug, Clone, Copy)]
struct Slot {
    len: usize,
    at: Instant,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Pipeline {
    max_msgs: usize,
    max_bytes: usize,
    /// `send` writes once this many commands are unwritten ([`RedisOptions::coalesce`];
    /// 1: every send writes its own).
    ///
    /// [`RedisOptions::coalesce`]: super::RedisOptions::coalesce
    coalesce: usize,
    /// Encoded commands; those before `head` are answered.
    buf: Vec<u8>,
    head: usize,
    inflight: VecDeque<Slot>,
    /// How many of `inflight` (from the front) are written on the current connection.
    written: usize,
    /// A reply came on the current connection (the server is past loading).
    confirmed: bool,
    /// The read timeout last set on the current connection.
    read_timeout: Option<Duration>,
    /// The first refusal not reported yet, and how many more came after it.
    refused: Option<(String, u64)>,
    /// The reply to the last command answered.
    last: Option<Value>,
}

impl Pipeline {
    pub(crate) fn new(max_msgs: usize, max_bytes: usize, coalesce: usize) -> Pipeline {
        let max_msgs = max_msgs.max(1);
        Pipeline {
            max_msgs,
            max_bytes: max_bytes.max(1),
            coalesce: coalesce.clamp(1, max_msgs),
            buf: Vec::new(),
            head: 0,
            inflight: VecDeque::new(),
            written: 0,
            confirmed: false,
            read_timeout: None,
            refused: None,
            last: None,
        }
    }

    /// Replies outstanding.
    pub(crate) fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    fn pending_bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Room for a command of `len` bytes, and no reply older than [`LINGER`] uncollected.
    fn ready_for(&self, len: usize, now: Instant) -> bool {
        self.has_room(1, len) && self.lingering(now)
    }

    /// Room for `msgs` more commands of `bytes` in all (always, when nothing is in flight:
    /// one command goes through however large).
    fn has_room(&self, msgs: usize, bytes: usize) -> bool {
        self.inflight.is_empty()
            || (self.inflight.len() + msgs <= self.max_msgs
                && self.pending_bytes() + bytes <= self.max_bytes)
    }

    /// No reply older than [`LINGER`] uncollected.
    fn lingering(&self, now: Instant) -> bool {
        self.inflight
            .front()
            .is_none_or(|front| now.saturating_duration_since(front.at) < LINGER)
    }

    /// Reports (once) a refusal of an earlier command.
    pub(crate) fn take_refused(&mut self, what: &str) -> Result<()> {
        match self.refused.take() {
            None => Ok(()),
            Some((e, 0)) => Err(Error::Redis(Cow::Owned(format!(
                "{what}: the server refused an earlier message: {e}"
            )))),
            Some((e, more)) => Err(Error::Redis(Cow::Owned(format!(
                "{what}: the server refused an earlier message: {e} (and {more} more after it)"
            )))),
        }
    }

    /// Queues the command made of `parts` (a RESP array of bulk strings) and writes it,
    /// first waiting for room (back-pressure) until `deadline`. `Ok` once written to the
    /// connection; on `Err` the command is not queued (an earlier refusal is reported
    /// before anything is written). With `coalesce` above 1 it is written only once that
    /// many are unwritten (or by a later call: see [`Pipeline::queue`]); `Ok` then means
    /// queued.
    pub(crate) fn send(
        &mut self,
        link: &mut Link,
        parts: &[&[u8]],
        deadline: Deadline,
    ) -> Result<()> {
        self.queue(link, parts, deadline)?;
        if self.inflight.len() - self.written < self.coalesce {
            return Ok(());
        }
        let result = self.write_queued(link, deadline);
        if result.is_err() && self.written < self.inflight.len() {
            // Not handed over: take it back (the caller sees the error and may send again).
            if let Some(slot) = self.inflight.pop_back() {
                self.buf.truncate(self.buf.len() - slot.len);
            }
        }
        result
    }

    /// Queues the command made of `parts` without writing it, waiting for room until
    /// `deadline` (replies to written commands are read first; only when none is written
    /// is what is queued written to make room, or when the oldest is older than
    /// [`LINGER`]). On `Err` it is not queued.
    pub(crate) fn queue(
        &mut self,
        link: &mut Link,
        parts: &[&[u8]],
        deadline: Deadline,
    ) -> Result<()> {
        self.take_refused(&link.what)?;
        let len = encoded_len(parts);
        if !self.ready_for(len, Instant::now()) {
            // A full window is read down to half (not just one free slot), so that the sends
            // after it do not each wait for one reply; replies older than LINGER are
            // collected. Replies are read before queued commands are written (when any are
            // written), so a batch being queued (send_all) still goes out in one write.
            let (msgs, bytes) = if self.has_room(1, len) {
                (1, len)
            } else {
                (self.max_msgs.div_ceil(2), (self.max_bytes / 2).max(len))
            };
            self.pump_with(link, deadline, true, |p| {
                p.has_room(msgs, bytes) && p.lingering(Instant::now())
            })?;
        }
        // Refusals seen while waiting are reported now, before this message goes out.
        self.take_refused(&link.what)?;
        encode(&mut self.buf, parts);
        self.inflight.push_back(Slot {
            len,
            at: Instant::now(),
        });
        Ok(())
    }

    /// Writes everything queued (in one write when the connection is confirmed).
    pub(crate) fn write_queued(&mut self, link: &mut Link, deadline: Deadline) -> Result<()> {
        self.pump_with(link, deadline, false, |p| p.written == p.inflight.len())
    }

    /// Waits until every reply is in; returns the last one (`None` if nothing was sent).
    /// Refusals are reported as an error.
    pub(crate) fn flush(&mut self, link: &mut Link, deadline: Deadline) -> Result<Option<Value>> {
        self.pump_with(link, deadline, false, |p| p.inflight.is_empty())?;
        self.take_refused(&link.what)?;
        Ok(self.last.take())
    }

    /// Forgets the connection's state after it failed: everything unanswered is written
    /// again on the next one.
    fn reset(&mut self) {
        self.written = 0;
        self.confirmed = false;
        self.read_timeout = None;
    }

    fn answered(&mut self, reply: std::result::Result<Value, String>) {
        let Some(slot) = self.inflight.pop_front() else {
            return;
        };
        self.written = self.written.saturating_sub(1);
        self.head += slot.len;
        self.confirmed = true;
        match reply {
            Ok(v) => self.last = Some(v),
            Err(e) => {
                self.last = None;
                match &mut self.refused {
                    Some((_, more)) => *more += 1,
                    None => self.refused = Some((e, 0)),
                }
            }
        }
        if self.inflight.is_empty() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= 64 << 10 && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Byte offset in `buf` of the `i`-th unanswered command.
    fn offset(&self, i: usize) -> usize {
        self.head + self.inflight.iter().take(i).map(|s| s.len).sum::<usize>()
    }

    /// Writes and reads on `link` until `goal` holds, reconnecting (and rewriting what is
    /// unanswered) with the link's backoff. With `read_first`, replies to commands already
    /// written are read before unwritten ones are written (to make room without splitting
    /// a batch).
    fn pump_with(
        &mut self,
        link: &mut Link,
        deadline: Deadline,
        read_first: bool,
        goal: impl Fn(&Pipeline) -> bool,
    ) -> Result<()> {
        if goal(self) {
            return Ok(());
        }
        let io = link.opts.io_timeout;
        link.run(deadline, |conn| {
            self.step(conn, deadline, io, read_first, &goal)
        })
    }

    fn step(
        &mut self,
        conn: &mut Connection,
        deadline: Deadline,
        io: Duration,
        read_first: bool,
        goal: &impl Fn(&Pipeline) -> bool,
    ) -> std::result::Result<(), Failure> {
        loop {
            if goal(self) {
                return Ok(());
            }
            let unwritten = self.written < self.inflight.len();
            let write_now = !(read_first && self.written > 0);
            if unwritten && write_now && (self.confirmed || self.written == 0) {
                // Until the server has answered once on this connection, one at a time.
                let upto = if self.confirmed {
                    self.inflight.len()
                } else {
                    1
                };
                let (from, to) = (self.offset(self.written), self.offset(upto));
                if let Err(e) = conn.send_packed_command(&self.buf[from..to]) {
                    self.reset();
                    return Err(Failure::Transient(e));
                }
                self.written = upto;
                continue;
            }
            // Nothing to write: wait for the oldest reply.
            let budget = deadline.slice(io).unwrap_or(io);
            if self.read_timeout != Some(budget) {
                if let Err(e) = conn.set_read_timeout(Some(budget)) {
                    self.reset();
                    return Err(Failure::Transient(e));
                }
                self.read_timeout = Some(budget);
            }
            // The redis crate returns an error reply (`-LOADING ...`) as a value.
            match conn.recv_response().and_then(Value::extract_error) {
                Ok(v) => self.answered(Ok(v)),
                // A read that timed out leaves the redis crate's connection out of step
                // (it skips the next reply): the connection is given up, what is
                // unanswered is written again on a new one.
                Err(e) if e.is_timeout() || is_transient(&e) => {
                    self.reset();
                    return Err(Failure::Transient(e));
                }
                Err(e) => self.answered(Err(to_error(e).to_string())),
            }
        }
    }
}

fn decimal_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Bytes of `*N\r\n` + `$len\r\n<arg>\r\n` for every part.
fn encoded_len(parts: &[&[u8]]) -> usize {
    let mut n = 3 + decimal_len(parts.len());
    for p in parts {
        n += 5 + decimal_len(p.len()) + p.len();
    }
    n
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends the RESP encoding of the command `parts` to `out` (no allocation once `out` has
/// grown to the window's size).
fn encode(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, parts.len());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.push(b'$');
        push_decimal(out, p.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// The methods every pipelined sender (`Publisher`, `StreamProducer`) has, over its `pipe`
/// and `link` fields: `flush`, `flush_within`, `in_flight` and `reconnects`, its
/// [`Sender`](crate::transport::Sender) impl (over its `send_within`) and its `Drop` (a
/// bounded flush). Arguments: the
/// type, what one message is called ("message", "entry"), what the sender is called, the
/// doc examples' `use` line and the expression that connects one.
macro_rules! pipelined_sender_methods {
    ($ty:ident, $unit:literal, $who:literal, $uses:literal, $connect:literal) => {
        impl $ty {
            #[doc = concat!("Waits until the server has answered every ", $unit, " sent so far (re-sending")]
            #[doc = concat!("across connection losses); reports a ", $unit, " the server refused as an error.")]
            ///
            /// ```no_run
            #[doc = $uses]
            /// # use ipcring::Sender;
            /// # fn main() -> ipcring::Result<()> {
            #[doc = concat!("let mut tx = ", $connect, ";")]
            /// for i in 0..1000u32 {
            ///     tx.send(&i.to_le_bytes())?;
            /// }
            /// tx.flush()?; // the server has all 1000
            /// assert_eq!(tx.in_flight(), 0);
            /// # Ok(())
            /// # }
            /// ```
            pub fn flush(&mut self) -> $crate::Result<()> {
                self.pipe
                    .flush(&mut self.link, $crate::transport::Deadline::forever())
                    .map(drop)
            }

            #[doc = concat!("[`", stringify!($ty), "::flush`] with a deadline ([`Error::Timeout`](crate::Error::Timeout)")]
            /// when it passes first; what is unanswered stays queued).
            ///
            /// ```no_run
            #[doc = $uses]
            /// # use ipcring::transport::Deadline;
            /// # use std::time::Duration;
            /// # fn main() -> ipcring::Result<()> {
            #[doc = concat!("let mut tx = ", $connect, ";")]
            /// tx.flush_within(Deadline::after(Duration::from_secs(1)))?;
            /// # Ok(())
            /// # }
            /// ```
            pub fn flush_within(&mut self, deadline: $crate::transport::Deadline) -> $crate::Result<()> {
                self.pipe.flush(&mut self.link, deadline).map(drop)
            }

            #[doc = concat!(
                "Messages sent whose reply has not been read yet (at most the [`RedisOptions::pipeline`](crate::redis::RedisOptions::pipeline)",
                " window); those a [`RedisOptions::coalesce`](crate::redis::RedisOptions::coalesce) ", $who,
                " has queued but not written yet count too."
            )]
            ///
            /// ```no_run
            #[doc = $uses]
            /// # fn main() -> ipcring::Result<()> {
            #[doc = concat!("let tx = ", $connect, ";")]
            /// assert_eq!(tx.in_flight(), 0);
            /// # Ok(())
            /// # }
            /// ```
            pub fn in_flight(&self) -> usize {
                self.pipe.in_flight()
            }

            #[doc = concat!("Connections lost (and replaced) since this ", $who, " was made.")]
            ///
            /// ```no_run
            #[doc = $uses]
            /// # fn main() -> ipcring::Result<()> {
            #[doc = concat!("let tx = ", $connect, ";")]
            /// assert_eq!(tx.reconnects(), 0);
            /// # Ok(())
            /// # }
            /// ```
            pub fn reconnects(&self) -> u64 {
                self.link.losses
            }
        }

        impl $crate::transport::Sender for $ty {
            /// Pipelined: returns once `msg` is written to the server's connection, waiting for
            /// room in the window first (until `deadline`). See the type's docs. With
            /// [`Deadline::immediate`](crate::transport::Deadline::immediate) (`try_send`), one
            /// attempt: `TrySendError::Full` when the server cannot be reached right now.
            fn send_deadline(
                &mut self,
                msg: &[u8],
                deadline: $crate::transport::Deadline,
            ) -> $crate::Result<()> {
                self.send_within(msg, deadline)
            }

            fn max_message(&self) -> usize {
                self.link.opts.max_message
            }
        }

        impl Drop for $ty {
            /// Collects the outstanding replies (re-sending what a lost connection took), for at
            /// most the options' `io_timeout`; a refusal found then has no one to go to.
            fn drop(&mut self) {
                if self.pipe.in_flight() > 0 {
                    let io = self.link.opts.io_timeout;
                    let _ = self
                        .pipe
                        .flush(&mut self.link, $crate::transport::Deadline::after(io));
                }
            }
        }
    };
}
pub(crate) use pipelined_sender_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_the_redis_crate() {
        let parts: [&[u8]; 3] = [b"PUBLISH", b"chan", &[0u8; 1234]];
        let mut out = Vec::new();
        encode(&mut out, &parts);
        let theirs = redis::cmd("PUBLISH")
            .arg("chan")
            .arg(&[0u8; 1234][..])
            .get_packed_command();
        assert_eq!(out, theirs);
        assert_eq!(encoded_len(&parts), out.len());
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(10), 2);
    }

    #[test]
    fn answers_free_the_window_and_refusals_are_kept() {
        let mut p = Pipeline::new(2, 1 << 20, 1);
        let now = Instant::now();
        for _ in 0..2 {
            encode(&mut p.buf, &[b"PING"]);
            p.inflight.push_back(Slot { len: 14, at: now });
        }
        p.written = 2;
        assert!(!p.ready_for(14, now));
        p.answered(Err("ERR no".into()));
        assert!(p.ready_for(14, now));
        // Room for a batch counts all of it.
        assert!(p.has_room(1, 14));
        assert!(!p.has_room(2, 28));
        assert!(!p.has_room(1, 1 << 20));
        p.answered(Ok(Value::Int(1)));
        assert_eq!(p.in_flight(), 0);
        assert!(p.buf.is_empty());
        // An empty window lets one command through however large.
        assert!(p.has_room(1, 2 << 20));
        let e = p.take_refused("x").unwrap_err();
        assert!(e.to_string().contains("ERR no"), "{e}");
        assert!(p.take_refused("x").is_ok());
    }
}
