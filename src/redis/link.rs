//! One connection to a Redis server that heals itself: connects on demand, runs a command,
//! and on a connection-class failure drops the connection and tries again with exponential
//! backoff, until the caller's deadline (or the options' `give_up_after`) says stop.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use redis::{Connection, ErrorKind, RedisError, RedisResult};

use super::RedisOptions;
use crate::transport::Deadline;
use crate::{Error, Result};

/// A healing connection. `what` names the server and the object ("127.0.0.1:6379 stream
/// orders") for error messages; it never holds a password.
pub(crate) struct Link {
    client: redis::Client,
    conn: Option<Connection>,
    pub(crate) opts: RedisOptions,
    pub(crate) what: String,
    /// Connections lost since this link was made.
    pub(crate) losses: u64,
    /// When the first connection lost since the last [`Link::take_healed`] was lost.
    lost_at: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("server", &self.what)
            .field("connected", &self.conn.is_some())
            .field("losses", &self.losses)
            .finish()
    }
}

/// What a failed command means for the connection it ran on.
pub(crate) enum Failure {
    /// The connection is gone or the server cannot answer now (restarting, loading its
    /// data): drop the connection, back off, try again.
    Transient(RedisError),
    /// The server refused the command for good (wrong type, bad auth, ...).
    Fatal(Error),
}

impl From<RedisError> for Failure {
    fn from(e: RedisError) -> Failure {
        if is_transient(&e) {
            Failure::Transient(e)
        } else {
            Failure::Fatal(to_error(e))
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Fatal(e)
    }
}

/// True for failures that a new connection may cure.
pub(crate) fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::TryAgain
                | ErrorKind::MasterDown
                | ErrorKind::ReadOnly
                | ErrorKind::ClusterDown
        )
}

/// Maps a redis-crate error to the crate's error.
pub(crate) fn to_error(e: RedisError) -> Error {
    let code = e.code().unwrap_or("");
    if e.kind() == ErrorKind::AuthenticationFailed || matches!(code, "NOAUTH" | "WRONGPASS") {
        Error::Auth(Cow::Owned(e.to_string()))
    } else if e.kind() == ErrorKind::InvalidClientConfig {
        Error::InvalidConfig(Cow::Owned(e.to_string()))
    } else {
        Error::Redis(Cow::Owned(e.to_string()))
    }
}

/// A client for `url` (no connection yet); a malformed URL is [`Error::InvalidConfig`].
pub(crate) fn client(url: &str) -> Result<redis::Client> {
    redis::Client::open(url)
        .map_err(|e| Error::InvalidConfig(Cow::Owned(format!("redis URL: {e}"))))
}

impl Link {
    /// Parses `url` (`redis://[user:password@]host:port/db`, `rediss://` when the redis
    /// crate's TLS feature is on, `redis+unix:///path`) and connects, retrying within the
    /// options' connect timeout.
    pub(crate) fn open(url: &str, object: &str, opts: &RedisOptions) -> Result<Link> {
        opts.validate()?;
        let client = client(url)?;
        let info = client.get_connection_info();
        let what = format!("{}/{} {object}", info.addr, info.redis.db);
        let mut link = Link {
            client,
            conn: None,
            opts: opts.clone(),
            what,
            losses: 0,
            lost_at: None,
        };
        let deadline = Deadline::after(opts.connect_timeout);
        link.run(deadline, |_| Ok(()))?;
        Ok(link)
    }

    /// True unless the URL asked for RESP3 (`?protocol=resp3`).
    pub(crate) fn is_resp2(&self) -> bool {
        self.client.get_connection_info().redis.protocol == redis::ProtocolVersion::RESP2
    }

    /// True when a connection is open now (it may still turn out to be dead).
    pub(crate) fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The open connection, if any.
    pub(crate) fn conn_mut(&mut self) -> Option<&mut Connection> {
        self.conn.as_mut()
    }

    /// Forgets the connection (after a failure seen outside [`Link::run`]).
    pub(crate) fn drop_connection(&mut self) {
        if self.conn.take().is_some() {
            self.losses += 1;
            self.lost_at.get_or_insert_with(std::time::SystemTime::now);
        }
    }

    /// If connections were lost since the last call and one is open again: when the first
    /// was lost, and now (call it once the new connection is fully set up).
    pub(crate) fn take_healed(&mut self) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
        self.conn.as_ref()?;
        self.lost_at
            .take()
            .map(|lost| (lost, std::time::SystemTime::now()))
    }

    fn connect(&mut self, deadline: Deadline) -> RedisResult<&mut Connection> {
        if let Some(conn) = self.conn.take() {
            return Ok(self.conn.insert(conn));
        }
        // A try_ form (deadline already reached) still gets one attempt, bounded by
        // connect_timeout; set_*_timeout refuse a zero duration.
        let budget = deadline.slice(self.opts.connect_timeout);
        let budget = budget.unwrap_or(self.opts.connect_timeout);
        let mut conn = self.client.get_connection_with_timeout(budget)?;
        conn.set_write_timeout(Some(self.opts.io_timeout))?;
        conn.set_read_timeout(Some(self.opts.io_timeout))?;
        if let Some(name) = &self.opts.client_name {
            redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(name)
                .query::<()>(&mut conn)?;
        }
        Ok(self.conn.insert(conn))
    }

    /// Runs `f` on a live connection. A transient failure drops the connection and tries
    /// again with backoff; `setup` of a fresh connection (subscribing, ...) is the caller's
    /// business, done inside `f` by checking its own state.
    ///
    /// Returns [`Error::Timeout`] when `deadline` passes first, or the last failure when
    /// `give_up_after` of failing in a row has passed.
    pub(crate) fn run<T>(
        &mut self,
        deadline: Deadline,
        mut f: impl FnMut(&mut Connection) -> Result<T, Failure>,
    ) -> Result<T> {
        let mut delay = self.opts.backoff_initial;
        let mut failing_since: Option<Instant> = None;
        loop {
            let outcome = self.connect(deadline).map_err(Failure::from);
            let err = match outcome.and_then(&mut f) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(e)) => e,
            };
            self.drop_connection();
            let now = Instant::now();
            let since = *failing_since.get_or_insert(now);
            if let Some(limit) = self.opts.give_up_after {
                if now.duration_since(since) >= limit {
                    let what = &self.what;
                    return Err(Error::Redis(Cow::Owned(format!(
                        "{what}: gave up after {limit:?} of failures: {err}"
                    ))));
                }
            }
            let Some(pause) = deadline.slice(delay) else {
                return Err(Error::Timeout);
            };
            std::thread::sleep(pause);
            delay = (delay * 2).min(self.opts.backoff_max);
        }
    }
}

/// Milliseconds for a BLOCK argument: at least 1 (0 means "forever" to Redis).
pub(crate) fn block_ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}
