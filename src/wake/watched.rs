//! The one place a descriptor is handed to tokio's reactor.
//!
//! tokio's [`AsyncFd::register`] is `unsafe`: the descriptor must stay open, and the same
//! open file description, for as long as the registration lives. [`Watched`] takes only
//! holders that promise that ([`StableFd`]) and gives out nothing but shared references,
//! so no `&mut` can swap or close what the reactor watches behind its back. Descriptors a
//! handle only borrows are duplicated into an [`OwnedFd`] first (the duplicate shares the
//! open file description, so readiness is the same), which the registration then owns.

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::{AsyncFd, AsyncFdRegisterError};
use tokio::io::Interest;

/// Holders of a descriptor that tokio's reactor may watch for as long as they live.
///
/// # Safety
/// Every call of `as_raw_fd` on a value returns the same descriptor, open and referring to
/// the same open file description, for as long as the value lives; and nothing reachable
/// through `&Self` closes or replaces it. ([`Watched`] never hands out `&mut Self`.)
pub(crate) unsafe trait StableFd: AsRawFd {}

// SAFETY: an `OwnedFd` owns its descriptor and closes it only when dropped; it has no
// method that closes or replaces it through `&self`.
unsafe impl StableFd for OwnedFd {}

/// A descriptor holder registered with the current tokio runtime's reactor: tokio's
/// [`AsyncFd`], reachable only by shared reference (through `Deref`).
#[derive(Debug)]
pub(crate) struct Watched<T: StableFd>(AsyncFd<T>);

impl<T: StableFd> Watched<T> {
    /// Registers `inner` for readability and writability (tokio's [`AsyncFd::register`]).
    /// Must be called within a tokio runtime with its I/O driver.
    #[cfg(feature = "socket")]
    pub(crate) fn register(inner: T) -> Result<Watched<T>, AsyncFdRegisterError<T>> {
        Self::register_with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner` for `interest` only.
    pub(crate) fn register_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<Watched<T>, AsyncFdRegisterError<T>> {
        // SAFETY: `T: StableFd`: `inner`'s descriptor stays open, the same description, and
        // is what `as_raw_fd` returns, for as long as `inner` lives, which is as long as the
        // AsyncFd that owns it; `Watched` gives out no `&mut` to either, so neither can be
        // swapped or taken apart while registered.
        unsafe { AsyncFd::register_with_interest(inner, interest) }.map(Watched)
    }
}

#[cfg(any(
    feature = "pipe",
    feature = "socket",
    all(
        target_os = "linux",
        any(feature = "file", feature = "mq", feature = "signal")
    )
))]
impl Watched<OwnedFd> {
    /// Duplicates a descriptor that a handle only borrows (one `dup`, once: the duplicate
    /// shares the open file description, so its readiness is the same) and registers the
    /// duplicate for readability and writability; the registration owns it. `what` names
    /// the descriptor in errors ("the pipe descriptor").
    pub(crate) fn register_dup(
        fd: std::os::fd::BorrowedFd<'_>,
        what: &str,
    ) -> crate::Result<Watched<OwnedFd>> {
        let dup = fd
            .try_clone_to_owned()
            .map_err(|e| crate::Error::io(format!("dup {what}"), e))?;
        Self::register_with_interest(dup, Interest::READABLE | Interest::WRITABLE).map_err(|e| {
            crate::Error::io(format!("register {what} with the tokio reactor"), e.into())
        })
    }
}

impl<T: StableFd> std::ops::Deref for Watched<T> {
    type Target = AsyncFd<T>;

    fn deref(&self) -> &AsyncFd<T> {
        &self.0
    }
}
