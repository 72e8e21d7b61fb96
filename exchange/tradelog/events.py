"""Engine TRADE events to trade-log rows (:data:`~exchange.tradelog.schema.TRADE_SCHEMA`).

Vectorised with numpy: the only Python loop is over the distinct instruments of a batch.
``pyarrow.compute`` is imported with this module (``pc.take``; ``Array.take`` imports it at
its first call): a server's first conversion comes after ``gpux serve`` froze its heap,
and the ~5,300 objects of that import then took part in every full collection of the
server's life (2-3 ms each under the bench's unary load, one every 1-3 s).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.catalog.listing import Listing
from exchange.schema import EVENT_DTYPE, EventKind, Reason, Side
from exchange.tradelog.schema import BPS_DENOMINATOR, TRADE_SCHEMA

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AGGRESSOR = pa.array(["BUY", "SELL", "AUCTION", "DAY_AHEAD"])  # side - 1; 2 uncross; 3 day-ahead


def delivery_day(slot_ts_ns: int, tz: tzinfo) -> date:
    """The delivery day of a slot: the date of its start (ns since the epoch) in ``tz``."""
    return (_EPOCH + timedelta(microseconds=int(slot_ts_ns) // 1_000)).astimezone(tz).date()


def fees(notional: np.ndarray, bps: np.ndarray) -> np.ndarray:
    """:func:`~exchange.tradelog.schema.fee` over int64 arrays (round half up, notional >= 0).

    Split as ``notional = q * 10000 + r`` so that no intermediate exceeds ``notional``
    times one: exact for every int64 notional and bps in 0..10000.
    """
    q, r = np.divmod(notional, BPS_DENOMINATOR)
    return q * bps + (r * bps + BPS_DENOMINATOR // 2) // BPS_DENOMINATOR


def trades_from_events(events: np.ndarray, listing: Listing) -> pa.Table:
    """The trade-log rows of the ``TRADE`` events of a batch, in event order.

    In a TRADE event the first party (``account``, ``order_id``, ``side``) is the taker
    and ``contra_*`` the maker; the buyer is the taker if ``side`` is BUY, else the maker.
    The taker pays the class's ``taker_fee_bps``, the maker its ``maker_fee_bps``. A trade
    of a call-auction uncross (reason AUCTION) or of the day-ahead auction (DAY_AHEAD, order
    ids 0) has no taker: its aggressor side is ``AUCTION`` or ``DAY_AHEAD`` and both
    parties pay the maker fee.
    Symbol, class, region and slot come from ``listing`` (``KeyError`` for an unlisted
    instrument id); ``ValueError`` for a side that is neither BUY nor SELL.
    O(n log n) in the number of events (one ``np.unique`` over the instruments).
    """
    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"events must have EVENT_DTYPE, got {events.dtype}")
    t = events[events["kind"] == EventKind.TRADE]
    side = t["side"]
    if not np.isin(side, (Side.BUY, Side.SELL)).all():
        raise ValueError(f"TRADE events with a side other than BUY/SELL: {np.unique(side)}")
    ids, inv = np.unique(t["instrument"], return_inverse=True)
    insts = [listing.instrument(int(i)) for i in ids]
    classes = [listing.catalog.gpu_class(inst.gpu_class) for inst in insts]
    take = pa.array(inv, pa.int64())

    def strings(values: list[str]) -> pa.Array:
        return pc.take(pa.array(values, pa.string()), take)

    maker_bps = np.array([c.maker_fee_bps for c in classes], np.int64)[inv]
    taker_bps = np.array([c.taker_fee_bps for c in classes], np.int64)[inv]
    notional = t["price"] * t["qty"]
    buy = side == Side.BUY
    auction = t["reason"] == Reason.AUCTION
    day_ahead = t["reason"] == Reason.DAY_AHEAD
    taker_fee, maker_fee = fees(notional, taker_bps), fees(notional, maker_bps)
    taker_fee = np.where(auction | day_ahead, maker_fee, taker_fee)
    columns = {
        "trade_id": t["trade_id"],
        "seq": t["seq"],
        "ts": t["ts"],
        "symbol": strings([i.symbol for i in insts]),
        "gpu_class": strings([i.gpu_class for i in insts]),
        "region": strings([i.region for i in insts]),
        "slot_start": np.array([i.slot_ts_ns for i in insts], np.int64)[inv],
        "price": t["price"],
        "qty": t["qty"],
        "notional": notional,
        "buyer_account": np.where(buy, t["account"], t["contra_account"]),
        "buyer_order_id": np.where(buy, t["order_id"], t["contra_order_id"]),
        "seller_account": np.where(buy, t["contra_account"], t["account"]),
        "seller_order_id": np.where(buy, t["contra_order_id"], t["order_id"]),
        "aggressor_side": _AGGRESSOR.take(pa.array(np.where(day_ahead, 3, np.where(auction, 2, side - 1)))),
        "buyer_fee": np.where(buy, taker_fee, maker_fee),
        "seller_fee": np.where(buy, maker_fee, taker_fee),
    }
    return pa.Table.from_arrays([columns[name] for name in TRADE_SCHEMA.names], schema=TRADE_SCHEMA)
