//! [`Deadline`]: when a wait ends. Below every layer that waits (the OS layer, the wake
//! layer, segments and every transport); its public path is [`crate::transport::Deadline`].

use std::time::{Duration, Instant};

/// When a wait ends: never, at once, or at an instant. The argument of every `_deadline`
/// form, and what the `_timeout` and `try_` forms build.
///
/// ```
/// use std::time::Duration;
/// use ipcring::transport::Deadline;
/// let d = Deadline::after(Duration::from_millis(5));
/// assert!(!d.is_forever());
/// assert!(Deadline::forever().remaining().is_none());
/// // "Do not wait": already expired, and built without reading the clock.
/// let now = Deadline::immediate();
/// assert!(now.is_immediate() && now.expired());
/// assert_eq!(now.remaining(), Some(Duration::ZERO));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline(When);

#[derive(Debug, Clone, Copy)]
enum When {
    Never,
    Now,
    At(Instant),
}

impl Deadline {
    /// A deadline `timeout` from now (saturating: a huge timeout means no deadline).
    pub fn after(timeout: Duration) -> Deadline {
        Deadline::starting_at(Instant::now(), Some(timeout))
    }

    /// `timeout` after `start` (`None`, or a timeout too large to represent: no deadline).
    /// For waits that read the clock only once they find nothing to do.
    pub(crate) fn starting_at(start: Instant, timeout: Option<Duration>) -> Deadline {
        match timeout.and_then(|t| start.checked_add(t)) {
            Some(t) => Deadline(When::At(t)),
            None => Deadline(When::Never),
        }
    }

    /// No deadline.
    pub fn forever() -> Deadline {
        Deadline(When::Never)
    }

    /// Already expired: do not wait at all (what the `try_` forms pass). Reads no clock.
    pub const fn immediate() -> Deadline {
        Deadline(When::Now)
    }

    /// True if this deadline never expires.
    pub fn is_forever(&self) -> bool {
        matches!(self.0, When::Never)
    }

    /// True for [`Deadline::immediate`] (not for an instant that has since passed).
    pub fn is_immediate(&self) -> bool {
        matches!(self.0, When::Now)
    }

    /// Time left: `None` for no deadline, `Some(ZERO)` once expired.
    pub fn remaining(&self) -> Option<Duration> {
        match self.0 {
            When::Never => None,
            When::Now => Some(Duration::ZERO),
            When::At(t) => Some(t.saturating_duration_since(Instant::now())),
        }
    }

    /// The next wait, at most `longest`: `None` once the deadline has passed.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn slice(&self, longest: Duration) -> Option<Duration> {
        match self.remaining() {
            None => Some(longest),
            Some(left) if left.is_zero() => None,
            Some(left) => Some(left.min(longest)),
        }
    }

    /// True once the deadline has passed ([`Deadline::immediate`]: always, with no clock
    /// read).
    pub fn expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
    }
}
