"""Type stubs for ipcring's native module (re-exported by ``ipcring``)."""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Iterator, Literal, Optional, Protocol, Tuple, TypedDict, TypeVar, Union

from typing_extensions import Self, Unpack

# Anything with the buffer protocol: bytes, bytearray, memoryview, array.array, numpy.
if sys.version_info >= (3, 12):
    from collections.abc import Buffer as BytesLike
else:
    from typing_extensions import Buffer as BytesLike
Name = Union[str, "os.PathLike[str]"]
Wait = Literal["spin", "spin_yield", "spin_block"]

SLICE_SECONDS: float

_T = TypeVar("_T", covariant=True)

# The keyword-only options the classes' constructors share (each a keyword argument of the
# runtime method, none required; defaults in the docstrings).
class _WaitOptions(TypedDict, total=False):
    wait: Optional[Wait]
    spin: Optional[float]
    prefault: Optional[bool]

class _KeepOptions(TypedDict, total=False):
    mode: Optional[int]
    keep: bool

class _CreateOptions(_WaitOptions, _KeepOptions, total=False):
    reclaim_stale: bool

# Stub-only protocols naming what several classes have in common. No runtime class
# inherits from them; each class listing one here has every member it declares.
class _Handle(Protocol):
    """Closed by ``close()`` or at the end of a ``with`` block."""

    @property
    def name(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: Any) -> bool: ...

class _Creator(_Handle, Protocol):
    """A handle that may have created its segment (and removes it on close unless kept)."""

    def set_keep(self, keep: bool) -> None: ...

class _RingEnd(_Creator, Protocol):
    """What a ring's producer and consumer share."""

    @property
    def capacity(self) -> int: ...
    @property
    def max_message(self) -> int: ...
    @property
    def closed(self) -> bool: ...

class _BroadcastEnd(_Handle, Protocol):
    """What a broadcast ring's publisher and subscribers share."""

    @property
    def published(self) -> int: ...
    @property
    def max_message(self) -> int: ...

class _Cell(_Handle, Protocol):
    """What a seqlock cell's writer and reader share."""

    @property
    def version(self) -> int: ...
    @property
    def size(self) -> int: ...

class _RingConstructors(Protocol[_T]):
    """The constructors of a ring's producer and consumer (``_T``: the class)."""

    @staticmethod
    def create(
        name: Name, capacity: int = 1 << 20, max_message: Optional[int] = None, **options: Unpack[_CreateOptions]
    ) -> _T: ...
    @staticmethod
    def open(name: Name, timeout: Optional[float] = None, **options: Unpack[_WaitOptions]) -> _T: ...
    @staticmethod
    def open_or_create(
        name: Name,
        capacity: int = 1 << 20,
        max_message: Optional[int] = None,
        timeout: Optional[float] = None,
        **options: Unpack[_CreateOptions],
    ) -> _T: ...

class Producer(_RingEnd, _RingConstructors["Producer"]):
    """The sending side of a ring."""

    def send(self, data: BytesLike, timeout: Optional[float] = None) -> None: ...
    def try_send(self, data: BytesLike) -> bool: ...
    def send_batch(self, iterable: Iterable[BytesLike]) -> int: ...
    def consumer_attached(self) -> bool: ...

class Consumer(_RingEnd, _RingConstructors["Consumer"]):
    """The receiving side of a ring."""

    def recv(self, timeout: Optional[float] = None) -> bytes: ...
    def try_recv(self) -> Optional[bytes]: ...
    def recv_into(self, buffer: BytesLike, timeout: Optional[float] = None) -> int: ...
    def try_recv_into(self, buffer: BytesLike) -> Optional[int]: ...
    def recv_batch(self, max: int = 1024, timeout: Optional[float] = None) -> list[bytes]: ...
    def recv_view(self, timeout: Optional[float] = None) -> MessageView: ...
    def producer_attached(self) -> bool: ...
    @property
    def pending_bytes(self) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...

class MessageView:
    """A received message lent zero-copy for a ``with`` block."""

    def __enter__(self) -> memoryview: ...
    def __exit__(self, *args: Any) -> bool: ...
    def release(self) -> None: ...
    def __len__(self) -> int: ...

class Publisher(_BroadcastEnd, _Creator):
    """The publishing side of a broadcast ring."""

    @staticmethod
    def create(
        name: Name, slots: int = 1024, max_message: int = 1024, **options: Unpack[_CreateOptions]
    ) -> Publisher: ...
    @staticmethod
    def open(name: Name, timeout: Optional[float] = None, *, prefault: Optional[bool] = None) -> Publisher: ...
    @staticmethod
    def open_or_create(
        name: Name,
        slots: int = 1024,
        max_message: int = 1024,
        timeout: Optional[float] = None,
        **options: Unpack[_CreateOptions],
    ) -> Publisher: ...
    def publish(self, data: BytesLike) -> int: ...
    def publish_batch(self, iterable: Iterable[BytesLike]) -> int: ...
    @property
    def slots(self) -> int: ...
    def subscribers_attached(self) -> bool: ...

class Subscriber(_BroadcastEnd):
    """A receiving side of a broadcast ring."""

    @staticmethod
    def open(
        name: Name,
        timeout: Optional[float] = None,
        start: Literal["newest", "oldest", "next"] = "newest",
        **options: Unpack[_WaitOptions],
    ) -> Subscriber: ...
    def recv(self, timeout: Optional[float] = None) -> Tuple[int, bytes]: ...
    def try_recv(self) -> Optional[Tuple[int, bytes]]: ...
    @property
    def position(self) -> int: ...
    @property
    def lagged_total(self) -> int: ...
    def publisher_attached(self) -> bool: ...

class SeqlockWriter(_Cell, _Creator):
    """The writer of a seqlock cell of ``size`` bytes."""

    @staticmethod
    def create(name: Name, size: int, *, type_tag: int = 0, **options: Unpack[_CreateOptions]) -> SeqlockWriter: ...
    @staticmethod
    def open(
        name: Name, size: int, timeout: Optional[float] = None, *, type_tag: int = 0, **options: Unpack[_WaitOptions]
    ) -> SeqlockWriter: ...
    @staticmethod
    def open_or_create(
        name: Name, size: int, timeout: Optional[float] = None, *, type_tag: int = 0, **options: Unpack[_CreateOptions]
    ) -> SeqlockWriter: ...
    def write(self, data: BytesLike) -> int: ...
    def value(self) -> bytes: ...
    def readers_attached(self) -> bool: ...

class SeqlockReader(_Cell):
    """A reader of a seqlock cell of ``size`` bytes."""

    @staticmethod
    def open(
        name: Name, size: int, timeout: Optional[float] = None, *, type_tag: int = 0, **options: Unpack[_WaitOptions]
    ) -> SeqlockReader: ...
    def read(self) -> Tuple[bytes, int]: ...
    def try_read(self) -> Optional[Tuple[bytes, int]]: ...
    def wait_changed(self, last_version: int, timeout: Optional[float] = None) -> Tuple[bytes, int]: ...
    def writer_attached(self) -> bool: ...

def duplex(
    name: Name,
    side: Literal["a", "b", "A", "B"],
    capacity: int = 1 << 20,
    max_message: Optional[int] = None,
    timeout: Optional[float] = None,
    **options: Unpack[_CreateOptions],
) -> Tuple[Producer, Consumer]: ...
def inspect(name: Name) -> dict[str, Any]: ...
def remove(name: Name, force: bool = False) -> dict[str, Any]: ...
