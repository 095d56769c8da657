"""ipcring: lock-free shared-memory rings between processes, from Python.

The Python face of the ``ipcring`` Rust crate: the same segments, the same layout, the same
errors, so a Python process and a Rust process share a ring with nothing in between.

>>> import ipcring, os
>>> name = f"/doc-ipcring-{os.getpid()}"
>>> p = ipcring.Producer.create(name, capacity=1 << 16)   # in process A
>>> c = ipcring.Consumer.open(name)                       # in process B
>>> p.send(b"hello")
>>> c.recv()
b'hello'
>>> p.close(); c.close()
"""

from ipcring._errors import (
    AlreadyExists,
    BadSegment,
    BufferTooSmall,
    CodecError,
    Corrupt,
    Disconnected,
    Error,
    InvalidConfig,
    InvalidName,
    IoError,
    Lagged,
    MessageTooLarge,
    NotFound,
    PermissionDenied,
    RemoteError,
    RoleTaken,
    SystemLimit,
    Timeout,
    Unsupported,
)
from ipcring._ipcring import (
    Consumer,
    MessageView,
    Producer,
    Publisher,
    SeqlockReader,
    SeqlockWriter,
    Subscriber,
    duplex,
    inspect,
    remove,
)

__all__ = [
    "Producer",
    "Consumer",
    "MessageView",
    "Publisher",
    "Subscriber",
    "SeqlockWriter",
    "SeqlockReader",
    "duplex",
    "inspect",
    "remove",
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
    "Lagged",
]

from ipcring import rpc  # noqa: E402  (ipcring.rpc uses the names above)

__all__.append("rpc")
