//! The RPC client for tokio: [`AsyncClient`], many calls in flight from many tasks over one
//! connection.
//!
//! A reader task owns the receiving half and hands each reply to the call waiting for its
//! id; the sending half sits behind an async lock, so calls from many tasks interleave whole
//! requests. Replies may come in any order (a [`Server::serve_concurrent`] answers as its
//! workers finish). The wire is the blocking [`Client`](crate::rpc::Client)'s: any
//! [`Server`] serves it, over any transport that has an async form.
//!
//! [`Server::serve_concurrent`]: crate::rpc::Server::serve_concurrent
//! [`Server`]: crate::rpc::Server
//!
//! ```no_run
//! use std::time::Duration;
//! use ipcring::rpc::AsyncClient;
//! use ipcring::socket::AsyncConnection;
//! use ipcring::rpc::JsonCodec;
//! use ipcring::socket::SocketOptions;
//!
//! # async fn demo() -> Result<(), ipcring::rpc::RpcError> {
//! let (tx, rx) = AsyncConnection::connect("/tmp/alice.sock", &SocketOptions::new())
//!     .await?
//!     .into_split();
//! let client = AsyncClient::new(tx, rx, JsonCodec);
//! let mut tasks = Vec::new();
//! for i in 0..100i64 {
//!     let c = client.clone();
//!     tasks.push(tokio::spawn(async move { c.call::<_, i64>("add", (i, 1)).await }));
//! }
//! for (i, t) in tasks.into_iter().enumerate() {
//!     assert_eq!(t.await.unwrap()?, i as i64 + 1);
//! }
//! let late = client.call_timeout::<_, i64>("slow", 5000u64, Duration::from_millis(10)).await;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::client::{finish, reply_owner};
use crate::rpc::{Codec, Reply, RpcError};
use crate::transport::{AsyncReceiver, AsyncSender};

type Delivery<V> = (Vec<u8>, Reply<V>);

/// What the reader task and the callers share.
struct Shared<C: Codec> {
    codec: C,
    /// Calls in flight: id -> where its reply goes.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Delivery<C::Value>>>>,
    /// Set once the reader stopped: why (every later call gets it).
    closed: Mutex<Option<RpcError>>,
}

impl<C: Codec> Shared<C> {
    fn waiting(&self) -> MutexGuard<'_, HashMap<u64, oneshot::Sender<Delivery<C::Value>>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn closed_error(&self) -> Option<RpcError> {
        let g = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().map(copy_error)
    }
}

/// A copy of a terminal error for each caller (RpcError is not Clone).
fn copy_error(e: &RpcError) -> RpcError {
    match e {
        RpcError::Disconnected => RpcError::Disconnected,
        RpcError::Timeout => RpcError::Timeout,
        other => RpcError::Protocol {
            message: format!("the connection failed: {other}"),
        },
    }
}

/// Removes a call from the waiting map when its future ends or is dropped, so a late
/// reply is discarded.
struct Forget<'a, C: Codec> {
    shared: &'a Shared<C>,
    id: u64,
}

impl<C: Codec> Drop for Forget<'_, C> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.shared.waiting.lock() {
            w.remove(&self.id);
        }
    }
}

struct Inner<S, C: Codec> {
    tx: tokio::sync::Mutex<S>,
    shared: Arc<Shared<C>>,
    next_id: AtomicU64,
    reader: AbortHandle,
}

impl<S, C: Codec> Drop for Inner<S, C> {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// An RPC client for tokio: cheap to clone (clones share the connection), usable from many
/// tasks at once. The connection closes when the last clone drops.
///
/// Cancel safe: dropping a call's future (a timeout, a `select!`) forgets the call: its
/// request was sent whole or not at all (the transports' own guarantee), and its reply, if
/// it comes, is discarded. Other calls are not affected.
pub struct AsyncClient<S, C: Codec> {
    inner: Arc<Inner<S, C>>,
}

impl<S, C: Codec> Clone for AsyncClient<S, C> {
    fn clone(&self) -> Self {
        AsyncClient {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, C: Codec> fmt::Debug for AsyncClient<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncClient")
            .field("codec", &self.inner.shared.codec)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

async fn read_replies<R: AsyncReceiver, C: Codec>(mut rx: R, shared: Arc<Shared<C>>) {
    let end = loop {
        let mut frame = Vec::new();
        if let Err(e) = rx.recv_into(&mut frame).await {
            break RpcError::from(e);
        }
        let Ok(reply) = shared.codec.decode_reply(&frame) else {
            // Not attributable to any call; the call it belonged to will time out.
            continue;
        };
        let mut waiting = shared.waiting();
        let target =
            reply_owner(&reply, waiting.keys().copied()).and_then(|id| waiting.remove(&id));
        drop(waiting);
        if let Some(tx) = target {
            let _ = tx.send((frame, reply));
        }
    };
    *shared.closed.lock().unwrap_or_else(|e| e.into_inner()) = Some(end);
    // Dropping the senders tells every waiting call.
    shared.waiting().clear();
}

impl<S: AsyncSender + 'static, C: Codec> AsyncClient<S, C> {
    /// A client sending requests on `tx` and reading replies from `rx` (in a task it
    /// spawns: call within a tokio runtime).
    pub fn new<R: AsyncReceiver + 'static>(tx: S, rx: R, codec: C) -> AsyncClient<S, C> {
        let shared = Arc::new(Shared {
            codec,
            waiting: Mutex::new(HashMap::new()),
            closed: Mutex::new(None),
        });
        let reader = tokio::spawn(read_replies(rx, Arc::clone(&shared))).abort_handle();
        AsyncClient {
            inner: Arc::new(Inner {
                tx: tokio::sync::Mutex::new(tx),
                shared,
                next_id: AtomicU64::new(1),
                reader,
            }),
        }
    }

    /// Calls `method` with `args` and waits for its result, as long as it takes (wrap it in
    /// [`tokio::time::timeout`], or use [`AsyncClient::call_timeout`]). Cancel safe.
    ///
    /// [`RpcError::Disconnected`] when the connection is gone; the server's errors as in the
    /// blocking client ([`RpcError::UnknownMethod`], [`RpcError::Handler`], ...).
    pub async fn call<A: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        args: A,
    ) -> Result<T, RpcError> {
        let shared = &*self.inner.shared;
        if let Some(e) = shared.closed_error() {
            return Err(e);
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::new();
        shared
            .codec
            .encode_request(Some(id), method, &args, &mut out)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        shared.waiting().insert(id, reply_tx);
        let _forget = Forget { shared, id };
        // The reader may have stopped between the check above and the insert.
        if let Some(e) = shared.closed_error() {
            return Err(e);
        }
        self.inner.tx.lock().await.send(&out).await?;
        let (frame, reply) = match reply_rx.await {
            Ok(d) => d,
            Err(_) => return Err(shared.closed_error().unwrap_or(RpcError::Disconnected)),
        };
        finish(&shared.codec, &frame, reply, method)
    }

    /// [`AsyncClient::call`] bounded by `timeout` (tokio's timer): [`RpcError::Timeout`],
    /// and the call is forgotten.
    pub async fn call_timeout<A: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        args: A,
        timeout: Duration,
    ) -> Result<T, RpcError> {
        tokio::time::timeout(timeout, self.call(method, args))
            .await
            .unwrap_or(Err(RpcError::Timeout))
    }

    /// Sends a one-way notification (no reply, not even an error).
    pub async fn notify<A: Serialize>(&self, method: &str, args: A) -> Result<(), RpcError> {
        let mut out = Vec::new();
        self.inner
            .shared
            .codec
            .encode_request(None, method, &args, &mut out)?;
        self.inner.tx.lock().await.send(&out).await?;
        Ok(())
    }
}

impl<S, C: Codec> AsyncClient<S, C> {
    /// Calls whose reply is awaited now.
    pub fn in_flight(&self) -> usize {
        self.inner
            .shared
            .waiting
            .lock()
            .map(|w| w.len())
            .unwrap_or(0)
    }
}
