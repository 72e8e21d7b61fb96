"""Every order the market ever accepted and what became of it, by engine order id.

The engine forgets an order once it is done; clients still ask about it (and a client
retrying a client order id after a crash must get the original order back, never a
second one). :class:`OrderLedger` follows the engine's events and keeps one row per
order id in int64 arrays, updated by a small jitted kernel:

* ``ACCEPTED`` creates the row (status NEW);
* ``TRADE`` updates filled/leaves of the taker and the maker (PARTIALLY_FILLED, FILLED);
* ``CANCELLED``/``EXPIRED`` lower leaves; at 0 the status becomes CANCELED/EXPIRED;
* ``REPLACED`` sets the new client order id, price, qty and leaves.

Status names follow FIX OrdStatus. Lookups by (account, client order id) go through an
open-addressing hash index (:mod:`exchange.engine.hashtable`): O(1) expected; the index is
kept in snapshots (every client order id an order ever had stays found).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numba import njit

from exchange.engine.hashtable import EMPTY, KEY, clord_key, hash_find, hash_put, rehash
from exchange.schema import ACCOUNT_BITS, CLORD_LIMIT, E, EventKind as EV, record_words


class OrderStatus(IntEnum):
    """FIX OrdStatus of an order."""

    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    EXPIRED = 5


(R_ACCOUNT, R_INSTRUMENT, R_SIDE, R_PRICE, R_QTY, R_FILLED, R_LEAVES, R_STATUS,
 R_FIRST_CLORD, R_CLORD, R_SEQ) = range(11)
FIELDS = ("account", "instrument", "side", "price", "qty", "filled", "leaves", "status",
          "first_clord", "clord", "accepted_seq")


@dataclass(frozen=True)
class OrderRecord:
    """An order as the ledger knows it (money in fen, quantities in GPUs)."""

    order_id: int
    account: int
    instrument: int
    side: int
    price: int
    qty: int
    filled: int
    leaves: int
    status: OrderStatus
    first_clord: int
    clord: int
    accepted_seq: int


# Plain ints for the kernel (compile-time constants).
_KIND, _ORDER_ID, _ACCOUNT, _INSTRUMENT = int(E.KIND), int(E.ORDER_ID), int(E.ACCOUNT), int(E.INSTRUMENT)
_SIDE, _PRICE, _QTY, _LEAVES = int(E.SIDE), int(E.PRICE), int(E.QTY), int(E.LEAVES)
_FILLED, _CLORD, _SEQ = int(E.FILLED), int(E.CLORD), int(E.SEQ)
_CONTRA_ID, _CONTRA_LEAVES = int(E.CONTRA_ORDER_ID), int(E.CONTRA_LEAVES)
_ACCEPTED, _TRADE, _CANCELLED, _EXPIRED, _REPLACED = (
    int(EV.ACCEPTED), int(EV.TRADE), int(EV.CANCELLED), int(EV.EXPIRED), int(EV.REPLACED))
_NEW, _PARTIAL, _FILLED_ST, _CANCELED, _EXPIRED_ST = 1, 2, 3, 4, 5


@njit(cache=True)
def _apply(rows, index, ev, start, room):
    """Fold events from ``start`` on into the ledger rows (row = order id) and index the
    new client order ids, stopping before an event that would index one more key than
    ``room``; returns (keys added, where it stopped: the event count when done). O(events)."""
    added = 0
    for i in range(start, ev.shape[0]):
        e = ev[i]
        kind = e[_KIND]
        oid = e[_ORDER_ID]
        if added == room and (kind == _ACCEPTED or kind == _REPLACED):
            return added, i
        if kind == _ACCEPTED:
            r = rows[oid]
            r[R_ACCOUNT] = e[_ACCOUNT]
            r[R_INSTRUMENT] = e[_INSTRUMENT]
            r[R_SIDE] = e[_SIDE]
            r[R_PRICE] = e[_PRICE]
            r[R_QTY] = e[_QTY]
            r[R_FILLED] = 0
            r[R_LEAVES] = e[_LEAVES]
            r[R_STATUS] = _NEW
            r[R_FIRST_CLORD] = e[_CLORD]
            r[R_CLORD] = e[_CLORD]
            r[R_SEQ] = e[_SEQ]
            added += hash_put(index, clord_key(e[_CLORD], e[_ACCOUNT]), oid)
        elif kind == _TRADE and oid != 0:  # a day-ahead trade (order id 0) moves no order
            t = rows[oid]
            t[R_FILLED] = e[_FILLED]
            t[R_LEAVES] = e[_LEAVES]
            t[R_STATUS] = _FILLED_ST if t[R_LEAVES] == 0 else _PARTIAL
            m = rows[e[_CONTRA_ID]]
            m[R_FILLED] += e[_QTY]
            m[R_LEAVES] = e[_CONTRA_LEAVES]
            m[R_STATUS] = _FILLED_ST if m[R_LEAVES] == 0 else _PARTIAL
        elif kind == _CANCELLED or kind == _EXPIRED:
            r = rows[oid]
            r[R_LEAVES] = e[_LEAVES]
            if r[R_LEAVES] == 0:
                r[R_STATUS] = _CANCELED if kind == _CANCELLED else _EXPIRED_ST
        elif kind == _REPLACED:
            r = rows[oid]
            r[R_CLORD] = e[_CLORD]
            r[R_PRICE] = e[_PRICE]
            r[R_QTY] = e[_QTY]
            r[R_LEAVES] = e[_LEAVES]
            added += hash_put(index, clord_key(e[_CLORD], r[R_ACCOUNT]), oid)
    return added, ev.shape[0]


@njit(cache=True)
def _reindex(rows, index):
    """Index every client order id of the rows (after a restore); how many keys."""
    added = 0
    for oid in range(1, rows.shape[0]):
        r = rows[oid]
        if r[R_STATUS] != 0:
            added += hash_put(index, clord_key(r[R_FIRST_CLORD], r[R_ACCOUNT]), oid)
            added += hash_put(index, clord_key(r[R_CLORD], r[R_ACCOUNT]), oid)
    return added


def _table_for(keys: int) -> np.ndarray:
    """An empty index with room for ``keys`` at most half full."""
    return np.full((1 << max(10, (2 * keys).bit_length()), 2), EMPTY, np.int64)


class OrderLedger:
    """Every accepted order's latest state; row ``order_id`` (row 0 unused)."""

    def __init__(self, rows: np.ndarray | None = None, index: np.ndarray | None = None) -> None:
        """A new ledger, or one restored from a snapshot's rows and index. Without the
        index it is rebuilt from the rows, which knows only each order's first and
        current client order id (not those it had in between)."""
        self.rows = np.zeros((1024, len(FIELDS)), np.int64) if rows is None else np.array(rows, np.int64, order="C")
        self.count = int(np.count_nonzero(self.rows[:, R_STATUS]))
        if index is not None:
            self.index = np.array(index, np.int64, order="C")
            self.indexed = int(np.count_nonzero(self.index[:, KEY] != EMPTY))
        else:
            self.index = _table_for(2 * self.count)
            self.indexed = _reindex(self.rows, self.index)

    def apply(self, events: np.ndarray) -> None:
        """Fold a batch of engine events in. O(events) amortised.

        The rows and the index grow by doubling, the index exactly when one more key would
        fill it past half, so the arrays depend only on the events, not on how they were
        batched (a replay joins the journal's groups into larger batches)."""
        if not len(events):
            return
        top = int(events["order_id"].max())
        if top >= len(self.rows):  # double past top, in place (mremap, no copy); new rows are zero
            self.rows.resize((len(self.rows) << (top // len(self.rows)).bit_length(), len(FIELDS)), refcheck=False)
        words, start = record_words(events), 0
        while True:
            added, start = _apply(self.rows, self.index, words, start, len(self.index) // 2 - self.indexed)
            self.indexed += added
            if start == len(events):
                break
            self.index = rehash(self.index, 2 * len(self.index))
        self.count = max(self.count, top)

    def get(self, order_id: int) -> OrderRecord | None:
        """The order with this engine id, or None."""
        if not 0 < order_id < len(self.rows) or self.rows[order_id, R_STATUS] == 0:
            return None
        fields: list[Any] = self.rows[order_id].tolist()
        fields[R_STATUS] = OrderStatus(fields[R_STATUS])
        return OrderRecord(order_id, *fields)

    def placed(self, account: int, clord: int) -> int:
        """How many orders an account placed under a client order id (never more than 1),
        counted by scanning every row, independently of the index. O(orders)."""
        rows = self.rows[: self.count + 1]
        return int(np.count_nonzero((rows[:, R_ACCOUNT] == account) & (rows[:, R_STATUS] != 0)
                                    & (rows[:, R_FIRST_CLORD] == clord)))

    def find(self, account: int, clord: int) -> OrderRecord | None:
        """The order an account placed or replaced under a client order id. O(1) expected."""
        if not 0 < clord < CLORD_LIMIT or not 0 <= account < 1 << ACCOUNT_BITS:
            return None
        order_id = int(hash_find(self.index, clord_key(clord, account)))
        return self.get(order_id) if order_id != EMPTY else None
