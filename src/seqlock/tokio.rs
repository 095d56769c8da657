//! Seqlock readers for tokio: [`AsyncReader`] waits for the next version without a thread
//! while nothing changes.
//!
//! Reading never waits ([`Reader::read`] is already non-blocking in practice: it retries a copy
//! that a write overlapped), so only waiting for a *change* has an async form. It waits the way an
//! async ring consumer does ([`crate::ring::AsyncConsumer`]): a brief spin yielding to the
//! scheduler, then the cell's futex eventcount slept on by the process's waker thread only while a
//! task waits. The writer never waits and needs no async form.
//!
//! ```
//! use ipcring::seqlock::AsyncReader;
//! use ipcring::seqlock::{Reader, SeqlockOptions, Writer};
//!
//! # fn main() -> ipcring::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let name = format!("/ipcring-aiosl-{}", std::process::id());
//!     let mut w = Writer::<u64>::create(&name, &SeqlockOptions::new())?;
//!     let mut r = AsyncReader::from(Reader::<u64>::open(&name, &SeqlockOptions::new())?);
//!     w.write(&7);
//!     let snap = r.wait_changed(0).await?;
//!     assert_eq!((snap.value, snap.version), (7, 1));
//!     Ok(())
//! })
//! # }
//! ```

use crate::seqlock::{Reader, Snapshot};
use crate::wake::tokio::{waited_handle, Waiter};
use crate::Result;

/// A seqlock reader for tokio. Wraps a [`Reader`].
///
/// ```no_run
/// use ipcring::seqlock::AsyncReader;
/// use ipcring::seqlock::{Reader, SeqlockOptions};
/// # async fn demo() -> ipcring::Result<()> {
/// let mut r = AsyncReader::from(Reader::<[f64; 4]>::open("/pose", &SeqlockOptions::new())?);
/// let mut last = 0;
/// loop {
///     let snap = r.wait_changed(last).await?;
///     last = snap.version;
/// }
/// # }
/// ```
#[derive(Debug)]
#[must_use = "an AsyncReader detaches when dropped"]
pub struct AsyncReader<T: bytemuck::Pod> {
    inner: Reader<T>,
    waiter: Waiter,
}

waited_handle!(AsyncReader<T: bytemuck::Pod>, Reader, changed_wake_word);

impl<T: bytemuck::Pod + Send> AsyncReader<T> {
    /// The blocking reader underneath (for [`Reader::read`], [`Reader::version`]).
    pub fn get_ref(&self) -> &Reader<T> {
        &self.inner
    }

    /// Waits until a version newer than `last_version` is there and returns it, as
    /// [`Reader::wait_changed`] without its timeout (use [`tokio::time::timeout`]).
    ///
    /// Cancel safe: it only reads; a dropped future changed nothing.
    /// [`Error::Disconnected`](crate::Error::Disconnected) if the writer is gone and
    /// nothing newer is there.
    pub async fn wait_changed(&mut self, last_version: u64) -> Result<Snapshot<T>> {
        if let Some(s) = self.inner.try_newer(last_version) {
            return Ok(s);
        }
        self.waiter
            .wait_for(
                &mut self.inner,
                |r| Ok(r.try_newer(last_version)),
                |r| r.writer_gone(),
            )
            .await
    }
}
