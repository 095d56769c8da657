# Cross-target compile checks: macOS and FreeBSD are not tested (no such machines in CI),
# but the library must build there with every feature that exists there (README
# "Platforms"). The nightly's rust-src builds std for each target (-Zbuild-std), so no
# cross toolchain or SDK is needed: `cargo check` never links.
# A separate target dir: another toolchain and other targets share nothing with the main
# build, and its std builds stay cached between runs.
rustup component add --toolchain nightly rust-src >/dev/null 2>&1 \
  || rustup component add --toolchain nightly rust-src
cross_check() {
  local target=$1
  shift
  echo "--- cargo check --target $target $*"
  local log
  log=$(mktemp)
  # Warnings fail the step too (a cfg that leaves dead code or an unused import there).
  if ! CARGO_TARGET_DIR=target/cross cargo +nightly check -Zbuild-std=std -p ipcring \
      --target "$target" "$@" 2>&1 | tee "$log"; then
    rm -f "$log"
    return 1
  fi
  if grep -q '^warning' "$log"; then
    echo "!!! warnings on $target $*"
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
# macOS: every feature but `mq` (macOS has no POSIX message queues: `mq` is a
# compile_error there).
cross_check x86_64-apple-darwin --lib
cross_check x86_64-apple-darwin --lib --examples \
  --features pipe,file,signal,socket,redis,rpc,async
# FreeBSD: every feature.
cross_check x86_64-unknown-freebsd --lib
cross_check x86_64-unknown-freebsd --lib --examples --all-features
# The API docs as docs.rs builds them (nightly, every feature, `--cfg docsrs` for the feature
# badges): no broken or redundant links.
RUSTDOCFLAGS="-D warnings --cfg docsrs" CARGO_TARGET_DIR=target/cross \
  cargo +nightly doc --no-deps --all-features -p ipcring
