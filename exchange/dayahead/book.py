"""The day-ahead order book: orders for one delivery day, kept durably until it clears.

Orders live in ``<data dir>/dayahead/<YYYY-MM-DD>/orders.jsonl``, one JSON object per
line, appended and fsynced before :meth:`DayAheadBook.submit` returns (journal first,
then acknowledge). A last line without its newline is a write that was never
acknowledged (a crash mid-append): it is dropped and cut off. Any other line that does
not parse is corruption: :class:`DayAheadCorruptError` names the file and line.

Each order gets a reference ``ref`` = 1, 2, 3, ... in arrival order within its day;
(account, client_order_id) is unique within the day. A day accepts orders until
:meth:`DayAheadBook.close` (the start of its clearing) writes its ``closed.json``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from exchange.catalog import Catalog, CatalogError
from exchange.journal import FileOps, write_atomically

HOURS = 24
"""Delivery hours of a day (market time), 0..23."""


class DayAheadError(Exception):
    """A day-ahead request that cannot be served."""


class InvalidDayAheadOrder(DayAheadError, ValueError):
    """An order whose fields break a rule; the message says which and how to fix it."""


class DuplicateDayAheadOrder(DayAheadError):
    """The account already used that client order id for the day."""


class DayAheadClosed(DayAheadError):
    """The day has been cleared: it takes no more orders."""


class DayAheadCorruptError(DayAheadError):
    """A day-ahead file is damaged; the message names it."""


@dataclass(frozen=True)
class DayAheadOrder:
    """One day-ahead order. ``kind`` "hourly": ``hour`` and one alternative; "block":
    ``qty`` GPUs in each hour ``hour .. hour+length-1``, the same fill every hour, 0 or
    at least ``min_ratio`` % of qty, in at most one of ``alternatives``
    ((gpu_class, region, limit_fen) each; an hourly order has exactly one).
    ``side`` 1 buy, 2 sell (the engine's values); money in fen per GPU-hour."""

    ref: int
    account: int
    client_order_id: int
    kind: str
    side: int
    hour: int
    length: int
    qty: int
    min_ratio: int
    alternatives: tuple[tuple[str, str, int], ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> DayAheadOrder:
        return cls(**{**d, "alternatives": tuple(tuple(a) for a in d["alternatives"])})


class DayAheadBook:
    """Day-ahead orders by delivery day under ``root`` (``<data dir>/dayahead``).
    Thread-safe; O(orders of the day) to open a day, O(1) amortised per submission."""

    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = Path(root)
        self.catalog = catalog
        self._lock = threading.Lock()
        self._days: dict[date, list[DayAheadOrder]] = {}

    def day_dir(self, day: date) -> Path:
        return self.root / day.isoformat()

    def closed(self, day: date) -> bool:
        """Whether the day's book is closed (its clearing has started)."""
        return (self.day_dir(day) / "closed.json").exists()

    def close(self, day: date) -> list[DayAheadOrder]:
        """Close the day's book and return its orders (arrival order)."""
        with self._lock:
            orders = list(self._load(day))
            if not self.closed(day):
                self._make_dir(day)
                write_atomically(FileOps(), self.day_dir(day) / "closed.json",
                                 json.dumps({"orders": len(orders)}).encode())
            return orders

    def reopen(self, day: date) -> None:
        """Take orders again (a run that stopped before escrowing anything)."""
        with self._lock:
            marker = self.day_dir(day) / "closed.json"
            if marker.exists():
                marker.unlink()
                FileOps().fsync_dir(marker.parent)

    def _make_dir(self, day: date) -> None:
        """Create the day's directory durably: each new directory's parent is fsynced."""
        folder, made = self.day_dir(day), []
        while not folder.exists():
            made.append(folder)
            folder = folder.parent
        for path in reversed(made):
            path.mkdir()
            FileOps().fsync_dir(path.parent)

    def orders(self, day: date) -> list[DayAheadOrder]:
        """The day's orders in arrival order."""
        with self._lock:
            return list(self._load(day))

    def submit(self, day: date, account: int, client_order_id: int, side: int, hour: int, qty: int,
               alternatives: list[tuple[str, str, int]], *, length: int = 1, min_ratio: int = 100,
               block: bool = False) -> DayAheadOrder:
        """Validate, append durably, return the order (with its ref). Raises
        :class:`InvalidDayAheadOrder`, :class:`DuplicateDayAheadOrder` or
        :class:`DayAheadClosed`, and then nothing was written."""
        alts: list = [tuple(a) for a in alternatives]  # lists from JSON and the wire, too
        self._validate(side, hour, length, qty, min_ratio, alts, block, client_order_id)
        with self._lock:
            orders = self._load(day)
            if self.closed(day):
                raise DayAheadClosed(f"the day-ahead book of {day} is closed (its auction has run)")
            if any(o.account == account and o.client_order_id == client_order_id for o in orders):
                raise DuplicateDayAheadOrder(
                    f"client order id {client_order_id} was already used for {day} by this account")
            order = DayAheadOrder(len(orders) + 1, account, client_order_id, "block" if block else "hourly",
                                  side, hour, length, qty, min_ratio, tuple(alts))
            self._append(day, order)
            orders.append(order)
            return order

    def _validate(self, side, hour, length, qty, min_ratio, alternatives, block, client_order_id) -> None:
        bad = InvalidDayAheadOrder
        if client_order_id <= 0:
            raise bad("client_order_id must be positive")
        if side not in (1, 2):
            raise bad("side must be BUY or SELL")
        if not alternatives or (not block and len(alternatives) != 1):
            raise bad("an hourly order needs exactly one (gpu_class, region, limit); a block at least one")
        if len({(c, r) for c, r, _ in alternatives}) != len(alternatives):
            raise bad("a block's alternatives must be different (gpu_class, region) products")
        if not 1 <= length <= HOURS or not 0 <= hour <= HOURS - length:
            raise bad(f"hours must lie in 0..{HOURS - 1}: got start {hour}, length {length}")
        if not 1 <= min_ratio <= 100:
            raise bad("min_ratio is a percentage 1..100 (100: all or none)")
        for gpu_class, region, limit in alternatives:
            try:
                k = self.catalog.gpu_class(gpu_class)
                self.catalog.region_index(region)
            except (CatalogError, KeyError, ValueError, IndexError) as error:
                raise bad(f"unknown product {gpu_class}/{region}: {error}") from None
            if limit % k.tick_fen or not k.band_lo_fen <= limit <= k.band_hi_fen:
                raise bad(f"limit {limit} fen for {gpu_class} must be on the tick {k.tick_fen} "
                          f"within {k.band_lo_fen}..{k.band_hi_fen}")
            if not k.min_qty <= qty <= k.max_qty:
                raise bad(f"qty {qty} is outside the lot limits {k.min_qty}..{k.max_qty} of {gpu_class}")

    # ------------------------------------------------------------------ files

    def _path(self, day: date) -> Path:
        return self.day_dir(day) / "orders.jsonl"

    def _load(self, day: date) -> list[DayAheadOrder]:
        """The day's orders (cached); a torn last line is cut off. Caller holds the lock."""
        if day in self._days:
            return self._days[day]
        path = self._path(day)
        orders: list[DayAheadOrder] = []
        if path.exists():
            data = path.read_bytes()
            complete = data.rfind(b"\n") + 1
            for number, line in enumerate(data[:complete].splitlines(), start=1):
                try:
                    order = DayAheadOrder.from_dict(json.loads(line))
                except (ValueError, TypeError, KeyError) as error:
                    raise DayAheadCorruptError(f"{path}: line {number} is not a day-ahead order ({error})") from None
                if order.ref != number:
                    raise DayAheadCorruptError(f"{path}: line {number} holds ref {order.ref}")
                orders.append(order)
            if complete < len(data):  # an append that was never acknowledged
                with open(path, "r+b") as f:
                    f.truncate(complete)
                    os.fsync(f.fileno())
        self._days[day] = orders
        return orders

    def _append(self, day: date, order: DayAheadOrder) -> None:
        """Append one line and fsync it; on any failure the file is cut back to what it
        was, so a refused submission leaves nothing behind (not even a torn line)."""
        path = self._path(day)
        self._make_dir(day)
        fresh = not path.exists()
        size = 0 if fresh else path.stat().st_size
        try:
            with open(path, "ab") as f:
                f.write(order.to_json().encode("utf-8") + b"\n")
                f.flush()
                os.fsync(f.fileno())
            if fresh:  # the new file's directory entry must be durable too
                FileOps().fsync_dir(path.parent)
        except BaseException:
            with open(path, "r+b") as f:
                f.truncate(size)
                os.fsync(f.fileno())
            raise
