//! `ipcring.Producer`, `ipcring.Consumer`, `ipcring.MessageView`, `ipcring.duplex`,
//! `ipcring.inspect`, `ipcring.remove`.

use std::sync::Arc;

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use ipcring::ring::{self, RingOptions, Side};

use crate::buffer::{self, Buffer};
use crate::view::{self, ViewState};
use crate::{
    apply_common, blocking, create_pymethods, handle_pymethods, name_arg, open_sliced, py_error,
    wait_strategy, Common, Exclusive, IntoPy, Make,
};

/// Items of an iterable taken per `try_send_batch` in `Producer.send_batch`.
const BATCH_CHUNK: usize = 256;

fn ring_options(capacity: u64, max_message: Option<u32>, c: &Common) -> RingOptions {
    let mut o = RingOptions::new().capacity(capacity);
    if let Some(m) = max_message {
        o = o.max_message(m);
    }
    apply_common!(o, c)
}

/// The members a ring's two ends write the same way, as a second `#[pymethods]` block of
/// `$class` (which holds `$end`, the crate's handle, and has a `detach(py)`):
/// `create`, `open` and `open_or_create` (each with the doc given before its name; the
/// first and last by [`create_pymethods!`]), the `closed` getter, the fields of its
/// `__repr__`, and what [`handle_pymethods!`] writes (`from` as there), with the `name`, `capacity` and
/// `max_message` getters and `set_keep` (`close`, `get` and `ask` as there).
macro_rules! ring_end_pymethods {
    (
        $class:ident($end:ty) from { $($extra:ident),* };
        $(#[doc = $create_doc:literal])* create;
        $(#[doc = $open_doc:literal])* open;
        $(#[doc = $open_or_create_doc:literal])* open_or_create;
        $(#[doc = $close_doc:literal])* close;
        get { $($(#[doc = $get_doc:literal])* $get:ident -> $get_ty:ty;)* }
        ask { $($(#[doc = $ask_doc:literal])* $ask:ident -> $ask_ty:ty;)* }
    ) => {
        create_pymethods! {
            $class(capacity: u64 = (1 << 20), max_message: Option<u32> = None) => $class::make;
            $(#[doc = $create_doc])* create;
            $(#[doc = $open_or_create_doc])* open_or_create;
        }

        handle_pymethods! {
            $class($end) from { $($extra),* };
            $(#[doc = $close_doc])*
            close by detach;
            /// Keep the name after this (creating) handle closes (or remove it: ``False``).
            set_keep;
            get {
                /// The ring's name.
                name -> String;
                /// Data area size in bytes.
                capacity -> u64;
                /// Largest message in bytes.
                max_message -> usize;
                $($(#[doc = $get_doc])* $get -> $get_ty;)*
            }
            ask { $($(#[doc = $ask_doc])* $ask -> $ask_ty;)* }
        }

        impl $class {
            fn make(
                py: Python<'_>,
                name: &str,
                capacity: u64,
                max_message: Option<u32>,
                c: Common,
                how: Make,
            ) -> PyResult<$class> {
                let opts = ring_options(capacity, max_message, &c);
                let end = how.run(
                    py,
                    || <$end>::create(name, &opts),
                    || <$end>::open_or_create(name, &opts),
                )?;
                Ok($class::from(end))
            }

            fn repr_fields(&mut self) -> Option<String> {
                let e = self.inner.get_mut().as_ref()?;
                let (name, capacity, max) = (e.name(), e.capacity(), e.max_message());
                Some(format!("name={name:?} capacity={capacity} max_message={max}"))
            }
        }

        #[pymethods]
        impl $class {
            $(#[doc = $open_doc])*
            #[staticmethod]
            #[pyo3(signature = (name, timeout = None, *, wait = None, spin = None, prefault = None))]
            fn open(
                py: Python<'_>,
                name: &Bound<'_, PyAny>,
                timeout: Option<f64>,
                wait: Option<&str>,
                spin: Option<f64>,
                prefault: Option<bool>,
            ) -> PyResult<$class> {
                let name = name_arg(name)?;
                let c = Common::for_open(wait_strategy(wait, spin)?, prefault);
                let base = ring_options(1 << 20, None, &c);
                let end = open_sliced(py, timeout, |slice| {
                    <$end>::open(&name, &base.clone().open_timeout(slice))
                })?;
                Ok($class::from(end))
            }

            /// True once ``close()`` was called.
            #[getter]
            fn closed(&mut self) -> bool {
                self.inner.get_mut().is_none()
            }
        }
    };
}

/// The sending side of a ring: one per ring at a time (a second gets ``RoleTaken``).
///
/// Make one with ``Producer.create``, ``Producer.open`` or ``Producer.open_or_create``.
/// ``send`` accepts any bytes-like object (``bytes``, ``bytearray``, ``memoryview``,
/// ``array.array``, a contiguous numpy array) and copies it into shared memory; the
/// consumer, in this or another process (Python or Rust), receives it whole, in order,
/// exactly once. Blocking calls release the GIL and can be interrupted with Ctrl-C.
/// Use it as a context manager, or ``close()`` it, to detach (a creating handle also
/// removes the name unless ``keep=True``).
///
/// >>> import ipcring, os
/// >>> name = f"/doc-producer-{os.getpid()}"
/// >>> with ipcring.Producer.create(name, capacity=4096) as p, ipcring.Consumer.open(name) as c:
/// ...     p.send(b"hello")
/// ...     c.recv()
/// b'hello'
#[pyclass(module = "ipcring", name = "Producer")]
#[derive(Debug)]
pub struct Producer {
    inner: Exclusive<Option<ring::Producer>>,
}

impl Producer {
    fn detach(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(p) = self.inner.get_mut().take() {
            py.detach(|| drop(p));
        }
        Ok(())
    }

    fn send_slice(
        p: &mut ring::Producer,
        py: Python<'_>,
        msg: &[u8],
        timeout: Option<f64>,
    ) -> PyResult<()> {
        if p.try_send(msg).py()?.is_some() {
            return Ok(());
        }
        blocking(py, timeout, |slice| p.send_timeout(msg, slice))
    }
}

#[pymethods]
impl Producer {
    /// Copies ``data`` (any bytes-like object) into the ring, waiting for room: forever
    /// with ``timeout=None``, else at most ``timeout`` seconds (then ``Timeout``, nothing
    /// sent). Raises ``MessageTooLarge`` (a ``ValueError``) above ``max_message``,
    /// ``Disconnected`` if the consumer is gone while the ring is full, ``TypeError`` for
    /// an object without the buffer protocol.
    #[pyo3(signature = (data, timeout = None))]
    fn send(
        &mut self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        crate::check_timeout(timeout)?;
        let d = buffer::data(data)?;
        let p = self.live()?;
        Self::send_slice(p, py, d.as_slice(), timeout)
    }

    /// Copies ``data`` into the ring if there is room now. Returns ``False`` (nothing
    /// sent) if the ring is full.
    fn try_send(&mut self, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let d = buffer::data(data)?;
        Ok(self.live()?.try_send(d.as_slice()).py()?.is_some())
    }

    /// Sends every item of ``iterable`` (each a bytes-like object), publishing many at
    /// once (one wake-up of a sleeping consumer per batch instead of one per message).
    /// Waits for room as ``send`` does. Returns how many were sent. On an error, the items
    /// before the failing one have been sent.
    fn send_batch(&mut self, py: Python<'_>, iterable: &Bound<'_, PyAny>) -> PyResult<usize> {
        let p = self.live()?;
        let mut it = iterable.try_iter()?;
        let mut sent = 0usize;
        let mut chunk: Vec<buffer::Data<'_>> = Vec::with_capacity(BATCH_CHUNK);
        loop {
            chunk.clear();
            // An item that is not bytes-like stops the batch after the ones before it.
            let mut failed = None;
            for item in it.by_ref().take(BATCH_CHUNK) {
                match item.and_then(|i| buffer::data(&i)) {
                    Ok(d) => chunk.push(d),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if chunk.is_empty() {
                return failed.map_or(Ok(sent), Err);
            }
            let slices: Vec<&[u8]> = chunk.iter().map(|d| d.as_slice()).collect();
            let mut i = 0;
            while i < slices.len() {
                i += p.try_send_batch(slices[i..].iter().copied()).py()?;
                if i < slices.len() {
                    Self::send_slice(p, py, slices[i], None)?;
                    i += 1;
                }
            }
            sent += slices.len();
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
}

/// The receiving side of a ring: one per ring at a time (a second gets ``RoleTaken``).
///
/// ``recv()`` returns the next message as ``bytes``; ``recv_into(buffer)`` copies it into
/// your buffer; ``recv_view()`` lends it zero-copy as a read-only ``memoryview`` for the
/// length of a ``with`` block. ``for msg in consumer:`` receives until the producer is
/// gone (and everything it sent was received). Blocking calls release the GIL and can be
/// interrupted with Ctrl-C.
///
/// >>> import ipcring, os
/// >>> name = f"/doc-consumer-{os.getpid()}"
/// >>> with ipcring.Consumer.create(name, capacity=4096) as c:
/// ...     with ipcring.Producer.open(name) as p:
/// ...         p.send_batch([b"a", b"b"])
/// ...     list(c)
/// 2
/// [b'a', b'b']
#[pyclass(module = "ipcring", name = "Consumer")]
#[derive(Debug)]
pub struct Consumer {
    inner: Exclusive<Option<ring::Consumer>>,
    /// The message lent out by `recv_view`, not freed yet: it is the ring's next message
    /// (peeked, not advanced) until no buffer of it is exported.
    view: Option<Arc<ViewState>>,
}

impl Consumer {
    /// Frees the message lent out by `recv_view` if nobody holds a view of it any more.
    /// Returns false if a view is still held.
    fn finish_view(&mut self) -> PyResult<bool> {
        let Some(state) = &self.view else {
            return Ok(true);
        };
        if state.exports() > 0 {
            return Ok(false);
        }
        state.revoke();
        self.view = None;
        if let Some(c) = self.inner.get_mut().as_mut() {
            // The lent message is still the ring's next one (it was peeked, then its guard
            // forgotten, and nothing received since): taking it again and dropping the
            // guard frees it.
            drop(c.try_recv().py()?);
        }
        Ok(true)
    }

    fn detach(&mut self, py: Python<'_>) -> PyResult<()> {
        if !self.finish_view()? {
            return Err(PyBufferError::new_err(
                "cannot close the consumer while a view of a message (from recv_view) is held",
            ));
        }
        if let Some(c) = self.inner.get_mut().take() {
            py.detach(|| drop(c));
        }
        Ok(())
    }

    /// The consumer, ready to receive: open, and no message lent out.
    fn ready(&mut self) -> PyResult<&mut ring::Consumer> {
        if !self.finish_view()? {
            return Err(PyBufferError::new_err(
                "a view of the previous message (from recv_view) is still held, by the memoryview or a slice or array made from it; release it before receiving again",
            ));
        }
        self.inner.live("Consumer")
    }

    /// Waits (GIL released, in slices) until a message is there, leaving it in the ring.
    fn wait(py: Python<'_>, c: &mut ring::Consumer, timeout: Option<f64>) -> PyResult<()> {
        // The guard is forgotten, not dropped: the message stays unreceived, and the
        // caller takes it with the GIL held (so no copy is made twice).
        blocking(py, timeout, |slice| {
            c.recv_timeout(slice).map(std::mem::forget)
        })
    }

    /// True if a message is waiting now; it stays in the ring (the guard is forgotten,
    /// so it is not received).
    fn has_message(c: &mut ring::Consumer) -> PyResult<bool> {
        Ok(c.try_recv().py()?.map(std::mem::forget).is_some())
    }

    fn vanished() -> PyErr {
        PyRuntimeError::new_err("ipcring: the message waited for is no longer there")
    }
}

#[pymethods]
impl Consumer {
    /// The next message as ``bytes``, waiting for one: forever with ``timeout=None``, else
    /// at most ``timeout`` seconds (then ``Timeout``). Raises ``Disconnected`` once the
    /// producer is gone and everything it sent has been received.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(
        &mut self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        crate::check_timeout(timeout)?;
        let c = self.ready()?;
        if let Some(m) = c.try_recv().py()? {
            return Ok(PyBytes::new(py, &m));
        }
        Self::wait(py, c, timeout)?;
        match c.try_recv().py()? {
            Some(m) => Ok(PyBytes::new(py, &m)),
            None => Err(Self::vanished()),
        }
    }

    /// The next message as ``bytes`` if one is there now, else ``None``.
    fn try_recv<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let c = self.ready()?;
        Ok(c.try_recv().py()?.map(|m| PyBytes::new(py, &m)))
    }

    /// Copies the next message into ``buffer`` (a writable bytes-like object: bytearray,
    /// memoryview, numpy array, ...), waiting as ``recv`` does, and returns its length.
    /// A buffer smaller than the message raises ``BufferTooSmall`` (a ``ValueError``) and
    /// the message stays in the ring, to be received with a larger buffer.
    #[pyo3(signature = (buffer, timeout = None))]
    fn recv_into(
        &mut self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<usize> {
        crate::check_timeout(timeout)?;
        let mut buf = Buffer::get(buffer, true)?;
        let c = self.ready()?;
        if !Self::has_message(c)? {
            Self::wait(py, c, timeout)?;
        }
        let out = buf.as_mut_slice();
        let m = c.try_recv().py()?.ok_or_else(Self::vanished)?;
        if m.len() > out.len() {
            let n = m.len();
            // Not received: the message stays the ring's next.
            std::mem::forget(m);
            let msg = format!(
                "the next message has {n} bytes, the buffer only {}; nothing was received",
                out.len()
            );
            return Err(py_error(py, "BufferTooSmall", (msg,)));
        }
        out[..m.len()].copy_from_slice(&m);
        Ok(m.len())
    }

    /// Like ``recv_into`` but without waiting: ``None`` if no message is there now.
    fn try_recv_into(
        &mut self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
    ) -> PyResult<Option<usize>> {
        if !Self::has_message(self.ready()?)? {
            return Ok(None);
        }
        self.recv_into(py, buffer, Some(0.0)).map(Some)
    }

    /// Up to ``max`` waiting messages as a list of ``bytes``, freed at once (one wake-up
    /// of a waiting producer). Waits for the first as ``recv`` does.
    #[pyo3(signature = (max = 1024, timeout = None))]
    fn recv_batch<'py>(
        &mut self,
        py: Python<'py>,
        max: usize,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        crate::check_timeout(timeout)?;
        let c = self.ready()?;
        let list = PyList::empty(py);
        if max == 0 {
            return Ok(list);
        }
        if !Self::has_message(c)? {
            Self::wait(py, c, timeout)?;
        }
        // The first failure to append stops the appending (the batch is freed whole).
        let mut appended = Ok(());
        c.try_recv_batch(max, |m| {
            if appended.is_ok() {
                appended = list.append(PyBytes::new(py, m));
            }
        })
        .py()?;
        appended.map(|()| list)
    }

    /// The next message, zero-copy, for a ``with`` block::
    ///
    ///     with consumer.recv_view() as mv:   # a read-only memoryview into the ring
    ///         header = mv[:8]
    ///
    /// Waits as ``recv`` does. The message is freed when the block ends; using ``mv``
    /// afterwards raises ``ValueError`` (a released memoryview), never reads freed memory.
    /// If a slice or array made from it is still alive then, the message stays in the ring
    /// until that is gone too, and receiving again raises ``BufferError`` meanwhile.
    #[pyo3(signature = (timeout = None))]
    fn recv_view(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<MessageView> {
        crate::check_timeout(timeout)?;
        let py = slf.py();
        let mut this = slf.borrow_mut();
        let c = this.ready()?;
        if !Self::has_message(c)? {
            Self::wait(py, c, timeout)?;
        }
        let m = c.try_recv().py()?.ok_or_else(Self::vanished)?;
        let (ptr, len) = (m.as_ptr(), m.len());
        // Lent, not received: the message stays the ring's next until `finish_view`.
        std::mem::forget(m);
        let state = Arc::new(ViewState::default());
        this.view = Some(state.clone());
        drop(this);
        // SAFETY: ptr/len are the payload of a validated, published record in the
        // consumer's mapping; the exporter holds the Consumer object (so the mapping), the
        // consumer frees the record only once no buffer is exported and revokes the
        // exporter first, and refuses to close while buffers are exported.
        let mv = unsafe { view::memoryview(py, ptr, len, slf.as_any(), &state)? };
        Ok(MessageView {
            consumer: slf.clone().unbind(),
            mv: Some(mv.unbind()),
            len,
        })
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next message; stops when the producer is gone and everything it sent was
    /// received.
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let c = self.ready()?;
        if let Some(m) = c.try_recv().py()? {
            return Ok(Some(PyBytes::new(py, &m)));
        }
        match Self::wait(py, c, None) {
            Ok(()) => {}
            Err(e)
                if e.is_instance(py, &py.import("ipcring._errors")?.getattr("Disconnected")?) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
        match c.try_recv().py()? {
            Some(m) => Ok(Some(PyBytes::new(py, &m))),
            None => Err(Self::vanished()),
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // A view's exporter holds this object, so none is exported now: the lent message
        // counts as received (its with block ended), as it would have at finish_view.
        if let Some(state) = self.view.take() {
            state.revoke();
            if let Some(c) = self.inner.get_mut().as_mut() {
                let _ = c.try_recv().map(drop);
            }
        }
    }
}

ring_end_pymethods! {
    Producer(ring::Producer) from {};
    /// Creates a new ring named ``name`` (``"/shm-name"`` or a file path) and attaches as
    /// its producer.
    ///
    /// ``capacity``: data area in bytes, a power of two (64 B .. 1 TiB).
    /// ``max_message``: largest message (default and maximum: capacity/2 - 8).
    /// ``mode``: file mode of the new segment (default 0o600). ``keep``: leave the name in
    /// place when this handle closes. ``reclaim_stale``: replace a leftover segment that no
    /// live process uses. ``wait``: how blocking calls wait, ``"spin"`` (busy-poll),
    /// ``"spin_yield"`` or ``"spin_block"`` (the default: poll ``spin`` seconds, 20 µs
    /// unless given, then sleep on a futex). ``prefault``: fault the ring in now rather
    /// than on its first lap (default: yes up to 64 MiB; every ``open`` takes it too).
    ///
    /// Raises ``AlreadyExists`` if the name is taken, ``InvalidConfig`` for a bad
    /// capacity.
    create;
    /// Opens an existing ring as its producer, waiting up to ``timeout`` seconds (default
    /// 5) for it to be created. Raises ``NotFound`` after that, ``RoleTaken`` if another
    /// live producer holds it.
    open;
    /// Opens the ring if it exists, else creates it (with ``capacity`` and
    /// ``max_message``): for peers that do not know who starts first. ``timeout``: how
    /// long to wait for a ring being created by the peer to become ready (default 5 s).
    open_or_create;
    /// Detaches (releases the producer role, wakes a waiting consumer, which then sees
    /// ``Disconnected`` after the last message). Idempotent.
    close;
    get {}
    ask {
        /// True if a consumer is attached now.
        consumer_attached -> bool;
    }
}

ring_end_pymethods! {
    Consumer(ring::Consumer) from { view };
    /// Creates a new ring and attaches as its consumer (arguments as
    /// ``Producer.create``).
    create;
    /// Opens an existing ring as its consumer (continuing at the first message no earlier
    /// consumer received), waiting up to ``timeout`` seconds (default 5) for it to be
    /// created.
    open;
    /// Opens the ring if it exists, else creates it (arguments as
    /// ``Producer.open_or_create``).
    open_or_create;
    /// Detaches (releases the consumer role, wakes a waiting producer). Raises
    /// ``BufferError`` while a view from ``recv_view`` is still held. Idempotent.
    close;
    get {
        /// Bytes waiting in the ring (published, not yet received), as of the last look.
        pending_bytes -> u64;
    }
    ask {
        /// True if a producer is attached now.
        producer_attached -> bool;
    }
}

/// A message lent by ``Consumer.recv_view()``: a context manager whose ``__enter__``
/// returns a read-only ``memoryview`` of the message in shared memory, and whose
/// ``__exit__`` releases the view and frees the message.
#[pyclass(module = "ipcring", name = "MessageView")]
#[derive(Debug)]
pub struct MessageView {
    consumer: Py<Consumer>,
    mv: Option<Py<PyAny>>,
    len: usize,
}

impl MessageView {
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(mv) = self.mv.take() {
            // A BufferError here means someone exported a buffer of `mv` itself (numpy):
            // then the message stays lent until that is gone (see Consumer.finish_view).
            let _ = mv.bind(py).call_method0("release");
        }
        if let Ok(mut c) = self.consumer.bind(py).try_borrow_mut() {
            c.finish_view()?;
        }
        Ok(())
    }
}

#[pymethods]
impl MessageView {
    /// The read-only memoryview of the message.
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.mv
            .as_ref()
            .map(|m| m.clone_ref(py))
            .ok_or_else(|| PyValueError::new_err("this message view was already released"))
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(
        &mut self,
        py: Python<'_>,
        _args: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<bool> {
        self.finish(py)?;
        Ok(false)
    }

    /// Releases the view and frees the message (what the end of the ``with`` block does).
    fn release(&mut self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)
    }

    /// The message's length in bytes.
    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self) -> String {
        format!(
            "<ipcring.MessageView {} bytes{}>",
            self.len,
            if self.mv.is_some() { "" } else { ", released" }
        )
    }
}

impl Drop for MessageView {
    fn drop(&mut self) {
        if self.mv.is_some() {
            Python::attach(|py| {
                let _ = self.finish(py);
            });
        }
    }
}

/// A two-way channel out of two rings, ``<name>.ab`` and ``<name>.ba``, each opened or
/// created so that either side may start first. ``side`` is ``"a"`` (sends on ``.ab``) or
/// ``"b"`` (sends on ``.ba``). Returns this side's ``(Producer, Consumer)``.
/// Other arguments as ``Producer.open_or_create``.
#[pyfunction]
#[pyo3(signature = (name, side, capacity = 1 << 20, max_message = None, timeout = None, *, mode = None, keep = false, reclaim_stale = false, wait = None, spin = None, prefault = None))]
#[allow(clippy::too_many_arguments)]
fn duplex(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    side: &str,
    capacity: u64,
    max_message: Option<u32>,
    timeout: Option<f64>,
    mode: Option<u32>,
    keep: bool,
    reclaim_stale: bool,
    wait: Option<&str>,
    spin: Option<f64>,
    prefault: Option<bool>,
) -> PyResult<(Producer, Consumer)> {
    let name = name_arg(name)?;
    let side = match side {
        "a" | "A" => Side::A,
        "b" | "B" => Side::B,
        other => {
            return Err(PyValueError::new_err(format!(
                "side must be \"a\" or \"b\", not {other:?}"
            )))
        }
    };
    let c = Common::new(
        mode,
        keep,
        reclaim_stale,
        wait_strategy(wait, spin)?,
        prefault,
    )
    .open_timeout(timeout)?;
    let opts = ring_options(capacity, max_message, &c);
    let (tx, rx) = py.detach(|| ring::duplex(&name, side, &opts)).py()?;
    Ok((Producer::from(tx), Consumer::from(rx)))
}

/// `dict[field] = value.field` for each field named.
macro_rules! set_fields {
    ($dict:expr, $value:expr; $($field:ident),* $(,)?) => {
        $($dict.set_item(stringify!($field), &$value.$field)?;)*
    };
}

/// What the header of segment ``name`` says, read without attaching, as a dict: common
/// fields (``name``, ``kind``: "ring", "seqlock" or "broadcast", ``version``,
/// ``total_size``, ``creator_pid``, ``created_ns``, ``stale``) and, for a ring,
/// ``capacity``, ``max_message``, ``write_pos``, ``read_pos``, ``fill``,
/// ``producer_attached``, ``consumer_attached``, ``producer_attaches``,
/// ``consumer_attaches``, ``consumer_waiting`` (the consumer waits for the next record
/// now: a hint), ``consumer_asleep`` (it sleeps until woken), ``producer_asleep`` (the
/// producer sleeps until there is room), ``consumer_excuses`` and ``producer_excuses``
/// (that side polls and excuses the other's fence: ``ipcring::wake::fences_excused``).
#[pyfunction]
fn inspect<'py>(py: Python<'py>, name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let name = name_arg(name)?;
    let seg = py.detach(|| ipcring::segment::inspect(&name)).py()?;
    let d = segment_dict(py, &seg)?;
    if seg.kind == "ring" {
        let r = py.detach(|| ring::inspect(&name)).py()?;
        set_fields!(d, r; capacity, max_message, write_pos, read_pos, fill, producer_attached,
            consumer_attached, producer_attaches, consumer_attaches, consumer_waiting,
            consumer_asleep, producer_asleep, consumer_excuses, producer_excuses);
    }
    Ok(d)
}

fn segment_dict<'py>(
    py: Python<'py>,
    s: &ipcring::segment::SegmentInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    set_fields!(d, s; name, kind, version, total_size, creator_pid, created_ns);
    d.set_item("stale", s.is_stale())?;
    Ok(d)
}

/// Removes segment ``name`` (any kind) after checking that it is one of ipcring's. Refuses
/// one that a live process uses (``RoleTaken``) unless ``force``; processes still
/// attached keep their mapping. Returns what ``inspect`` said of it.
#[pyfunction]
#[pyo3(signature = (name, force = false))]
fn remove<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    force: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let name = name_arg(name)?;
    let info = py.detach(|| ipcring::segment::remove(&name, force)).py()?;
    segment_dict(py, &info)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Producer>()?;
    m.add_class::<Consumer>()?;
    m.add_class::<MessageView>()?;
    m.add_function(wrap_pyfunction!(duplex, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(remove, m)?)?;
    Ok(())
}
