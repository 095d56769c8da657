//! loom models (written next).
