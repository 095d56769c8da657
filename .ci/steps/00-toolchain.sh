# Toolchain pieces CI needs: rustfmt and clippy for stable; nightly for cargo-fuzz.
rustup component add rustfmt clippy >/dev/null 2>&1 || rustup component add rustfmt clippy
