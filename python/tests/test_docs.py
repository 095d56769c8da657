"""The examples in the package's docstrings run, and every public item has a docstring."""

from __future__ import annotations

import doctest
import inspect

import ipcring
import ipcring.rpc


def test_docstring_examples_pass():
    for module in (ipcring, ipcring.rpc):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0


def test_every_public_item_is_documented():
    missing = []
    for name in ipcring.__all__:
        obj = getattr(ipcring, name)
        if inspect.ismodule(obj):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert missing == []
