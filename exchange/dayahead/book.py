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
from typing import NamedTuple

from exchange.catalog import Catalog, CatalogError
from exchange.journal import FileOps, write_atomically

HOURS = 24
"""Delivery hours of a day (market time), 0..23. Each day is cleared by its own auction,
so no run of a block crosses midnight."""
MAX_ALTERNATIVES = 96
"""Most alternatives of one block: four products at every start hour of a day."""


class DayAheadError(Exception):
    """A day-ahead request that cannot be served."""


class InvalidDayAheadOrder(DayAheadError, ValueError):
    """An order whose fields break a rule; the message says which and how to fix it, and
    ``field`` names the order's field at fault as the gRPC request spells it (for
    example ``alternatives[2].start_hour``), where one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DuplicateDayAheadOrder(DayAheadError):
    """The account already used that client order id for the day."""


class DayAheadClosed(DayAheadError):
    """The day has been cleared: it takes no more orders."""


class DayAheadCorruptError(DayAheadError):
    """A day-ahead file is damaged; the message names it."""


class DayAheadAlternative(NamedTuple):
    """One way to fill a day-ahead order: a product (GPU class x region), the limit in
    fen per GPU-hour there and the first delivery hour of the run."""

    gpu_class: str
    region: str
    limit_fen: int
    start: int


@dataclass(frozen=True)
class DayAheadOrder:
    """One day-ahead order. ``kind`` "hourly": one hour, exactly one alternative, which
    starts at ``hour``; "block": ``qty`` GPUs in each of ``length`` consecutive hours, the
    same fill every hour, 0 or at least ``min_ratio`` % of qty, in at most one of
    ``alternatives`` -- each a different (gpu_class, region, start), so a block may move
    in region, class and time. ``hour`` is the start the order gave (the default of its
    alternatives). ``side`` 1 buy, 2 sell (the engine's values); money in fen per GPU-hour.

    In ``orders.jsonl`` an alternative is ``[gpu_class, region, limit_fen, start]``;
    lines written before alternatives had their own start hold three elements, and the
    start is then the order's ``hour``."""

    ref: int
    account: int
    client_order_id: int
    kind: str
    side: int
    hour: int
    length: int
    qty: int
    min_ratio: int
    alternatives: tuple[DayAheadAlternative, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> DayAheadOrder:
        return cls(**{**d, "alternatives": tuple(_alternative(a, d["hour"]) for a in d["alternatives"])})


def _alternative(given: tuple | list, hour: int) -> DayAheadAlternative:
    """An alternative as given to :meth:`DayAheadBook.submit`, its start resolved."""
    gpu_class, region, limit, *start = given
    return DayAheadAlternative(gpu_class, region, limit, hour if not start or start[0] is None else start[0])


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
               alternatives: list[tuple], *, length: int = 1, min_ratio: int = 100,
               block: bool = False) -> DayAheadOrder:
        """Validate, append durably, return the order (with its ref). Each alternative is
        ``(gpu_class, region, limit_fen)`` or ``(gpu_class, region, limit_fen, start)``;
        a start left out or ``None`` is ``hour``. Raises :class:`InvalidDayAheadOrder`,
        :class:`DuplicateDayAheadOrder` or :class:`DayAheadClosed`, and then nothing was
        written."""
        alts = [_alternative(a, hour) for a in alternatives]  # lists from JSON and the wire, too
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
            raise bad("client_order_id must be positive", "client_order_id")
        if side not in (1, 2):
            raise bad("side must be BUY or SELL", "side")
        if not alternatives or (not block and len(alternatives) != 1):
            raise bad("an hourly order needs exactly one (gpu_class, region, limit); a block at least one",
                      "alternatives")
        if len(alternatives) > MAX_ALTERNATIVES:
            raise bad(f"a block has at most {MAX_ALTERNATIVES} alternatives, got {len(alternatives)}", "alternatives")
        if not 1 <= length <= HOURS:
            raise bad(f"hours must be 1..{HOURS} (a run lies inside one delivery day), got {length}", "hours")
        if not 0 <= hour < HOURS:
            raise bad(f"start_hour must lie in 0..{HOURS - 1}, got {hour}", "start_hour")
        if not 1 <= min_ratio <= 100:
            raise bad("min_ratio is a percentage 1..100 (100: all or none)", "min_ratio_percent")
        seen: set[tuple[str, str, int]] = set()
        for i, alternative in enumerate(alternatives):
            self._validate_alternative(f"alternatives[{i}]", alternative, hour, length, qty, block)
            if alternative[:2] + (alternative.start,) in seen:
                raise bad(f"alternatives[{i}] repeats {alternative.gpu_class}/{alternative.region} starting at "
                          f"{alternative.start}: a block's alternatives must differ in product or start hour",
                          f"alternatives[{i}]")
            seen.add(alternative[:2] + (alternative.start,))

    def _validate_alternative(self, name: str, alternative: DayAheadAlternative, hour: int, length: int, qty: int,
                              block: bool) -> None:
        bad = InvalidDayAheadOrder
        gpu_class, region, limit, start = alternative
        if not block and start != hour:
            raise bad(f"{name}.start_hour of an hourly order must be its start_hour {hour} (or absent), got {start}",
                      f"{name}.start_hour")
        if not 0 <= start <= HOURS - length:
            raise bad(f"{name}: a run of {length} h from {start}:00 must lie in the delivery day's hours "
                      f"0..{HOURS - 1} (start 0..{HOURS - length}): each day is cleared by its own auction, so a "
                      "run cannot cross midnight", "start_hour" if start == hour else f"{name}.start_hour")
        try:
            k = self.catalog.gpu_class(gpu_class)
        except (CatalogError, KeyError, ValueError, IndexError) as error:
            raise bad(f"unknown product {gpu_class}/{region}: {error}", f"{name}.gpu_class") from None
        try:
            self.catalog.region_index(region)
        except (CatalogError, KeyError, ValueError, IndexError) as error:
            raise bad(f"unknown product {gpu_class}/{region}: {error}", f"{name}.region") from None
        if limit % k.tick_fen or not k.band_lo_fen <= limit <= k.band_hi_fen:
            raise bad(f"limit {limit} fen for {gpu_class} must be on the tick {k.tick_fen} "
                      f"within {k.band_lo_fen}..{k.band_hi_fen}", f"{name}.limit_fen")
        if not k.min_qty <= qty <= k.max_qty:
            raise bad(f"qty {qty} is outside the lot limits {k.min_qty}..{k.max_qty} of {gpu_class}", "qty")

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
