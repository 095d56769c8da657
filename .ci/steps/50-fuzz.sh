# Short fuzz runs of both targets (cargo-fuzz on the nightly toolchain).
if ! rustup toolchain list | grep -q nightly; then
  rustup toolchain install nightly --profile minimal
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for t in open_segment consume_hostile; do
  (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time=45 -rss_limit_mb=2048)
done
