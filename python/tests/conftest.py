"""Shared fixtures: unique segment names (removed afterwards), the Rust binaries the
interop tests run (built with cargo on first use), and a way to start Python peers."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ipcring

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PEER = HERE / "peer.py"
_counter = itertools.count()


@pytest.fixture
def name():
    """A fresh POSIX shm name; any segment left under it (or its duplex .ab/.ba) is
    removed after the test."""
    n = f"/ipcring-pytest-{os.getpid()}-{next(_counter)}"
    yield n
    for suffix in ("", ".ab", ".ba"):
        try:
            ipcring.remove(n + suffix, force=True)
        except ipcring.Error:
            pass


def _target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def _cargo_build(*args: str) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed; the Rust side of the interop tests needs it")
    subprocess.run([cargo, "build", "--quiet", *args], cwd=REPO, check=True)


@pytest.fixture(scope="session")
def cli() -> str:
    """The `ipcring` command (IPCRING_CLI, or built with cargo)."""
    if os.environ.get("IPCRING_CLI"):
        return os.environ["IPCRING_CLI"]
    _cargo_build("-p", "ipcring-cli")
    return str(_target_dir() / "debug" / "ipcring")


@pytest.fixture(scope="session")
def rust_examples() -> Path:
    """The directory holding the ring_alice and ring_bob Rust examples (built with cargo,
    or IPCRING_EXAMPLES)."""
    if os.environ.get("IPCRING_EXAMPLES"):
        return Path(os.environ["IPCRING_EXAMPLES"])
    _cargo_build("-p", "ipcring", "--example", "ring_alice", "--example", "ring_bob")
    return _target_dir() / "debug" / "examples"


@pytest.fixture(scope="session")
def rpc_examples() -> Path:
    """The directory holding the rpc_alice and rpc_bob Rust examples."""
    if os.environ.get("IPCRING_EXAMPLES"):
        return Path(os.environ["IPCRING_EXAMPLES"])
    _cargo_build("-p", "ipcring", "--features", "rpc,socket", "--example", "rpc_alice", "--example", "rpc_bob")
    return _target_dir() / "debug" / "examples"


def start_peer(*args: str, **kw) -> subprocess.Popen:
    """Starts `python peer.py ARGS...` (see peer.py for the roles)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, str(PEER), *args], **kw)


def wait_for_segment(name: str, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    """Waits until segment `name` exists and is ready (fails if `proc` exits first)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            ipcring.inspect(name)
            return
        except (ipcring.NotFound, ipcring.BadSegment):
            pass
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"peer exited ({proc.returncode}) before creating {name}: {err.decode()}")
        time.sleep(0.01)
    pytest.fail(f"{name} did not appear within {timeout} s")


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """Waits for `proc`, asserts it succeeded, returns its (stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"peer did not finish: {err.decode(errors='replace')[-2000:]}")
    assert proc.returncode == 0, err.decode(errors="replace")[-4000:]
    return out.decode(errors="replace"), err.decode(errors="replace")
