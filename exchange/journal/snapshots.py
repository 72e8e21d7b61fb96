"""Snapshots: the state of the market at a sequence number, checksummed.

A snapshot file ``snapshots/<seq, 20 digits>.snapshot`` is a 56-byte header::

    magic "GPXS" | version u16 | reserved u16 | seq i64 | payload length u64 | sha256 (32)

followed by the payload: an uncompressed ``.npz`` of named int64 arrays plus a JSON
metadata document (``__meta__``). Files are written whole or not at all (temp file,
fsync, rename, directory fsync). Loading checks the length and the SHA-256; a damaged
snapshot is reported by name and the next older one is tried, so recovery can always
fall back to replaying the journal from the start.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from exchange.journal.errors import SnapshotError
from exchange.journal.fileops import FileOps, write_atomically

MAGIC = b"GPXS"
VERSION = 1
HEADER = struct.Struct("<4sHHqQ32s")
SUFFIX = ".snapshot"
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


def encode(snapshot: Snapshot) -> bytes:
    """The bytes of a snapshot file. O(state size)."""
    buf = io.BytesIO()
    meta = np.frombuffer(json.dumps(snapshot.meta, sort_keys=True).encode(), np.uint8)
    arrays: dict[str, Any] = {**snapshot.arrays, _META: meta}
    np.savez(buf, **arrays)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).digest()
    return HEADER.pack(MAGIC, VERSION, 0, snapshot.seq, len(payload), digest) + payload


def decode(name: str, data: bytes) -> Snapshot:
    """The snapshot in the bytes of a file; :class:`SnapshotError` naming it if damaged."""
    if len(data) < HEADER.size:
        raise SnapshotError(f"snapshot {name}: truncated header ({len(data)} bytes)")
    magic, version, _, seq, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise SnapshotError(f"snapshot {name}: not a gpux snapshot (bad magic or version)")
    payload = data[HEADER.size:]
    if len(payload) != length:
        raise SnapshotError(f"snapshot {name}: truncated, {len(payload)} of {length} payload bytes")
    if hashlib.sha256(payload).digest() != digest:
        raise SnapshotError(f"snapshot {name}: SHA-256 mismatch")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    meta = json.loads(arrays.pop(_META).tobytes())
    return Snapshot(seq, arrays, meta)


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
        """Write a snapshot durably, then drop all but the newest ``keep``."""
        path = self.directory / f"{snapshot.seq:020d}{SUFFIX}"
        write_atomically(self.ops, path, encode(snapshot))
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
