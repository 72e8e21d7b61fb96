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

Lookups (nothing stays mapped: a lookup reads the few blocks it needs with ``pread``, so
the process's memory does not grow with the history; the page cache is the kernel's):

* ``contains(keys)``: a Bloom filter over every key (:mod:`exchange.sequencer.keyfilter`;
  a successor of double size is filled ahead as the history grows, a few older files'
  keys per retirement, see :meth:`OrderHistory.write`; it is saved beside the files,
  ``keys.filter``, so an open does not rebuild it from every key) answers "no" for most
  fresh ids in O(1); each of the few maybes is looked up in the segments whose key
  range holds it: the segment's fence keys (every :data:`FENCE`-th key, kept in memory)
  name the one 4 KiB block of its sorted key column to read and search.
  Memory: 2 bytes per key in the filter, 1/64 byte per key in fences.
* ``find(key)``: the same, then the row's columns read; ``get(order_id)``: a binary
  search of single reads in each segment whose order id range holds it.

Checks: opening a file checks its key column's SHA-256 (the keys decide exactly-once;
8 bytes an id, read once, for the fences and for the filter when it is built); the
SHA-256 of all columns is checked the first time a row of the file is read, so a long
history opens without reading it all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from numba import njit

from exchange.journal import FileOps, JournalError
from exchange.journal.fileops import OpsWriter, atomic_file
from exchange.sequencer.keyfilter import FILTER, KeyFilter, identity_of, load_filter, save_filter

log = logging.getLogger("gpux.history")
COLUMNS = ("key", "order_id", "account", "instrument", "side", "price", "qty", "filled", "leaves", "status",
           "first_clord", "clord", "accepted_seq", "done_seq")
"""Int64 columns of a history file, in order (``by_id`` follows them)."""
FORMAT = "1"
_NAME = re.compile(r"orders-(\d{20})\.arrow")
FENCE = 512
"""Keys per block of a history file's key column (4 KiB): one fence key in memory each."""
_CHUNK = 1 << 17
GROW_FROM = 3 / 4
"""A filter holding more keys than this share of its capacity gets a successor of twice
its capacity, filled ahead after the retirements' writes (:meth:`OrderHistory.after_write`)."""
CATCH_UP = 8
"""Each write has at least this many times its own keys' worth of older files added to
the successor (at least one file), so no write reads every key column, and the successor
holds every file before the filter in use runs out of room: the files fall behind by one
write's keys per write and catch up by 8, so the 3/4 of the capacity held at
:data:`GROW_FROM` take 3/28 of it in new keys, plus two writes, under the 1/4 left (for
writes of up to 1/16 of the capacity; the soak's are 100,800 keys, 1/83 of 8.4 M). A
filter an open finds fuller than that (a saved one, or rebuilt to fit) may pass its
capacity before the successor catches up: more maybes until then, never a miss."""
SAVE_EVERY = 1 << 20
"""Keys added to the filter since its last save before the retirement thread saves it again
(the file is 2 bytes a key of capacity: 32 MiB at 8-16 M keys), after the write
(:meth:`OrderHistory.after_write`)."""


class HistoryError(JournalError):
    """An order history file is missing, unreadable or fails its checksum."""


def _digest(values: np.ndarray) -> str:
    """SHA-256 (hex) of int64 values in C order: a column, or a file's columns one after
    another (a ``(columns, rows)`` array). O(values), no copy of contiguous int64."""
    return hashlib.sha256(np.ascontiguousarray(values, np.int64).data).hexdigest()


@njit(cache=True, nogil=True)
def _columns(rows, order):
    """A history file's columns: the ``rows`` in ``order``, column by column, then
    ``by_id``, the positions of those rows in order-id order (stable); one
    ``(len(COLUMNS) + 1, n)`` array. O(n log n)."""
    n, width = rows.shape
    out = np.empty((width + 1, n), np.int64)
    for i in range(n):
        row = order[i]
        for c in range(width):
            out[c, i] = rows[row, c]
    out[width] = np.argsort(out[1], kind="mergesort")
    return out


def encode(rows: np.ndarray, after: int, through: int) -> pa.Table:
    """The table of a history file for ``rows`` (``(n, len(COLUMNS))`` int64, any order):
    sorted by key (then order id), with ``by_id`` and the metadata. O(n log n), in a few
    calls that let go of the GIL (it runs in the history thread beside the event loop,
    and every call that takes the GIL back is a hand-over the loop may wait for; the
    columns are one array, so one SHA-256 pass reads them all, in order)."""
    rows = rows.reshape(-1, len(COLUMNS))
    columns = _columns(rows, np.lexsort((rows[:, 1], rows[:, 0])))
    meta = {"format": FORMAT, "after": str(after), "through": str(through), "rows": str(len(rows)),
            "sha256": _digest(columns), "sha256_keys": _digest(columns[0])}
    return pa.table({name: pa.array(c) for name, c in zip((*COLUMNS, "by_id"), columns)}, metadata=meta)


def write(directory: Path, ops: FileOps, rows: np.ndarray, after: int, through: int) -> Path:
    """Write the history file of the orders done in ``after < done_seq <= through``,
    durably (whole or not at all); its path. Arrow's writer streams the table to the file
    (the file built in memory first was 13 MB more at a retirement of 112,000 orders).
    Safe to run on another thread."""
    table = encode(rows, after, through)
    path = directory / f"orders-{through:020d}.arrow"
    with atomic_file(ops, path) as f, pa.ipc.new_file(OpsWriter(ops, f), table.schema) as writer:
        writer.write_table(table)
    return path


class Segment:
    """One history file, read where needed with ``pread``: nothing of it stays mapped.

    Opening reads the file's metadata and where each column lies in it (through a memory
    map closed right away), then the key column once: its SHA-256 is checked and every
    :data:`FENCE`-th key is kept (the fence keys: 1/64 byte a row). A key is then looked
    up by reading the one block of :data:`FENCE` keys its fences point to; an order id by
    a binary search of single reads in ``by_id`` order, if within the segment's ids."""

    def __init__(self, path: Path, on_keys: Callable[[Segment, np.ndarray], None] | None = None) -> None:
        """Open and check the file; ``on_keys`` is given the key column read for that."""
        self.path = path
        try:
            with pa.memory_map(str(path)) as mapped:
                base = mapped.read_buffer(1).address if mapped.size() else 0
                mapped.seek(0)
                reader = pa.ipc.open_file(mapped)
                meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
                try:
                    self.after, self.through, self.rows = int(meta["after"]), int(meta["through"]), int(meta["rows"])
                    self.sha256, self.keys_sha256 = meta["sha256"], meta["sha256_keys"]
                except (KeyError, ValueError):
                    raise HistoryError(f"order history file {path.name} has no valid metadata") from None
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
                if (reader.schema.names != [*COLUMNS, "by_id"] or meta.get("format") != FORMAT
                        or sum(b.num_rows for b in batches) != self.rows or len(batches) > 1
                        or any(t != pa.int64() for t in reader.schema.types)
                        or any(c.null_count for b in batches for c in b.columns)):
                    raise HistoryError(f"order history file {path.name}: unexpected columns, row count or format")
                self._offsets = [c.buffers()[1].address - base + 8 * c.offset for c in batches[0].columns] \
                    if self.rows else []
                """Where each column's first value is in the file."""
        except (pa.ArrowInvalid, OSError) as error:
            raise HistoryError(f"order history file {path.name} cannot be read (torn or damaged): {error}") from None
        keys = self.keys()
        self.fences = keys[::FENCE].copy()
        self.last_key = int(keys[-1]) if self.rows else -1
        if on_keys is not None:
            on_keys(self, keys)
        with _File(self.path) as f:
            first, last = (f.read(self._offsets[-1] + 8 * i, 1)[0] for i in (0, self.rows - 1)) \
                if self.rows else (0, 0)
            self.ids = (int(f.read(self._offsets[1] + 8 * first, 1)[0]),
                        int(f.read(self._offsets[1] + 8 * last, 1)[0])) if self.rows else (1, 0)
            """The lowest and the highest order id here."""
        self._checked = False

    def __len__(self) -> int:
        return self.rows

    def keys(self) -> np.ndarray:
        """The key column, read whole (sorted) and checked against its SHA-256 (each time:
        a filter filled from a file damaged since its open would answer "no" for its
        keys); :class:`HistoryError` naming the file. O(rows)."""
        with _File(self.path) as f:
            keys = f.read(self._offsets[0], self.rows) if self.rows else np.empty(0, np.int64)
        if _digest(keys) != self.keys_sha256:
            raise HistoryError(f"order history file {self.path.name}: SHA-256 mismatch in its keys")
        return keys

    def column(self, name: str) -> np.ndarray:
        """A column (of :data:`COLUMNS`), read whole, checked."""
        self.check()
        with _File(self.path) as f:
            return f.read(self._offsets[COLUMNS.index(name)], self.rows)

    def check(self) -> None:
        """Verify the SHA-256 of the columns (once, reading them in 1 MiB pieces);
        :class:`HistoryError` naming the file."""
        if self._checked:
            return
        sha = hashlib.sha256()
        with _File(self.path) as f:
            for offset in self._offsets:
                for at in range(0, self.rows, _CHUNK):
                    sha.update(f.read(offset + 8 * at, min(_CHUNK, self.rows - at)).data)
        if sha.hexdigest() != self.sha256:
            raise HistoryError(f"order history file {self.path.name}: SHA-256 mismatch")
        self._checked = True

    def row(self, i: int) -> list[int]:
        """Row ``i`` (checked): the :data:`COLUMNS` values."""
        self.check()
        with _File(self.path) as f:
            return [int(f.read(offset + 8 * i, 1)[0]) for offset in self._offsets[: len(COLUMNS)]]

    def holds(self, keys: np.ndarray) -> np.ndarray:
        """For each key, whether this file has it: one block read per key within its
        range. O(len(keys) * FENCE)."""
        found = np.zeros(len(keys), np.bool_)
        inside = np.flatnonzero((keys >= (self.fences[0] if self.rows else 1)) & (keys <= self.last_key))
        if len(inside):
            with _File(self.path) as f:
                for j in inside.tolist():
                    found[j] = self._locate(f, int(keys[j])) >= 0
        return found

    def _locate(self, f: _File, key: int) -> int:
        """The row of a key, or -1: the block its fence keys point to, read and searched."""
        start = (int(np.searchsorted(self.fences, key, "right")) - 1) * FENCE
        if start < 0 or key > self.last_key:
            return -1
        block = f.read(self._offsets[0] + 8 * start, min(FENCE, self.rows - start))
        i = int(np.searchsorted(block, key))
        return start + i if i < len(block) and block[i] == key else -1

    def find(self, key: int) -> list[int] | None:
        """The row of a key, or None. O(FENCE)."""
        with _File(self.path) as f:
            i = self._locate(f, key)
        return self.row(i) if i >= 0 else None

    def get(self, order_id: int) -> list[int] | None:
        """A row of an order id, or None. O(log n) single reads."""
        if not self.ids[0] <= order_id <= self.ids[1]:
            return None
        with _File(self.path) as f:
            by_id, ids = self._offsets[-1], self._offsets[1]
            lo, hi = 0, self.rows
            while lo < hi:  # binary search of ids in by_id order
                mid = (lo + hi) // 2
                if f.read(ids + 8 * int(f.read(by_id + 8 * mid, 1)[0]), 1)[0] < order_id:
                    lo = mid + 1
                else:
                    hi = mid
            row = int(f.read(by_id + 8 * lo, 1)[0]) if lo < self.rows else -1
            found = row >= 0 and f.read(ids + 8 * row, 1)[0] == order_id
        return self.row(row) if found else None


class _File:
    """A history file opened for :meth:`read` (closed on exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _File:
        self.fd = os.open(self.path, os.O_RDONLY)
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)

    def read(self, offset: int, count: int) -> np.ndarray:
        """``count`` int64 values at byte ``offset`` (:class:`HistoryError` if the file is shorter)."""
        data = os.pread(self.fd, 8 * count, offset)
        if len(data) != 8 * count:
            raise HistoryError(f"order history file {self.path.name} ends at byte {offset + len(data)}: torn")
        return np.frombuffer(data, np.int64)


class OrderHistory:
    """The retired orders of a data directory (see the module docstring)."""

    def __init__(self, directory: Path, ops: FileOps | None = None) -> None:
        self.directory = Path(directory)
        self.ops = ops or FileOps()
        self.segments: list[Segment] = []
        self.filter = KeyFilter.of([])
        self.saved_keys = 0
        """Keys in the saved filter (0: none saved, or not these files')."""
        self.successor: KeyFilter | None = None
        """The filter of twice the capacity being filled after the writes (the history
        thread's own until a write hands it over), holding the keys of the first
        ``successor.files`` installed files; None before :data:`GROW_FROM`."""
        self._unsaved: tuple[KeyFilter, list[Segment]] | None = None
        """The filter and the files it holds as the last write left them, if its save is
        due (:data:`SAVE_EVERY`): :meth:`after_write` saves it."""
        self._read: dict[int, np.ndarray] = {}
        """Key columns read by an open that the filter does not hold yet, by file ``through``."""

    @classmethod
    def open(cls, directory: Path, ops: FileOps | None, forgotten_through: int) -> OrderHistory:
        """The history whose chain ends at ``forgotten_through`` (what the journal says
        was forgotten); files beyond it are deleted (their orders are still hot), temp
        files of an interrupted write too. :class:`HistoryError` if the chain is broken."""
        history = cls.opening(directory, ops, forgotten_through)
        history.follow(forgotten_through)
        return history

    @classmethod
    def opening(cls, directory: Path, ops: FileOps | None, through: int) -> OrderHistory:
        """The first step of :meth:`open`, which may run while the journal is replayed:
        the chain ending at ``through`` (the snapshot's ``forgotten_through``), nothing
        deleted, the saved filter read; :meth:`follow` finishes it (lookups wait for that).
        :class:`HistoryError` if the chain is broken."""
        history = cls(directory, ops)
        if not history.directory.exists():
            history.directory.mkdir(parents=True)
            history.ops.fsync_dir(history.directory.parent)
        for tmp in history.directory.glob(".orders-*.tmp"):
            tmp.unlink()
        saved = load_filter(history.directory)
        history.segments = history._chain(through, saved.through if saved else 0)
        if saved is not None:
            history.filter = saved
        if saved is None or saved.through <= history.through:  # else it may cover files follow adds
            history._settle()
        return history

    def follow(self, forgotten_through: int) -> None:
        """Add the files from :attr:`through` on to the chain ending at ``forgotten_through``
        (the replayed journal's), then delete every other history file (written, its
        FORGET_DONE never journaled: its orders are hot). :class:`HistoryError` if the
        chain is broken."""
        self.segments += self._chain(forgotten_through, 0)
        self._settle()
        kept = {segment.path.name for segment in self.segments}
        orphans = [p for p in self.directory.iterdir() if _NAME.fullmatch(p.name) and p.name not in kept]
        for orphan in orphans:
            orphan.unlink()
        if orphans:
            self.ops.fsync_dir(self.directory)

    def _settle(self) -> None:
        """Make :attr:`filter` hold the keys of every file of :attr:`segments`: the
        filter as it is (a saved one only if the files it covers are the first ones of
        the chain) plus the keys of the files after those, or rebuilt if it has no room
        for them. Key columns an open read already are not read again."""
        held = self.filter
        if held.identity and not (held.files <= len(self.segments)
                                  and identity_of(self.segments[:held.files]) == held.identity):
            log.info("%s covers other files than the history's (stale); rebuilt", self.directory / FILTER)
            held = KeyFilter.of([])
        self.saved_keys = held.keys if held.identity else 0
        if sum(len(s) for s in self.segments) > held.capacity:
            held = KeyFilter.of(self.segments, read=self._keys)
            self.saved_keys = 0
        for segment in self.segments[held.files:]:
            held.add(self._keys(segment))
        held.files, held.through, held.identity = len(self.segments), self.through, b""
        self.filter, self._read = held, {}

    def _keys(self, segment: Segment) -> np.ndarray:
        """A file's key column: as an open read it, else read again."""
        keys = self._read.pop(segment.through, None)
        return segment.keys() if keys is None else keys

    def _chain(self, at: int, filtered_through: int) -> list[Segment]:
        """The segments from :attr:`through` to ``at``, oldest first (opened and checked);
        the key columns of those after ``filtered_through`` are kept for :meth:`_settle`."""
        paths = {int(m.group(1)): p for p in self.directory.iterdir() if (m := _NAME.fullmatch(p.name))}
        chain: list[Segment] = []

        def keep(segment: Segment, keys: np.ndarray) -> None:
            if segment.through > filtered_through:
                self._read[segment.through] = keys

        while at > self.through:
            if at not in paths:
                raise HistoryError(f"order history file orders-{at:020d}.arrow is missing: the journal "
                                   f"forgot the orders done up to seq {at}")
            segment = Segment(paths[at], keep)
            if not segment.after < segment.through == at:
                raise HistoryError(f"order history file {segment.path.name} says it covers "
                                   f"{segment.after}..{segment.through}")
            chain.append(segment)
            at = segment.after
        if at != self.through:
            raise HistoryError(f"order history file {chain[-1].path.name} follows seq {at}, not {self.through}"
                               if chain else f"the journal forgot orders up to seq {at}, the order history "
                               f"holds them up to {self.through}")
        return chain[::-1]

    @property
    def through(self) -> int:
        """Seq up to which done orders are here (0: none)."""
        return self.segments[-1].through if self.segments else 0

    def write(self, rows: np.ndarray, through: int) -> tuple[Segment, KeyFilter]:
        """Write the file for ``rows`` (done after :attr:`through`, up to ``through``) and
        the filter that includes them, to be saved by :meth:`after_write` if
        :data:`SAVE_EVERY` keys were added since the last save (a new one: since none); hand
        both to :meth:`install` (in the writer). Runs on a background thread: it reads
        only the segments installed already.

        The new keys go into the filter in use, in place (a copy of it per retirement
        held 16-32 MiB more for each write): until the file is installed they are maybes
        the lookups do not find in the installed segments, so every answer is the same.
        Its counts change only once the write cannot fail, so a write that failed leaves
        at most bits the next write sets again. Past :data:`GROW_FROM` of its capacity
        a successor is started, which :meth:`after_write` fills; the write that
        finds it lacking at most :data:`CATCH_UP` x its own keys of the installed files
        adds those and its own and hands it over. The filter is never rebuilt from every
        key inside one write (that took 0.3-0.45 s of CPU at 8.4 M keys, and the done
        orders piling up meanwhile doubled the engine's and the ledger's client order id
        tables for good)."""
        path = write(self.directory, self.ops, rows, self.through, through)
        read: list[np.ndarray] = []
        segment = Segment(path, lambda _, keys: read.append(keys))
        segments = [*self.segments, segment]
        total = sum(len(s) for s in segments)
        keys = self._hand_over(read[0], total)
        if keys is None:
            keys = self.filter
            keys.add(read[0])  # (past its capacity if writes are large or the successor failed: more maybes)
        else:
            self.saved_keys = 0
        keys.keys, keys.files, keys.through = total, len(segments), segment.through
        self._unsaved = (keys, segments) if keys.keys - self.saved_keys >= SAVE_EVERY else None
        return segment, keys

    def _hand_over(self, new: np.ndarray, total: int) -> KeyFilter | None:
        """For :meth:`write`, once the files hold ``total`` keys with ``new`` (the new
        file's): the successor, with the keys it lacks of the installed files and
        ``new`` added, if it lacks at most :data:`CATCH_UP` x ``new``'s keys of them
        (started here past :data:`GROW_FROM`), else None."""
        if self.successor is None:
            if total <= GROW_FROM * self.filter.capacity:
                return None
            capacity = 2 * self.filter.capacity
            while GROW_FROM * capacity < total:
                capacity *= 2
            self.successor = KeyFilter.empty(capacity)
        successor = self.successor
        if sum(len(s) for s in self.segments[successor.files:]) > CATCH_UP * len(new):
            return None
        self._fill(len(new))  # (its budget covers what it lacks)
        successor.add(new)
        self.successor = None
        return successor

    def after_write(self, keys: int) -> None:
        """The history thread's work after a write of ``keys`` keys that its FORGET_DONE
        need not wait for (the sequencer queues it behind the write): save the filter if
        the write left its save due, then add :data:`CATCH_UP` x ``keys`` of the next
        installed files' key columns (at least one file) to the successor, if any. In
        the write, a save (16-32 MiB and an fsync every ~10 retirements) and the
        successor's filling delayed the soak's FORGET_DONEs by 26-70 k commands, and the
        done orders waiting could reach the ~162 k that double the hot tables. A failed
        save raises; the next write leaves it due again. O(capacity + CATCH_UP x keys)."""
        unsaved, self._unsaved = self._unsaved, None
        if unsaved is not None:
            save_filter(self.directory, self.ops, *unsaved)
            self.saved_keys = unsaved[0].keys
        self._fill(keys)

    def _fill(self, keys: int) -> None:
        """Add :data:`CATCH_UP` x ``keys`` of the next installed files' key columns (at
        least one file) to the successor, if any; a file whose keys cannot be read or fail
        their SHA-256 is named in an error and the successor dropped (the filter in use
        holds every key; the next open refuses the file). O(CATCH_UP x keys)."""
        successor, segments = self.successor, self.segments
        budget = max(1, CATCH_UP * keys)
        while successor is not None and successor.files < len(segments) and budget > 0:
            try:
                older = segments[successor.files].keys()
            except (HistoryError, OSError) as error:  # the filter in use still holds every key
                log.error("%s; the filter's successor is dropped (started again at the next write)", error)
                self.successor = None
                return
            successor.add(older)
            successor.files += 1
            budget -= len(older)

    def install(self, segment: Segment, keys: KeyFilter) -> None:
        """Make a written segment (and its filter) part of the lookups."""
        if segment.after != self.through:
            raise HistoryError(f"order history file {segment.path.name} does not follow seq {self.through}")
        self.segments.append(segment)
        self.filter = keys

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """For each key, whether the history holds it (exact). O(len(keys)) plus, for
        the filter's maybes, a block read in each segment whose key range has them."""
        found = self.filter.maybe(keys) if self.segments else np.zeros(len(keys), np.bool_)
        if found.any():
            maybe = keys[found]
            hit = np.zeros(len(maybe), np.bool_)
            for segment in self.segments:
                hit[~hit] = segment.holds(maybe[~hit])
                if hit.all():
                    break
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
        """Save the filter if keys were added since it was saved; forget the segments (no
        file stays open between lookups)."""
        if self.filter.keys > self.saved_keys and self.filter.files == len(self.segments):
            save_filter(self.directory, self.ops, self.filter, self.segments)
            self.saved_keys = self.filter.keys
        self.segments = []
