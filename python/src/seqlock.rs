//! `ipcring.SeqlockWriter` and `ipcring.SeqlockReader`: a latest-value cell of a fixed
//! number of bytes (one writer that never waits, any number of readers).
//!
//! The crate's cell is typed (`Writer<T: Pod>`, the size of `T` checked at open), so a
//! Python value of `size` bytes is a `[u8; size]`, one monomorphised handle per size
//! offered: [`SIZES`] (every size to 16, multiples of 8 to 512, then 1, 2 and 4 KiB), which
//! covers the `#[repr(C)]` structs a Rust peer would share. The value's bytes are the
//! Rust struct's bytes (little-endian fields): `struct.pack`/`unpack` them.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use ipcring::seqlock::{self, SeqlockOptions};

use crate::buffer;
use crate::{
    apply_common, blocking, check_timeout, create_pymethods, handle_pymethods, name_arg,
    open_sliced, wait_strategy, Common, Exclusive, IntoPy, Make,
};

/// Value sizes offered, in bytes.
const SIZES: &[usize] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96,
    104, 112, 120, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 208, 216, 224, 232, 240, 248,
    256, 264, 272, 280, 288, 296, 304, 312, 320, 328, 336, 344, 352, 360, 368, 376, 384, 392, 400,
    408, 416, 424, 432, 440, 448, 456, 464, 472, 480, 488, 496, 504, 512, 1024, 2048, 4096,
];

/// What the Python classes need of either role's handle, whatever N.
trait AnyCell: Send + std::fmt::Debug {
    fn version(&self) -> u64;
    fn name(&self) -> String;
}

/// [`AnyCell`] for `Writer<[u8; N]>` and `Reader<[u8; N]>`, written once.
macro_rules! any_cell {
    ($($role:ident),*) => {$(
        impl<const N: usize> AnyCell for seqlock::$role<[u8; N]> {
            fn version(&self) -> u64 {
                seqlock::$role::version(self)
            }
            fn name(&self) -> String {
                seqlock::$role::name(self)
            }
        }
    )*};
}
any_cell!(Writer, Reader);

/// What the Python classes need of a `Writer<[u8; N]>`, whatever N.
trait AnyWriter: AnyCell {
    fn write(&mut self, v: &[u8]) -> u64;
    fn value(&self) -> Vec<u8>;
    fn readers_attached(&self) -> ipcring::Result<bool>;
    fn set_keep(&mut self, keep: bool);
}

impl<const N: usize> AnyWriter for seqlock::Writer<[u8; N]> {
    fn write(&mut self, v: &[u8]) -> u64 {
        let mut a = [0u8; N];
        a.copy_from_slice(v);
        seqlock::Writer::write(self, &a)
    }
    fn value(&self) -> Vec<u8> {
        seqlock::Writer::value(self).to_vec()
    }
    fn readers_attached(&self) -> ipcring::Result<bool> {
        seqlock::Writer::readers_attached(self)
    }
    fn set_keep(&mut self, keep: bool) {
        seqlock::Writer::set_keep(self, keep)
    }
}

/// What the Python classes need of a `Reader<[u8; N]>`, whatever N.
trait AnyReader: AnyCell {
    fn read(&self) -> ipcring::Result<(Vec<u8>, u64)>;
    fn try_read(&self) -> Option<(Vec<u8>, u64)>;
    fn wait_changed(&self, last: u64, timeout: Duration) -> ipcring::Result<(Vec<u8>, u64)>;
    fn writer_attached(&self) -> ipcring::Result<bool>;
}

impl<const N: usize> AnyReader for seqlock::Reader<[u8; N]> {
    fn read(&self) -> ipcring::Result<(Vec<u8>, u64)> {
        seqlock::Reader::read(self).map(|s| (s.value.to_vec(), s.version))
    }
    fn try_read(&self) -> Option<(Vec<u8>, u64)> {
        seqlock::Reader::try_read(self).map(|s| (s.value.to_vec(), s.version))
    }
    fn wait_changed(&self, last: u64, timeout: Duration) -> ipcring::Result<(Vec<u8>, u64)> {
        seqlock::Reader::wait_changed(self, last, timeout).map(|s| (s.value.to_vec(), s.version))
    }
    fn writer_attached(&self) -> ipcring::Result<bool> {
        seqlock::Reader::writer_attached(self)
    }
}

/// The writer of a `[u8; N]` cell, created or opened as `how` says (`None`: opened).
fn writer_n<const N: usize>(
    name: &str,
    opts: &SeqlockOptions,
    how: Option<Make>,
) -> ipcring::Result<Box<dyn AnyWriter>> {
    Ok(match how {
        Some(Make::Create) => Box::new(seqlock::Writer::<[u8; N]>::create(name, opts)?),
        None => Box::new(seqlock::Writer::<[u8; N]>::open(name, opts)?),
        Some(Make::OpenOrCreate) => {
            Box::new(seqlock::Writer::<[u8; N]>::open_or_create(name, opts)?)
        }
    })
}

fn writer_open_n<const N: usize>(
    name: &str,
    opts: &SeqlockOptions,
) -> ipcring::Result<Box<dyn AnyWriter>> {
    writer_n::<N>(name, opts, None)
}

fn reader_open_n<const N: usize>(
    name: &str,
    opts: &SeqlockOptions,
) -> ipcring::Result<Box<dyn AnyReader>> {
    Ok(Box::new(seqlock::Reader::<[u8; N]>::open(name, opts)?))
}

/// Calls `$f::<N>($args)` for the N equal to `$size`, one of [`SIZES`].
macro_rules! by_size {
    ($size:expr, $f:ident, $($arg:expr),*) => {
        by_size!(@ $size, $f, ($($arg),*), 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 24 32 40 48 56 64 72 80 88 96 104 112 120 128 136 144 152 160 168 176 184 192 200 208 216 224 232 240 248 256 264 272 280 288 296 304 312 320 328 336 344 352 360 368 376 384 392 400 408 416 424 432 440 448 456 464 472 480 488 496 504 512 1024 2048 4096)
    };
    (@ $size:expr, $f:ident, $args:tt, $($n:literal)*) => {
        match $size {
            $($n => Some(by_size!(@call $f, $n, $args)),)*
            _ => None,
        }
    };
    (@call $f:ident, $n:literal, ($($arg:expr),*)) => {
        $f::<$n>($($arg),*)
    };
}

/// The `None` of `by_size!` for a size not in [`SIZES`] (callers check first).
fn no_size<T>() -> ipcring::Result<T> {
    Err(ipcring::Error::InvalidConfig(
        "unsupported seqlock value size".into(),
    ))
}

fn unsupported_size(size: usize) -> PyErr {
    PyValueError::new_err(format!(
        "a seqlock value of {size} bytes is not offered from Python; sizes: 1..=16, multiples of 8 up to 512, 1024, 2048, 4096"
    ))
}

/// A seqlock class (`$class`, Python name the same) holding a `Box<dyn $role>`, with the
/// value's size (known even once closed), written once for both roles: the struct, its
/// `attached` constructor, its `open` (with the doc given before `open`: `$open_n::<N>`
/// in slices, the `N` of `size`), the `size` getter and the fields of its `__repr__`.
macro_rules! cell_class {
    (
        $(#[doc = $doc:literal])* $class:ident(dyn $role:ident) opened by $open_n:ident;
        $(#[doc = $open_doc:literal])* open;
    ) => {
        $(#[doc = $doc])*
        #[pyclass(module = "ipcring")]
        #[derive(Debug)]
        pub struct $class {
            inner: Exclusive<Option<Box<dyn $role>>>,
            size: usize,
        }

        impl $class {
            /// A handle of a cell of `size` bytes (one of [`SIZES`]), attached by `attach`.
            fn attached(
                size: usize,
                attach: impl FnOnce() -> PyResult<Box<dyn $role>>,
            ) -> PyResult<$class> {
                if !SIZES.contains(&size) {
                    return Err(unsupported_size(size));
                }
                Ok($class {
                    inner: Exclusive::new(Some(attach()?)),
                    size,
                })
            }

            fn repr_fields(&mut self) -> Option<String> {
                let h = self.inner.get_mut().as_ref()?;
                let (name, size, version) = (h.name(), self.size, h.version());
                Some(format!("name={name:?} size={size} version={version}"))
            }
        }

        #[pymethods]
        impl $class {
            $(#[doc = $open_doc])*
            #[staticmethod]
            #[pyo3(signature = (name, size, timeout = None, *, type_tag = 0, wait = None, spin = None, prefault = None))]
            #[allow(clippy::too_many_arguments)]
            fn open(
                py: Python<'_>,
                name: &Bound<'_, PyAny>,
                size: usize,
                timeout: Option<f64>,
                type_tag: u64,
                wait: Option<&str>,
                spin: Option<f64>,
                prefault: Option<bool>,
            ) -> PyResult<$class> {
                let name = name_arg(name)?;
                let c = Common::for_open(wait_strategy(wait, spin)?, prefault);
                $class::attached(size, || {
                    open_sliced(py, timeout, |slice| {
                        let o = options(type_tag, &c).open_timeout(slice);
                        by_size!(size, $open_n, &name, &o).unwrap_or_else(no_size)
                    })
                })
            }

            /// Size of the value in bytes.
            #[getter]
            fn size(&self) -> usize {
                self.size
            }
        }
    };
}

fn options(type_tag: u64, c: &Common) -> SeqlockOptions {
    apply_common!(SeqlockOptions::new().type_tag(type_tag), c)
}

cell_class! {
    /// The writer of a seqlock cell holding size bytes: it never waits; readers always get
    /// a consistent copy (never half of one write and half of another) and can wait for the
    /// next version. One writer per cell (a second gets RoleTaken).
    ///
    /// >>> import ipcring, os, struct
    /// >>> name = f"/doc-seqlock-{os.getpid()}"
    /// >>> with ipcring.SeqlockWriter.create(name, size=16) as w:
    /// ...     w.write(struct.pack("<dd", 1.5, 2.5))
    /// ...     r = ipcring.SeqlockReader.open(name, size=16)
    /// ...     value, version = r.read()
    /// ...     struct.unpack("<dd", value), version
    /// 1
    /// ((1.5, 2.5), 1)
    SeqlockWriter(dyn AnyWriter) opened by writer_open_n;
    /// Opens an existing cell of ``size`` bytes as its writer, waiting up to ``timeout``
    /// seconds (default 5) for it to be created. Other arguments as ``create``.
    open;
}

impl SeqlockWriter {
    fn make(
        py: Python<'_>,
        name: &str,
        size: usize,
        type_tag: u64,
        c: Common,
        how: Make,
    ) -> PyResult<SeqlockWriter> {
        let o = options(type_tag, &c);
        SeqlockWriter::attached(size, || {
            py.detach(|| by_size!(size, writer_n, name, &o, Some(how)).unwrap_or_else(no_size))
                .py()
        })
    }
}

create_pymethods! {
    SeqlockWriter(size: usize; type_tag: u64 = 0) => SeqlockWriter::make;
    /// Creates a cell of ``size`` bytes (initially zeros, version 0) and attaches as its
    /// writer. ``type_tag``: a number both sides agree on, checked at open besides the
    /// size. Other arguments as ``Producer.create``.
    create;
    /// Opens the cell if it exists, else creates it.
    open_or_create;
}

#[pymethods]
impl SeqlockWriter {
    /// Stores ``data`` (bytes-like, exactly ``size`` bytes) as the new value, wakes
    /// waiting readers, and returns the new version (1, 2, ...).
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let d = buffer::data(data)?;
        let size = self.size;
        let v = d.as_slice();
        if v.len() != size {
            return Err(PyValueError::new_err(format!(
                "the cell holds exactly {size} bytes, got {}",
                v.len()
            )));
        }
        Ok(self.live()?.write(v))
    }

    /// The current value (as this writer last wrote it).
    fn value<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.live()?.value()))
    }
}

cell_class! {
    /// A reader of a seqlock cell of ``size`` bytes (any number of readers).
    SeqlockReader(dyn AnyReader) opened by reader_open_n;
    /// Opens a cell of ``size`` bytes for reading (the size and ``type_tag`` must match
    /// the creator's), waiting up to ``timeout`` seconds (default 5) for it to appear.
    open;
}

#[pymethods]
impl SeqlockReader {
    /// A consistent copy of the value and its version: ``(bytes, version)``.
    fn read<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, u64)> {
        let (v, n) = self.live()?.read().py()?;
        Ok((PyBytes::new(py, &v), n))
    }

    /// One read attempt: ``(bytes, version)``, or ``None`` if a write overlapped it.
    fn try_read<'py>(&mut self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyBytes>, u64)>> {
        Ok(self
            .live()?
            .try_read()
            .map(|(v, n)| (PyBytes::new(py, &v), n)))
    }

    /// Waits until a version newer than ``last_version`` is there (forever, or at most
    /// ``timeout`` seconds, then ``Timeout``) and returns ``(bytes, version)``.
    /// ``Disconnected`` if the writer is gone and nothing newer is there.
    #[pyo3(signature = (last_version, timeout = None))]
    fn wait_changed<'py>(
        &mut self,
        py: Python<'py>,
        last_version: u64,
        timeout: Option<f64>,
    ) -> PyResult<(Bound<'py, PyBytes>, u64)> {
        check_timeout(timeout)?;
        let r: &mut dyn AnyReader = &mut **self.live()?;
        let (v, n) = blocking(py, timeout, move |slice| {
            r.wait_changed(last_version, slice)
        })?;
        Ok((PyBytes::new(py, &v), n))
    }
}

handle_pymethods! {
    SeqlockWriter(Box<dyn AnyWriter>);
    /// Detaches (waiting readers see ``Disconnected``; the last value stays readable).
    close;
    /// Keep the name after this (creating) handle closes.
    set_keep;
    get {
        /// Version of the last write (0: never written).
        version -> u64;
        /// The cell's name.
        name -> String;
    }
    ask {
        /// True if at least one reader is attached now.
        readers_attached -> bool;
    }
}

handle_pymethods! {
    SeqlockReader(Box<dyn AnyReader>);
    /// Detaches.
    close;
    get {
        /// Version of the last completed write.
        version -> u64;
        /// The cell's name.
        name -> String;
    }
    ask {
        /// True if a writer is attached now.
        writer_attached -> bool;
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SeqlockWriter>()?;
    m.add_class::<SeqlockReader>()?;
    Ok(())
}
