"""Every order the market accepted that is still live or recently done, and the way to
the older ones, by engine order id or by client order id.

The engine forgets an order once it is done; clients still ask about it (and a client
retrying a client order id after a crash must get the original order back, never a
second one). :class:`OrderLedger` follows the engine's events and keeps one row per hot
order in int64 arrays (columns :data:`FIELDS`), updated by a small jitted kernel:

* ``ACCEPTED`` appends the row (status NEW); order ids grow, so the rows stay sorted by
  order id and an event finds its order's row at once when the order came after the last
  retirement (ids are dense there), else by binary search, O(log hot orders);
* ``TRADE`` updates filled/leaves of the taker and the maker (PARTIALLY_FILLED, FILLED);
* ``CANCELLED``/``EXPIRED`` lower leaves; at 0 the status becomes CANCELED/EXPIRED;
* ``REPLACED`` sets the new client order id, price, qty and leaves;
* an order whose leaves reach 0 records the seq it was done at (``done_seq``).

Lookups by (account, client order id) go through an open-addressing hash index
(:mod:`exchange.engine.hashtable`) of every client order id the hot orders ever had: O(1)
expected; it is kept in snapshots.

Retirement keeps this bounded by what is live. As the events spend client order ids (an
order replaced away from one; an order done, its last one), the kernel notes each id
with its order's row (:attr:`OrderLedger.spent`), so a retirement touches only those:
:meth:`OrderLedger.retiring` gives the done rows (one per client order id they had) for
the order history on disk (:mod:`exchange.sequencer.history`), O(spent ids); once that is
durable the sequencer journals ``FORGET_DONE(through)``, and applying it
(:meth:`OrderLedger.apply`, at its place among the events, so a replay does the same)
moves the other rows up in one pass and deletes those keys from the index. Older
orders are then answered from :attr:`OrderLedger.history`: :meth:`find`, :meth:`get`
and :meth:`known` look there after the hot rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numba import njit

from exchange.engine.hashtable import (
    EMPTY,
    KEY,
    VALUE,
    clord_key,
    hash_delete,
    hash_find,
    hash_put,
    prefetch,
    prefetch_home,
    rehash,
)
from exchange.schema import ACCOUNT_BITS, CLORD_LIMIT, E, EventKind as EV, record_words
from exchange.sequencer.history import COLUMNS, OrderHistory


class OrderStatus(IntEnum):
    """FIX OrdStatus of an order."""

    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    EXPIRED = 5


(R_ACCOUNT, R_INSTRUMENT, R_SIDE, R_PRICE, R_QTY, R_FILLED, R_LEAVES, R_STATUS,
 R_FIRST_CLORD, R_CLORD, R_SEQ, R_ID, R_DONE) = range(13)
S_KEY, S_ROW = 0, 1
"""Columns of :attr:`OrderLedger.spent`."""
FIELDS = ("account", "instrument", "side", "price", "qty", "filled", "leaves", "status",
          "first_clord", "clord", "accepted_seq", "order_id", "done_seq")
_TO_HISTORY = np.array([FIELDS.index(name) for name in COLUMNS[1:]], np.int64)
"""Ledger columns of the history's columns after its key."""


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

    @classmethod
    def of_history(cls, row: list[int]) -> OrderRecord:
        """The record of an order history row (:data:`~exchange.sequencer.history.COLUMNS`)."""
        (_, order_id, account, instrument, side, price, qty, filled, leaves, status, first_clord, clord,
         accepted_seq, _) = row
        return cls(order_id, account, instrument, side, price, qty, filled, leaves, OrderStatus(status),
                   first_clord, clord, accepted_seq)


# Plain ints for the kernel (compile-time constants).
_KIND, _ORDER_ID, _ACCOUNT, _INSTRUMENT = int(E.KIND), int(E.ORDER_ID), int(E.ACCOUNT), int(E.INSTRUMENT)
_SIDE, _PRICE, _QTY, _LEAVES = int(E.SIDE), int(E.PRICE), int(E.QTY), int(E.LEAVES)
_FILLED, _CLORD, _SEQ = int(E.FILLED), int(E.CLORD), int(E.SEQ)
_CONTRA_ID, _CONTRA_LEAVES = int(E.CONTRA_ORDER_ID), int(E.CONTRA_LEAVES)
_ACCEPTED, _TRADE, _CANCELLED, _EXPIRED, _REPLACED = (
    int(EV.ACCEPTED), int(EV.TRADE), int(EV.CANCELLED), int(EV.EXPIRED), int(EV.REPLACED))
_NEW, _PARTIAL, _FILLED_ST, _CANCELED, _EXPIRED_ST = 1, 2, 3, 4, 5
_PREFETCH_DISTANCE = 8
"""How many events ahead :func:`_apply` prefetches what an event will touch (the index
slot of an ACCEPTED's key, the row of the order a TRADE's maker, a CANCELLED, EXPIRED or
REPLACED names), and keys ahead :func:`_forget_spent` the slot of a key it deletes."""


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _dense_row(rows, count, oid):
    """The row of an order id among the first ``count`` rows (``count`` > 0) if no id
    between it and the newest is missing, a row at or below it if some are (see
    :func:`_row_of`); possibly out of range."""
    return count - 1 - (rows[count - 1, R_ID] - oid)


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _row_of(rows, count, oid):
    """Row of an order id among the first ``count`` rows (sorted by id), or -1: O(1) for
    an order accepted since the last FORGET_DONE, else O(log count).

    Ids are unique and increasing, so an order is at least as many rows below the newest
    as its id is below the newest id: the search starts there, the row itself when no id
    in between is missing (the engine gives ids out one by one to the orders it accepts;
    only a retirement leaves gaps)."""
    if count == 0:
        return -1
    lo, hi = max(0, _dense_row(rows, count, oid)), count
    if lo < count and rows[lo, R_ID] == oid:
        return lo
    while lo < hi:
        mid = (lo + hi) >> 1
        if rows[mid, R_ID] < oid:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < count and rows[lo, R_ID] == oid else -1


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _prefetch_order(rows, count, oid):
    """Hint the CPU to load the row where :func:`_row_of` will look first for an order
    id (nothing if that is not among the first ``count`` rows). The hot rows are far
    larger than the caches, so the row of a maker that trades or of an order cancelled
    is a cache miss. No effect on results."""
    if count == 0:
        return
    row = _dense_row(rows, count, oid)
    if 0 <= row < count:  # a row spans 104 bytes: these three columns reach every cache line of it
        for column in (R_ACCOUNT, R_FIRST_CLORD, R_DONE):
            prefetch(rows, row, column)  # type: ignore[call-arg]  # (an intrinsic: typing context first)


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _spend(spent, n, rows, row, clord):
    """Note a client order id of row ``row`` as spent (see :attr:`OrderLedger.spent`); the new count."""
    spent[n, S_KEY] = clord_key(clord, rows[row, R_ACCOUNT])
    spent[n, S_ROW] = row
    return n + 1


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _apply(rows, count, index, spent, n_spent, ev, start, stop, room):  # noqa: C901 - one pass over the events
    """Fold events ``start..stop-1`` into the hot rows (``count`` used), index the new
    client order ids and note the spent ones (``n_spent`` used), stopping before an event
    when ``spent`` has room for fewer than 2 more, the event would index one more key
    than ``room`` or add a row past the end of ``rows``; returns (keys added, where it
    stopped, rows used, orders done, spent used). O(events), O(events * log rows) for
    orders older than the last FORGET_DONE (:func:`_row_of`)."""
    added = 0
    done = 0
    for i in range(start, stop):
        ahead = i + _PREFETCH_DISTANCE
        if ahead < stop:
            coming = ev[ahead, _KIND]
            if coming == _ACCEPTED:
                prefetch_home(index, clord_key(ev[ahead, _CLORD], ev[ahead, _ACCOUNT]))
            elif coming == _TRADE:
                _prefetch_order(rows, count, ev[ahead, _CONTRA_ID])
            elif coming == _CANCELLED or coming == _EXPIRED or coming == _REPLACED:
                _prefetch_order(rows, count, ev[ahead, _ORDER_ID])
        e = ev[i]
        kind = e[_KIND]
        oid = e[_ORDER_ID]
        if (n_spent + 2 > spent.shape[0] or kind == _ACCEPTED and (added == room or count == rows.shape[0])
                or kind == _REPLACED and added == room):
            return added, i, count, done, n_spent
        if kind == _ACCEPTED:
            r = rows[count]
            count += 1
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
            r[R_ID] = oid
            r[R_DONE] = 0
            added += hash_put(index, clord_key(e[_CLORD], e[_ACCOUNT]), oid)
        elif kind == _TRADE and oid != 0:  # a day-ahead trade (order id 0) moves no order
            row = _row_of(rows, count, oid)
            t = rows[row]
            t[R_FILLED] = e[_FILLED]
            t[R_LEAVES] = e[_LEAVES]
            t[R_STATUS] = _FILLED_ST if t[R_LEAVES] == 0 else _PARTIAL
            if t[R_LEAVES] == 0:
                t[R_DONE] = e[_SEQ]
                done += 1
                n_spent = _spend(spent, n_spent, rows, row, t[R_CLORD])
            row = _row_of(rows, count, e[_CONTRA_ID])
            m = rows[row]
            m[R_FILLED] += e[_QTY]
            m[R_LEAVES] = e[_CONTRA_LEAVES]
            m[R_STATUS] = _FILLED_ST if m[R_LEAVES] == 0 else _PARTIAL
            if m[R_LEAVES] == 0:
                m[R_DONE] = e[_SEQ]
                done += 1
                n_spent = _spend(spent, n_spent, rows, row, m[R_CLORD])
        elif kind == _CANCELLED or kind == _EXPIRED:
            row = _row_of(rows, count, oid)
            r = rows[row]
            r[R_LEAVES] = e[_LEAVES]
            if r[R_LEAVES] == 0:
                r[R_STATUS] = _CANCELED if kind == _CANCELLED else _EXPIRED_ST
                r[R_DONE] = e[_SEQ]
                done += 1
                n_spent = _spend(spent, n_spent, rows, row, r[R_CLORD])
        elif kind == _REPLACED:
            row = _row_of(rows, count, oid)
            r = rows[row]
            n_spent = _spend(spent, n_spent, rows, row, r[R_CLORD])  # the id it is replaced from
            r[R_CLORD] = e[_CLORD]
            r[R_PRICE] = e[_PRICE]
            r[R_QTY] = e[_QTY]
            r[R_LEAVES] = e[_LEAVES]
            added += hash_put(index, clord_key(e[_CLORD], r[R_ACCOUNT]), oid)
    return added, stop, count, done, n_spent


@njit(cache=True)
def _reindex(rows, count, index):
    """Index the first and current client order id of every row (after a restore
    without an index); how many keys."""
    added = 0
    for i in range(count):
        r = rows[i]
        added += hash_put(index, clord_key(r[R_FIRST_CLORD], r[R_ACCOUNT]), r[R_ID])
        added += hash_put(index, clord_key(r[R_CLORD], r[R_ACCOUNT]), r[R_ID])
    return added


_DENSE = 8
"""An id map (:func:`_id_map`) is made when the hot ids span at most this many ids per
hot order (4 bytes each: at most 32 bytes per hot order); sparser ids are searched."""


@njit(cache=True)
def _id_map(ids):
    """Where each order id of the sorted ``ids`` is: ``at[oid - ids[0]]`` its position,
    -1 for an id in the range that is not there; an empty map when the ids span more than
    :data:`_DENSE` per id. O(id range)."""
    if ids.shape[0] == 0 or ids[-1] - ids[0] >= _DENSE * ids.shape[0] + 1024:
        return np.empty(0, np.int32)
    at = np.full(ids[-1] - ids[0] + 1, -1, np.int32)
    for p in range(ids.shape[0]):
        at[ids[p] - ids[0]] = p
    return at


@njit(cache=True)
def _position(ids, at, oid):
    """Position of an order id in the sorted ``ids`` (-1: not there), by the map ``at``
    when there is one (O(1)), else by binary search (O(log ids))."""
    if at.shape[0]:
        i = oid - ids[0]
        return at[i] if 0 <= i < at.shape[0] else -1
    p = np.searchsorted(ids, oid)
    return p if p < ids.shape[0] and ids[p] == oid else -1


@njit(cache=True)
def _spent_of(index, rows, count, spent):
    """Note in ``spent`` every key of the index that no longer names a live order: its
    order (among the first ``count`` rows) is done, or it is not the order's current
    client order id (replaced since); how many. O(index) with an id map, else
    O(index * log count)."""
    ids = rows[:count, R_ID].copy()
    at = _id_map(ids)
    n = 0
    for i in range(index.shape[0]):
        if index[i, KEY] != EMPTY:
            row = _position(ids, at, index[i, VALUE])
            r = rows[row]
            if r[R_DONE] != 0 or index[i, KEY] != clord_key(r[R_CLORD], r[R_ACCOUNT]):
                spent[n, S_KEY] = index[i, KEY]
                spent[n, S_ROW] = row
                n += 1
    return n


@njit(cache=True, nogil=True)
def _retiring(spent, n_spent, rows, after, through, columns):
    """The history rows (the key, then the ledger's ``columns``) of the spent keys whose
    order was done at a seq in ``after+1..through``. O(spent)."""
    out = np.empty((n_spent, 1 + columns.shape[0]), np.int64)
    n = 0
    for j in range(n_spent):
        r = rows[spent[j, S_ROW]]
        if after < r[R_DONE] <= through:
            out[n, 0] = spent[j, S_KEY]
            for c in range(columns.shape[0]):
                out[n, 1 + c] = r[columns[c]]
            n += 1
    return out[:n]


@njit(cache=True, nogil=True)
def _compact(rows, count, through, moved):
    """Move the rows of the orders not done at a seq up to ``through`` to the front, in
    order, in place, and zero the rows left behind; ``moved[i]``: where row ``i`` went
    (-1: dropped). (Rows kept, of them done.) O(count), no copy of the rows."""
    kept = 0
    done = 0
    for i in range(count):
        d = rows[i, R_DONE]
        if d == 0 or d > through:
            if i != kept:
                rows[kept] = rows[i]
            moved[i] = kept
            done += d != 0
            kept += 1
        else:
            moved[i] = -1
    rows[kept:count] = 0
    return kept, done


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # allocates nothing: no refcounts
def _forget_spent(spent, n_spent, moved, index):
    """Delete from the index the spent keys whose row was dropped (``moved`` -1) and
    keep the others, at their new rows; (spent kept, keys deleted). O(spent), the index
    rows of the keys a few ahead prefetched (the index is read at random)."""
    kept = 0
    for j in range(n_spent):
        ahead = j + _PREFETCH_DISTANCE
        if ahead < n_spent and moved[spent[ahead, S_ROW]] < 0:
            prefetch_home(index, spent[ahead, S_KEY])
        row = moved[spent[j, S_ROW]]
        if row < 0:
            hash_delete(index, spent[j, S_KEY])
        else:
            spent[kept, S_KEY] = spent[j, S_KEY]
            spent[kept, S_ROW] = row
            kept += 1
    return kept, n_spent - kept


@njit(cache=True)
def _found(index, keys):
    """For each key, whether the index holds it. O(keys)."""
    out = np.zeros(keys.shape[0], np.bool_)
    for i in range(keys.shape[0]):
        out[i] = hash_find(index, keys[i]) != EMPTY
    return out


def _table_for(keys: int) -> np.ndarray:
    """An empty index with room for ``keys`` at most half full."""
    return np.full((1 << max(10, (2 * keys).bit_length()), 2), EMPTY, np.int64)


class OrderLedger:
    """Every hot order's latest state, one row each, sorted by order id; older orders in
    :attr:`history`."""

    def __init__(self, rows: np.ndarray | None = None, index: np.ndarray | None = None,
                 forgotten_through: int = 0) -> None:
        """A new ledger, or one restored from a snapshot's rows and index. Without the
        index it is rebuilt from the rows, which knows only each order's first and
        current client order id (not those it had in between)."""
        given = np.zeros((0, len(FIELDS)), np.int64) if rows is None else np.asarray(rows, np.int64)
        self.count = int(np.count_nonzero(given[:, R_STATUS]))
        """Hot orders: the first ``count`` rows."""
        self.rows = np.zeros((max(1024, 1 << max(0, self.count - 1).bit_length()), len(FIELDS)), np.int64)
        self.rows[: self.count] = given[: self.count]
        self.done = int(np.count_nonzero(self.rows[: self.count, R_DONE]))
        """Hot orders that are done (the next retirement moves them to the history)."""
        self.forgotten_through = forgotten_through
        """Orders done at seqs up to this were retired (by FORGET_DONE) to the history."""
        self.history: OrderHistory | None = None
        """The order history on disk (set by the node; a ledger without one, e.g. an
        auditor's, answers from its hot rows only)."""
        if index is not None:
            self.index = np.array(index, np.int64, order="C")
            self.indexed = int(np.count_nonzero(self.index[:, KEY] != EMPTY))
        else:
            self.index = _table_for(2 * self.count)
            self.indexed = _reindex(self.rows, self.count, self.index)
        self.spent = np.empty((max(1024, 1 << self.indexed.bit_length()), 2), np.int64)
        """(key, row) of every indexed client order id that no longer names a live order:
        the ids replaced away from and the last id of every done order, noted as they are
        spent, so a retirement touches only them. Not in snapshots: rebuilt from the index
        (:func:`_spent_of`); its order does not matter (history files are sorted and the
        index's deletions commute)."""
        self.n_spent = _spent_of(self.index, self.rows, self.count, self.spent)

    def apply(self, events: np.ndarray, forgets: list[tuple[int, int]] = ()) -> None:  # type: ignore[assignment]
        """Fold a batch of engine events in; ``forgets`` are the (seq, amount) of the
        batch's acknowledged FORGET_DONE commands, each applied (:meth:`forget`) right
        after the events up to its seq. O(events) amortised (O(events log hot orders) for
        the orders older than the last FORGET_DONE).

        The rows and the index grow by doubling, the rows exactly when one more order would
        not fit, the index exactly when one more key would fill it past half, so the arrays
        depend only on the events, not on how they were batched (a replay joins the
        journal's groups into larger batches)."""
        if not len(events):
            for _, amount in forgets:
                self.forget(amount)
            return
        words, start = record_words(events), 0
        for seq, amount in forgets:
            stop = int(np.searchsorted(events["seq"], seq, side="right"))
            self._apply(words, start, stop)
            self.forget(amount)
            start = stop
        self._apply(words, start, len(events))

    def _apply(self, words: np.ndarray, start: int, stop: int) -> None:
        while start < stop:
            added, start, self.count, done, self.n_spent = _apply(
                self.rows, self.count, self.index, self.spent, self.n_spent, words, start, stop,
                len(self.index) // 2 - self.indexed)
            self.indexed += added
            self.done += done
            if start == stop:
                break
            if self.n_spent + 2 > len(self.spent):  # (not in snapshots: its size is free)
                self.spent.resize((2 * len(self.spent), 2), refcheck=False)
            elif self.count == len(self.rows) and words[start, _KIND] == _ACCEPTED:  # in place (mremap, no copy)
                self.rows.resize((2 * len(self.rows), len(FIELDS)), refcheck=False)  # new rows are zero
            else:
                self.index = rehash(self.index, 2 * len(self.index))

    def retiring(self, after: int, through: int) -> np.ndarray:
        """The order history rows (:data:`~exchange.sequencer.history.COLUMNS`) of the hot
        orders done at seqs ``after+1..through`` (``after``: where the history ends; the
        orders done before are in it already, waiting for their FORGET_DONE): one per
        client order id each had. O(spent keys)."""
        return _retiring(self.spent, self.n_spent, self.rows, max(after, 0), through, _TO_HISTORY)

    def forget(self, through: int) -> None:
        """Drop the orders done at seqs up to ``through`` and delete their keys from the
        index (FORGET_DONE applied: the history holds them). The rows move up in one
        pass, O(hot orders); the index keeps its size (it grew to hold the peak) and
        loses only the spent keys, O(spent keys)."""
        moved = np.empty(self.count, np.int64)
        self.count, self.done = _compact(self.rows, self.count, through, moved)
        self.n_spent, deleted = _forget_spent(self.spent, self.n_spent, moved, self.index)
        self.indexed -= deleted
        self.forgotten_through = max(self.forgotten_through, through)

    def _hot(self, order_id: int) -> OrderRecord | None:
        row = int(_row_of(self.rows, self.count, order_id))
        if row < 0:
            return None
        fields: list[Any] = self.rows[row, : R_SEQ + 1].tolist()
        fields[R_STATUS] = OrderStatus(fields[R_STATUS])
        return OrderRecord(order_id, *fields)

    def get(self, order_id: int) -> OrderRecord | None:
        """The order with this engine id, or None (hot, else from the history)."""
        record = self._hot(order_id)
        if record is None and self.history is not None and order_id > 0:
            row = self.history.get(order_id)
            return OrderRecord.of_history(row) if row is not None else None
        return record

    def placed(self, account: int, clord: int) -> int:
        """How many orders an account placed under a client order id (never more than 1),
        counted by scanning every row, hot and in the history, independently of the
        indexes. O(orders ever)."""
        rows = self.rows[: self.count]
        found = [rows[(rows[:, R_ACCOUNT] == account) & (rows[:, R_FIRST_CLORD] == clord), R_ID]]
        if self.history is not None:  # (an order written there stays hot until its FORGET_DONE)
            for segment in self.history.segments:
                found.append(segment.column("order_id")[(segment.column("account") == account)
                                                        & (segment.column("first_clord") == clord)])
        return len(np.unique(np.concatenate(found)))

    def find(self, account: int, clord: int) -> OrderRecord | None:
        """The order an account placed or replaced under a client order id: O(1)
        expected when hot, else O(segments log n) from the history."""
        if not 0 < clord < CLORD_LIMIT or not 0 <= account < 1 << ACCOUNT_BITS:
            return None
        key = int(clord_key(clord, account))
        order_id = int(hash_find(self.index, key))
        if order_id != EMPTY:
            return self._hot(order_id)
        if self.history is not None:
            row = self.history.find(key)
            return OrderRecord.of_history(row) if row is not None else None
        return None

    def known(self, keys: np.ndarray) -> np.ndarray:
        """For each :func:`~exchange.engine.hashtable.clord_key`, whether some order ever
        had it (hot index, else the history). O(keys) expected."""
        found = _found(self.index, keys)
        if self.history is not None and not found.all():
            missing = ~found
            found[missing] = self.history.contains(keys[missing])
        return found

    def hot_orders(self, account: int, instrument: int = -1, open_only: bool = False,
                   limit: int = 1000) -> list[OrderRecord]:
        """An account's hot orders (live, and done since the last retirement), newest
        first, at most ``limit``. O(hot orders)."""
        rows = self.rows[: self.count]
        mask = rows[:, R_ACCOUNT] == account
        if instrument >= 0:
            mask &= rows[:, R_INSTRUMENT] == instrument
        if open_only:
            mask &= rows[:, R_DONE] == 0
        ids = rows[mask, R_ID][::-1][:limit]
        return [record for i in ids.tolist() if (record := self._hot(i)) is not None]
