"""What the market page shows, as JSON-ready values (money in integer fen, times in
seconds since the epoch; the page formats both, in market time).

* :class:`MarketView` — the listing by day (class, region, hour, symbol per instrument
  id) and the cells of the overview grid: best bid and ask, last price, volume, and
  the bid and ask per PFLOP-hour of FP16;
* :func:`trade_history` — an instrument's trades from the trade log;
* :func:`day_ahead_days`, :func:`day_ahead_summary` — the day-ahead results, anonymised
  (no accounts, no order references: blocks are numbered in arrival order).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.catalog import Catalog, Listing
from exchange.clearing import BlockOrder
from exchange.dayahead import APPLIED_FILE, CLEARING_FILE, failure, read_clearing
from exchange.schema import InstrumentState
from exchange.tradelog import days, read_day
from exchange.web.live import LIVE_FIELDS

CELL_FIELDS = ("id", *LIVE_FIELDS, "bid_pflop", "ask_pflop")
"""Columns of an overview cell (and of a live message's cells)."""
SLOT_FIELDS = ("id", "gpu_class", "region", "hour", "symbol")
"""Columns of an overview slot: class and region are catalog indices, the hour market time."""
STATES = {int(s): s.name for s in InstrumentState}
_BID, _ASK = LIVE_FIELDS.index("bid"), LIVE_FIELDS.index("ask")
_NS = 10**9


class MarketView:
    """The listing indexed for the page; :meth:`refresh` (in the event loop, where the
    listing grows) takes in what was listed since."""

    def __init__(self, catalog: Catalog, listing: Listing) -> None:
        self.catalog = catalog
        self.listing = listing
        self.slots: list[tuple[int, int, int, int, str]] = []
        """Per instrument id: (id, class index, region index, hour, symbol)."""
        self.day_of: list[date] = []
        self.by_day: dict[date, list[int]] = {}

    def refresh(self) -> None:
        """Index the instruments listed since the last call. O(new instruments)."""
        for inst in list(self.listing)[len(self.slots):]:
            i = len(self.slots)
            self.slots.append((i, self.catalog.class_index(inst.gpu_class), self.catalog.region_index(inst.region),
                               inst.slot.hour, inst.symbol))
            self.day_of.append(inst.slot.date())
            self.by_day.setdefault(inst.slot.date(), []).append(i)

    def days(self) -> list[str]:
        """Days with listed slots, in order."""
        return [d.isoformat() for d in sorted(self.by_day)]

    def cells(self, ids: np.ndarray, rows: np.ndarray) -> list[list[int]]:
        """The cells (:data:`CELL_FIELDS`) of instruments ``ids`` from their live rows."""
        per_pflop = self.catalog.price_per_pflop_hour
        out = []
        for i, row in zip(ids.tolist(), rows.tolist()):
            cls = self.slots[i][1] if i < len(self.slots) else None  # listed since the last refresh
            bid, ask = row[_BID], row[_ASK]
            out.append([i, *row, per_pflop(cls, bid) if bid and cls is not None else 0,
                        per_pflop(cls, ask) if ask and cls is not None else 0])
        return out

    def overview(self, day: date, rows: np.ndarray, seq: int) -> dict:
        """The grid of one day: its slots and their cells as of ``seq``."""
        ids = np.array([i for i in self.by_day.get(day, []) if i < len(rows)], np.int64)
        return {"seq": seq, "day": day.isoformat(), "slot_fields": SLOT_FIELDS, "cell_fields": CELL_FIELDS,
                "slots": [self.slots[i] for i in ids.tolist()], "cells": self.cells(ids, rows[ids]),
                "states": STATES}


def trade_history(trades_root: Path, catalog: Catalog, symbol: str) -> list[list[int | str]]:
    """Every logged trade of ``symbol``, oldest first: [trade id, time (s), price, qty, aggressor]."""
    day = catalog.instrument(symbol).slot.date()
    if day not in days(trades_root):
        return []
    table = read_day(trades_root, day)
    table = table.filter(pc.equal(table["symbol"], symbol))
    seconds = pc.divide(table["ts"].cast(pa.int64()), _NS).to_pylist()
    return [[t, s, p, q, a] for t, s, p, q, a in zip(table["trade_id"].to_pylist(), seconds, table["price"].to_pylist(),
                                                  table["qty"].to_pylist(), table["aggressor_side"].to_pylist())]


def day_ahead_days(root: Path) -> list[dict]:
    """Every day with a recorded clearing: its status (booked, failed, cleared)."""
    if not Path(root).is_dir():
        return []
    out = []
    for folder in sorted(p for p in Path(root).iterdir() if (p / CLEARING_FILE).exists()):
        status = "booked" if (folder / APPLIED_FILE).exists() else "failed" if failure(folder) else "cleared"
        out.append({"day": folder.name, "status": status})
    return out


def _name(product: Any) -> str:
    """A clearing product, ``(gpu_class, region)`` in the day-ahead auction, as the page names it."""
    return ".".join(product)


def _alternatives(b: BlockOrder) -> list[dict]:
    """A block's alternatives for the page: per product and limit (in the order given),
    the start hours it may run from."""
    starts: dict[tuple[str, int], list[int]] = {}
    for i, a in enumerate(b.alternatives):
        starts.setdefault((_name(a.product), a.limit_fen), []).append(b.start_of(i))
    return [{"product": product, "limit": limit, "starts": hours} for (product, limit), hours in starts.items()]


def day_ahead_summary(root: Path, day: date) -> dict | None:
    """A day's clearing, anonymised: prices and volumes per product and hour, blocks
    numbered in arrival order -- each with the start hours its alternatives allow, the
    accepted product and run (from the accepted alternative's start, which may differ
    from the order's own) or none, its fill and reason --, hourly orders counted.
    None if the day has no recorded clearing."""
    folder = Path(root) / day.isoformat()
    if not (folder / CLEARING_FILE).exists():
        return None
    auction, result, _ = read_clearing(folder)
    reason = failure(folder)
    products = []
    for product in auction.products:
        prices = [result.prices.get((product, h)) for h in range(auction.hours)]
        volumes = [result.volume.get((product, h), 0) for h in range(auction.hours)]
        products.append({"product": _name(product), "prices": prices, "volumes": volumes})
    blocks = []
    for n, b in enumerate(sorted(auction.blocks, key=lambda b: b.block_id), 1):  # type: ignore[arg-type, return-value]
        r = result.blocks[b.block_id]
        accepted = None
        if r.alternative is not None:  # where and when it runs: the accepted alternative's product and start
            start = b.start_of(r.alternative) if r.start is None else r.start  # None: recorded before starts
            accepted = {"product": _name(b.alternatives[r.alternative].product), "start": start,
                        "end": start + b.length}
        blocks.append({"n": n, "side": b.side.name, "qty": b.qty, "hours": b.length, "min_ratio": b.min_ratio,
                       "starts": sorted({b.start_of(i) for i in range(len(b.alternatives))}),
                       "alternatives": _alternatives(b), "accepted": accepted,
                       "filled": r.qty, "reason": r.reason.value if r.reason else None})
    hourly = auction.orders
    return {"day": day.isoformat(), "status": "failed" if reason else "booked" if (folder / APPLIED_FILE).exists()
            else "cleared", "reason": reason, "welfare": result.welfare_fen, "hours": auction.hours,
            "products": products, "blocks": blocks,
            "hourly": {"orders": len(hourly), "filled": sum(1 for o in hourly if result.fills.get(o.order_id, 0))}}
