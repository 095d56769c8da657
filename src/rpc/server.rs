//! The server: named handlers, a serving loop per transport pair.

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{Codec, Entry, Incoming};
use super::{
    ErrorObject, HandlerError, RpcError, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND,
};
use crate::transport::{Receiver, Sender};
use crate::Error;

/// A handler with its types erased: decodes the params, runs, and (for a request, `id` is
/// `Some`) appends the reply to `out`.
type Erased<C> = dyn Fn(&C, &[u8], <C as Codec>::Value, Option<&<C as Codec>::PeerId>, &mut Vec<u8>)
    + Send
    + Sync;

/// Serves named handlers to clients, one client per transport pair.
///
/// Handlers are closures `Fn(Args) -> Result<Ret, HandlerError>` where `Args` is any
/// `DeserializeOwned` type (a tuple for positional arguments, a struct for named ones) and
/// `Ret` any `Serialize` type. They are `Fn` and `Send + Sync` because one server may serve
/// many connections at once ([`Server::serve_incoming`]); keep state in a `Mutex` or atomics.
///
/// Requests are served in the order they arrive, one at a time per connection. A handler
/// that panics is caught: its caller gets [`RpcError::Internal`] and the server goes on.
/// A malformed frame gets an error reply (JSON-RPC -32700 or -32600) and the server goes on.
///
/// Cloning is cheap (the handler table is shared); handlers registered on one clone after
/// the clone was made are not seen by the other.
///
/// ```
/// use ipcring::rpc::{BinaryCodec, Codec, Server};
///
/// let mut server = Server::new(BinaryCodec);
/// server.register("add", |(a, b): (i64, i64)| Ok(a + b));
///
/// let (mut req, mut reply) = (Vec::new(), Vec::new());
/// BinaryCodec.encode_request(Some(1), "add", &(2i64, 5i64), &mut req).unwrap();
/// assert!(server.handle_frame(&req, &mut reply));
/// let r = BinaryCodec.decode_reply(&reply).unwrap();
/// let sum: i64 = BinaryCodec.decode_result(&reply, r.outcome.unwrap()).unwrap();
/// assert_eq!(sum, 7);
/// ```
#[derive(Clone)]
pub struct Server<C: Codec> {
    codec: C,
    handlers: Arc<HashMap<String, Arc<Erased<C>>>>,
}

impl<C: Codec> fmt::Debug for Server<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut methods: Vec<&str> = self.methods().collect();
        methods.sort_unstable();
        f.debug_struct("Server")
            .field("codec", &self.codec)
            .field("methods", &methods)
            .finish()
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-string panic payload)")
}

impl<C: Codec> Server<C> {
    /// A server without handlers, speaking `codec`.
    ///
    /// ```
    /// let server = ipcring::rpc::Server::new(ipcring::rpc::JsonCodec);
    /// assert_eq!(server.methods().count(), 0);
    /// ```
    pub fn new(codec: C) -> Server<C> {
        Server {
            codec,
            handlers: Arc::new(HashMap::new()),
        }
    }

    /// Registers (or replaces) the handler of `method`.
    ///
    /// ```
    /// use ipcring::rpc::{HandlerError, JsonCodec, Server};
    /// let mut alice = Server::new(JsonCodec);
    /// alice.register("add", |(a, b): (f64, f64)| Ok(a + b)).register("sqrt", |x: f64| {
    ///     if x < 0.0 { Err(HandlerError::new("negative")) } else { Ok(x.sqrt()) }
    /// });
    /// assert_eq!(alice.methods().count(), 2);
    /// ```
    pub fn register<A, R, F>(&mut self, method: impl Into<String>, handler: F) -> &mut Self
    where
        A: DeserializeOwned,
        R: Serialize,
        F: Fn(A) -> Result<R, HandlerError> + Send + Sync + 'static,
    {
        let erased = move |codec: &C,
                           frame: &[u8],
                           params: C::Value,
                           id: Option<&C::PeerId>,
                           out: &mut Vec<u8>| {
            let args: A = match codec.decode_params(frame, params) {
                Ok(a) => a,
                Err(msg) => {
                    let e = ErrorObject::new(INVALID_PARAMS, "Invalid params").with_data(msg);
                    if let Some(id) = id {
                        codec.encode_error(Some(id), &e, out);
                    }
                    return;
                }
            };
            let result = handler(args);
            let Some(id) = id else { return };
            match result {
                Ok(r) => {
                    let start = out.len();
                    if let Err(e) = codec.encode_result(id, &r, out) {
                        out.truncate(start);
                        let e = ErrorObject::new(INTERNAL_ERROR, "Internal error")
                            .with_data(format!("the result could not be encoded: {e}"));
                        codec.encode_error(Some(id), &e, out);
                    }
                }
                Err(HandlerError { code, message }) => {
                    codec.encode_error(Some(id), &ErrorObject::new(code, message), out);
                }
            }
        };
        Arc::make_mut(&mut self.handlers).insert(method.into(), Arc::new(erased));
        self
    }

    /// The names of the registered methods, in no particular order.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// Handles one request frame: runs the handler(s) and writes the reply frame into `out`
    /// (cleared first). Returns `false` when there is nothing to send back (notifications).
    ///
    /// This is the whole server minus the transport; [`Server::serve`] is a loop around it.
    ///
    /// ```
    /// use ipcring::rpc::{JsonCodec, Server};
    /// let server = Server::new(JsonCodec);
    /// let mut out = Vec::new();
    /// assert!(server.handle_frame(b"{oops", &mut out));
    /// assert!(out.starts_with(br#"{"jsonrpc":"2.0","error":{"code":-32700,"#));
    /// ```
    pub fn handle_frame(&self, frame: &[u8], out: &mut Vec<u8>) -> bool {
        self.handle_frame_limited(frame, out, usize::MAX)
    }

    pub(crate) fn handle_frame_limited(&self, frame: &[u8], out: &mut Vec<u8>, max: usize) -> bool {
        out.clear();
        match self.codec.decode_request(frame) {
            Incoming::Single(entry) => self.handle_entry(entry, frame, out, max),
            Incoming::Batch(entries) => {
                let mut parts = Vec::new();
                for entry in entries {
                    let mut part = Vec::new();
                    if self.handle_entry(entry, frame, &mut part, max) {
                        parts.push(part);
                    }
                }
                if parts.is_empty() {
                    return false;
                }
                let ok = self.codec.encode_batch(&parts, out).is_ok() && out.len() <= max;
                if !ok {
                    out.clear();
                    let e = ErrorObject::new(INTERNAL_ERROR, "Internal error").with_data(
                        "the batch's replies do not fit in one message of the transport",
                    );
                    self.codec.encode_error(None, &e, out);
                }
                true
            }
        }
    }

    /// Handles one request of a frame; returns whether a reply was appended to `out`.
    fn handle_entry(
        &self,
        entry: Entry<'_, C>,
        frame: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> bool {
        let req = match entry {
            Ok(req) => req,
            Err((id, e)) => {
                self.codec.encode_error(id.as_ref(), &e, out);
                return true;
            }
        };
        let id = req.id.as_ref();
        let Some(handler) = self.handlers.get(&*req.method) else {
            if id.is_some() {
                let e = ErrorObject::new(METHOD_NOT_FOUND, "Method not found")
                    .with_data(format!("no method named `{}`", req.method));
                self.codec.encode_error(id, &e, out);
            }
            return id.is_some();
        };
        let start = out.len();
        let params = req.params;
        let ran = catch_unwind(AssertUnwindSafe(|| {
            handler(&self.codec, frame, params, id, out)
        }));
        if let Err(p) = ran {
            out.truncate(start);
            if id.is_some() {
                let (method, why) = (&req.method, panic_message(&*p));
                let data = format!("handler `{method}` panicked: {why}");
                let e = ErrorObject::new(INTERNAL_ERROR, "Internal error").with_data(data);
                self.codec.encode_error(id, &e, out);
            }
        }
        if out.len() - start > max {
            let len = out.len() - start;
            out.truncate(start);
            let e = ErrorObject::new(INTERNAL_ERROR, "Internal error").with_data(format!(
                "the reply of {len} bytes exceeds the transport's maximum message of {max} bytes"
            ));
            self.codec.encode_error(id, &e, out);
        }
        id.is_some()
    }

    /// Serves one client over `tx` (replies) and `rx` (requests) until the client is gone.
    ///
    /// Returns `Ok(())` when the transport reports the peer disconnected, and the transport's
    /// error for any other failure. Malformed frames and failing or panicking handlers get
    /// error replies; they do not end the loop.
    ///
    /// ```no_run
    /// use ipcring::rpc::{JsonCodec, RpcError, Server};
    /// use ipcring::transport::{Receiver, Sender};
    ///
    /// fn alice<S: Sender, R: Receiver>(tx: S, rx: R) -> Result<(), RpcError> {
    ///     let mut server = Server::new(JsonCodec);
    ///     server.register("add", |(a, b): (i64, i64)| Ok(a + b));
    ///     server.serve(tx, rx)
    /// }
    /// ```
    pub fn serve<S: Sender, R: Receiver>(&self, mut tx: S, mut rx: R) -> Result<(), RpcError> {
        let mut frame = Vec::new();
        let mut out = Vec::new();
        loop {
            match rx.recv_into(&mut frame) {
                Ok(()) => {}
                Err(Error::Disconnected) => return Ok(()),
                // A transport with a read timeout of its own (a socket's `read_timeout`):
                // an idle client is no error, keep waiting.
                Err(Error::Timeout) => continue,
                Err(e) => return Err(e.into()),
            }
            if !self.handle_frame_limited(&frame, &mut out, tx.max_message()) {
                continue;
            }
            match tx.send(&out) {
                Ok(()) => {}
                Err(Error::Disconnected) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Like [`Server::serve`], but runs up to `workers` requests of this client at once, on
    /// worker threads: a slow call does not hold up the others, and replies go back as
    /// each call finishes (out of order; the client matches them by id). Notifications run
    /// concurrently too, so their order is not kept.
    ///
    /// The transport's receiving half stays on the calling thread; the sending half is
    /// shared by the workers (behind a lock), hence `S: Send`. Returns like
    /// [`Server::serve`], once the requests already read have been answered.
    ///
    /// ```no_run
    /// use ipcring::rpc::{BinaryCodec, RpcError, Server};
    /// use ipcring::transport::{Receiver, Sender};
    ///
    /// fn alice<S: Sender + Send, R: Receiver>(tx: S, rx: R) -> Result<(), RpcError> {
    ///     let mut server = Server::new(BinaryCodec);
    ///     server.register("slow", |ms: u64| {
    ///         std::thread::sleep(std::time::Duration::from_millis(ms));
    ///         Ok(ms)
    ///     });
    ///     server.serve_concurrent(tx, rx, 4)
    /// }
    /// ```
    pub fn serve_concurrent<S, R>(&self, tx: S, mut rx: R, workers: usize) -> Result<(), RpcError>
    where
        S: Sender + Send,
        R: Receiver,
    {
        /// How often the reading thread looks whether a worker has failed.
        const SLICE: Duration = Duration::from_millis(100);
        let workers = workers.max(1);
        let max = tx.max_message();
        let tx = Mutex::new(tx);
        let stop = AtomicBool::new(false);
        let failed: Mutex<Option<RpcError>> = Mutex::new(None);
        // Bounded: when every worker is busy, the reader stops taking requests.
        let (jobs, queue) = mpsc::sync_channel::<Vec<u8>>(workers);
        let queue = Mutex::new(queue);
        let read = std::thread::scope(|scope| {
            for _ in 0..workers {
                let (tx, stop, failed, queue) = (&tx, &stop, &failed, &queue);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(frame) = next else { return };
                        if !self.handle_frame_limited(&frame, &mut out, max) {
                            continue;
                        }
                        let sent = tx.lock().unwrap_or_else(PoisonError::into_inner).send(&out);
                        if let Err(e) = sent {
                            if !e.is_disconnected() {
                                let mut f = failed.lock().unwrap_or_else(PoisonError::into_inner);
                                f.get_or_insert(e.into());
                            }
                            stop.store(true, Ordering::Release);
                            return;
                        }
                    }
                });
            }
            let read = loop {
                if stop.load(Ordering::Acquire) {
                    break Ok(());
                }
                let mut frame = Vec::new();
                match rx.recv_timeout_into(&mut frame, SLICE) {
                    Ok(()) => {
                        if jobs.send(frame).is_err() {
                            break Ok(());
                        }
                    }
                    Err(Error::Timeout) => {}
                    Err(Error::Disconnected) => break Ok(()),
                    Err(e) => break Err(RpcError::from(e)),
                }
            };
            // Closing the queue lets the workers finish what was read, then return.
            drop(jobs);
            read
        });
        let failed = failed.into_inner().unwrap_or_else(PoisonError::into_inner);
        read.and(failed.map_or(Ok(()), Err))
    }

    /// Serves one client on a new thread; the thread's result is [`Server::serve`]'s.
    ///
    /// ```no_run
    /// # fn f<S: ipcring::Sender + Send + 'static, R: ipcring::Receiver + Send + 'static>(tx: S, rx: R) {
    /// let server = ipcring::rpc::Server::new(ipcring::rpc::JsonCodec);
    /// let handle = server.spawn(tx, rx).unwrap();
    /// handle.join().unwrap().unwrap();
    /// # }
    /// ```
    pub fn spawn<S, R>(&self, tx: S, rx: R) -> Result<JoinHandle<Result<(), RpcError>>, RpcError>
    where
        S: Sender + Send + 'static,
        R: Receiver + Send + 'static,
    {
        let me = self.clone();
        std::thread::Builder::new()
            .name("ipcring-rpc".into())
            .spawn(move || me.serve(tx, rx))
            .map_err(|e| RpcError::Transport(Error::io("spawn an rpc server thread", e)))
    }

    /// Serves every connection `incoming` hands out, each on its own thread — for transports
    /// that have connections (a socket listener's accepted streams, split into a sender and a
    /// receiver).
    ///
    /// An `Err` that concerns one connection only ([`Error::Auth`] for a client with a wrong
    /// key, [`Error::Timeout`], [`Error::Disconnected`], [`Error::Framing`]) skips it; any
    /// other `Err` ends the loop and is returned (connections already accepted keep being
    /// served on their threads). Returns `Ok` when `incoming` ends, after the connections
    /// still open are done. A connection's own failure while served ends only that
    /// connection.
    ///
    /// ```no_run
    /// # fn f<S: ipcring::Sender + Send + 'static, R: ipcring::Receiver + Send + 'static>(
    /// #     accepted: impl Iterator<Item = ipcring::Result<(S, R)>>) {
    /// let mut server = ipcring::rpc::Server::new(ipcring::rpc::JsonCodec);
    /// server.register("add", |(a, b): (i64, i64)| Ok(a + b));
    /// server.serve_incoming(accepted).unwrap();
    /// # }
    /// ```
    pub fn serve_incoming<I, S, R>(&self, incoming: I) -> Result<(), RpcError>
    where
        I: IntoIterator<Item = crate::Result<(S, R)>>,
        S: Sender + Send + 'static,
        R: Receiver + Send + 'static,
    {
        let mut running: Vec<JoinHandle<Result<(), RpcError>>> = Vec::new();
        for conn in incoming {
            let (tx, rx) = match conn {
                Ok(pair) => pair,
                Err(Error::Auth(_) | Error::Timeout | Error::Disconnected | Error::Framing(_)) => {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            running.retain(|h| !h.is_finished());
            running.push(self.spawn(tx, rx)?);
        }
        for h in running {
            // A connection's failure (or a panic outside handlers) ends only that connection.
            let _ = h.join();
        }
        Ok(())
    }
}
