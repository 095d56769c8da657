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

from ipcring import _errors
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



class Seqlock:
    """The seqlock cell: one writer keeps a fixed-size bytes value, readers read its latest.

    A namespace for the cell's two roles, so ``ipcring.Seqlock.Writer`` and
    ``ipcring.Seqlock.Reader`` read as the Rust crate's ``ipcring::seqlock`` module does.
    They are :class:`SeqlockWriter` and :class:`SeqlockReader` themselves.

    >>> import ipcring, os
    >>> name = f"/doc-seqlock-{os.getpid()}"
    >>> w = ipcring.Seqlock.Writer.create(name, size=8)
    >>> r = ipcring.Seqlock.Reader.open(name, size=8)
    >>> w.write(b"12345678")
    1
    >>> r.read()
    (b'12345678', 1)
    >>> r.close(); w.close()
    """

    Writer = SeqlockWriter
    Reader = SeqlockReader


class Broadcast:
    """The broadcast ring: one publisher, any number of subscribers, each told its exact lag.

    A namespace for the ring's two roles, ``ipcring.Broadcast.Publisher`` and
    ``ipcring.Broadcast.Subscriber`` (the classes :class:`Publisher` and :class:`Subscriber`).

    >>> import ipcring, os
    >>> name = f"/doc-broadcast-{os.getpid()}"
    >>> pub = ipcring.Broadcast.Publisher.create(name, slots=8, max_message=64)
    >>> sub = ipcring.Broadcast.Subscriber.open(name)
    >>> pub.publish(b"tick")
    0
    >>> sub.recv(timeout=1)
    (0, b'tick')
    >>> sub.close(); pub.close()
    """

    Publisher = Publisher
    Subscriber = Subscriber


__all__ = [
    "Seqlock",
    "Broadcast",
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
]
# Then every exception class, as ipcring._errors lists them.
__all__ += _errors.__all__

from ipcring import rpc  # noqa: E402  (ipcring.rpc uses the names above)

__all__.append("rpc")
