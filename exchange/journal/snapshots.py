"""Snapshots: the state of the market at a sequence number, checksummed.

A snapshot file ``snapshots/<seq, 20 digits>.snapshot`` is a 56-byte header::

    magic "GPXS" | version u16 | reserved u16 | seq i64 | payload length u64 | sha256 (32)

followed by the payload: an uncompressed ``.npz`` of named int64 arrays plus a JSON
metadata document (``__meta__``). Files are written whole or not at all (temp file,
fsync, rename, directory fsync). Loading checks the length and the SHA-256; a damaged
snapshot is reported by name and the next older one is tried, so recovery can always
fall back to replaying the journal from the start.

:meth:`SnapshotStore.write` runs in a thread beside the writer, so it streams: the
arrays go to the temp file in chunks of 16 MiB straight from their memory, behind a
placeholder header; the SHA-256 is then read back from the file (4 MiB at a time) and
the header written over the placeholder. No copy of the whole payload is made in
memory, and no single step holds the GIL for long (file writes, reads and hashing
release it), so the writer keeps running while a large snapshot is written.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.lib import format as npy

from exchange.journal.errors import SnapshotError
from exchange.journal.fileops import FileOps, OpsWriter, atomic_file

MAGIC = b"GPXS"
VERSION = 1
HEADER = struct.Struct("<4sHHqQ32s")
SUFFIX = ".snapshot"
CHUNK = 1 << 24
"""Bytes handed to a write at a time (views of the arrays: nothing is allocated for them)."""
READ_CHUNK = 1 << 22
"""Bytes read back and hashed at a time, into one buffer per snapshot: a transient beside
the server's others (a retirement, a trade-log flush), so it is kept small (it was 16 MiB)."""
_META = "__meta__"
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """State at ``seq``: named arrays and JSON-able metadata."""

    seq: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


@dataclass
class LoadReport:
    """Which snapshot was loaded and which newer ones were damaged (name, problem)."""

    loaded: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _write_payload(out: Any, snapshot: Snapshot) -> None:
    """The payload of a snapshot, written to the file-like ``out``: what ``np.savez`` of
    the arrays and the metadata writes (an uncompressed zip of ``.npy`` entries), each
    array's bytes handed over straight from its memory in chunks of :data:`CHUNK` (no
    copy; zipfile's CRC and the file writes release the GIL)."""
    meta = np.frombuffer(json.dumps(snapshot.meta, sort_keys=True).encode(), np.uint8)
    with zipfile.ZipFile(out, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as npz:
        for name, array in {**snapshot.arrays, _META: meta}.items():
            array = np.ascontiguousarray(array)
            with npz.open(f"{name}.npy", "w", force_zip64=True) as entry:
                npy.write_array_header_1_0(entry, npy.header_data_from_array_1_0(array))
                data = array.reshape(-1).data.cast("B")
                for start in range(0, len(data), CHUNK):
                    entry.write(data[start:start + CHUNK])


def _header(seq: int, length: int, digest: bytes) -> bytes:
    return HEADER.pack(MAGIC, VERSION, 0, seq, length, digest)


def encode(snapshot: Snapshot) -> bytes:
    """The bytes of a snapshot file, in memory (the store streams them instead). O(state size)."""
    buf = io.BytesIO()
    _write_payload(buf, snapshot)
    payload = buf.getvalue()
    return _header(snapshot.seq, len(payload), hashlib.sha256(payload).digest()) + payload


def _sha256_of(path: str, offset: int, chunk: int = READ_CHUNK) -> tuple[int, bytes]:
    """(length, SHA-256) of a file's bytes from ``offset`` on, read in chunks (the
    reads and the hashing release the GIL)."""
    digest, length = hashlib.sha256(), 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while n := f.readinto(buf):
            digest.update(view[:n])
            length += n
    return length, digest.digest()


def decode(name: str, data: bytes) -> Snapshot:
    """The snapshot in the bytes of a file; :class:`SnapshotError` naming it if damaged.

    Its arrays are read-only views of ``data`` (a restore copies what it keeps): once the
    SHA-256 has checked every byte of the payload, each ``.npy`` entry of the stored zip
    is found through the zip's directory and read in place, without ``np.load``'s
    CRC-32 pass and chunked copies (0.42-0.58 s of CPU for the 10 M soak's 72 MB snapshot
    with its first-touch page faults, now 0.07 s, the hash, which runs without the GIL)."""
    if len(data) < HEADER.size:
        raise SnapshotError(f"snapshot {name}: truncated header ({len(data)} bytes)")
    magic, version, _, seq, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise SnapshotError(f"snapshot {name}: not a gpux snapshot (bad magic or version)")
    payload = memoryview(data)[HEADER.size:]
    if len(payload) != length:
        raise SnapshotError(f"snapshot {name}: truncated, {len(payload)} of {length} payload bytes")
    if hashlib.sha256(payload).digest() != digest:
        raise SnapshotError(f"snapshot {name}: SHA-256 mismatch")
    with zipfile.ZipFile(io.BytesIO(data)) as npz:  # zipfile allows for the header before the zip
        arrays = {info.filename.removesuffix(".npy"): _entry(name, data, info) for info in npz.infolist()}
    meta = json.loads(arrays.pop(_META).tobytes())
    return Snapshot(seq, arrays, meta)


_LOCAL_HEADER = struct.Struct("<4s22xHH")
"""A zip entry's local header: signature, then (after 22 bytes) its name's and extra field's lengths."""


def _entry(name: str, data: bytes, info: zipfile.ZipInfo) -> np.ndarray:
    """The array of one stored ``.npy`` entry of a snapshot's zip, a view of ``data``."""
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    if signature != b"PK\x03\x04" or info.compress_type != zipfile.ZIP_STORED:
        raise SnapshotError(f"snapshot {name}: entry {info.filename} is not a stored zip entry")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    head = io.BytesIO(data[start:start + min(info.file_size, 1 << 16)])
    try:
        if npy.read_magic(head) != (1, 0):
            raise ValueError("not a version 1.0 .npy entry")
        shape, fortran, dtype = npy.read_array_header_1_0(head)
        count = math.prod(shape)
        if dtype.hasobject or head.tell() + count * dtype.itemsize != info.file_size:
            raise ValueError("its header does not match its size")
    except ValueError as error:
        raise SnapshotError(f"snapshot {name}: entry {info.filename}: {error}") from None
    array = np.frombuffer(data, dtype, count, start + head.tell())
    return array.reshape(shape, order="F" if fortran else "C")


class SnapshotStore:
    """Snapshot files in one directory, newest by sequence number."""

    def __init__(self, directory: Path, ops: FileOps | None = None, keep: int = 3) -> None:
        self.directory = Path(directory)
        self.ops = ops or FileOps()
        self.keep = keep
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self.ops.fsync_dir(self.directory.parent)

    def files(self) -> list[Path]:
        """Snapshot files, oldest first."""
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def write(self, snapshot: Snapshot) -> Path:
        """Write a snapshot durably (streamed, see the module docstring), then drop all
        but the newest ``keep``. O(state size) in time, O(4 MiB) in memory."""
        path = self.directory / f"{snapshot.seq:020d}{SUFFIX}"
        with atomic_file(self.ops, path) as f:
            self.ops.write(f, bytes(HEADER.size))  # the placeholder of the header
            _write_payload(OpsWriter(self.ops, f, HEADER.size), snapshot)
            length, digest = _sha256_of(f.name, HEADER.size)
            f.seek(0)
            self.ops.write(f, _header(snapshot.seq, length, digest))
        for old in self.files()[: -self.keep]:
            old.unlink()
        return path

    def latest(self, restore: Callable[[Snapshot], T] = lambda snapshot: snapshot,  # type: ignore[assignment, return-value]
               ) -> tuple[T | None, LoadReport]:
        """``restore`` of the newest snapshot that loads and restores, and a report naming
        the newer ones that did not (damaged, or ``restore`` raised ValueError)."""
        report = LoadReport()
        for path in reversed(self.files()):
            try:
                restored = restore(decode(path.name, path.read_bytes()))
            except SnapshotError as error:
                report.skipped.append((path.name, str(error)))
                continue
            except (ValueError, OSError, KeyError) as error:
                report.skipped.append((path.name, f"snapshot {path.name}: cannot be restored: {error}"))
                continue
            report.loaded = path.name
            return restored, report
        return None, report
