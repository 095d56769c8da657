#!/usr/bin/env bash
# The project's test command (README.md): every unit, doc, property and multi-process test,
# with every feature compiled in. Tests that need an outside service (Redis) say loudly when
# they skip; .ci/run starts the service and runs them for real.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features "$@"
