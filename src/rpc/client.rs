//! The client: calls, pipelined calls, notifications.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{Codec, Reply};
use super::RpcError;
use crate::transport::{Deadline, Receiver, Sender};
use crate::{TryRecvError, TrySendError};

/// Calls a [`Server`](super::Server)'s handlers over one transport pair: `tx` carries
/// requests, `rx` replies.
///
/// * [`Client::call`]: send, wait for the reply, with one timeout for both.
/// * [`Client::start_call`] / [`Client::wait`]: several calls in flight; replies are matched
///   by request id and may arrive in any order (a reply for another call in flight is kept
///   until that call is waited for).
/// * [`Client::notify`]: one way, no reply.
///
/// A call that times out, or whose [`Pending`] is dropped, is forgotten: its reply, if it
/// comes later, is discarded.
///
/// ```no_run
/// use std::time::Duration;
/// use ipcring::rpc::{BinaryCodec, Client, RpcError};
/// use ipcring::transport::{Receiver, Sender};
///
/// fn pipelined<S: Sender, R: Receiver>(tx: S, rx: R) -> Result<i64, RpcError> {
///     let t = Duration::from_secs(1);
///     let mut c = Client::new(tx, rx, BinaryCodec);
///     let a = c.start_call::<_, i64>("add", (1i64, 2i64), t)?;
///     let b = c.start_call::<_, i64>("multiply", (3i64, 4i64), t)?;
///     Ok(c.wait(b, t)? + c.wait(a, t)?)
/// }
/// ```
pub struct Client<S, R, C: Codec> {
    tx: S,
    rx: R,
    codec: C,
    next_id: u64,
    /// Ids sent whose reply is still wanted.
    in_flight: HashSet<u64>,
    /// Replies that arrived while waiting for another call: frame and decoded envelope.
    stash: HashMap<u64, (Vec<u8>, Reply<C::Value>)>,
    /// Ids of `Pending`s dropped without `wait`.
    abandoned: Arc<Abandoned>,
    frame: Vec<u8>,
    out: Vec<u8>,
}

impl<S, R, C: Codec> fmt::Debug for Client<S, R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("codec", &self.codec)
            .field("next_id", &self.next_id)
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// A call in flight, from [`Client::start_call`]; redeem it with [`Client::wait`].
///
/// Dropping it forgets the call (its reply is discarded when it comes).
#[must_use = "a pending call does nothing unless waited for with Client::wait"]
pub struct Pending<T> {
    id: u64,
    method: String,
    abandoned: Arc<Abandoned>,
    waited: bool,
    _ret: PhantomData<fn() -> T>,
}

impl<T> Pending<T> {
    /// The request id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The method called.
    pub fn method(&self) -> &str {
        &self.method
    }
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("id", &self.id)
            .field("method", &self.method)
            .finish()
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if !self.waited {
            if let Ok(mut v) = self.abandoned.ids.lock() {
                v.push(self.id);
                self.abandoned.any.store(true, Ordering::Release);
            }
        }
    }
}

/// The ids of dropped [`Pending`]s, shared with them; `any` spares the lock on the fast path.
#[derive(Debug, Default)]
struct Abandoned {
    any: AtomicBool,
    ids: Mutex<Vec<u64>>,
}

/// While a send waits for room, it drains replies every slice this long, so a server
/// blocked on sending replies can go on (else both sides could wait on full transports).
const DRAIN_SLICE: Duration = Duration::from_millis(1);

impl<S: Sender, R: Receiver, C: Codec> Client<S, R, C> {
    /// A client sending requests on `tx` and reading replies from `rx`.
    pub fn new(tx: S, rx: R, codec: C) -> Client<S, R, C> {
        Client {
            tx,
            rx,
            codec,
            next_id: 1,
            in_flight: HashSet::new(),
            stash: HashMap::new(),
            abandoned: Arc::new(Abandoned::default()),
            frame: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Calls `method` with `args` and waits for its result, at most `timeout` in all
    /// (`Duration::MAX` waits as long as it takes).
    ///
    /// ```no_run
    /// # fn f<S: ipcring::Sender, R: ipcring::Receiver>(tx: S, rx: R) -> Result<(), ipcring::rpc::RpcError> {
    /// use std::time::Duration;
    /// let mut alice = ipcring::rpc::Client::new(tx, rx, ipcring::rpc::JsonCodec);
    /// let product: i64 = alice.call("multiply", (8, 5), Duration::from_secs(1))?;
    /// # Ok(()) }
    /// ```
    pub fn call<A: Serialize, T: DeserializeOwned>(
        &mut self,
        method: &str,
        args: A,
        timeout: Duration,
    ) -> Result<T, RpcError> {
        let deadline = Deadline::after(timeout);
        let id = self.send_request(method, &args, deadline)?;
        let r = self.wait_id(id, method, deadline);
        self.in_flight.remove(&id);
        r
    }

    /// Sends a call and returns at once with its [`Pending`] handle; `timeout` bounds only
    /// the sending (waiting for room in the transport).
    ///
    /// ```no_run
    /// # fn f<S: ipcring::Sender, R: ipcring::Receiver>(tx: S, rx: R) -> Result<(), ipcring::rpc::RpcError> {
    /// use std::time::Duration;
    /// let t = Duration::from_secs(1);
    /// let mut alice = ipcring::rpc::Client::new(tx, rx, ipcring::rpc::JsonCodec);
    /// let calls: Vec<_> = (0..10)
    ///     .map(|i| alice.start_call::<_, i64>("add", (i, 1), t))
    ///     .collect::<Result<_, _>>()?;
    /// for (i, p) in calls.into_iter().enumerate().rev() {
    ///     assert_eq!(alice.wait(p, t)?, i as i64 + 1);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn start_call<A: Serialize, T: DeserializeOwned>(
        &mut self,
        method: &str,
        args: A,
        timeout: Duration,
    ) -> Result<Pending<T>, RpcError> {
        let id = self.send_request(method, &args, Deadline::after(timeout))?;
        Ok(Pending {
            id,
            method: method.to_owned(),
            abandoned: Arc::clone(&self.abandoned),
            waited: false,
            _ret: PhantomData,
        })
    }

    /// Waits at most `timeout` for the result of a call started with [`Client::start_call`]
    /// on this client. On [`RpcError::Timeout`] the call is forgotten.
    pub fn wait<T: DeserializeOwned>(
        &mut self,
        mut pending: Pending<T>,
        timeout: Duration,
    ) -> Result<T, RpcError> {
        pending.waited = true;
        if !Arc::ptr_eq(&pending.abandoned, &self.abandoned) {
            return Err(RpcError::Transport(crate::Error::InvalidConfig(
                "this Pending was started by another Client".into(),
            )));
        }
        let r = self.wait_id(pending.id, &pending.method, Deadline::after(timeout));
        self.in_flight.remove(&pending.id);
        self.stash.remove(&pending.id);
        r
    }

    /// Sends a one-way notification: the server runs the handler and sends nothing back,
    /// not even an error. `timeout` bounds the sending.
    ///
    /// ```no_run
    /// # fn f<S: ipcring::Sender, R: ipcring::Receiver>(tx: S, rx: R) -> Result<(), ipcring::rpc::RpcError> {
    /// let mut alice = ipcring::rpc::Client::new(tx, rx, ipcring::rpc::JsonCodec);
    /// alice.notify("log", "Bob was here", std::time::Duration::from_secs(1))?;
    /// # Ok(()) }
    /// ```
    pub fn notify<A: Serialize>(
        &mut self,
        method: &str,
        args: A,
        timeout: Duration,
    ) -> Result<(), RpcError> {
        self.out.clear();
        self.codec
            .encode_request(None, method, &args, &mut self.out)?;
        self.send_out(Deadline::after(timeout))
    }

    /// The number of calls sent whose reply is still awaited.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> (S, R) {
        (self.tx, self.rx)
    }

    fn send_request<A: Serialize + ?Sized>(
        &mut self,
        method: &str,
        args: &A,
        deadline: Deadline,
    ) -> Result<u64, RpcError> {
        self.reap_abandoned();
        let id = self.next_id;
        self.next_id += 1;
        self.out.clear();
        self.codec
            .encode_request(Some(id), method, args, &mut self.out)?;
        self.send_out(deadline)?;
        self.in_flight.insert(id);
        Ok(id)
    }

    /// Sends `self.out`. When the transport is full, receives the replies already there
    /// (keeping those of calls in flight) between attempts: with many calls in flight the
    /// server may itself be waiting for room to send them.
    fn send_out(&mut self, deadline: Deadline) -> Result<(), RpcError> {
        match self.tx.try_send(&self.out) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full) => {}
            Err(TrySendError::Failed(e)) => return Err(e.into()),
        }
        loop {
            self.drain_replies()?;
            let slice = deadline
                .remaining()
                .map_or(DRAIN_SLICE, |left| left.min(DRAIN_SLICE));
            match self.tx.send_timeout(&self.out, slice) {
                Ok(()) => return Ok(()),
                Err(crate::Error::Timeout) if !deadline.expired() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes every reply waiting in the transport, keeping those of calls in flight.
    fn drain_replies(&mut self) -> Result<(), RpcError> {
        loop {
            let mut frame = std::mem::take(&mut self.frame);
            match self.rx.try_recv_into(&mut frame) {
                Ok(()) => {}
                Err(TryRecvError::Empty) => {
                    self.frame = frame;
                    return Ok(());
                }
                Err(TryRecvError::Failed(e)) => return Err(e.into()),
            }
            match self.codec.decode_reply(&frame) {
                Ok(reply) => match reply_owner(&reply, self.in_flight.iter().copied()) {
                    Some(rid) if self.in_flight.contains(&rid) => {
                        self.stash.insert(rid, (frame, reply));
                    }
                    _ => self.frame = frame,
                },
                // Not attributable to any call; the call it belonged to will time out.
                Err(_) => self.frame = frame,
            }
        }
    }

    fn reap_abandoned(&mut self) {
        if !self.abandoned.any.load(Ordering::Acquire) {
            return;
        }
        let ids = match self.abandoned.ids.lock() {
            Ok(mut v) => {
                self.abandoned.any.store(false, Ordering::Relaxed);
                std::mem::take(&mut *v)
            }
            Err(_) => return,
        };
        for id in ids {
            self.in_flight.remove(&id);
            self.stash.remove(&id);
        }
    }

    fn wait_id<T: DeserializeOwned>(
        &mut self,
        id: u64,
        method: &str,
        deadline: Deadline,
    ) -> Result<T, RpcError> {
        self.reap_abandoned();
        if let Some((frame, reply)) = self.stash.remove(&id) {
            return finish(&self.codec, &frame, reply, method);
        }
        loop {
            let mut frame = std::mem::take(&mut self.frame);
            let got = self.rx.recv_deadline_into(&mut frame, deadline);
            let got = got.map_err(RpcError::from);
            let decoded = got.and_then(|()| self.codec.decode_reply(&frame));
            let reply = match decoded {
                Ok(r) => r,
                Err(e) => {
                    self.frame = frame;
                    return Err(e);
                }
            };
            match reply_owner(&reply, self.in_flight.iter().copied()) {
                Some(rid) if rid == id => {
                    let r = finish(&self.codec, &frame, reply, method);
                    self.frame = frame;
                    return r;
                }
                Some(rid) if self.in_flight.contains(&rid) => {
                    // Another call's reply: keep it (and its frame) until that call waits.
                    self.stash.insert(rid, (frame, reply));
                }
                // A late reply to a forgotten call, or one that cannot be attributed.
                _ => self.frame = frame,
            }
        }
    }
}

/// The call a reply answers: its id; for an error without one (the server could not read
/// the request's id), the one call in flight, when there is exactly one. The blocking and
/// the async client attribute replies by this one rule.
pub(super) fn reply_owner<V>(
    reply: &Reply<V>,
    mut in_flight: impl ExactSizeIterator<Item = u64>,
) -> Option<u64> {
    match reply.id {
        Some(id) => Some(id),
        None if in_flight.len() == 1 && reply.outcome.is_err() => in_flight.next(),
        None => None,
    }
}

/// The result a reply carries for a call of `method`: decoded from `frame`, or the server's
/// error.
pub(super) fn finish<C: Codec, T: DeserializeOwned>(
    codec: &C,
    frame: &[u8],
    reply: Reply<C::Value>,
    method: &str,
) -> Result<T, RpcError> {
    match reply.outcome {
        Ok(v) => codec.decode_result(frame, v).map_err(|e| RpcError::Codec {
            message: format!("the result of `{method}` does not decode: {e}"),
        }),
        Err(e) => Err(e.into_rpc_error(method)),
    }
}
