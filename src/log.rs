//! Logging through [`tracing`] (feature `tracing`): what happens to a segment that its
//! users cannot see otherwise — its creation, the reclaim of a stale one, a peer's death
//! and corruption found — each logged once, from the cold paths only (creation, reclaim,
//! the checks at the end of a wait slice, error construction), never from a send or a
//! receive that succeeds. Without the feature the macro expands to nothing.
//!
//! Events use the target `ipcring` and these fields: `name` (the segment's name), `kind`,
//! `bytes`, `role`, `reason`.

/// `log_event!(level, fields..., "message")`: a `tracing` event at `level` with target
/// `ipcring` when the feature is on; nothing otherwise (its arguments are not evaluated).
macro_rules! log_event {
    ($level:ident, $($arg:tt)+) => {
        #[cfg(feature = "tracing")]
        {
            ::tracing::$level!(target: "ipcring", $($arg)+);
        }
    };
}
pub(crate) use log_event;

/// Logs a corruption report once per distinct message in this process (a caller that
/// retries on a corrupt segment gets the same error again; the log does not repeat it).
#[cfg(feature = "tracing")]
pub(crate) fn corruption(msg: &str) {
    use std::sync::Mutex;
    // Bounded: past this many distinct reports, the rest are not remembered (nor logged).
    const MAX_REMEMBERED: usize = 64;
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() >= MAX_REMEMBERED || seen.iter().any(|s| s == msg) {
        return;
    }
    seen.push(msg.to_owned());
    drop(seen);
    log_event!(error, reason = msg, "corruption detected");
}
