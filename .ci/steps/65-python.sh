# The Python package (python/): installed the way a user installs it, `pip install
# ./python` (maturin builds the PyO3 extension from source), into a fresh venv, then its
# pytest suite, which runs Python peers against each other and against the Rust `ipcring`
# CLI and the ring_alice/ring_bob examples (built here with cargo). Sourced by .ci/run
# (bash, set -euo pipefail, on_exit available).

# python3 with venv/ensurepip (a fresh Debian/Ubuntu image may lack python3-venv).
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
py_dir="$(mktemp -d)"
on_exit "rm -rf '$py_dir'"
python3 -m venv "$py_dir/venv"
"$py_dir/venv/bin/pip" install --quiet --disable-pip-version-check maturin pytest
# Built in this workspace's target directory, like every other step.
"$py_dir/venv/bin/pip" install --quiet --disable-pip-version-check ./python
"$py_dir/venv/bin/python" -c 'import ipcring; print("ipcring", ipcring.__file__)'

# The Rust peers the interop tests run (the tests would build them too; built here so a
# compile error shows as one).
cargo build --quiet -p ipcring-cli
cargo build --quiet --example ring_alice --example ring_bob

# From the repository root, not python/: there `import ipcring` would find the source
# directory python/ipcring (without its compiled module) before the installed package.
"$py_dir/venv/bin/pytest" -q python/tests
