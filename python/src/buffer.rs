//! The buffer protocol, for data in (`send(bytes-like)`) and copy-out (`recv_into(buffer)`).
//!
//! PyO3 offers `PyBuffer` only when built for the stable ABI of Python 3.11+, because
//! `PyObject_GetBuffer`, `PyBuffer_Release`, `PyBuffer_FillInfo` and `Py_buffer` joined the
//! *limited* API in 3.11. They are far older than that: the functions are exported by every
//! CPython 3 (they are the buffer protocol, PEP 3118), and `Py_buffer`'s layout has not
//! changed since 3.3; 3.11 only promised what was already true. So this module declares
//! them itself, which keeps one abi3 wheel for CPython 3.9+ (the requirement) with
//! zero-copy input. Hand-written because no crate offers them for abi3 below 3.11.

use std::ffi::{c_char, c_int, c_void};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `Py_buffer`, as CPython 3.3+ defines it (Include/pybuffer.h; Include/object.h before
/// 3.11).
#[repr(C)]
pub(crate) struct RawBuffer {
    pub buf: *mut c_void,
    pub obj: *mut ffi::PyObject,
    pub len: ffi::Py_ssize_t,
    pub itemsize: ffi::Py_ssize_t,
    pub readonly: c_int,
    pub ndim: c_int,
    pub format: *mut c_char,
    pub shape: *mut ffi::Py_ssize_t,
    pub strides: *mut ffi::Py_ssize_t,
    pub suboffsets: *mut ffi::Py_ssize_t,
    pub internal: *mut c_void,
}

/// `PyBUF_SIMPLE`: a contiguous block of bytes, no format, shape or strides.
pub(crate) const PYBUF_SIMPLE: c_int = 0;
/// `PyBUF_WRITABLE`.
pub(crate) const PYBUF_WRITABLE: c_int = 0x0001;

extern "C" {
    pub(crate) fn PyObject_GetBuffer(
        obj: *mut ffi::PyObject,
        view: *mut RawBuffer,
        flags: c_int,
    ) -> c_int;
    pub(crate) fn PyBuffer_Release(view: *mut RawBuffer);
    pub(crate) fn PyBuffer_FillInfo(
        view: *mut RawBuffer,
        exporter: *mut ffi::PyObject,
        buf: *mut c_void,
        len: ffi::Py_ssize_t,
        readonly: c_int,
        flags: c_int,
    ) -> c_int;
}

/// A buffer obtained from an object, released on drop. While it lives the exporter keeps
/// the memory in place (a `bytearray` cannot be resized, for example).
pub(crate) struct Buffer {
    raw: RawBuffer,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.raw.len)
            .finish()
    }
}

// SAFETY: the buffer's memory stays valid and in place until PyBuffer_Release (the buffer
// protocol's contract), whichever thread reads it; Drop releases it with the GIL held
// (Python::attach).
unsafe impl Send for Buffer {}

impl Buffer {
    /// Gets a contiguous buffer of `obj` (writable if `writable`). Raises `TypeError` for
    /// an object that has no buffer (the exporter's own error for one that refuses).
    pub(crate) fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Buffer> {
        // SAFETY: every field is an integer or a raw pointer: all zeros (null) is a value
        // of each, as the empty Py_buffer CPython callers start from.
        let mut raw: RawBuffer = unsafe { std::mem::zeroed() };
        let flags = PYBUF_SIMPLE | if writable { PYBUF_WRITABLE } else { 0 };
        // SAFETY: obj is a live object (we hold the GIL through `obj`); raw is a
        // Py_buffer-layout struct the call fills in.
        let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut raw, flags) };
        if rc != 0 {
            let err = PyErr::fetch(obj.py());
            if writable && err.is_instance_of::<pyo3::exceptions::PyBufferError>(obj.py()) {
                // As file.readinto does: a read-only buffer is the wrong type of argument.
                let ty = obj
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                return Err(PyTypeError::new_err(format!(
                    "a writable bytes-like object is required (bytearray, memoryview, array, numpy array), not {ty}"
                )));
            }
            return Err(err);
        }
        Ok(Buffer { raw })
    }

    /// The buffer's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.raw.len <= 0 || self.raw.buf.is_null() {
            return &[];
        }
        // SAFETY: a PyBUF_SIMPLE buffer is `len` contiguous bytes at `buf`, valid until
        // released (on drop, after this borrow ends).
        unsafe { std::slice::from_raw_parts(self.raw.buf as *const u8, self.raw.len as usize) }
    }

    /// The buffer's bytes, writable (only for a buffer got with `writable`).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.raw.len <= 0 || self.raw.buf.is_null() {
            return &mut [];
        }
        // SAFETY: as in as_slice; the exporter granted PyBUF_WRITABLE, and `&mut self`
        // makes this the only slice of it we hand out.
        unsafe { std::slice::from_raw_parts_mut(self.raw.buf as *mut u8, self.raw.len as usize) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        Python::attach(|_| {
            // SAFETY: raw was filled by a successful PyObject_GetBuffer and is released
            // once, with the GIL held.
            unsafe { PyBuffer_Release(&mut self.raw) }
        });
    }
}

/// Bytes of a `bytes` object (borrowed, no buffer to release: the fast path) or of any
/// other bytes-like object (through its buffer).
#[derive(Debug)]
pub(crate) enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Buffer(Buffer),
}

impl Data<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Buffer(b) => b.as_slice(),
        }
    }
}

/// The bytes of `obj`, which must support the buffer protocol (`bytes`, `bytearray`,
/// `memoryview`, `array.array`, numpy arrays, ...). A `str` gets a `TypeError` that says
/// to encode it.
pub(crate) fn data<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Data<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Data::Bytes(b.clone()));
    }
    if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(
            "a bytes-like object is required, not 'str' (encode it first, e.g. s.encode())",
        ));
    }
    Buffer::get(obj, false).map(Data::Buffer)
}
