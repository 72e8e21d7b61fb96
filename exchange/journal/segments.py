"""The local-file journal: numbered segment files of journal records.

Rules enforced here:

* Records (:mod:`exchange.journal.records`, one per appended batch) are appended in
  sequence order; a record's first seq is the last seq + 1.
* Segments are named by their first seq (``00000000000000000001.journal``); a new
  segment starts once the current one reaches ``segment_bytes``. Creating a segment
  fsyncs the directory.
* :meth:`FileJournal.sync` makes every appended record durable (group commit: one fsync
  for everything appended since the last one). A failed write or fsync poisons the
  journal: every later call raises :class:`JournalFailedError`.
* Opening scans the newest segment (``read_only`` reports, never changes): a torn tail
  (damage after which no intact record follows: an incomplete or garbled last write,
  zero fill) is truncated away and reported in :attr:`FileJournal.torn_tail`; damage
  followed by an intact record, or anywhere in an older segment, raises
  :class:`JournalCorruptError` naming the segment and offset.
* Segments written by an older gpux (record format 1, :mod:`exchange.journal.legacy`)
  are read as they are; new records are appended after them in the current format.
* :meth:`FileJournal.read` yields batches of up to about :data:`READ_BATCH` commands,
  joining the records of small groups (a replay does not depend on where groups ended,
  but for the kinds it asks to get as whole groups of their own);
  :meth:`FileJournal.groups` yields one batch per record.

Cost: append O(n); open O(size of the newest segment); read O(commands read); both
vectorised over records (no Python per record of the current format).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from exchange.journal import records
from exchange.journal.errors import JournalCorruptError, JournalFailedError
from exchange.journal.fileops import FileOps

SUFFIX = ".journal"
DEFAULT_SEGMENT_BYTES = 64 << 20
READ_BATCH = 1 << 16
"""Commands per batch that :meth:`FileJournal.read` aims at (whole records)."""


@dataclass(frozen=True)
class TornTail:
    """What opening cut from the end of the newest segment."""

    segment: str
    offset: int
    dropped_bytes: int


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def _first_seq(path: Path) -> int:
    """The seq of the first command a segment holds: the number its file is named for."""
    return int(path.name[: -len(SUFFIX)])


def _map(path: Path) -> memoryview:
    """The bytes of a file, memory-mapped read-only (no copy; empty files as b"")."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))


def _identity(path: Path) -> tuple[int, int, int]:
    """Inode, size and mtime of a file: unchanged while nothing writes it."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _scan(path: Path, data: memoryview, tail: bool) -> tuple[np.ndarray, int, int]:
    """:func:`records.scan` of a segment, its damage named as JournalCorruptError."""
    try:
        return records.scan(data, tail)
    except records.BadRecord as error:
        raise JournalCorruptError(path.name, error.offset, error.problem) from None


def _cut_around_groups(batch: np.ndarray, counts: np.ndarray, kinds: tuple[int, ...]) -> list[np.ndarray]:
    """The batch (records of ``counts`` commands each) cut before and after every record
    that holds a command of one of ``kinds``. O(commands)."""
    special = np.flatnonzero(np.isin(batch["kind"], kinds)) if kinds else ()
    if not len(special):
        return [batch]
    ends = np.cumsum(counts)
    groups = np.unique(np.searchsorted(ends, special, side="right"))
    cuts = np.unique(np.concatenate([ends[groups] - counts[groups], ends[groups]]))
    return np.split(batch, cuts[(cuts > 0) & (cuts < len(batch))])


class FileJournal:
    """Journal of command batches in segment files under one directory.

    Implements the journal interface: :meth:`append`, :meth:`sync`, :meth:`read`,
    :attr:`last_seq`, :meth:`close`. One writer at a time.
    """

    def __init__(self, directory: Path, ops: FileOps | None = None,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, read_only: bool = False) -> None:
        self.directory = Path(directory)
        self.ops = ops or FileOps()
        self.segment_bytes = segment_bytes
        self.read_only = read_only
        self.torn_tail: TornTail | None = None
        self._failed: JournalFailedError | None = None
        self._file: BinaryIO | None = None
        self._current: Path | None = None
        self._size = 0
        self.appended_bytes = 0
        """Bytes of records appended since this journal was opened."""
        self._chain = 0  # running CRC-32 of the current segment (records.encode)
        self._scanned: tuple[Path, tuple[int, int, int], np.ndarray] | None = None
        """The newest segment's table of records as opening found it, and the file's
        inode, size and mtime then: the first read() uses it if they are unchanged
        (recovery reads right after opening); dropped then or at the first append."""
        if read_only and not self.directory.is_dir():
            raise FileNotFoundError(f"no journal at {self.directory}")
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self.ops.fsync_dir(self.directory.parent)
        self.last_seq = self._open_tail()

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def bytes_after(self, seq: int) -> int:
        """About how many bytes of the journal hold the commands after ``seq`` (what a
        restart from a snapshot at ``seq`` replays): the segments after the one holding
        ``seq + 1`` whole, that one in proportion to its commands after ``seq``. O(segments)."""
        segments = self.segments()
        firsts = [_first_seq(p) for p in segments]
        ends = [*firsts[1:], self.last_seq + 1]  # one past each segment's last seq
        total = 0
        for path, first, end in zip(segments, firsts, ends):
            if end > seq + 1:
                size = path.stat().st_size
                total += size if first > seq else size * (end - seq - 1) // (end - first)
        return total

    def _open_tail(self) -> int:
        """Truncate a torn tail of the newest segment; return the last durable seq."""
        while segments := self.segments():
            path = segments[-1]
            data = _map(path)
            table, end, chain = _scan(path, data, tail=True)
            size = len(data)
            del data  # unmapped before a cut
            if end < size:
                self.torn_tail = TornTail(path.name, end, size - end)
                if not self.read_only:
                    self.ops.truncate(path, end)
            self._scanned = path, _identity(path), table
            if len(table):
                self._current, self._size, self._chain = path, end, chain
                return int(table["first"][-1] + table["count"][-1] - 1)
            first = _first_seq(path)
            if len(segments) == 1 or self.read_only:
                self._current, self._size = path, 0
                return first - 1
            path.unlink()  # an empty newest segment: its predecessor holds the tail
            self.ops.fsync_dir(self.directory)
        self._current, self._size = None, 0
        return 0

    def _check(self) -> None:
        if self._failed is not None:
            raise JournalFailedError(f"journal {self.directory} failed earlier: {self._failed}")

    def _fail(self, what: str, error: OSError) -> JournalFailedError:
        self._failed = JournalFailedError(f"{what} failed in {self.directory}: {error}")
        return self._failed

    def append(self, batch: np.ndarray) -> None:
        """Append a batch whose seqs continue the journal (not yet durable: see sync)."""
        self._check()
        if self.read_only:
            raise JournalFailedError(f"journal {self.directory} is open read-only")
        if not len(batch):
            return
        first = int(batch["seq"][0])
        if first != self.last_seq + 1 or int(batch["seq"][-1]) != first + len(batch) - 1:
            raise ValueError(f"journal: batch seqs must run from {self.last_seq + 1} without gaps")
        for start in range(0, len(batch), records.MAX_COMMANDS):
            self._append_record(batch[start:start + records.MAX_COMMANDS])

    def _append_record(self, batch: np.ndarray) -> None:
        first = int(batch["seq"][0])
        self._scanned = None
        try:
            if self._file is None or self._size >= self.segment_bytes:
                self._rotate(first)
        except OSError as error:
            raise self._fail("write", error) from error
        data, chain = records.encode(batch, self._chain)
        assert self._file is not None  # _rotate opened one
        try:
            self.ops.write(self._file, data)
        except OSError as error:
            raise self._fail("write", error) from error
        self._size += len(data)
        self.appended_bytes += len(data)
        self._chain = chain
        self.last_seq = first + len(batch) - 1

    def _rotate(self, first_seq: int) -> None:
        """Continue the current segment, or start a new one if it is full or absent."""
        if self._file is not None:
            self.ops.fsync(self._file)
            self._file.close()
        if self._current is None or self._size >= self.segment_bytes:
            self._current, self._size, self._chain = self.directory / _segment_name(first_seq), 0, 0
            self._file = self.ops.open_append(self._current)
            self.ops.fsync_dir(self.directory)
        else:
            self._file = self.ops.open_append(self._current)

    def sync(self) -> None:
        """Make every appended record durable (one fsync)."""
        self._check()
        if self._file is not None:
            try:
                self.ops.fsync(self._file)
            except OSError as error:
                raise self._fail("fsync", error) from error

    def read(self, after_seq: int = 0, whole_groups_of: tuple[int, ...] = ()) -> Iterator[np.ndarray]:
        """Command batches holding every seq above ``after_seq``, in order; a group
        (record) holding a command of a kind in ``whole_groups_of`` comes as a batch of
        its own, as it was appended.

        Every record read is checked; damage raises JournalCorruptError, except a torn
        tail of the newest segment (possible only read-only), where reading stops.
        """
        needed = after_seq + 1
        for chunk, counts in self._chunks(after_seq):
            for batch in _cut_around_groups(chunk, counts, whole_groups_of):
                if batch["seq"][-1] < needed:
                    continue
                yield batch[batch["seq"] >= needed] if batch["seq"][0] < needed else batch
                needed = int(batch["seq"][-1]) + 1

    def groups(self) -> Iterator[np.ndarray]:
        """Every record as a batch of its own: the groups as they were appended (what
        tools and tests look at; :meth:`read` is faster)."""
        for batch, counts in self._chunks(0):
            yield from np.split(batch, np.cumsum(counts)[:-1])

    def _chunks(self, after_seq: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(batch, commands of each of its records) for the whole records that hold
        every seq above ``after_seq``, about READ_BATCH commands at a time."""
        segments = self.segments()
        firsts = [_first_seq(p) for p in segments]
        needed = after_seq + 1  # the next seq the caller must get: a gap is corruption
        scanned, self._scanned = self._scanned, None
        for i, path in enumerate(segments):
            if i + 1 < len(segments) and firsts[i + 1] <= needed:
                continue
            data = _map(path)
            if scanned is not None and scanned[0] == path and scanned[1] == _identity(path):
                table = scanned[2]  # checked on open, unchanged since
            else:
                table, _, _ = _scan(path, data, tail=i == len(segments) - 1)
            if len(table) and table["first"][0] != firsts[i]:
                raise JournalCorruptError(path.name, 0, f"first record is seq {int(table['first'][0])}, "
                                                        f"not the {firsts[i]} the segment is named for")
            table = table[table["first"] + table["count"] > needed]
            if not len(table):
                continue
            if table["first"][0] > needed:
                raise JournalCorruptError(path.name, int(table["offset"][0]),
                                          f"seq {needed}..{int(table['first'][0]) - 1} are missing "
                                          "(a segment or record is lost)")
            chunk = (np.cumsum(table["count"]) - table["count"]) // READ_BATCH
            bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), len(table)]
            for start, stop in zip(bounds[:-1], bounds[1:]):
                rows = table[start:stop]
                try:
                    batch = records.decode(data, rows)
                except records.BadRecord as error:
                    raise JournalCorruptError(path.name, error.offset, error.problem) from None
                yield batch, rows["count"]
            needed = int(table["first"][-1] + table["count"][-1])

    def close(self) -> None:
        """Sync and close the current segment."""
        if self._file is not None:
            try:
                if self._failed is None:
                    self.sync()
            finally:
                self._file.close()
                self._file = None
