# Toolchain pieces CI needs: rustfmt and clippy for stable; nightly for cargo-fuzz, the
# cross checks and miri.
rustup component add rustfmt clippy >/dev/null 2>&1 || rustup component add rustfmt clippy
if ! rustup toolchain list | grep -q nightly; then
  rustup toolchain install nightly --profile minimal
fi
# iceoryx2 (a contender in peers/, which `clippy --workspace` builds) generates its POSIX
# bindings with bindgen, which needs libclang and clang's headers: libclang-dev brings both.
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi
