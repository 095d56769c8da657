# Lints as errors, on every feature and every target (tests, examples, benches).
cargo clippy --workspace --all-features --all-targets -- -D warnings
# And with no features: a dependent's default build (and its tests) must be warning-free too.
cargo clippy -p ipcring --all-targets -- -D warnings
