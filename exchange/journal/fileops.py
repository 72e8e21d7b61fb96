"""The one seam between durable storage and the operating system.

Every write the journal and the snapshot store make goes through a :class:`FileOps`:
open, write, fsync a file, fsync a directory, truncate. Tests substitute a layer that
drops writes which were never fsynced (power loss) or makes fsync fail (EIO), so the
promises of the journal are checked against the failures they are made for.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class FileOps:
    """Plain POSIX file operations (the default)."""

    def open_append(self, path: Path) -> BinaryIO:
        """Open ``path`` for appending bytes, creating it if absent."""
        return open(path, "ab", buffering=0)

    def open_write(self, path: Path) -> BinaryIO:
        """Create (or empty) ``path`` for writing bytes."""
        return open(path, "wb", buffering=0)

    def write(self, f: BinaryIO, data: bytes | memoryview) -> None:
        """Write all of ``data`` at the end of ``f``."""
        view = memoryview(data)
        while view:
            view = view[f.write(view):]

    def fsync(self, f: BinaryIO) -> None:
        """Make what was written to ``f`` durable."""
        os.fsync(f.fileno())

    def fsync_dir(self, path: Path) -> None:
        """Make the creation, renaming or removal of entries of directory ``path`` durable."""
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def truncate(self, path: Path, size: int) -> None:
        """Cut ``path`` to ``size`` bytes and make that durable."""
        with open(path, "r+b") as f:
            f.truncate(size)
            os.fsync(f.fileno())

    def replace(self, src: Path, dst: Path) -> None:
        """Rename ``src`` over ``dst`` atomically and make the rename durable."""
        os.replace(src, dst)
        self.fsync_dir(dst.parent)


@contextmanager
def atomic_file(ops: FileOps, path: Path) -> Iterator[BinaryIO]:
    """A temp file beside ``path`` to write (through ``ops``); when the block ends it is
    fsynced and renamed over ``path`` (directory fsync). If the block raises, ``path`` is
    left as it was (the temp file stays, to be overwritten by the next attempt)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with ops.open_write(tmp) as f:
        yield f
        ops.fsync(f)
    ops.replace(tmp, path)


class OpsWriter:
    """An open file as a write-only file object, for writers that want one (``zipfile``,
    Arrow's IPC writer) and so stream to the file instead of building it in memory:
    writes go through the :class:`FileOps`, positions count from ``offset`` (a header
    written before)."""

    def __init__(self, ops: FileOps, f: BinaryIO, offset: int = 0) -> None:
        self.ops, self.f, self.offset = ops, f, offset

    @property
    def closed(self) -> bool:
        return self.f.closed

    def write(self, data: bytes) -> int:
        self.ops.write(self.f, data)
        return len(data)

    def tell(self) -> int:
        return self.f.tell() - self.offset

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        return self.f.seek(position + self.offset if whence == os.SEEK_SET else position, whence) - self.offset

    def flush(self) -> None:
        """Nothing is buffered here (``FileOps`` writes go straight to the file)."""

    def read(self, size: int = -1) -> bytes:
        """Never read (numpy and Arrow take an object with ``read`` for an open file, not a path)."""
        raise io.UnsupportedOperation("only written")


def write_atomically(ops: FileOps, path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: temp file, fsync, rename, directory fsync."""
    with atomic_file(ops, path) as f:
        ops.write(f, data)
