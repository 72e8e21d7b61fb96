"""Trade-log files: the writer, the readers and the hash-chain verifier.

See :mod:`exchange.tradelog` for the rules (layout, atomic writes, hash chain, seals);
this module implements them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from pathlib import Path

import numpy as np
import pyarrow as pa

from exchange.catalog.model import Catalog, load_catalog
from exchange.journal.fileops import FileOps, OpsWriter, atomic_file, write_atomically
from exchange.tradelog.errors import TradeLogCorruptError, TradeLogError, TradeLogSealedError
from exchange.tradelog.events import delivery_day
from exchange.tradelog.parquet import parquet_bytes, parquet_entry, relative_path
from exchange.tradelog.schema import TRADE_SCHEMA

SEAL_NAME = "_SEALED.json"
"""The seal file of a closed delivery day."""
LOGGED_NAME = "_LOGGED.json"
"""Written after every flush: every trade id up to ``through`` is in the files."""
_DAY_RE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_FILE_RE = re.compile(r"(\d{12,})-(\d{12,})\.arrow")
_TMP_SUFFIX = ".tmp"  # the suffix atomic_file (and write_atomically) gives its temp files
_OPS = FileOps()
_META = ("prev_hash", "hash", "first_trade_id", "last_trade_id", "rows")


@dataclass(frozen=True)
class ChainReport:
    """The verified state of one delivery day's hash chain."""

    day: date
    files: int
    trades: int
    head: str
    """Hash of the last file (the genesis hash if the day has no file), hex."""
    sealed: bool
    first_trade_id: int = 0
    """First and last trade id of the day (0 if none)."""
    last_trade_id: int = 0


# --------------------------------------------------------------------------- hashing


def genesis_hash(day: date) -> str:
    """``prev_hash`` of a day's first file: ``sha256(b"gpux.trades." + b"YYYY-MM-DD")``."""
    return hashlib.sha256(b"gpux.trades." + day.isoformat().encode()).hexdigest()


def _string_bytes(column: pa.ChunkedArray) -> np.ndarray:
    """Per value: 4-byte little-endian length, then the UTF-8 bytes (vectorised), as uint8."""
    arr = column.combine_chunks()
    n = len(arr)
    if n == 0:
        return np.empty(0, np.uint8)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, "<i4")[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf or b"", np.uint8)[offsets[0] : offsets[-1]]
    out = np.empty(4 * n + data.size, np.uint8)
    heads = (4 * np.arange(n) + offsets[:-1] - offsets[0])[:, None] + np.arange(4)
    is_head = np.zeros(out.size, bool)
    is_head[heads] = True
    out[heads] = np.diff(offsets).astype("<u4").view(np.uint8).reshape(n, 4)
    out[~is_head] = data
    return out


def _canonical_parts(table: pa.Table) -> Iterator[memoryview]:
    """The bytes of :func:`canonical_bytes` column by column (views of arrays), so a hash
    takes them one at a time (no copy of the whole, which was 2-3 copies of a flush's rows)."""
    if not table.schema.equals(TRADE_SCHEMA):
        raise ValueError(f"schema is not TRADE_SCHEMA: {table.schema}")
    for field, column in zip(TRADE_SCHEMA, table.columns):
        if column.null_count:
            raise ValueError(f"column {field.name} holds {column.null_count} nulls")
        if pa.types.is_string(field.type):
            yield _string_bytes(column).data
        else:
            yield np.ascontiguousarray(column.cast(pa.int64()).to_numpy(), "<i8").data


def canonical_bytes(table: pa.Table) -> bytes:
    """The bytes the hash chain covers (see :mod:`exchange.tradelog`); O(rows).

    ``ValueError`` if the table does not have TRADE_SCHEMA's columns or holds nulls.
    """
    return b"".join(_canonical_parts(table))


def chain_hash(prev_hash: str, table: pa.Table) -> str:
    """``sha256(bytes.fromhex(prev_hash) + canonical_bytes(table))`` as hex, hashed a column at a time."""
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    for part in _canonical_parts(table):
        digest.update(part)
    return digest.hexdigest()


# --------------------------------------------------------------------------- disk helpers


def make_dirs(path: Path) -> None:
    """``mkdir -p`` that fsyncs the parent of every directory it creates."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in reversed(missing):
        _OPS.fsync_dir(p.parent)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a '.'-prefixed temp file in the same directory: fsync, rename, fsync dir."""
    write_atomically(_OPS, path, data)


def _day_dir(root: Path, day: date) -> Path:
    return Path(root) / f"date={day.isoformat()}"


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.cast(pa.int64()).to_numpy(), np.int64)


def _days_of(slots: np.ndarray, tz: tzinfo) -> np.ndarray:
    """Delivery day (as a date ordinal) of every slot start, one conversion per distinct slot."""
    distinct, inv = np.unique(slots, return_inverse=True)
    return np.array([delivery_day(s, tz).toordinal() for s in distinct], np.int64)[inv]


def _read(path: Path) -> pa.Table:
    """A whole IPC file, fully validated, schema metadata kept; else TradeLogCorruptError."""
    try:
        table = pa.ipc.open_file(pa.py_buffer(path.read_bytes())).read_all()
        table.validate(full=True)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise TradeLogCorruptError(f"{path}: not a readable Arrow IPC file: {exc}") from None
    return table


def _head(path: Path) -> str:
    """``gpux.hash`` of a file, from its footer only."""
    try:
        with pa.OSFile(str(path)) as f:
            return pa.ipc.open_file(f).schema.metadata[b"gpux.hash"].decode()
    except (pa.ArrowException, OSError, KeyError, TypeError) as exc:
        raise TradeLogCorruptError(f"{path}: cannot read gpux.hash: {exc!r}") from None


# --------------------------------------------------------------------------- reading


def days(root: Path) -> list[date]:
    """Delivery days with a ``date=YYYY-MM-DD`` directory under ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = (_DAY_RE.fullmatch(p.name) for p in root.iterdir() if p.is_dir())
    return sorted(date.fromisoformat(m.group(1)) for m in found if m)


def day_files(root: Path, day: date) -> list[Path]:
    """A day's data files (not '.'/'_'-prefixed), by first trade id (bad names last)."""
    d = _day_dir(root, day)
    if not d.is_dir():
        return []

    def key(p: Path) -> tuple[int, int, str]:
        m = _FILE_RE.fullmatch(p.name)
        return (0, int(m.group(1)), p.name) if m else (1, 0, p.name)

    return sorted((p for p in d.iterdir() if p.name[0] not in "._" and p.is_file()), key=key)


def read_day(root: Path, day: date) -> pa.Table:
    """All trades of a delivery day in trade-id order, with exactly TRADE_SCHEMA."""
    tables = [_read(p).replace_schema_metadata(None) for p in day_files(root, day)]
    return _sorted(tables)


def read_all(root: Path) -> pa.Table:
    """All trades of every day in trade-id order, with exactly TRADE_SCHEMA."""
    return _sorted([read_day(root, d) for d in days(root)])


def _sorted(tables: list[pa.Table]) -> pa.Table:
    """The tables as one, in trade-id order (no sort when they already are)."""
    if not tables:
        return TRADE_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    if (np.diff(_ints(table.column("trade_id"))) <= 0).any():
        table = table.sort_by("trade_id")
    return table.combine_chunks()


def read_seal(root: Path, day: date) -> dict | None:
    """The seal of a day as written by :meth:`TradeLogWriter.seal`, or None if unsealed."""
    path = _day_dir(root, day) / SEAL_NAME
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TradeLogCorruptError(f"{path}: unreadable seal: {exc}") from None


# --------------------------------------------------------------------------- verifying


def verify_chain(root: Path, day: date, tz: tzinfo | None = None) -> ChainReport:
    """Check a day's files and seal (every rule of :mod:`exchange.tradelog`); O(bytes).

    ``tz`` is market time for the delivery-day check (default: the configured catalog's).
    Raises :class:`TradeLogCorruptError` naming the first bad file and what is wrong.
    """
    tz = tz or load_catalog().market.tz
    head, first, last, trades = genesis_hash(day), 0, 0, 0
    paths = day_files(root, day)
    for path in paths:
        head, ids = _verify_file(path, day, tz, head, last)
        first, last = first or int(ids[0]), int(ids[-1])
        trades += len(ids)
    seal = read_seal(root, day)
    if seal is not None:
        expected = {
            "day": day.isoformat(), "hash": head, "files": len(paths), "trades": trades,
            "first_trade_id": first, "last_trade_id": last,
        }
        diff = {k: (seal.get(k), v) for k, v in expected.items() if seal.get(k) != v}
        if diff:
            raise TradeLogCorruptError(
                f"{_day_dir(root, day) / SEAL_NAME}: seal disagrees with the files "
                f"(key: (sealed, actual)): {diff}"
            )
    return ChainReport(day, len(paths), trades, head, seal is not None, first, last)


def _verify_file(path: Path, day: date, tz: tzinfo, head: str, last: int) -> tuple[str, np.ndarray]:
    """Check one file of a day's chain, given the hash of the file before it and the last
    trade id before it; its own hash and its trade ids."""

    def bad(what: str) -> TradeLogCorruptError:
        return TradeLogCorruptError(f"{path}: {what}")

    name = _FILE_RE.fullmatch(path.name)
    if not name:
        raise bad("file name is not FIRST-LAST.arrow (12+ digit trade ids)")
    table = _read(path)
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    missing = [k for k in _META if f"gpux.{k}" not in meta]
    if missing:
        raise bad(f"schema metadata lacks {', '.join('gpux.' + k for k in missing)}")
    if not table.schema.equals(TRADE_SCHEMA):
        raise bad(f"schema is not TRADE_SCHEMA: {table.schema.remove_metadata()}")
    if meta["gpux.prev_hash"] != head:
        raise bad(
            f"gpux.prev_hash {meta['gpux.prev_hash']} does not link to the previous "
            f"file's hash {head} (a file missing, reordered or replaced?)"
        )
    try:
        computed = chain_hash(head, table)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if computed != meta["gpux.hash"]:
        raise bad(f"content hash {computed} differs from gpux.hash {meta['gpux.hash']}")
    ids = _ints(table.column("trade_id"))
    if not len(ids):
        raise bad("file holds no rows")
    stated = {"rows": len(ids), "first_trade_id": ids[0], "last_trade_id": ids[-1]}
    for key, actual in (("gpux." + k, v) for k, v in stated.items()):
        if meta[key] != str(actual):
            raise bad(f"{key} {meta[key]} but the rows say {actual}")
    if (int(name.group(1)), int(name.group(2))) != (ids[0], ids[-1]):
        raise bad(f"file name does not match its trade ids {ids[0]}..{ids[-1]}")
    if ids[0] <= last or (np.diff(ids) <= 0).any():
        raise bad(f"trade ids do not increase (previous file ended at {last})")
    slots = _ints(table.column("slot_start"))
    wrong = slots[_days_of(slots, tz) != day.toordinal()]
    if wrong.size:
        raise bad(f"slot_start {wrong[0]} ns is not on delivery day {day} ({tz})")
    return computed, ids


def trades_source(root: Path, day: date, tz: tzinfo | None = None) -> dict:
    """What a settlement of ``day`` is computed from, once :func:`verify_chain` passes:
    the chain ``head``, ``trades``, ``sealed`` and the Parquet copy's ``parquet_sha256``
    (None before the seal)."""
    report = verify_chain(root, day, tz)
    copy = (read_seal(root, day) or {}).get("parquet") or {}
    return {"head": report.head, "trades": report.trades, "sealed": report.sealed,
            "parquet_sha256": copy.get("sha256")}


def verify_all(root: Path, tz: tzinfo | None = None) -> list[ChainReport]:
    """:func:`verify_chain` for every day under ``root``, in day order."""
    tz = tz or load_catalog().market.tz
    return [verify_chain(root, d, tz) for d in days(root)]


# --------------------------------------------------------------------------- writing


class TradeLogWriter:
    """Appends trades to ``root`` (``<data_dir>/trades``), one file per day per flush.

    Not thread-safe; one writer per root. Opening removes leftover temp files and
    finds :attr:`last_trade_id` from the file names. With ``parquet_root``, sealing a
    day also writes its Parquet copy there (:mod:`exchange.tradelog.parquet`).
    """

    def __init__(self, root: Path, catalog: Catalog, parquet_root: Path | None = None) -> None:
        self.root = Path(root)
        self.parquet_root = None if parquet_root is None else Path(parquet_root)
        self.tz = catalog.market.tz
        make_dirs(self.root)
        for tmp in (*self.root.glob(".*"), *self.root.glob("date=*/.*")):
            if tmp.name.endswith(_TMP_SUFFIX) and tmp.is_file():
                tmp.unlink()
        self._day_last: dict[date, int] = {}  # last trade id logged or buffered, per day
        for day in days(self.root):
            names = (_FILE_RE.fullmatch(p.name) for p in day_files(self.root, day))
            self._day_last[day] = max((int(m.group(2)) for m in names if m), default=0)
        self._last = max(self._day_last.values(), default=0)
        self._heads: dict[date, str] = {}
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        marker = self.root / LOGGED_NAME
        try:
            self._logged_through = int(json.loads(marker.read_bytes())["through"]) if marker.exists() else 0
        except (ValueError, KeyError, TypeError) as exc:
            raise TradeLogCorruptError(f"{marker}: unreadable: {exc}") from None

    @property
    def logged_through(self) -> int:
        """Every trade id up to this one is in the files (a replay need not convert them)."""
        return self._logged_through

    @property
    def last_trade_id(self) -> int:
        """The highest trade id logged or buffered (0 if none)."""
        return self._last

    @property
    def buffered(self) -> int:
        """Rows appended but not yet flushed."""
        return self._buffered

    def trade_days(self) -> list[date]:
        """Delivery days with trades logged or buffered, in date order."""
        return sorted(self._day_last)

    def sealed(self, day: date) -> bool:
        """Whether ``day`` has been sealed."""
        return (_day_dir(self.root, day) / SEAL_NAME).exists()

    def append(self, table: pa.Table) -> int:
        """Buffer the rows not logged yet; returns how many. O(rows).

        A row is already logged (and skipped) when its trade_id is at most the last one
        of its delivery day: without a crash that is the same as ``<= last_trade_id``,
        and it stays exact after a crash between the files of one flush (each day's
        files always hold a prefix of that day's trades). The table's trade ids must
        increase (else :class:`TradeLogError`), and no new row may fall on a sealed day
        (else :class:`TradeLogSealedError`); nothing is buffered on error.
        """
        if not table.schema.equals(TRADE_SCHEMA):
            raise TradeLogError(f"append: schema is not TRADE_SCHEMA: {table.schema}")
        ids = _ints(table.column("trade_id"))
        if (np.diff(ids) <= 0).any():
            raise TradeLogError("append: trade ids must increase")
        slots = _ints(table.column("slot_start"))
        ordinals, inv = np.unique(_days_of(slots, self.tz), return_inverse=True)
        row_days = [date.fromordinal(int(o)) for o in ordinals]
        keep = ids > np.array([self._day_last.get(d, 0) for d in row_days], np.int64)[inv]
        if not keep.any():
            return 0
        new_last = np.zeros(len(row_days), np.int64)
        np.maximum.at(new_last, inv[keep], ids[keep])
        new = {d: int(last) for d, last in zip(row_days, new_last) if last}
        for day in new:
            if self.sealed(day):
                raise TradeLogSealedError(f"append: delivery day {day} is sealed")
        table = table.replace_schema_metadata(None)
        self._buffer.append(table if keep.all() else table.filter(pa.array(keep)))
        self._buffered += int(keep.sum())
        self._day_last.update(new)
        self._last = max(self._last, int(ids[keep][-1]))
        return int(keep.sum())

    def flush(self) -> list[Path]:
        """Write the buffer: one file per delivery day in it, in day order, then the
        ``_LOGGED.json`` marker; returns the paths written. O(rows)."""
        if not self._buffer:
            return []
        rows = pa.concat_tables(self._buffer).combine_chunks()
        day_of = _days_of(_ints(rows.column("slot_start")), self.tz)
        if (np.diff(day_of) < 0).any():  # several days interleaved: group them, keeping id order
            order = np.argsort(day_of, kind="stable")
            rows, day_of = rows.take(pa.array(order)), day_of[order]
        starts = np.flatnonzero(np.r_[True, day_of[1:] != day_of[:-1]])
        ends = np.r_[starts[1:], len(day_of)]
        written = [self._write(date.fromordinal(int(day_of[a])), rows.slice(a, b - a)) for a, b in zip(starts, ends)]
        self._buffer, self._buffered = [], 0
        self._logged_through = self._last
        _atomic_write(self.root / LOGGED_NAME, json.dumps({"through": self._last}).encode())
        return written

    def _write(self, day: date, table: pa.Table) -> Path:
        """One file of ``table`` (all of ``day``) chained to the day's head, streamed to
        the file by Arrow's writer (not built in memory first)."""
        d = _day_dir(self.root, day)
        if day not in self._heads:
            files = day_files(self.root, day)
            self._heads[day] = _head(files[-1]) if files else genesis_hash(day)
        prev = self._heads[day]
        ids = _ints(table.column("trade_id"))
        digest = chain_hash(prev, table)
        meta = {
            "gpux.prev_hash": prev, "gpux.hash": digest, "gpux.first_trade_id": str(ids[0]),
            "gpux.last_trade_id": str(ids[-1]), "gpux.rows": str(len(ids)),
        }
        table = table.replace_schema_metadata(meta)
        make_dirs(d)
        path = d / f"{ids[0]:012d}-{ids[-1]:012d}.arrow"
        with atomic_file(_OPS, path) as f, pa.ipc.new_file(OpsWriter(_OPS, f), table.schema) as writer:
            writer.write_table(table)
        self._heads[day] = digest
        return path

    def seal(self, day: date) -> ChainReport:
        """Flush, verify the day's chain, write its Parquet copy (with a parquet root),
        then its ``_SEALED.json`` naming the copy; returns the report.

        After this, appending a trade of ``day`` raises :class:`TradeLogSealedError`.
        """
        if self.sealed(day):
            raise TradeLogSealedError(f"seal: delivery day {day} is already sealed")
        self.flush()
        report = verify_chain(self.root, day, self.tz)
        seal = {
            "day": day.isoformat(), "hash": report.head, "files": report.files,
            "trades": report.trades, "first_trade_id": report.first_trade_id,
            "last_trade_id": report.last_trade_id,
        }
        if self.parquet_root is not None:
            trades = read_day(self.root, day)
            data = parquet_bytes(trades)
            path = self.parquet_root / relative_path(day)
            make_dirs(path.parent)
            _atomic_write(path, data)
            seal["parquet"] = parquet_entry(day, data, trades.num_rows)
        make_dirs(_day_dir(self.root, day))
        _atomic_write(_day_dir(self.root, day) / SEAL_NAME, json.dumps(seal, indent=1).encode())
        return replace(report, sealed=True)
