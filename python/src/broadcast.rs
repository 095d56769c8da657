//! `ipcring.Publisher` and `ipcring.Subscriber`: the broadcast ring (one publisher, many
//! subscribers, each told exactly how many messages it lost when it fell behind).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use ipcring::broadcast::{self, BroadcastOptions, Recv, Start};

use crate::buffer;
use crate::{
    apply_common, blocking, check_timeout, create_pymethods, handle_pymethods, name_arg,
    open_sliced, wait_strategy, Common, Exclusive, IntoPy, Make,
};

fn options(slots: u32, max_message: u32, start: Start, c: &Common) -> BroadcastOptions {
    let o = BroadcastOptions::new()
        .slots(slots)
        .max_message(max_message)
        .start(start);
    apply_common!(o, c)
}

/// The publishing side of a broadcast ring: one per ring (a second gets ``RoleTaken``).
/// It never waits: when a subscriber is slow, the oldest messages are overwritten and
/// that subscriber is told how many it lost (``Lagged``).
///
/// >>> import ipcring, os
/// >>> name = f"/doc-pub-{os.getpid()}"
/// >>> with ipcring.Publisher.create(name, slots=8) as pub_:
/// ...     sub = ipcring.Subscriber.open(name, start="next")
/// ...     pub_.publish(b"tick")
/// ...     sub.recv()
/// 0
/// (0, b'tick')
#[pyclass(module = "ipcring", name = "Publisher")]
#[derive(Debug)]
pub struct Publisher {
    inner: Exclusive<Option<broadcast::Publisher>>,
}

impl Publisher {
    fn make(
        py: Python<'_>,
        name: &str,
        slots: u32,
        max_message: u32,
        c: Common,
        how: Make,
    ) -> PyResult<Publisher> {
        let opts = options(slots, max_message, Start::Newest, &c);
        let p = how.run(
            py,
            || broadcast::Publisher::create(name, &opts),
            || broadcast::Publisher::open_or_create(name, &opts),
        )?;
        Ok(Publisher::from(p))
    }

    fn repr_fields(&mut self) -> Option<String> {
        let p = self.inner.get_mut().as_ref()?;
        let (name, slots, published) = (p.name(), p.slots(), p.published());
        Some(format!("name={name:?} slots={slots} published={published}"))
    }
}

create_pymethods! {
    Publisher(slots: u32 = 1024, max_message: u32 = 1024) => Publisher::make;
    /// Creates a broadcast ring of ``slots`` messages (a power of two) of at most
    /// ``max_message`` bytes and attaches as its publisher. Other arguments as
    /// ``Producer.create``.
    create;
    /// Opens the broadcast ring if it exists, else creates it (arguments as
    /// ``Producer.open_or_create``).
    open_or_create;
}

#[pymethods]
impl Publisher {
    /// Opens an existing broadcast ring as its publisher, waiting up to ``timeout``
    /// seconds (default 5) for it to be created. ``prefault`` as ``Producer.open`` (the
    /// publisher never waits, so it takes no ``wait``).
    #[staticmethod]
    #[pyo3(signature = (name, timeout = None, *, prefault = None))]
    fn open(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        prefault: Option<bool>,
    ) -> PyResult<Publisher> {
        let name = name_arg(name)?;
        let mut opts = BroadcastOptions::new();
        if let Some(p) = prefault {
            opts = opts.prefault(p);
        }
        let p = open_sliced(py, timeout, |slice| {
            broadcast::Publisher::open(&name, &opts.clone().open_timeout(slice))
        })?;
        Ok(Publisher::from(p))
    }

    /// Publishes ``data`` (any bytes-like object) to every subscriber, never waiting.
    /// Returns the message's number (0, 1, 2, ... in publication order). Raises
    /// ``MessageTooLarge`` above ``max_message``.
    fn publish(&mut self, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let d = buffer::data(data)?;
        self.live()?.publish(d.as_slice()).py()
    }

    /// Publishes every item of ``iterable`` (bytes-like), waking subscribers once.
    /// Returns how many.
    fn publish_batch(&mut self, iterable: &Bound<'_, PyAny>) -> PyResult<usize> {
        let items = iterable
            .try_iter()?
            .map(|i| i.and_then(|i| buffer::data(&i)))
            .collect::<PyResult<Vec<_>>>()?;
        self.live()?
            .publish_batch(items.iter().map(|d| d.as_slice()))
            .py()
    }
}

/// A receiving side of a broadcast ring: any number may attach, each reads every message
/// at its own pace. ``recv()`` returns ``(number, bytes)``; a subscriber that fell more
/// than ``slots`` messages behind gets ``Lagged`` (with ``.count``, the exact number it
/// lost) once, then continues with the oldest message still held.
#[pyclass(module = "ipcring", name = "Subscriber")]
#[derive(Debug)]
pub struct Subscriber {
    inner: Exclusive<Option<broadcast::Subscriber>>,
    buf: Vec<u8>,
}

impl Subscriber {
    fn repr_fields(&mut self) -> Option<String> {
        let s = self.inner.get_mut().as_ref()?;
        Some(format!("name={:?} position={}", s.name(), s.position()))
    }

    fn deliver<'py>(py: Python<'py>, r: Recv, buf: &[u8]) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        match r {
            Recv::Message(n) => Ok((n, PyBytes::new(py, buf))),
            Recv::Lagged(n) => {
                let class = py.import("ipcring._errors")?.getattr("Lagged")?;
                Err(PyErr::from_value(class.call1((n,))?))
            }
        }
    }
}

#[pymethods]
impl Subscriber {
    /// Opens a broadcast ring as a subscriber, waiting up to ``timeout`` seconds (default
    /// 5) for it to be created. ``start``: ``"newest"`` (the default: the newest message
    /// already published, then everything after it), ``"oldest"`` (all history still
    /// held) or ``"next"`` (only messages published after this call).
    #[staticmethod]
    #[pyo3(signature = (name, timeout = None, start = "newest", *, wait = None, spin = None, prefault = None))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        start: &str,
        wait: Option<&str>,
        spin: Option<f64>,
        prefault: Option<bool>,
    ) -> PyResult<Subscriber> {
        let name = name_arg(name)?;
        let start = match start {
            "newest" => Start::Newest,
            "oldest" => Start::Oldest,
            "next" => Start::Next,
            other => {
                return Err(PyValueError::new_err(format!(
                    "start must be \"newest\", \"oldest\" or \"next\", not {other:?}"
                )))
            }
        };
        let mut opts = BroadcastOptions::new()
            .start(start)
            .wait(wait_strategy(wait, spin)?);
        if let Some(p) = prefault {
            opts = opts.prefault(p);
        }
        let s = open_sliced(py, timeout, |slice| {
            broadcast::Subscriber::open(&name, &opts.clone().open_timeout(slice))
        })?;
        Ok(Subscriber::from(s))
    }

    /// The next message as ``(number, bytes)``, waiting for one (forever, or at most
    /// ``timeout`` seconds, then ``Timeout``). Raises ``Lagged`` if messages were lost
    /// (its ``count`` says how many; the next call continues), ``Disconnected`` once the
    /// publisher is gone and everything held was read.
    #[pyo3(signature = (timeout = None))]
    fn recv<'py>(
        &mut self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<(u64, Bound<'py, PyBytes>)> {
        check_timeout(timeout)?;
        let Subscriber { inner, buf } = self;
        let s = inner.live("Subscriber")?;
        if let Some(r) = s.try_recv_into(buf).py()? {
            return Self::deliver(py, r, buf);
        }
        let r = blocking(py, timeout, |slice| s.recv_timeout_into(buf, slice))?;
        Self::deliver(py, r, buf)
    }

    /// Like ``recv`` without waiting: ``None`` if nothing new is there.
    fn try_recv<'py>(&mut self, py: Python<'py>) -> PyResult<Option<(u64, Bound<'py, PyBytes>)>> {
        let Subscriber { inner, buf } = self;
        let s = inner.live("Subscriber")?;
        let r = s.try_recv_into(buf).py()?;
        r.map(|r| Self::deliver(py, r, buf)).transpose()
    }
}

handle_pymethods! {
    Publisher(broadcast::Publisher) from {};
    /// Detaches (subscribers see ``Disconnected`` once they have read everything held).
    close;
    /// Keep the name after this (creating) handle closes.
    set_keep;
    get {
        /// Messages published so far.
        published -> u64;
        /// Number of slots (messages held).
        slots -> u64;
        /// Largest message in bytes.
        max_message -> usize;
        /// The ring's name.
        name -> String;
    }
    ask {
        /// True if at least one subscriber is attached now.
        subscribers_attached -> bool;
    }
}

handle_pymethods! {
    Subscriber(broadcast::Subscriber) from { buf };
    /// Detaches.
    close;
    get {
        /// Number of the next message this subscriber will deliver.
        position -> u64;
        /// Messages published so far.
        published -> u64;
        /// Total messages this subscriber lost (the sum of every ``Lagged.count``).
        lagged_total -> u64;
        /// Largest message in bytes.
        max_message -> usize;
        /// The ring's name.
        name -> String;
    }
    ask {
        /// True if a publisher is attached now.
        publisher_attached -> bool;
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Publisher>()?;
    m.add_class::<Subscriber>()?;
    Ok(())
}
