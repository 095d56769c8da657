//! A barrier on every CPU that runs a thread of a registered process: `membarrier(2)`'s
//! `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (Linux 4.16+), through rustix. Where it is missing
//! (other systems, a sandbox that filters the call, miri), [`register`] says so and the
//! wake protocol keeps its fence on every publish (see `wake::excuse`).

/// Registers this process as a target of expedited global barriers, if the system has
/// them. True if it can both take part (its threads receive the barriers other processes
/// issue) and issue them.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn register() -> bool {
    use rustix::thread::{membarrier, membarrier_query, MembarrierCommand, MembarrierQuery};
    let q = membarrier_query();
    q.contains(MembarrierQuery::GLOBAL_EXPEDITED | MembarrierQuery::REGISTER_GLOBAL_EXPEDITED)
        && membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
}

/// Not available here: never registered.
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(crate) fn register() -> bool {
    false
}

/// Issues the barrier: when it returns, every thread of every registered process that was
/// running has executed a full memory barrier, so each of its memory accesses is ordered
/// either before or after this call (a thread not running has passed through the
/// scheduler's barrier). False if the system refused it.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn global() -> bool {
    use rustix::thread::{membarrier, MembarrierCommand};
    membarrier(MembarrierCommand::GlobalExpedited).is_ok()
}

/// Not available here.
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(crate) fn global() -> bool {
    false
}
