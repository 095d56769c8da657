//! The `ipcring` Python package's native module (`ipcring._ipcring`): a thin face over the
//! Rust crate, not a second implementation. The same segments, the same layout, the same
//! errors: a Python process and a Rust process share a ring with nothing in between.
//!
//! Rules this module keeps (DESIGN.md, "The Python package"):
//! - Every blocking call first tries once with the GIL held (the fast path: no GIL release,
//!   no clock read), then releases the GIL and waits in slices of at most [`SLICE`],
//!   running Python's signal check between slices, so Ctrl-C interrupts it.
//! - Data in goes through the buffer protocol ([`buffer`]): `bytes`, `bytearray`,
//!   `memoryview`, `array.array`, numpy arrays, without a temporary copy.
//! - Zero-copy out is a read-only `memoryview` whose exporter ([`view`]) refuses new views
//!   once the message is freed; the slot is freed only when no view of it is left.
//! - Errors become the classes of `ipcring._errors`, each also a subclass of the obvious
//!   builtin.
#![deny(missing_debug_implementations, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use ipcring::ring::WaitStrategy;

mod broadcast;
mod buffer;
mod ring;
mod seqlock;
mod view;

/// A value reachable only through `&mut` (or by value): `Sync` whatever `T` is, because
/// a shared reference to it gives no access at all. PyO3 requires `#[pyclass]` types to
/// be `Sync`; the crate's handles are `Send` but not `Sync`, and every method of the
/// classes that hold them takes `&mut self` (PyO3's borrow flag makes that exclusive).
#[derive(Debug)]
pub(crate) struct Exclusive<T>(T);

// SAFETY: `&Exclusive<T>` exposes nothing of `T`; access needs `&mut` or ownership, which
// `T: Send` makes safe to have on any one thread.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Exclusive(value)
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Exclusive<Option<T>> {
    /// The handle of a class's object, or `ValueError` once `close()` took it (`class`:
    /// the Python class name, for the message).
    pub(crate) fn live(&mut self, class: &str) -> PyResult<&mut T> {
        self.0
            .as_mut()
            .ok_or_else(|| PyValueError::new_err(format!("operation on a closed {class}")))
    }
}

/// The longest a blocking call waits with the GIL released before it runs Python's signal
/// check (so Ctrl-C interrupts within about this long; the issue asks for 100 ms).
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// Converts a crate error into the matching `ipcring` exception.
pub(crate) fn to_py(e: ipcring::Error) -> PyErr {
    use ipcring::Error as E;
    let msg = e.to_string();
    Python::attach(|py| {
        let (class, errno) = match &e {
            E::Disconnected => ("Disconnected", None),
            E::Timeout => ("Timeout", None),
            E::Corrupt(_) => ("Corrupt", None),
            E::BadSegment { .. } => ("BadSegment", None),
            E::RoleTaken { .. } => ("RoleTaken", None),
            E::AlreadyExists(_) => ("AlreadyExists", None),
            E::NotFound(_) => ("NotFound", None),
            E::MessageTooLarge { .. } => ("MessageTooLarge", None),
            E::InvalidName { .. } => ("InvalidName", None),
            E::InvalidConfig(_) => ("InvalidConfig", None),
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                ("PermissionDenied", source.raw_os_error())
            }
            E::Io { source, .. } => ("IoError", source.raw_os_error()),
            E::SystemLimit { .. } => ("SystemLimit", None),
            E::Unsupported(_) => ("Unsupported", None),
            E::Codec(_) => ("CodecError", None),
            // Only from `?` on a Rust `try_` outcome; this face turns "full" and "empty" into
            // False/None before that, so it stays the base class if it ever arrives.
            E::WouldBlock => ("Error", None),
            // Variants this face does not name (and any the crate adds later) arrive as
            // the base class, with the crate's message.
            _ => ("Error", None),
        };
        match errno {
            Some(n) => py_error(py, class, (n, msg)),
            None => py_error(py, class, (msg,)),
        }
    })
}

/// A new `ipcring` exception of class `class` (a name in `ipcring._errors`), made with
/// `args`.
pub(crate) fn py_error<'py>(
    py: Python<'py>,
    class: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyErr {
    match py
        .import("ipcring._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// `ipcring::Result` -> `PyResult`.
pub(crate) trait IntoPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for ipcring::Result<T> {
    #[inline]
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// The error of a `try_` form: "not now" (the channel was full, or nothing was waiting) or
/// a failure.
trait TryError: Into<ipcring::Error> {
    fn not_now(&self) -> bool;
}

impl TryError for ipcring::TrySendError {
    fn not_now(&self) -> bool {
        self.is_full()
    }
}

impl TryError for ipcring::TryRecvError {
    fn not_now(&self) -> bool {
        self.is_empty()
    }
}

/// A `try_` outcome: `None` when it could not be done now (Python sees `False` for a send,
/// `None` or `False` for a receive).
impl<T, E: TryError> IntoPy<Option<T>> for Result<T, E> {
    #[inline]
    fn py(self) -> PyResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.not_now() => Ok(None),
            Err(e) => Err(to_py(e.into())),
        }
    }
}

/// A duration given in seconds (a float or int), checked: finite and not negative.
pub(crate) fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    if !s.is_finite() || s < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{what} must be a finite number of seconds >= 0, got {s}"
        )));
    }
    Duration::try_from_secs_f64(s)
        .map_err(|e| PyValueError::new_err(format!("{what} of {s} seconds: {e}")))
}

/// The wait strategy named by `wait` ("spin", "spin_yield", "spin_block"), with `spin`
/// seconds of polling before yielding or sleeping (default 20 µs). `None`: the crate's
/// default (spin_block).
pub(crate) fn wait_strategy(wait: Option<&str>, spin: Option<f64>) -> PyResult<WaitStrategy> {
    let spin = match spin {
        Some(s) => seconds("spin", s)?,
        None => WaitStrategy::DEFAULT_SPIN,
    };
    match wait {
        None | Some("spin_block") => Ok(WaitStrategy::SpinBlock { spin }),
        Some("spin") => Ok(WaitStrategy::Spin),
        Some("spin_yield") => Ok(WaitStrategy::SpinYield { spin }),
        Some(other) => Err(PyValueError::new_err(format!(
            "wait must be \"spin\", \"spin_yield\" or \"spin_block\", not {other:?}"
        ))),
    }
}

/// The options every segment kind shares, as given from Python.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub mode: Option<u32>,
    pub keep: bool,
    pub reclaim_stale: bool,
    pub wait: Option<WaitStrategy>,
    pub open_timeout: Option<Duration>,
    /// Fault the segment in on attach (`None`: the crate's default by size).
    pub prefault: Option<bool>,
}

impl Common {
    /// The options of a `create` (or `open_or_create`) from Python, waiting with `wait`
    /// (from [`wait_strategy`]), prefaulting as `prefault` says.
    pub(crate) fn new(
        mode: Option<u32>,
        keep: bool,
        reclaim_stale: bool,
        wait: WaitStrategy,
        prefault: Option<bool>,
    ) -> Common {
        Common {
            mode,
            keep,
            reclaim_stale,
            wait: Some(wait),
            open_timeout: None,
            prefault,
        }
    }

    /// The options of an `open` from Python: only how it waits and prefaults.
    pub(crate) fn for_open(wait: WaitStrategy, prefault: Option<bool>) -> Common {
        Common::new(None, false, false, wait, prefault)
    }

    /// The same with `timeout` seconds (checked) as the open timeout (`None`: the
    /// crate's default).
    pub(crate) fn open_timeout(self, timeout: Option<f64>) -> PyResult<Common> {
        Ok(Common {
            open_timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
            ..self
        })
    }
}

/// Applies [`Common`] to any of the crate's option builders (they share these methods).
macro_rules! apply_common {
    ($opts:expr, $c:expr) => {{
        let c: &$crate::Common = $c;
        let mut o = $opts.keep(c.keep).reclaim_stale(c.reclaim_stale);
        if let Some(m) = c.mode {
            o = o.mode(m);
        }
        if let Some(w) = c.wait {
            o = o.wait(w);
        }
        if let Some(t) = c.open_timeout {
            o = o.open_timeout(t);
        }
        if let Some(p) = c.prefault {
            o = o.prefault(p);
        }
        o
    }};
}
pub(crate) use apply_common;

/// Runs `op` with the GIL released, in slices of at most [`SLICE`] (until `timeout`
/// seconds from now, or forever with `None`), checking for signals between slices, so
/// Ctrl-C interrupts it. `op(slice)` returns `Err(Timeout)` when its slice ran out. With a
/// timeout of 0, raises `Timeout` without calling `op` (the callers tried once before,
/// with the GIL held).
pub(crate) fn blocking<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut op: impl FnMut(Duration) -> ipcring::Result<T> + Send,
) -> PyResult<T> {
    let deadline = timeout
        .map(|t| seconds("timeout", t).map(|d| Instant::now() + d))
        .transpose()?;
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(to_py(ipcring::Error::Timeout));
                }
                left.min(SLICE)
            }
        };
        match py.detach(|| op(slice)) {
            Ok(v) => return Ok(v),
            Err(ipcring::Error::Timeout) => {}
            Err(e) => return Err(to_py(e)),
        }
        py.check_signals()?;
    }
}

/// Refuses a negative or non-finite timeout before any fast path (without reading the
/// clock).
#[inline]
pub(crate) fn check_timeout(timeout: Option<f64>) -> PyResult<()> {
    match timeout {
        Some(t) if !(t.is_finite() && t >= 0.0) => seconds("timeout", t).map(drop),
        _ => Ok(()),
    }
}

/// Opens a segment with `open(opts_with_timeout)` in slices of at most [`SLICE`] with the
/// GIL released, retrying while it does not exist yet, until `timeout` (default 5 s, the
/// crate's): so a Python program waiting for its peer to create the segment can be
/// interrupted.
pub(crate) fn open_sliced<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut open: impl FnMut(Duration) -> ipcring::Result<T> + Send,
) -> PyResult<T> {
    let total = match timeout {
        Some(t) => seconds("timeout", t)?,
        None => Duration::from_secs(5),
    };
    let deadline = Instant::now() + total;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let slice = left.min(SLICE);
        match py.detach(|| open(slice)) {
            Ok(v) => return Ok(v),
            Err(ipcring::Error::NotFound(_) | ipcring::Error::Timeout) if !left.is_zero() => {}
            Err(e) => return Err(to_py(e)),
        }
        py.check_signals()?;
    }
}

/// What every class holding a crate handle (`inner: Exclusive<Option<$handle>>`) writes the
/// same way, written once:
/// - `live()`, the open handle (or `ValueError` once closed);
/// - a second `#[pymethods]` block (PyO3's `multiple-pymethods`) with `close` (which drops
///   the handle with the GIL held, or calls the class's own `detach(py)` when given as
///   `close by detach`), the context manager (`__exit__` closes and lets the exception
///   through), `__repr__` (`<ipcring.Class {fields}>` from the class's
///   `repr_fields()`, or `<ipcring.Class closed>`), `set_keep` when its doc is given, and
///   the members that return what the handle's method of the same name returns: `get`
///   ones as read-only properties, `ask` ones (whose handle method returns an
///   `ipcring::Result`) as methods.
///
/// With `from { extra, .. }` after the handle's type, also `From<$handle>`: the class
/// around an open handle, its other fields (`extra`) at their default.
///
/// Each member's Python docstring is the doc comment written before its name.
macro_rules! handle_pymethods {
    (
        $class:ident($handle:ty) $(from { $($extra:ident),* })?;
        $(#[doc = $close_doc:literal])* close $(by $detach:ident)?;
        $($(#[doc = $keep_doc:literal])+ set_keep;)?
        get { $($(#[doc = $get_doc:literal])* $get:ident -> $get_ty:ty;)* }
        ask { $($(#[doc = $ask_doc:literal])* $ask:ident -> $ask_ty:ty;)* }
    ) => {
        impl $class {
            fn live(&mut self) -> pyo3::PyResult<&mut $handle> {
                self.inner.live(stringify!($class))
            }
        }

        $(
            impl From<$handle> for $class {
                fn from(handle: $handle) -> Self {
                    $class {
                        inner: $crate::Exclusive::new(Some(handle)),
                        $($extra: Default::default(),)*
                    }
                }
            }
        )?

        #[pyo3::pymethods]
        impl $class {
            $(#[doc = $close_doc])*
            fn close(&mut self, py: pyo3::Python<'_>) -> pyo3::PyResult<()> {
                $crate::handle_pymethods!(@detach self, py $(, $detach)?)
            }

            fn __enter__(slf: pyo3::Py<Self>) -> pyo3::Py<Self> {
                slf
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(
                &mut self,
                py: pyo3::Python<'_>,
                _args: &pyo3::Bound<'_, pyo3::types::PyTuple>,
            ) -> pyo3::PyResult<bool> {
                self.close(py)?;
                Ok(false)
            }

            fn __repr__(&mut self) -> String {
                match self.repr_fields() {
                    Some(fields) => format!("<ipcring.{} {fields}>", stringify!($class)),
                    None => format!("<ipcring.{} closed>", stringify!($class)),
                }
            }

            $(
                $(#[doc = $keep_doc])+
                fn set_keep(&mut self, keep: bool) -> pyo3::PyResult<()> {
                    self.live()?.set_keep(keep);
                    Ok(())
                }
            )?

            $(
                $(#[doc = $get_doc])*
                #[getter]
                fn $get(&mut self) -> pyo3::PyResult<$get_ty> {
                    Ok(self.live()?.$get())
                }
            )*

            $(
                $(#[doc = $ask_doc])*
                fn $ask(&mut self) -> pyo3::PyResult<$ask_ty> {
                    $crate::IntoPy::py(self.live()?.$ask())
                }
            )*
        }
    };
    (@detach $self:ident, $py:ident) => {{
        let _ = $py;
        $self.inner.get_mut().take();
        Ok(())
    }};
    (@detach $self:ident, $py:ident, $detach:ident) => {
        $self.$detach($py)
    };
}
pub(crate) use handle_pymethods;

/// Which of the crate's functions a `create`-like static method calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Make {
    Create,
    OpenOrCreate,
}

impl Make {
    /// Runs `create` or `open_or_create`, as this says, with the GIL released.
    pub(crate) fn run<T: Send>(
        self,
        py: Python<'_>,
        create: impl FnOnce() -> ipcring::Result<T> + Send,
        open_or_create: impl FnOnce() -> ipcring::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| match self {
            Make::Create => create(),
            Make::OpenOrCreate => open_or_create(),
        })
        .py()
    }
}

/// A class's `create` and `open_or_create` static methods, written once. Each takes the
/// segment's `name` (`str` or `os.PathLike`), the class's own arguments (`$arg`, then
/// after `;` the keyword-only `$kw`), `timeout` (`open_or_create` only: the open timeout,
/// last of the positional ones) and, keyword-only, the options every segment kind shares
/// (`mode`, `keep`, `reclaim_stale`, `wait`, `spin`, `prefault`); it returns
/// `$make(py, &name, $arg.., $kw.., common, Make::Create or Make::OpenOrCreate)`, the
/// shared options (with the open timeout) as a [`Common`]. Each method's Python docstring
/// is the doc comment written before its name. A default is one token (parenthesised if
/// need be), so that Python's signature shows a literal one as it is.
macro_rules! create_pymethods {
    (
        $class:ident($($arg:ident: $ty:ty $(= $default:tt)?),* $(; $($kw:ident: $kwty:ty = $kwdefault:tt),*)?) => $make:path;
        $(#[doc = $create_doc:literal])* create;
        $(#[doc = $open_or_create_doc:literal])* open_or_create;
    ) => {
        $crate::create_pymethods!(@one $class, $make, create(), Create,
            [$($arg: $ty $(= $default)?),*], [$($($kw: $kwty = $kwdefault),*)?], $($create_doc)*);
        $crate::create_pymethods!(@one $class, $make, open_or_create(timeout), OpenOrCreate,
            [$($arg: $ty $(= $default)?),*], [$($($kw: $kwty = $kwdefault),*)?], $($open_or_create_doc)*);
    };
    (
        @one $class:ident, $make:path, $fn:ident($($timeout:ident)?), $how:ident,
        [$($arg:ident: $ty:ty $(= $default:tt)?),*], [$($kw:ident: $kwty:ty = $kwdefault:tt),*],
        $($doc:literal)*
    ) => {
        #[pyo3::pymethods]
        impl $class {
            $(#[doc = $doc])*
            #[staticmethod]
            #[pyo3(signature = (name, $($arg $(= $default)?,)* $($timeout = None,)? *, $($kw = $kwdefault,)* mode = None, keep = false, reclaim_stale = false, wait = None, spin = None, prefault = None))]
            #[allow(clippy::too_many_arguments)]
            fn $fn(
                py: pyo3::Python<'_>,
                name: &pyo3::Bound<'_, pyo3::PyAny>,
                $($arg: $ty,)*
                $($timeout: Option<f64>,)?
                $($kw: $kwty,)*
                mode: Option<u32>,
                keep: bool,
                reclaim_stale: bool,
                wait: Option<&str>,
                spin: Option<f64>,
                prefault: Option<bool>,
            ) -> pyo3::PyResult<$class> {
                let name = $crate::name_arg(name)?;
                let wait = $crate::wait_strategy(wait, spin)?;
                let c = $crate::Common::new(mode, keep, reclaim_stale, wait, prefault);
                $(let c = c.open_timeout($timeout)?;)?
                $make(py, &name, $($arg,)* $($kw,)* c, $crate::Make::$how)
            }
        }
    };
}
pub(crate) use create_pymethods;

/// A segment name from Python: `str` or `os.PathLike`.
pub(crate) fn name_arg(name: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = name.extract::<String>() {
        return Ok(s);
    }
    let fspath = name.py().import("os")?.getattr("fspath")?;
    fspath
        .call1((name,))
        .and_then(|p| p.extract::<String>())
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "name must be a str or os.PathLike of str, not {}",
                name.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })
}

/// The native module; `ipcring/__init__.py` re-exports everything from it.
#[pymodule]
fn _ipcring(m: &Bound<'_, PyModule>) -> PyResult<()> {
    view::register(m)?;
    ring::register(m)?;
    seqlock::register(m)?;
    broadcast::register(m)?;
    m.add("SLICE_SECONDS", SLICE.as_secs_f64())?;
    Ok(())
}
