"""The exception classes of :mod:`ipcring`.

Every failure of the Rust crate's one ``Error`` enum arrives as one of these. Each also
subclasses the builtin a Python programmer would catch (``TimeoutError``, ``ValueError``,
``ConnectionError``, ...), so ``except TimeoutError:`` works as well as
``except ipcring.Timeout:``.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "Disconnected",
    "Timeout",
    "Corrupt",
    "BadSegment",
    "RoleTaken",
    "AlreadyExists",
    "NotFound",
    "MessageTooLarge",
    "BufferTooSmall",
    "InvalidName",
    "InvalidConfig",
    "PermissionDenied",
    "IoError",
    "SystemLimit",
    "Unsupported",
    "CodecError",
    "RemoteError",
]


class Error(Exception):
    """Base class of every ipcring error."""


class Disconnected(Error, ConnectionError):
    """The peer is gone (exited, killed, closed its end), and everything it had sent has
    been delivered."""


class Timeout(Error, TimeoutError):
    """A call with a ``timeout`` ran out of time."""


class Corrupt(Error):
    """The peer wrote an impossible value into shared state; the ring cannot be trusted
    any more."""


class BadSegment(Error):
    """The object opened is not a usable segment of the expected kind (wrong magic,
    version or kind, truncated, inconsistent sizes)."""


class RoleTaken(Error):
    """The role (producer, consumer, writer, publisher) is held by another live handle."""


class AlreadyExists(Error, FileExistsError):
    """``create`` found the name taken."""


class NotFound(Error, FileNotFoundError):
    """``open`` found no segment of that name within its timeout."""


class MessageTooLarge(Error, ValueError):
    """A message larger than the channel's ``max_message``."""


class BufferTooSmall(Error, ValueError):
    """``recv_into`` was given a buffer smaller than the next message; the message stays
    in the ring."""


class InvalidName(Error, ValueError):
    """A name or path that cannot be used."""


class InvalidConfig(Error, ValueError):
    """A configuration value was refused (capacity not a power of two, ...)."""


class PermissionDenied(Error, PermissionError):
    """The operating system refused access (the segment belongs to another user, or its
    mode forbids it)."""


class IoError(Error, OSError):
    """A system call failed; ``errno`` and ``strerror`` are set."""


class SystemLimit(Error, OSError):
    """A system limit refused the request; the message says which limit and where it is
    set."""


class Unsupported(Error, NotImplementedError):
    """Not supported on this platform or by this method."""


class CodecError(Error, ValueError):
    """Encoding or decoding a value failed."""


class RemoteError(Error):
    """An RPC handler in the other process failed; the message is the server's."""


# Shown as ipcring.Timeout etc. in tracebacks, where users import them from.
for _cls in [globals()[_n] for _n in __all__]:
    _cls.__module__ = "ipcring"
del _cls


class Lagged(Error):
    """A broadcast subscriber fell behind: ``count`` messages were overwritten before it
    read them. The next ``recv`` continues with the oldest message still held."""

    def __init__(self, count: int):
        super().__init__(f"lagged: {count} messages were lost")
        self.count = count


Lagged.__module__ = "ipcring"
__all__.append("Lagged")
