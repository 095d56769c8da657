//! Broadcast ring (in progress).
