//! The pickle codec: what Python's `Connection.send(obj)` / `recv()` put in a frame.
//!
//! Python pickles objects with protocol 4 (3.11, 3.12); this codec reads protocols 0 to 5
//! and writes protocol 3, which every Python 3 reads. Decoding never runs code: pickled
//! globals and `__reduce__` tricks are refused (or replaced by `None` in [`Value`]s).
//!
//! ```
//! use ipcring::socket::pickle::{self, Value};
//!
//! # fn main() -> ipcring::Result<()> {
//! let bytes = pickle::to_vec(&vec![8i64, 8])?;          // what Python's send([8, 8]) carries
//! let back: Vec<i64> = pickle::from_slice(&bytes)?;
//! assert_eq!(back, [8, 8]);
//! let v = pickle::value_from_slice(&pickle::value_to_vec(&Value::Bytes(b"stop server".to_vec()))?)?;
//! assert_eq!(v, Value::Bytes(b"stop server".to_vec()));
//! # Ok(())
//! # }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// A Python value as pickled: `None`, bools, ints, floats, `bytes`, `str`, lists, tuples,
/// sets, dicts. Re-exported from `serde-pickle`.
pub use serde_pickle::Value;

/// A hashable Python value (dict keys and set members). Re-exported from `serde-pickle`.
pub use serde_pickle::HashableValue;

fn codec(e: serde_pickle::Error) -> Error {
    Error::Codec(format!("pickle: {e}").into())
}

/// Pickles a serde value. `Vec<T>` becomes a Python list, a tuple a tuple, a map a dict,
/// `String` a `str`; use [`Value::Bytes`] (or `serde_bytes`) for Python `bytes`.
///
/// ```
/// let b = ipcring::socket::pickle::to_vec(&(1, "two"))?;
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_pickle::to_vec(&value, serde_pickle::SerOptions::new()).map_err(codec)
}

/// Unpickles into a serde value.
///
/// ```
/// use ipcring::socket::pickle;
/// let n: i64 = pickle::from_slice(&pickle::to_vec(&64i64)?)?;
/// assert_eq!(n, 64);
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_pickle::from_slice(bytes, serde_pickle::DeOptions::new()).map_err(codec)
}

/// Pickles a [`Value`].
///
/// ```
/// use ipcring::socket::pickle::{self, Value};
/// let b = pickle::value_to_vec(&Value::I64(64))?;
/// assert_eq!(pickle::value_from_slice(&b)?, Value::I64(64));
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>> {
    serde_pickle::value_to_vec(value, serde_pickle::SerOptions::new()).map_err(codec)
}

/// Unpickles into a [`Value`], whatever the Python object was (unknown globals become
/// `None` instead of failing).
///
/// ```
/// use ipcring::socket::pickle::{self, Value};
/// // Python 3.11: pickle.dumps([8, 8], protocol=4)
/// let py = b"\x80\x04\x95\t\x00\x00\x00\x00\x00\x00\x00]\x94(K\x08K\x08e.";
/// assert_eq!(pickle::value_from_slice(py)?, Value::List(vec![Value::I64(8), Value::I64(8)]));
/// # Ok::<(), ipcring::Error>(())
/// ```
pub fn value_from_slice(bytes: &[u8]) -> Result<Value> {
    serde_pickle::value_from_slice(
        bytes,
        serde_pickle::DeOptions::new().replace_unresolved_globals(),
    )
    .map_err(codec)
}
