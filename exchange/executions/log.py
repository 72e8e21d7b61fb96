"""The execution log: every execution record, in order, in one append-only file.

``<data dir>/executions/executions.log`` holds fixed-size records (EXEC_DTYPE, each with
a checksum of its words). The sequencer's writer appends each group's records after
applying it (:meth:`ExecLog.append`, one ``write``: the page cache keeps it through a
kill -9) and then hands them to the listeners (the gateway's live streams). A resume
reads an account's records after an ``exec_seq`` (:meth:`ExecLog.positions`,
:meth:`ExecLog.read`), finding them in ``executions.accounts`` beside the log (the
account of each record, 4 bytes; read from the file, so the process's memory does not
grow with the log). The writer never fsyncs the log; its write-back (and its index's) is
started every few megabytes by a thread of its own
(:class:`~exchange.journal.writeback.WriteBehind`), so the journal's group commit never
waits behind a burst of it, and the marker thread fsyncs them only every
:data:`MARK_EVERY` records (the checked mark, below), when little is left to write.

The journal is the truth, the log a copy of what it implies. What is checked, when:

* **Every record read** (:meth:`ExecLog.read`) has its checksum checked; a damaged one is
  an :class:`ExecLogError` naming the file and the record, and the checked mark (below) is
  removed, so the next open checks the whole file and the node rebuilds it.
* **On open**, the records after the checked mark (all of them without a valid mark) are
  checked: a torn last write is cut off; a damaged record anywhere else, or numbering that
  does not run 1, 2, 3, ... per account, marks the log :attr:`~ExecLog.damaged`; the
  account index is compared with them and rewritten from its first entry missing or wrong.
* **The checked mark**, ``executions.checked`` beside the log (:class:`Mark`), says "the
  first N records and their N index entries were read from the files and checked as on
  open, and fsynced" and carries each account's count at N and the checksum word of
  record N-1, the whole under a SHA-256. It is written only then, atomically (temp file,
  fsync, rename), by a background thread: every :data:`MARK_EVERY` records appended (it
  fsyncs the files, reads the new records back and checks them), after an open that
  checked at least that many (it fsyncs what the open checked), and at
  :meth:`ExecLog.close` (in the caller). On open, a mark that is torn, fails its SHA-256, was made
  for another account limit, lies beyond the log's or the index's end, or whose record
  N-1 is not the one it names is named in a warning and ignored: the whole file is
  checked. So an open costs O(records since the mark), and a record before it that was
  damaged after it was checked is found when it is read, not on open.

While the node replays the journal tail, records the log already holds are not
written twice, and a record that would leave a gap (the log lost records that a
snapshot covers, e.g. after a power loss) marks it :attr:`~ExecLog.lagging`. Either way
the node rebuilds it from the whole journal (:meth:`ExecLog.reset`, then a replay); a
damaged file is kept beside it under a new name, which the log names.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from exchange.executions.records import EXEC_DTYPE, X
from exchange.journal.fileops import FileOps, write_atomically
from exchange.journal.writeback import WriteBehind
from exchange.schema import record_words

log = logging.getLogger("gpux.executions")

RECORD_BYTES = EXEC_DTYPE.itemsize
_SCAN = 1 << 20
"""Index entries read or written at a time."""
_MAP_READ = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
"""How the checks map the part of the files they read whole: with every page mapped at
once where the OS can (MAP_POPULATE on Linux; a fault per page saved, about a third of
the CPU the mapping took)."""
_MARK_PIECE = 1 << 13
"""Records the checked mark reads back at a time (~1.5 MB mapped at once: the mapped piece
counts in the server's RSS; all the ~190 MB between two marks showed as +188 MB every 1 M
records, pieces of 65,536 records as +12 MB every ~5 s of the soak)."""
MARK_EVERY = 1 << 20
"""Records appended between two checked marks (~180 MB of log; ~0.1 s of a background
thread's CPU to check, so an open after a kill -9 checks at most about that many)."""
_FNV_OFFSET, _FNV_PRIME = np.uint64(14695981039346656037), np.uint64(1099511628211)


_VALID, _DAMAGED, _OUTSIDE, _OUT_OF_LINE = 0, 1, 2, 3


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
def _check_records(values, counts, index):
    """Check the records of a log file (``values``: their words as uint64): the check
    column against the FNV-1a of :func:`_fnv_rows`, then, in the records before the
    first damaged one (a torn last write), that each account is within ``counts`` and
    that its records run exec_seq 1, 2, 3, ... (counting them into ``counts``), and how
    far the account ``index`` (int32 per record) agrees with them.

    Returns ``(_DAMAGED, i, 0)`` if record i is damaged and an intact one follows it;
    else ``(_OUTSIDE, 0, 0)`` if an account is outside, ``(_OUT_OF_LINE, 0, 0)`` if a
    numbering is; else ``(_VALID, records kept, index entries that agree)``.
    O(records), no allocation, without the GIL.
    """
    n, width = values.shape[0], values.shape[1]
    keep = n
    for i in range(n):
        h = _FNV_OFFSET
        for j in range(width - 1):
            h ^= values[i, j]
            h *= _FNV_PRIME
        if h != values[i, width - 1]:
            keep = min(keep, i)
        elif keep < n:
            return _DAMAGED, keep, 0
    in_line = True
    agree = min(keep, index.shape[0])
    for i in range(keep):
        account = np.int64(values[i, _ACCOUNT_AT])  # (int64 and uint64 would compare as floats)
        if account < 0 or account >= counts.shape[0]:
            return _OUTSIDE, 0, 0
        counts[account] += 1
        in_line = in_line and np.int64(values[i, _NUMBER_AT]) == counts[account]
        if i < agree and index[i] != account:
            agree = i
    return (_VALID, keep, agree) if in_line else (_OUT_OF_LINE, 0, 0)


def _write_all(fd: int, data: memoryview) -> None:
    """Write all of ``data`` at the file's position (``os.write`` may write less). O(bytes)."""
    while data:
        data = data[os.write(fd, data):]


class ExecLogError(RuntimeError):
    """The execution log cannot be used (and was not rebuilt)."""


def checksums(words: np.ndarray) -> np.ndarray:
    """FNV-1a over each row's words but the last (the check column), as int64; one
    compiled pass over the rows (:func:`_fnv_rows`). O(words)."""
    values = np.ascontiguousarray(words).view(np.uint64)
    out = np.empty(len(values), np.uint64)
    _fnv_into(values, out)
    return out.view(np.int64)


def _fnv_into(values: np.ndarray, out: np.ndarray) -> None:
    """:func:`_fnv_rows`. Its multiply wraps mod 2**64 on purpose, which numpy's scalar
    arithmetic (a ``NUMBA_DISABLE_JIT=1`` run) would warn about: not here. O(words)."""
    with np.errstate(over="ignore"):
        _fnv_rows(values, out)


def _checked_records(data: np.ndarray, counts: np.ndarray, index: np.ndarray) -> tuple[int, int, int]:
    """:func:`_check_records` of execution records ``data`` (``counts`` and ``index`` as
    there), its FNV wrapping quietly as in :func:`_fnv_into`. O(records)."""
    with np.errstate(over="ignore"):
        return _check_records(record_words(data).view(np.uint64), counts, index)


@njit(cache=True)
def _fnv_rows(values, out):
    """``out[i]``: FNV-1a of ``values[i, :-1]`` (uint64 words, multiplied mod 2**64); ``out``
    may be the last column itself. O(words)."""
    for i in range(values.shape[0]):
        h = _FNV_OFFSET
        for j in range(values.shape[1] - 1):
            h = (h ^ values[i, j]) * _FNV_PRIME
        out[i] = h


_ACCOUNT_AT, _NUMBER_AT = int(X.EXEC_ACCOUNT), int(X.EXEC_SEQ)  # type: ignore[attr-defined]  # X from EXEC_FIELDS


@njit(cache=True)
def _count(words, counts):
    """Per record (a row of ``words``): raise its account's count to its exec_seq; False
    (nothing more done) at an account outside ``counts``. O(records)."""
    for i in range(words.shape[0]):
        account = words[i, _ACCOUNT_AT]
        if account < 0 or account >= counts.shape[0]:
            return False
        counts[account] = max(counts[account], words[i, _NUMBER_AT])
    return True


@dataclass
class Mark:
    """The checked mark of a log (``executions.checked``): its first :attr:`records`
    records (and index entries) were fsynced and checked; :attr:`counts` are the
    accounts' counts after them, :attr:`last_check` the checksum word of the last one.

    File: ``MAGIC``, then int64 records, account limit, last_check, the counts (one per
    account), then the SHA-256 of all that (32 bytes)."""

    records: int
    last_check: int
    counts: np.ndarray

    MAGIC = b"GPUXEXM1"

    def encode(self) -> bytes:
        body = (self.MAGIC + np.array([self.records, len(self.counts), self.last_check], np.int64).tobytes()
                + self.counts.astype(np.int64).tobytes())
        return body + hashlib.sha256(body).digest()

    @classmethod
    def decode(cls, data: bytes, max_accounts: int) -> Mark:
        """The mark in ``data``; ValueError saying what is wrong with it."""
        head = len(cls.MAGIC) + 24
        if len(data) < head + 32 or data[:len(cls.MAGIC)] != cls.MAGIC:
            raise ValueError("not a checked mark (torn, or another format)")
        if hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise ValueError("SHA-256 mismatch")
        records, accounts, last_check = np.frombuffer(data, np.int64, 3, len(cls.MAGIC)).tolist()
        if accounts != max_accounts or len(data) != head + 8 * accounts + 32:
            raise ValueError(f"made for {accounts} accounts, not {max_accounts}")
        return cls(records, last_check, np.frombuffer(data, np.int64, accounts, head).copy())


def _map(fd: int, start: int, stop: int, dtype: np.dtype) -> np.ndarray:
    """Items ``start``..``stop`` of a file of ``dtype`` items, read-only from a map of
    just the pages that hold them (:data:`_MAP_READ`); the map closes with the array.
    Read-only when empty too: the kernels get one type (one compiled version)."""
    if stop <= start:
        return np.frombuffer(b"", dtype)
    first = start * dtype.itemsize // mmap.ALLOCATIONGRANULARITY * mmap.ALLOCATIONGRANULARITY
    mapped = mmap.mmap(fd, stop * dtype.itemsize - first, flags=_MAP_READ, prot=mmap.PROT_READ, offset=first)
    return np.frombuffer(mapped, dtype, stop - start, start * dtype.itemsize - first)


class ExecLog:
    """The execution records of one data directory (see the module docstring)."""

    FILE = "executions.log"
    INDEX = "executions.accounts"
    """Beside the log: the account of each record, by position (int32), what a resume
    scans. Derived from the log: checked against it on open after the checked mark, its
    tail rewritten from it where it is short or disagrees; fsynced only for a mark (a
    lost tail is rewritten the same way)."""
    MARK = "executions.checked"
    """Beside the log: its checked mark (:class:`Mark`)."""

    def __init__(self, directory: Path, max_accounts: int, mark_every: int = MARK_EVERY) -> None:
        self.path = Path(directory) / self.FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._index_fd = os.open(self.path.with_name(self.INDEX), os.O_RDWR | os.O_CREAT, 0o644)
        self.max_accounts = max_accounts
        self.mark_every = mark_every
        """Records appended between two checked marks."""
        self.counts = np.zeros(max_accounts, np.int64)
        """Records per account in the log: its last exec_seq."""
        self.n = 0
        """Records in the log (and entries in its index)."""
        self.damaged: str | None = None
        """Why the file cannot be trusted (set on open), else None."""
        self.lagging: str | None = None
        """Why the log cannot continue the journal's numbering (set while replaying), else None."""
        self.torn_bytes = 0
        """Bytes of a torn last write cut off on open."""
        self.checking = True
        """Whether appends skip records already held and check the numbering (recovery);
        off once the node runs, when every record is new."""
        self.listeners: list[Callable[[np.ndarray], None]] = []
        """Called with each appended group's records (in the writer; must return quickly)."""
        self.mark = Mark(0, 0, np.zeros(max_accounts, np.int64))
        """The checked mark on disk (0 records: none)."""
        self.checked_on_open = 0
        """Records the open check read (those after the mark)."""
        self._marking: Future[None] | None = None
        self._marker: ThreadPoolExecutor | None = None
        self._mark_lock = threading.Lock()  # the mark file: written by the marker, removed by a read
        self._load()
        self._behind = self._write_behind()

    def _write_behind(self) -> tuple[WriteBehind, WriteBehind]:
        """Write-back of the log and its index started as they grow (:mod:`~exchange.journal.writeback`:
        the writer never fsyncs the log, and the journal's group commit would otherwise
        wait behind its bursts of write-back)."""
        return (WriteBehind(self._fd, self.n * RECORD_BYTES, "executions"),
                WriteBehind(self._index_fd, self.n * 4, "executions-index"))

    def _load(self) -> None:
        """Check the records after the checked mark (all without a valid one) and their
        account index (:func:`_check_records`, one pass over read-only maps of them, no
        copy); cut a torn last write; rewrite the index from the first entry that is
        missing or wrong. O(records after the mark)."""
        size = os.fstat(self._fd).st_size
        whole = size // RECORD_BYTES
        indexed = os.fstat(self._index_fd).st_size // 4
        mark = self._read_mark(whole, indexed)
        start = mark.records
        counts = mark.counts.copy()
        data = _map(self._fd, start, whole, EXEC_DTYPE)
        index = _map(self._index_fd, start, indexed, np.dtype(np.int32))
        status, at, agree = _checked_records(data, counts, index)
        del index
        at, agree = at + start, agree + start
        self.checked_on_open = whole - start
        if status == _DAMAGED:
            self.damaged = f"{self.path}: record {at} (byte {at * RECORD_BYTES}) is damaged"
            return
        if status == _OUTSIDE:
            self.damaged = f"{self.path}: an account outside 0..{self.max_accounts - 1}"
            return
        if status == _OUT_OF_LINE:
            self.damaged = f"{self.path}: the exec_seq of an account does not run 1, 2, 3, ..."
            return
        keep = at  # the records before the end of a write that did not finish
        if agree < min(keep, indexed):
            log.warning("%s: entry %d does not match the log; rewritten from there", self.INDEX, agree)
        os.ftruncate(self._index_fd, agree * 4)
        os.lseek(self._index_fd, agree * 4, os.SEEK_SET)
        for piece in range(agree, keep, _SCAN):
            self._write_index(data["exec_account"][piece - start:min(keep, piece + _SCAN) - start])
        del data
        if keep * RECORD_BYTES != size:
            self.torn_bytes = size - keep * RECORD_BYTES
            os.ftruncate(self._fd, keep * RECORD_BYTES)
        self.mark, self.counts, self.n = mark, counts, keep
        os.lseek(self._fd, 0, os.SEEK_END)
        if keep - mark.records >= self.mark_every:  # checked just now: made durable, they need no second check
            self._marker = ThreadPoolExecutor(1, thread_name_prefix="gpux-exec-mark")
            self._marking = self._marker.submit(self._move_mark, keep, counts.copy())

    def _read_mark(self, records: int, indexed: int) -> Mark:
        """The checked mark if it is valid for a log of ``records`` records and ``indexed``
        index entries, else none (0 records; a warning names the file and what is wrong)."""
        path = self.path.with_name(self.MARK)
        none = Mark(0, 0, np.zeros(self.max_accounts, np.int64))
        try:
            mark = Mark.decode(path.read_bytes(), self.max_accounts)
        except FileNotFoundError:
            return none
        except ValueError as error:
            log.warning("%s: %s; checking the whole log", path, error)
            return none
        if mark.records > min(records, indexed):
            problem = f"says {mark.records} records were checked, the log holds {records} and its index {indexed}"
        elif mark.records and self._check_word(mark.records - 1) != mark.last_check:
            problem = f"names another record {mark.records - 1} than the log holds"
        else:
            return mark
        log.warning("%s: %s; checking the whole log", path, problem)
        return none

    def _check_word(self, position: int) -> int:
        """The check column of the record at ``position``, as written."""
        return int(np.frombuffer(os.pread(self._fd, 8, (position + 1) * RECORD_BYTES - 8), np.int64)[0])

    def _write_index(self, accounts: np.ndarray) -> None:
        """Append records' accounts to the index file."""
        _write_all(self._index_fd, memoryview(accounts.astype(np.int32).tobytes()))

    def append(self, records: np.ndarray) -> None:
        """Write a group's records (EXEC_DTYPE, fresh: their check column is set here)
        and hand them to the listeners; every :attr:`mark_every` records, have the marker
        thread check them and move the mark. While :attr:`checking`, records the log holds
        already are skipped and one that would leave a gap stops all writing
        (:attr:`lagging`). O(records)."""
        if self.damaged or self.lagging or not len(records):
            return
        accounts, numbers = records["exec_account"], records["exec_seq"]
        if self.checking:
            fresh = numbers > self.counts[accounts]
            if not fresh.all():
                records = records[fresh]
                accounts, numbers = records["exec_account"], records["exec_seq"]
                if not len(records):
                    return
            firsts, at = np.unique(accounts, return_index=True)
            if not np.array_equal(numbers[at], self.counts[firsts] + 1):
                self.lagging = (f"{self.path} ends before the journal's snapshot: account "
                                f"{int(firsts[0])} has {int(self.counts[firsts[0]])} records, the next one is "
                                f"exec_seq {int(numbers[at][0])}")
                return
        records = np.ascontiguousarray(records)
        words = record_words(records)
        values = words.view(np.uint64)
        _fnv_into(values, values[:, -1])  # the check column, in place
        _write_all(self._fd, words.data.cast("B"))  # the records' own bytes, no copy
        if not _count(words, self.counts):
            raise ExecLogError(f"an execution record names an account outside 0..{self.max_accounts - 1}")
        self._write_index(accounts)
        self.n += len(records)
        self._behind[0].grew(self.n * RECORD_BYTES)
        self._behind[1].grew(self.n * 4)
        if self.n - self.mark.records >= self.mark_every and (self._marking is None or self._marking.done()):
            if self._marking is not None:
                self._marking.result()  # the last one's error (an fsync that failed), if any
            self._marker = self._marker or ThreadPoolExecutor(1, thread_name_prefix="gpux-exec-mark")
            self._marking = self._marker.submit(self._move_mark, self.n)
        for listener in self.listeners:
            listener(records)

    def _move_mark(self, through: int, checked: np.ndarray | None = None) -> None:
        """Fsync the log and its index, check records ``mark.records..through`` as read
        back from them (and their index entries), then write the mark at ``through``
        (atomically); ``checked``: the counts at ``through`` when the open has just checked
        those records (the fsync then makes durable what it read). The records are read in
        pieces of :data:`_MARK_PIECE`, each mapped only while it is checked. A check that fails
        leaves the mark where it was (logged): the next open checks from there.
        O(records since the mark), mostly without the GIL."""
        os.fsync(self._fd)
        os.fsync(self._index_fd)
        since = self.mark
        start, counts = since.records, since.counts.copy() if checked is None else checked
        for piece in range(start, through if checked is None else start, _MARK_PIECE):
            end = min(piece + _MARK_PIECE, through)
            data = _map(self._fd, piece, end, EXEC_DTYPE)
            index = _map(self._index_fd, piece, end, np.dtype(np.int32))
            result = _checked_records(data, counts, index)
            del data, index
            if result != (_VALID, end - piece, end - piece):
                log.error("%s: records %d..%d do not check as written (%s at record %d..); the checked mark "
                          "stays at %d", self.path, start, through - 1, result, piece, start)
                return
        mark = Mark(through, self._check_word(through - 1), counts)
        with self._mark_lock:
            if self.mark is since:  # not removed meanwhile by a read that found damage
                write_atomically(FileOps(), self.path.with_name(self.MARK), mark.encode())
                self.mark = mark

    def _drop_mark(self) -> None:
        """Remove the checked mark (the next open checks the whole log); a mark being
        moved meanwhile is not written."""
        with self._mark_lock:
            self.path.with_name(self.MARK).unlink(missing_ok=True)
            self.mark = Mark(0, 0, np.zeros(self.max_accounts, np.int64))

    def positions(self, account: int, after: int, upto: int) -> np.ndarray:
        """Positions in the file of ``account``'s records with exec_seq in ``after+1..upto``
        (its k-th record has exec_seq k; ``upto`` at most its count): the index file read
        in pieces from the start, as far as the ``upto``-th. An index that lists fewer is
        an :class:`ExecLogError` (:meth:`_damaged`). O(records in the log before it)."""
        found, seen, n = [], 0, self.n
        for start in range(0, n, _SCAN):
            count = min(_SCAN, n - start)
            piece = np.frombuffer(os.pread(self._index_fd, 4 * count, 4 * start), np.int32)
            if len(piece) != count:
                raise self._damaged(f"{self.INDEX} ends before record {start + len(piece)}")
            found.append(np.flatnonzero(piece == account) + start)
            seen += len(found[-1])
            if seen >= upto:
                break
        if seen < upto:
            raise self._damaged(f"{self.INDEX} lists {seen} records of account {account}, the log {upto}")
        return np.concatenate(found)[after:upto] if found else np.empty(0, np.int64)

    def read(self, positions: np.ndarray, account: int | None = None) -> np.ndarray:
        """The records at ``positions``, their checksums checked and, with ``account``,
        that they are that account's (so the index that gave the positions is checked
        where it is used); safe in another thread while appends go on (the file only
        grows). A damaged record or index entry is an :class:`ExecLogError` naming it
        (:meth:`_damaged`). O(records read)."""
        out = np.empty(len(positions), EXEC_DTYPE)
        raw = out.view(np.uint8).reshape(len(positions), RECORD_BYTES)
        for i, position in enumerate(positions.tolist()):
            raw[i] = np.frombuffer(os.pread(self._fd, RECORD_BYTES, position * RECORD_BYTES), np.uint8)
        bad = np.flatnonzero(checksums(record_words(out)) != out["check"])
        if len(bad):
            at = int(positions[bad[0]])
            raise self._damaged(f"{self.path}: record {at} (byte {at * RECORD_BYTES}) is damaged")
        if account is not None and (out["exec_account"] != account).any():
            i = int(np.argmax(out["exec_account"] != account))
            raise self._damaged(f"{self.INDEX}: entry {int(positions[i])} says account {account}, "
                                f"the record is account {int(out['exec_account'][i])}'s")
        return out

    def _damaged(self, why: str) -> ExecLogError:
        """The error for damage found after the open (logged): the checked mark is
        removed, so the next open checks the whole log and its index (and the node
        rebuilds what is wrong)."""
        log.error("%s; the checked mark is removed", why)
        self._drop_mark()
        return ExecLogError(why)

    def reset(self) -> Path | None:
        """Empty the log to rebuild it; a damaged file is kept, renamed (its new path)."""
        if self._marking is not None:
            self._marking.result()  # its maps of the files end with it
        self._drop_mark()
        kept = None
        for behind in self._behind:
            behind.close()
        if self.damaged:
            kept = self.path.with_name(f"{self.FILE}.damaged-{os.getpid()}")
            os.replace(self.path, kept)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._index_fd, 0)
        os.lseek(self._index_fd, 0, os.SEEK_SET)
        self.counts[:] = 0
        self.n = 0
        self.damaged = self.lagging = None
        self._behind = self._write_behind()
        return kept

    def sync(self) -> None:
        """Make everything appended durable (fsync)."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Move the checked mark to the end (an intact log: fsync, check, mark) and close
        the files (a second call does nothing)."""
        if self._fd < 0:
            return
        for behind in self._behind:
            behind.close()
        if self._marking is not None:
            self._marking.result()
        if self._marker is not None:
            self._marker.shutdown()
        if self.damaged or self.lagging or self.n <= self.mark.records:
            os.fsync(self._fd)
        else:
            self._move_mark(self.n)
        os.close(self._fd)
        os.close(self._index_fd)
        self._fd = -1
