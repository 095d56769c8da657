# Formatting is part of the contract.
cargo fmt --all -- --check
