"""The execution log: every execution record, in order, in one append-only file.

``<data dir>/executions/executions.log`` holds fixed-size records (EXEC_DTYPE, each with
a checksum of its words). The sequencer's writer appends each group's records after
applying it (:meth:`ExecLog.append`, one ``write``: the page cache keeps it through a
kill -9) and then hands them to the listeners (the gateway's live streams). A resume
reads an account's records after an ``exec_seq`` (:meth:`ExecLog.positions`,
:meth:`ExecLog.read`), finding them in ``executions.accounts`` beside the log (the
account of each record, 4 bytes; read from the file, so the process's memory does not
grow with the log).

The journal is the truth, the log a copy of what it implies. On open the file is
checked: a torn last write is cut off; a damaged record anywhere else, or numbering
that does not run 1, 2, 3, ... per account, marks the log :attr:`~ExecLog.damaged`.
While the node replays the journal tail, records the log already holds are not
written twice, and a record that would leave a gap (the log lost records that a
snapshot covers, e.g. after a power loss) marks it :attr:`~ExecLog.lagging`. Either way
the node rebuilds it from the whole journal (:meth:`ExecLog.reset`, then a replay); a
damaged file is kept beside it under a new name, which the log names.
"""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import njit

from exchange.executions.records import EXEC_DTYPE, X
from exchange.schema import record_words

log = logging.getLogger("gpux.executions")

RECORD_BYTES = EXEC_DTYPE.itemsize
_SCAN = 1 << 20
_MAP_READ = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
"""How the open check maps the files, which it reads whole: with every page mapped at
once where the OS can (MAP_POPULATE on Linux; a fault per page saved, about a third of
the CPU the mapping took)."""
"""Index entries read or written at a time."""
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
    _fnv_rows(values, out)
    return out.view(np.int64)


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


class ExecLog:
    """The execution records of one data directory (see the module docstring)."""

    FILE = "executions.log"
    INDEX = "executions.accounts"
    """Beside the log: the account of each record, by position (int32), what a resume
    scans. Derived from the log: checked against it on open, its tail rewritten from it
    where it is short or disagrees; not fsynced (a lost tail is rewritten the same way)."""

    def __init__(self, directory: Path, max_accounts: int) -> None:
        self.path = Path(directory) / self.FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._index_fd = os.open(self.path.with_name(self.INDEX), os.O_RDWR | os.O_CREAT, 0o644)
        self.max_accounts = max_accounts
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
        self._load()

    def _load(self) -> None:
        """Check the file and its account index (:func:`_check_records`, one pass over
        read-only maps of them, no copy); cut a torn last write; rewrite the index from
        the first entry that is missing or wrong. O(records)."""
        size = os.fstat(self._fd).st_size
        whole = size // RECORD_BYTES
        mapped = mmap.mmap(self._fd, whole * RECORD_BYTES, flags=_MAP_READ, prot=mmap.PROT_READ) if whole else b""
        data = np.frombuffer(mapped, EXEC_DTYPE, count=whole)
        indexed = os.fstat(self._index_fd).st_size // 4
        index_map = mmap.mmap(self._index_fd, indexed * 4, flags=_MAP_READ, prot=mmap.PROT_READ) if indexed else b""
        index = np.frombuffer(index_map, np.int32, count=indexed)
        counts = np.zeros(self.max_accounts, np.int64)
        status, at, agree = _check_records(record_words(data).view(np.uint64), counts, index)
        del index
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
        for start in range(agree, keep, _SCAN):
            self._write_index(data["exec_account"][start:min(keep, start + _SCAN)])
        del data
        if keep * RECORD_BYTES != size:
            self.torn_bytes = size - keep * RECORD_BYTES
            os.ftruncate(self._fd, keep * RECORD_BYTES)
        self.counts, self.n = counts, keep
        os.lseek(self._fd, 0, os.SEEK_END)

    def _write_index(self, accounts: np.ndarray) -> None:
        """Append records' accounts to the index file."""
        _write_all(self._index_fd, memoryview(accounts.astype(np.int32).tobytes()))

    def append(self, records: np.ndarray) -> None:
        """Write a group's records (EXEC_DTYPE, fresh: their check column is set here)
        and hand them to the listeners. While :attr:`checking`, records the log holds
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
        _fnv_rows(values, values[:, -1])  # the check column, in place
        _write_all(self._fd, words.data.cast("B"))  # the records' own bytes, no copy
        if not _count(words, self.counts):
            raise ExecLogError(f"an execution record names an account outside 0..{self.max_accounts - 1}")
        self._write_index(accounts)
        self.n += len(records)
        for listener in self.listeners:
            listener(records)

    def positions(self, account: int, after: int, upto: int) -> np.ndarray:
        """Positions in the file of ``account``'s records with exec_seq in ``after+1..upto``
        (its k-th record has exec_seq k): the index file read in pieces from the start,
        as far as the ``upto``-th. O(records in the log before it)."""
        found, seen, n = [], 0, self.n
        for start in range(0, n, _SCAN):
            count = min(_SCAN, n - start)
            piece = np.frombuffer(os.pread(self._index_fd, 4 * count, 4 * start), np.int32)
            if len(piece) != count:
                raise ExecLogError(f"{self.INDEX} ends before record {start + len(piece)}")
            found.append(np.flatnonzero(piece == account) + start)
            seen += len(found[-1])
            if seen >= upto:
                break
        return np.concatenate(found)[after:upto] if found else np.empty(0, np.int64)

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The records at ``positions`` (safe in another thread while appends go on: the
        file only grows). O(records read)."""
        out = np.empty(len(positions), EXEC_DTYPE)
        raw = out.view(np.uint8).reshape(len(positions), RECORD_BYTES)
        for i, position in enumerate(positions.tolist()):
            raw[i] = np.frombuffer(os.pread(self._fd, RECORD_BYTES, position * RECORD_BYTES), np.uint8)
        return out

    def reset(self) -> Path | None:
        """Empty the log to rebuild it; a damaged file is kept, renamed (its new path)."""
        kept = None
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
        return kept

    def sync(self) -> None:
        """Make everything appended durable (fsync)."""
        os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close the file (a second call does nothing)."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            os.close(self._index_fd)
            self._fd = -1
