"""The local-file journal: numbered segment files of framed command batches.

Rules enforced here:

* Records are appended in sequence order; a record's first seq is the last seq + 1.
* Segments are named by their first seq (``00000000000000000001.journal``); a new
  segment starts once the current one reaches ``segment_bytes``. Creating a segment
  fsyncs the directory.
* :meth:`FileJournal.sync` makes every appended record durable (group commit: one fsync
  for everything appended since the last one). A failed write or fsync poisons the
  journal: every later call raises :class:`JournalFailedError`.
* Opening scans the newest segment (``read_only`` reports, never changes): a torn tail
  (damage after which no whole record with a good checksum follows: an incomplete or garbled last write, zero fill) is
  truncated away and reported in :attr:`FileJournal.torn_tail`; damage followed by a
  valid record, or anywhere in an older segment, raises :class:`JournalCorruptError`
  naming the segment and offset.

Cost: append O(n) to encode and write; open O(size of the newest segment);
read O(records read).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exchange.journal import records
from exchange.journal.errors import JournalCorruptError, JournalFailedError
from exchange.journal.fileops import FileOps

SUFFIX = ".journal"
DEFAULT_SEGMENT_BYTES = 64 << 20


@dataclass(frozen=True)
class TornTail:
    """What opening cut from the end of the newest segment."""

    segment: str
    offset: int
    dropped_bytes: int


@dataclass(frozen=True)
class _Record:
    offset: int
    first_seq: int
    count: int
    length: int


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def _map(path: Path) -> memoryview:
    """The bytes of a file, memory-mapped read-only (no copy; empty files as b"")."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))


def _valid_record_after(data: memoryview, offset: int) -> bool:
    """Whether a whole record with a good checksum starts anywhere after ``offset``."""
    raw = data.obj
    at = raw.find(records.MAGIC, offset + 1)
    while at != -1:
        if len(raw) - at >= records.HEADER_SIZE:
            _, version, length, _, count, crc = records.parse_header(data, at)
            end = at + records.HEADER_SIZE + length
            if version == records.VERSION and count > 0 and end <= len(raw) and records.crc_ok(data, at, length, crc):
                return True
        at = raw.find(records.MAGIC, at + 1)
    return False


def _scan(path: Path, data: memoryview, expect_seq: int | None, tail: bool) -> tuple[list[_Record], int]:
    """Validate the records of a segment; (records, end of the valid prefix).

    With ``tail``, damage after which no valid record follows ends the valid prefix
    (a torn write); any other damage raises JournalCorruptError.
    """
    found: list[_Record] = []
    offset, size = 0, len(data)
    while offset < size:
        problem = None
        if size - offset < records.HEADER_SIZE:
            problem = "incomplete record header"
        else:
            magic, version, length, first, count, crc = records.parse_header(data, offset)
            end = offset + records.HEADER_SIZE + length
            if magic != records.MAGIC or version != records.VERSION:
                problem = "bad record magic or version"
            elif end > size:
                problem = f"record of {length} bytes runs past the end of the file"
            elif not records.crc_ok(data, offset, length, crc):
                problem = "checksum mismatch"
            elif expect_seq is not None and first != expect_seq:
                raise JournalCorruptError(path.name, offset, f"expected seq {expect_seq}, found {first}")
            elif count <= 0:
                raise JournalCorruptError(path.name, offset, "record holds no commands")
        if problem is not None:
            if tail and not _valid_record_after(data, offset):
                return found, offset
            raise JournalCorruptError(path.name, offset, problem)
        found.append(_Record(offset, first, count, length))
        expect_seq = first + count
        offset = end
    return found, offset


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
        self._file = None
        self._size = 0
        if read_only and not self.directory.is_dir():
            raise FileNotFoundError(f"no journal at {self.directory}")
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self.ops.fsync_dir(self.directory.parent)
        self.last_seq = self._open_tail()

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def _open_tail(self) -> int:
        """Truncate a torn tail of the newest segment; return the last durable seq."""
        while segments := self.segments():
            path = segments[-1]
            data = memoryview(path.read_bytes())
            found, end = _scan(path, data, None, tail=True)
            if end < len(data):
                self.torn_tail = TornTail(path.name, end, len(data) - end)
                if not self.read_only:
                    self.ops.truncate(path, end)
            if found:
                last = found[-1]
                self._current, self._size = path, end
                return last.first_seq + last.count - 1
            first = int(path.name[: -len(SUFFIX)])
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
        data = records.encode(batch)
        try:
            if self._file is None or self._size >= self.segment_bytes:
                self._rotate(first)
            self.ops.write(self._file, data)
        except OSError as error:
            raise self._fail("write", error) from error
        self._size += len(data)
        self.last_seq = first + len(batch) - 1

    def _rotate(self, first_seq: int) -> None:
        """Continue the current segment, or start a new one if it is full or absent."""
        if self._file is not None:
            self.ops.fsync(self._file)
            self._file.close()
        if self._current is None or self._size >= self.segment_bytes:
            self._current, self._size = self.directory / _segment_name(first_seq), 0
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

    def read(self, after_seq: int = 0) -> Iterator[np.ndarray]:
        """Command batches holding every seq above ``after_seq``, in order.

        Every record read is checked; damage raises JournalCorruptError, except a torn
        tail of the newest segment (possible only read-only), where reading stops.
        """
        segments = self.segments()
        firsts = [int(p.name[: -len(SUFFIX)]) for p in segments]
        needed = after_seq + 1  # the next seq the caller must get: a gap is corruption
        for i, path in enumerate(segments):
            if i + 1 < len(segments) and firsts[i + 1] <= needed:
                continue
            data = _map(path)
            found, _ = _scan(path, data, None, tail=i == len(segments) - 1)
            if found and found[0].first_seq != firsts[i]:
                raise JournalCorruptError(path.name, 0, f"first record is seq {found[0].first_seq}, "
                                                        f"not the {firsts[i]} the segment is named for")
            for rec in found:
                if rec.first_seq + rec.count - 1 < needed:
                    continue
                if rec.first_seq > needed:
                    raise JournalCorruptError(path.name, rec.offset, f"seq {needed}..{rec.first_seq - 1} "
                                                                     "are missing (a segment or record is lost)")
                start = rec.offset + records.HEADER_SIZE
                try:
                    batch = records.decode(data[start:start + rec.length], rec.count)
                except (ValueError, OSError) as error:
                    raise JournalCorruptError(path.name, rec.offset, f"undecodable payload: {error}") from None
                if batch["seq"][0] != rec.first_seq or np.any(np.diff(batch["seq"]) != 1):
                    raise JournalCorruptError(path.name, rec.offset, "sequence numbers do not match the header")
                yield batch[batch["seq"] >= needed] if rec.first_seq < needed else batch
                needed = rec.first_seq + rec.count

    def close(self) -> None:
        """Sync and close the current segment."""
        if self._file is not None:
            try:
                if self._failed is None:
                    self.sync()
            finally:
                self._file.close()
                self._file = None
