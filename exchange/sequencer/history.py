"""The order history on disk: every order retired from the hot state, for exactly-once.

The order ledger (:mod:`exchange.sequencer.orders`) keeps live orders and those done since
the last retirement; the engine keeps their client order ids. A retirement moves the done
ones here, then the sequencer journals ``FORGET_DONE(through)`` and both forget them. A
retry of a client order id from weeks ago is still answered with the original order: the
sequencer marks it from this history (rule O9), the gateway reads the order back from it.

Files: ``<data dir>/history/orders-<through, 20 digits>.arrow``, one plain Arrow IPC file
per retirement (any Arrow tool reads it). Its rows are the orders done at seqs
``after < done_seq <= through``, one row per client order id an order had (its first,
any in between, its last; most orders have one), sorted by the key
``clord << ACCOUNT_BITS | account``; columns :data:`COLUMNS` (int64), plus ``by_id``:
the rows in order id order. The schema metadata holds ``after``, ``through``, the row
count, the SHA-256 of the columns and that of the key column alone. The content depends only on the rows retired
(deterministic). A file is written whole or not at all (temp file, fsync, rename,
directory fsync, through :class:`~exchange.journal.FileOps`) before the ``FORGET_DONE``
that names its ``through`` is journaled, so every id an engine forgot is on disk first.

Segments form a chain (each ``after`` is the previous ``through``). On open, the chain
ending at the ledger's ``forgotten_through`` (from the snapshot and the journal) is
kept; a file beyond it (written, its FORGET_DONE never journaled: a crash in between)
is deleted, as its orders are still in the hot ledger; a gap in the chain, a file
Arrow cannot open, or a checksum mismatch is a :class:`HistoryError` naming the file.

Lookups (files are memory-mapped; nothing is read whole):

* ``contains(keys)``: a Bloom filter over every key (16 bits and 4 probes per key,
  about 0.2 % false positives, rebuilt at double size as the history grows) answers
  "no" for most fresh ids in O(1); the few maybes are searched in each segment's sorted
  key column (``numpy.searchsorted``, O(log n) per segment, one call per segment for a
  whole batch). Memory: 2 bytes per key in the filter; the rest stays in the page cache.
* ``find(key)`` / ``get(order_id)``: O(segments * log n), reading a few pages.

Checks: opening a file checks its key column's SHA-256 (the keys decide exactly-once;
8 bytes an id, read anyway for the filter); the SHA-256 of all columns is checked the
first time a row of the file is read, so a long history opens without reading it all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from numba import njit

from exchange.engine.hashtable import home_slot
from exchange.journal import FileOps, JournalError

COLUMNS = ("key", "order_id", "account", "instrument", "side", "price", "qty", "filled", "leaves", "status",
           "first_clord", "clord", "accepted_seq", "done_seq")
"""Int64 columns of a history file, in order (``by_id`` follows them)."""
FORMAT = "1"
_NAME = re.compile(r"orders-(\d{20})\.arrow")
_BITS_PER_KEY = 16
_PROBES = 4
_MIN_CAPACITY = 1 << 16


class HistoryError(JournalError):
    """An order history file is missing, unreadable or fails its checksum."""


def _digest(columns: list[np.ndarray]) -> str:
    sha = hashlib.sha256()
    for column in columns:
        sha.update(np.ascontiguousarray(column, np.int64).tobytes())
    return sha.hexdigest()


def encode(rows: np.ndarray, after: int, through: int) -> pa.Table:
    """The table of a history file for ``rows`` (``(n, len(COLUMNS))`` int64, any order):
    sorted by key (then order id), with ``by_id`` and the metadata. O(n log n)."""
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows.reshape(0, len(COLUMNS))
    columns = [np.ascontiguousarray(rows[:, i]) for i in range(len(COLUMNS))]
    columns.append(np.argsort(columns[1], kind="stable").astype(np.int64))
    meta = {"format": FORMAT, "after": str(after), "through": str(through), "rows": str(len(rows)),
            "sha256": _digest(columns), "sha256_keys": _digest(columns[:1])}
    return pa.table({name: pa.array(c) for name, c in zip((*COLUMNS, "by_id"), columns)}, metadata=meta)


def write(directory: Path, ops: FileOps, rows: np.ndarray, after: int, through: int) -> Path:
    """Write the history file of the orders done in ``after < done_seq <= through``,
    durably (whole or not at all); its path. Safe to run on another thread."""
    table = encode(rows, after, through)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    path = directory / f"orders-{through:020d}.arrow"
    tmp = path.with_name(f".{path.name}.tmp")
    with ops.open_write(tmp) as f:
        ops.write(f, memoryview(sink.getvalue()))
        ops.fsync(f)
    ops.replace(tmp, path)
    return path


class Segment:
    """One history file, memory-mapped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._map = pa.memory_map(str(path))
            table = pa.ipc.open_file(self._map).read_all()
        except (pa.ArrowInvalid, OSError) as error:
            raise HistoryError(f"order history file {path.name} cannot be read (torn or damaged): {error}") from None
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        try:
            self.after, self.through, rows = int(meta["after"]), int(meta["through"]), int(meta["rows"])
            self.sha256, keys_sha256 = meta["sha256"], meta["sha256_keys"]
        except (KeyError, ValueError):
            raise HistoryError(f"order history file {path.name} has no valid metadata") from None
        if table.column_names != [*COLUMNS, "by_id"] or table.num_rows != rows or meta.get("format") != FORMAT:
            raise HistoryError(f"order history file {path.name}: unexpected columns, row count or format")
        self.columns = [_column(table, name) for name in table.column_names]
        self.keys = self.columns[0]
        if _digest([self.keys]) != keys_sha256:
            raise HistoryError(f"order history file {path.name}: SHA-256 mismatch in its keys")
        self._checked = False

    def __len__(self) -> int:
        return len(self.keys)

    def check(self) -> None:
        """Verify the SHA-256 of the columns (once); :class:`HistoryError` naming the file."""
        if not self._checked:
            if _digest(self.columns) != self.sha256:
                raise HistoryError(f"order history file {self.path.name}: SHA-256 mismatch")
            self._checked = True

    def row(self, i: int) -> list[int]:
        """Row ``i`` (checked): the :data:`COLUMNS` values."""
        self.check()
        return [int(c[i]) for c in self.columns[: len(COLUMNS)]]

    def find(self, key: int) -> list[int] | None:
        """The row of a key, or None. O(log n)."""
        i = int(np.searchsorted(self.keys, key))
        return self.row(i) if i < len(self.keys) and self.keys[i] == key else None

    def get(self, order_id: int) -> list[int] | None:
        """A row of an order id, or None. O(log n)."""
        ids, by_id = self.columns[1], self.columns[-1]
        lo, hi = 0, len(by_id)
        while lo < hi:  # binary search of ids in by_id order, without gathering them
            mid = (lo + hi) // 2
            if ids[by_id[mid]] < order_id:
                lo = mid + 1
            else:
                hi = mid
        return self.row(int(by_id[lo])) if lo < len(by_id) and ids[by_id[lo]] == order_id else None

    def close(self) -> None:
        self.columns = []
        self.keys = np.empty(0, np.int64)
        self._map.close()


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.type != pa.int64() or column.null_count:
        raise HistoryError(f"column {name} is not int64 without nulls")
    chunks = column.chunks
    return chunks[0].to_numpy(zero_copy_only=True) if len(chunks) == 1 else np.concatenate(
        [c.to_numpy() for c in chunks]) if chunks else np.empty(0, np.int64)


# ---------------------------------------------------------------- Bloom filter

@njit(cache=True, nogil=True)
def _probe(key, i, mask):
    """Bit ``i`` of a key's probes (double hashing)."""
    h1 = home_slot(key, mask)
    h2 = home_slot(key ^ 0x5DEECE66D, mask) | 1
    return (h1 + i * h2) & mask


@njit(cache=True, nogil=True)  # the history thread builds filters while the writer runs
def _bloom_add(bits, keys):
    mask = bits.shape[0] * 64 - 1
    for key in keys:
        for i in range(_PROBES):
            b = _probe(key, i, mask)
            bits[b >> 6] |= np.uint64(1) << np.uint64(b & 63)


@njit(cache=True, nogil=True)  # the history thread builds filters while the writer runs
def _bloom_maybe(bits, keys, out):
    mask = bits.shape[0] * 64 - 1
    for j in range(keys.shape[0]):
        hit = True
        for i in range(_PROBES):
            b = _probe(keys[j], i, mask)
            if not (bits[b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
                hit = False
                break
        out[j] = hit


@dataclass
class KeyFilter:
    """A Bloom filter with room for ``capacity`` keys (16 bits each)."""

    bits: np.ndarray
    capacity: int
    keys: int = 0

    @classmethod
    def of(cls, segments: list[Segment], extra: int = 0) -> KeyFilter:
        """A filter holding every key of ``segments``, with room for ``extra`` more. O(keys)."""
        total = sum(len(s) for s in segments)
        capacity = _MIN_CAPACITY
        while capacity < total + extra:
            capacity *= 2
        made = cls(np.zeros(capacity * _BITS_PER_KEY // 64, np.uint64), capacity)
        for s in segments:
            made.add(s.keys)
        return made

    def add(self, keys: np.ndarray) -> None:
        _bloom_add(self.bits, keys)
        self.keys += len(keys)

    def maybe(self, keys: np.ndarray) -> np.ndarray:
        out = np.zeros(len(keys), np.bool_)
        _bloom_maybe(self.bits, keys, out)
        return out


class OrderHistory:
    """The retired orders of a data directory (see the module docstring)."""

    def __init__(self, directory: Path, ops: FileOps | None = None) -> None:
        self.directory = Path(directory)
        self.ops = ops or FileOps()
        self.segments: list[Segment] = []
        self.filter = KeyFilter.of([])

    @classmethod
    def open(cls, directory: Path, ops: FileOps | None, forgotten_through: int) -> OrderHistory:
        """The history whose chain ends at ``forgotten_through`` (what the journal says
        was forgotten); files beyond it are deleted (their orders are still hot), temp
        files of an interrupted write too. :class:`HistoryError` if the chain is broken."""
        history = cls(directory, ops)
        if not history.directory.exists():
            history.directory.mkdir(parents=True)
            history.ops.fsync_dir(history.directory.parent)
        for tmp in history.directory.glob(".orders-*.tmp"):
            tmp.unlink()
        paths = {int(m.group(1)): p for p in history.directory.iterdir() if (m := _NAME.fullmatch(p.name))}
        chain: list[Segment] = []
        at = forgotten_through
        try:
            while at > 0:
                if at not in paths:
                    raise HistoryError(f"order history file orders-{at:020d}.arrow is missing: the journal "
                                       f"forgot the orders done up to seq {at}")
                segment = Segment(paths.pop(at))
                if not segment.after < segment.through == at:
                    raise HistoryError(f"order history file {segment.path.name} says it covers "
                                       f"{segment.after}..{segment.through}")
                chain.append(segment)
                at = segment.after
        except BaseException:
            for segment in chain:
                segment.close()
            raise
        for orphan in paths.values():  # never journaled as forgotten: its orders are hot
            orphan.unlink()
        if paths:
            history.ops.fsync_dir(history.directory)
        history.segments = chain[::-1]
        history.filter = KeyFilter.of(history.segments)
        return history

    @property
    def through(self) -> int:
        """Seq up to which done orders are here (0: none)."""
        return self.segments[-1].through if self.segments else 0

    def write(self, rows: np.ndarray, through: int) -> tuple[Segment, KeyFilter]:
        """Write the file for ``rows`` (done after :attr:`through`, up to ``through``) and
        the filter that includes them; hand both to :meth:`install` (in the writer). Runs
        on a background thread: it reads only the segments installed already."""
        path = write(self.directory, self.ops, rows, self.through, through)
        segment = Segment(path)
        segments = list(self.segments)
        if self.filter.keys + len(segment) <= self.filter.capacity:
            keys = KeyFilter(self.filter.bits.copy(), self.filter.capacity, self.filter.keys)
            keys.add(segment.keys)
        else:
            keys = KeyFilter.of([*segments, segment])
        return segment, keys

    def install(self, segment: Segment, keys: KeyFilter) -> None:
        """Make a written segment (and its filter) part of the lookups."""
        if segment.after != self.through:
            raise HistoryError(f"order history file {segment.path.name} does not follow seq {self.through}")
        self.segments.append(segment)
        self.filter = keys

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """For each key, whether the history holds it (exact). O(len(keys)) plus
        O(segments * log n) for the filter's maybes."""
        found = self.filter.maybe(keys) if self.segments else np.zeros(len(keys), np.bool_)
        if found.any():
            maybe = keys[found]
            hit = np.zeros(len(maybe), np.bool_)
            for segment in self.segments:
                at = np.minimum(np.searchsorted(segment.keys, maybe), max(len(segment) - 1, 0))
                if len(segment):
                    hit |= segment.keys[at] == maybe
            found[found] = hit
        return found

    def find(self, key: int) -> list[int] | None:
        """The :data:`COLUMNS` of the order that had this key, or None."""
        if not self.segments or not self.filter.maybe(np.array([key], np.int64))[0]:
            return None
        for segment in reversed(self.segments):
            row = segment.find(key)
            if row is not None:
                return row
        return None

    def get(self, order_id: int) -> list[int] | None:
        """The :data:`COLUMNS` of an order id, or None."""
        for segment in reversed(self.segments):
            row = segment.get(order_id)
            if row is not None:
                return row
        return None

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
        self.segments = []
