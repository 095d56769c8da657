//! Pointers to words inside a segment's mapping, for an async waiter and the threads that
//! sleep for it (`tokio`, `hub`).

use crate::wake::{ExcuseWord, WakeWord};

/// A pointer to a word (a [`WakeWord`], an [`ExcuseWord`]) inside a ring's mapping, for
/// an async waiter and its sleeper thread.
///
/// The mapping lives as long as the `Producer`/`Consumer` that owns it, and the async
/// wrappers never let that handle drop while a sleeper thread still uses the pointer (see
/// `Waiter::settle`). The mapping does not move when the handle moves.
#[derive(Debug)]
pub(crate) struct MapPtr<T>(pub(crate) *const T);

/// A pointer to a wake word in a mapping.
pub(crate) type WordPtr = MapPtr<WakeWord>;
/// A pointer to an excuse word in a mapping.
pub(crate) type ExcusePtr = MapPtr<ExcuseWord>;

// (By hand, not derived: a derive would ask `T: Copy`.)
impl<T> Clone for MapPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for MapPtr<T> {}

// SAFETY: the words are made of atomics (`T: Sync`); the pointer is only dereferenced while
// the mapping is alive (see the type's docs), from whichever thread.
unsafe impl<T: Sync> Send for MapPtr<T> {}
// SAFETY: as above; shared access to atomics is thread-safe.
unsafe impl<T: Sync> Sync for MapPtr<T> {}

impl<T> MapPtr<T> {
    pub(crate) fn get(&self) -> &T {
        // SAFETY: see the type's docs: the mapping outlives every use of the pointer.
        unsafe { &*self.0 }
    }
}
