# Lints as errors, on every feature and every target (tests, examples, benches).
cargo clippy --workspace --all-features --all-targets -- -D warnings
