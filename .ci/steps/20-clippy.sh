# Lints as errors, on every feature and every target (tests, examples, benches).
cargo clippy --workspace --all-features --all-targets -- -D warnings
# And with no features: a dependent's default build (and its tests) must be warning-free too.
cargo clippy -p ipcring --all-targets -- -D warnings
# And each feature alone, as a dependent that needs one method builds it (code and tests
# used by some features only are gated by them).
for f in $(sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -oE '^[a-z-]+ =' | cut -d' ' -f1 | grep -vx 'default\|full'); do
  echo "--- clippy --features $f"
  cargo clippy -p ipcring --all-targets --features "$f" -- -D warnings
done
