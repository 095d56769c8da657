//! Peer liveness over Redis: senders announce themselves, receivers watch for them, so that a
//! receiver waiting on a channel or stream whose senders all died returns
//! [`Error::Disconnected`](crate::Error::Disconnected) instead of waiting for ever.
//!
//! Per channel or stream, two keys:
//! - `ipcring:live:<kind>:<name>`, a sorted set: one member per live sender (a random id),
//!   scored with the server time (ms) at which it expires. A sender's background thread
//!   re-scores it every `ttl / 4` on a connection of its own (off the send path), and removes
//!   it when the sender is dropped. A sender that dies (SIGKILL included) stops refreshing:
//!   its member expires `ttl` after its last refresh at the latest.
//! - `ipcring:gen:<kind>:<name>`, a counter each sender increments when it attaches, so a
//!   receiver learns that a sender came (and maybe went) between two of its looks.
//!
//! Both keys expire `4 ttl` after the last refresh of any sender, so nothing stays behind
//! for long once every sender is gone.
//!
//! A receiver's thread looks every `ttl / 4` (one script: drop the expired members, count the
//! rest, read the counter). The senders are *gone* when some sender was known (alive at a
//! look, or the counter went up since the receiver attached) and the looks have found none
//! alive for `3/8 ttl` (more than a refresh period), so a late refresh or a server restart
//! that lost the set does not pass for a death. Worst case from a sender's death to the
//! verdict: `ttl` (expiry) + `ttl / 4` (next look) + `ttl / 2` (confirmation, in whole look
//! periods); the receiver sees it within [`POLL`] more. Both scripts use the server's clock
//! (`TIME`), so the machines' clocks need not agree; they need Redis 5 or later (scripts
//! that write after `TIME`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use super::RedisOptions;
use crate::{Error, Result};

/// Adds (or re-scores) a sender, and keeps both keys for `4 ttl` more. KEYS: set, counter.
/// ARGV: id, ttl ms, "1" to count an attach.
const ANNOUNCE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 4)
if ARGV[3] == '1' then
  redis.call('INCR', KEYS[2])
end
redis.call('PEXPIRE', KEYS[2], ttl * 4)
return 1
";

/// Drops expired senders, then returns {live senders, sum of the attach counters}.
/// KEYS: set, counter, set, counter, ...
const LOOK: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive = 0
local gen = 0
for i = 1, #KEYS, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. now)
  alive = alive + redis.call('ZCARD', KEYS[i])
  gen = gen + (tonumber(redis.call('GET', KEYS[i + 1])) or 0)
end
return {alive, gen}
";

/// How often a waiting receiver looks at the shared verdict (its reads and `BLOCK`s are cut
/// to this).
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// The two keys of channel or stream `name` (`kind` is `channel` or `stream`).
pub(crate) fn keys(kind: &str, name: &str) -> (String, String) {
    (
        format!("ipcring:live:{kind}:{name}"),
        format!("ipcring:gen:{kind}:{name}"),
    )
}

/// A sender's announcement or a receiver's watch, kept up by a background thread.
#[derive(Debug)]
pub(crate) struct Presence {
    gone: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn connect(client: &redis::Client, opts: &RedisOptions) -> redis::RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(opts.connect_timeout)?;
    conn.set_write_timeout(Some(opts.io_timeout))?;
    conn.set_read_timeout(Some(opts.io_timeout))?;
    Ok(conn)
}

/// What both sides set up first: nothing if the options turn liveness off, else the TTL,
/// the client and a first connection (its failure is a setup error of `what`).
fn start(
    url: &str,
    what: &str,
    opts: &RedisOptions,
) -> Result<Option<(Duration, redis::Client, Connection)>> {
    let Some(ttl) = opts.liveness_ttl else {
        return Ok(None);
    };
    let client = super::link::client(url)?;
    let conn = connect(&client, opts).map_err(|e| setup_error(what, e))?;
    Ok(Some((ttl, client, conn)))
}

/// Runs `body` on a thread named `name` until the returned [`Presence`] is dropped (the
/// receiver `body` is handed then disconnects); `gone` is the verdict the presence reports.
fn spawn(
    name: &str,
    gone: Arc<AtomicBool>,
    body: impl FnOnce(mpsc::Receiver<()>) + Send + 'static,
) -> Result<Option<Presence>> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || body(stopped))
        .map_err(|e| Error::io("spawn the redis liveness thread", e))?;
    Ok(Some(Presence {
        gone,
        stop: Some(stop),
        thread: Some(thread),
    }))
}

fn setup_error(what: &str, e: redis::RedisError) -> Error {
    Error::Redis(Cow::Owned(format!(
        "{what}: peer liveness keys: {e} (RedisOptions::liveness_ttl(None) turns them off)"
    )))
}

fn announce(
    conn: &mut Connection,
    set: &str,
    gen: &str,
    id: &str,
    ttl: Duration,
    attach: bool,
) -> redis::RedisResult<()> {
    redis::cmd("EVAL")
        .arg(ANNOUNCE)
        .arg(2)
        .arg(set)
        .arg(gen)
        .arg(id)
        .arg(ttl.as_millis() as u64)
        .arg(if attach { "1" } else { "0" })
        .query::<Value>(conn)
        .map(drop)
}

/// One look: (live senders, sum of the attach counters). A reply of any other shape is an
/// error (never taken as "nobody there").
fn look(conn: &mut Connection, watched: &[(String, String)]) -> redis::RedisResult<(i64, i64)> {
    let mut c = redis::cmd("EVAL");
    c.arg(LOOK).arg(watched.len() * 2);
    for (set, gen) in watched {
        c.arg(set).arg(gen);
    }
    match c.query::<Value>(conn)?.as_sequence() {
        Some([Value::Int(alive), Value::Int(gen)]) => Ok((*alive, *gen)),
        _ => Err((
            redis::ErrorKind::TypeError,
            "unexpected reply to the liveness look",
        )
            .into()),
    }
}

impl Presence {
    /// A sender: adds itself to the set of channel or stream `name` now (counted as an
    /// attach), then keeps its member fresh until dropped.
    pub(crate) fn announce(
        url: &str,
        what: &str,
        kind: &str,
        name: &str,
        opts: &RedisOptions,
    ) -> Result<Option<Presence>> {
        let Some((ttl, client, mut conn)) = start(url, what, opts)? else {
            return Ok(None);
        };
        let (set, gen) = keys(kind, name);
        let id = format!("{}-{:016x}", std::process::id(), crate::sys::random_u64());
        announce(&mut conn, &set, &gen, &id, ttl, true).map_err(|e| setup_error(what, e))?;
        let opts = opts.clone();
        let gone = Arc::new(AtomicBool::new(false));
        spawn("ipcring-redis-live", gone, move |stopped| {
            let mut conn = Some(conn);
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(ttl / 4) {
                if conn.is_none() {
                    conn = connect(&client, &opts).ok();
                }
                if let Some(c) = conn.as_mut() {
                    if announce(c, &set, &gen, &id, ttl, false).is_err() {
                        conn = None; // reconnect at the next tick
                    }
                }
            }
            // Dropped: leave at once, so watchers need not wait for the expiry.
            if let Some(c) = conn.as_mut() {
                let _ = redis::cmd("ZREM").arg(&set).arg(&id).query::<Value>(c);
            }
        })
    }

    /// A receiver: watches the senders of `names` (channels or streams of `kind`). Call it
    /// before subscribing or reading, so a sender that comes later is seen.
    pub(crate) fn watch(
        url: &str,
        what: &str,
        kind: &str,
        names: &[&str],
        opts: &RedisOptions,
    ) -> Result<Option<Presence>> {
        let Some((ttl, client, mut conn)) = start(url, what, opts)? else {
            return Ok(None);
        };
        let watched: Vec<(String, String)> = names.iter().map(|n| keys(kind, n)).collect();
        let (alive, mut gen0) = look(&mut conn, &watched).map_err(|e| setup_error(what, e))?;
        let gone = Arc::new(AtomicBool::new(false));
        let verdict = Arc::clone(&gone);
        let opts = opts.clone();
        spawn("ipcring-redis-watch", gone, move |stopped| {
            let mut conn = Some(conn);
            let mut known = alive > 0;
            // Since when the looks have found no sender alive.
            let mut none_since: Option<Instant> = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(ttl / 4) {
                if conn.is_none() {
                    conn = connect(&client, &opts).ok();
                }
                // While the server cannot be reached: no verdict either way.
                let none_alive = match conn.as_mut().map(|c| look(c, &watched)) {
                    Some(Ok((alive, gen))) => {
                        // The counters expire 4 TTL after the last sender's refresh:
                        // a lower value is a fresh start, not a departure.
                        gen0 = gen0.min(gen);
                        known |= alive > 0 || gen > gen0;
                        alive == 0 && known
                    }
                    Some(Err(_)) => {
                        conn = None;
                        false
                    }
                    None => false,
                };
                let gone = if none_alive {
                    none_since.get_or_insert_with(Instant::now).elapsed() >= ttl * 3 / 8
                } else {
                    none_since = None;
                    false
                };
                verdict.store(gone, Ordering::Release);
            }
        })
    }

    /// A watcher's verdict: every sender it knew is gone.
    pub(crate) fn gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            // Bounded by one command's io_timeout.
            let _ = t.join();
        }
    }
}
