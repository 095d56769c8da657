"""The ring_alice/ring_bob pair in every mix of Python and Rust, either start order."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import HERE, finish, wait_for_segment

EXAMPLES = HERE.parent / "examples"
EXPECTED_BOB = [
    "bob: alice says: terrible looking machine output",
    "bob: alice says: howdy",
    "bob: alice says: another one bites the dust",
]


def command(role: str, lang: str, examples) -> list[str]:
    if lang == "python":
        args = [sys.executable, str(EXAMPLES / f"ring_{role}.py")]
    else:
        args = [str(examples / f"ring_{role}")]
    return args + (["--once"] if role == "alice" else [])


@pytest.mark.parametrize("alice", ["python", "rust"])
@pytest.mark.parametrize("bob", ["python", "rust"])
@pytest.mark.parametrize("first", ["alice", "bob"])
def test_alice_and_bob(name, rust_examples, alice, bob, first):
    env = dict(os.environ, IPCRING_EXAMPLE_NAME=name)

    def start(role, lang):
        return subprocess.Popen(command(role, lang, rust_examples), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    if first == "alice":
        a = start("alice", alice)
        wait_for_segment(name + ".ab", a)
        b = start("bob", bob)
    else:
        b = start("bob", bob)
        wait_for_segment(name + ".ba", b)
        a = start("alice", alice)
    out_b, _ = finish(b, timeout=120)
    out_a, _ = finish(a, timeout=120)
    assert out_b.splitlines() == EXPECTED_BOB
    assert "alice: terrible looking machine output" in out_a.splitlines()
    lines = out_a.splitlines()
    assert "alice: bob left" in lines, out_a
    # After Bob, Alice (--once) only says which rings she removed.
    after = lines[lines.index("alice: bob left") + 1:]
    assert all(line.startswith("alice: removed ") for line in after), out_a
