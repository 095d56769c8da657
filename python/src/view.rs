//! The exporter behind `Consumer.recv_view()`'s memoryview.
//!
//! A memoryview made with `PyMemoryView_FromMemory` cannot tell us when the last view of
//! the memory is gone: its slices (`mv[2:]`) outlive `mv.release()`. So the view is made
//! from an exporter object of our own, `ipcring._MessageBuffer`: every memoryview, slice,
//! or numpy array of the message holds the exporter's buffer, and CPython calls our
//! `releasebuffer` when the last of them lets go. The consumer frees the ring slot only
//! when no buffer is exported, and then revokes the exporter, which refuses new buffers:
//! nobody can read a slot after it is freed.
//!
//! PyO3 declares buffer slots on a `#[pyclass]` only for abi3 builds for Python 3.11+, so
//! the type is made here with `PyType_FromSpec`, whose `Py_bf_getbuffer` and
//! `Py_bf_releasebuffer` slots CPython supports since 3.9 (bpo-40724). Hand-written for
//! that reason; it is the only raw type in the package.

use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;

use crate::buffer::{PyBuffer_FillInfo, RawBuffer};

/// What the consumer and the exporter share: how many buffers are exported now, and
/// whether the slot was freed (no new buffer then). Touched only with the GIL held; atomics
/// so the pyclass that holds it is `Send`.
#[derive(Debug, Default)]
pub(crate) struct ViewState {
    exports: AtomicIsize,
    revoked: AtomicBool,
}

impl ViewState {
    /// Buffers of the message still held by someone.
    pub(crate) fn exports(&self) -> isize {
        self.exports.load(Ordering::Relaxed)
    }

    /// After this, the exporter gives out no buffer (the slot is about to be freed).
    pub(crate) fn revoke(&self) {
        self.revoked.store(true, Ordering::Relaxed);
    }
}

/// The exporter's instance layout.
#[repr(C)]
struct MessageBuffer {
    ob_base: ffi::PyObject,
    ptr: *const u8,
    len: ffi::Py_ssize_t,
    /// From `Arc::into_raw`; dropped in dealloc.
    state: *const ViewState,
    /// A strong reference to the `Consumer` object, so its mapping outlives every view.
    owner: *mut ffi::PyObject,
}

/// The type object, made once in `register`.
static TYPE: OnceLock<usize> = OnceLock::new();

const PY_BF_RELEASEBUFFER: c_int = 2;

unsafe extern "C" fn getbuffer(
    slf: *mut ffi::PyObject,
    view: *mut RawBuffer,
    flags: c_int,
) -> c_int {
    // SAFETY: CPython calls this slot with an instance of our type (the only type with it).
    let this = unsafe { &*(slf as *const MessageBuffer) };
    if this.state.is_null() {
        return buffer_error(c"ipcring: not a message buffer");
    }
    // SAFETY: state came from Arc::into_raw and is dropped only in dealloc.
    let state = unsafe { &*this.state };
    if state.revoked.load(Ordering::Relaxed) {
        return buffer_error(
            c"ipcring: the message was freed when its with block ended; copy it (bytes(mv)) to keep it",
        );
    }
    // SAFETY: ptr/len describe the message's payload in the consumer's mapping, which
    // `owner` keeps alive, and the slot stays unfreed while exports > 0. readonly = 1:
    // FillInfo refuses PyBUF_WRITABLE requests with BufferError itself.
    let rc = unsafe { PyBuffer_FillInfo(view, slf, this.ptr as *mut c_void, this.len, 1, flags) };
    if rc == 0 {
        state.exports.fetch_add(1, Ordering::Relaxed);
    }
    rc
}

/// Raises `BufferError` with `msg`; returns `getbuffer`'s failure value.
fn buffer_error(msg: &CStr) -> c_int {
    // SAFETY: called from `getbuffer`, which runs with the GIL held (slot functions do).
    unsafe { ffi::PyErr_SetString(ffi::PyExc_BufferError, msg.as_ptr()) };
    -1
}

unsafe extern "C" fn releasebuffer(slf: *mut ffi::PyObject, _view: *mut RawBuffer) {
    // SAFETY: as in getbuffer.
    let this = unsafe { &*(slf as *const MessageBuffer) };
    if !this.state.is_null() {
        // SAFETY: as in getbuffer.
        unsafe { &*this.state }
            .exports
            .fetch_sub(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: slf is an instance of our type being deallocated (refcount 0), GIL held.
    unsafe {
        let this = slf as *mut MessageBuffer;
        if !(*this).state.is_null() {
            drop(Arc::from_raw((*this).state));
            (*this).state = ptr::null();
        }
        if !(*this).owner.is_null() {
            ffi::Py_DECREF((*this).owner);
            (*this).owner = ptr::null_mut();
        }
        let tp = ffi::Py_TYPE(slf);
        let free = ffi::PyType_GetSlot(tp, ffi::Py_tp_free);
        if !free.is_null() {
            let free: unsafe extern "C" fn(*mut c_void) = std::mem::transmute(free);
            free(slf as *mut c_void);
        }
        // Instances of heap types hold a reference to their type.
        ffi::Py_DECREF(tp as *mut ffi::PyObject);
    }
}

unsafe extern "C" fn no_new(
    _tp: *mut ffi::PyTypeObject,
    _args: *mut ffi::PyObject,
    _kw: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: GIL held (tp_new runs with it).
    unsafe {
        ffi::PyErr_SetString(
            ffi::PyExc_TypeError,
            c"ipcring._MessageBuffer cannot be created from Python; use Consumer.recv_view()"
                .as_ptr(),
        )
    };
    ptr::null_mut()
}

/// Creates the type and adds it to the module (as `_MessageBuffer`, for `isinstance`).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    const NAME: &CStr = c"ipcring._MessageBuffer";
    const DOC: &CStr = c"The exporter of a received message's bytes (see Consumer.recv_view).";
    let slot = |slot, pfunc: *mut c_void| ffi::PyType_Slot { slot, pfunc };
    let mut slots = [
        slot(ffi::Py_bf_getbuffer, getbuffer as *mut c_void),
        slot(PY_BF_RELEASEBUFFER, releasebuffer as *mut c_void),
        slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
        slot(ffi::Py_tp_new, no_new as *mut c_void),
        slot(ffi::Py_tp_doc, DOC.as_ptr() as *mut c_void),
        slot(0, ptr::null_mut()),
    ];
    let mut spec = ffi::PyType_Spec {
        name: NAME.as_ptr(),
        basicsize: std::mem::size_of::<MessageBuffer>() as c_int,
        itemsize: 0,
        flags: ffi::Py_TPFLAGS_DEFAULT as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: a valid spec with a terminated slot array; CPython copies what it needs.
    let tp = unsafe { ffi::PyType_FromSpec(&mut spec) };
    if tp.is_null() {
        return Err(PyErr::fetch(m.py()));
    }
    // SAFETY: tp is a new strong reference to the type object.
    let tp_obj = unsafe { Bound::from_owned_ptr(m.py(), tp) };
    // The type lives as long as the process (the module and the static hold it).
    let _ = TYPE.set(tp_obj.clone().unbind().into_ptr() as usize);
    m.add("_MessageBuffer", tp_obj)?;
    Ok(())
}

/// A read-only memoryview of `len` bytes at `ptr`, through a new exporter that keeps
/// `owner` alive and counts its buffers in `state`.
///
/// # Safety
/// `ptr..ptr+len` must stay valid for reads while `owner` lives and `state` is not revoked.
pub(crate) unsafe fn memoryview<'py>(
    py: Python<'py>,
    ptr: *const u8,
    len: usize,
    owner: &Bound<'py, PyAny>,
    state: &Arc<ViewState>,
) -> PyResult<Bound<'py, PyAny>> {
    let tp = *TYPE
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("ipcring: module not initialised"))?
        as *mut ffi::PyTypeObject;
    let len = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| PyTypeError::new_err("message too large for a memoryview"))?;
    // SAFETY: tp is our type object (static, alive); GenericAlloc zero-fills the instance
    // and takes a reference to the heap type for it.
    let obj = unsafe { ffi::PyType_GenericAlloc(tp, 0) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: obj is a fresh, zeroed instance of our type, laid out as MessageBuffer.
    unsafe {
        let this = obj as *mut MessageBuffer;
        (*this).ptr = ptr;
        (*this).len = len;
        (*this).state = Arc::into_raw(state.clone());
        (*this).owner = owner.clone().into_ptr();
    }
    // SAFETY: obj is a new strong reference.
    let exporter = unsafe { Bound::from_owned_ptr(py, obj) };
    // SAFETY: the exporter is a live object supporting the buffer protocol.
    let mv = unsafe { ffi::PyMemoryView_FromObject(exporter.as_ptr()) };
    if mv.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: mv is a new strong reference.
    Ok(unsafe { Bound::from_owned_ptr(py, mv) })
}
