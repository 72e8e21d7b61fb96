"""The numba engine's state: int64 arrays in a :class:`State`, their columns by name, and
how they are made and grown.

Every kernel takes the state as its first argument (numba compiles a named tuple of
arrays like a plain tuple) and addresses rows by the column constants below:

* ``orders``  order pool, ``O_*`` columns; free slots (order id 0) are chained through
  O_NEXT from ``CT_ORDER_FREE``.
* ``levels``  price levels, ``L_*``; each book side is a doubly linked list of levels
  sorted best first, each level a FIFO of orders (O_NEXT/O_PREV); free levels are
  chained through L_NEXT from ``CT_LEVEL_FREE``.
* ``instruments``  ``I_*``: state, limits, best level of each side, last trade price
  and the end of a call phase.
* ``accounts``  (max_accounts rows) ``A_*``: cash, credit, reserved, held.
* ``positions``  ``P_*``: positions of (account, instrument), with GPUs held.
* ``clord_index``, ``position_index``, ``level_index``: hash tables
  (:mod:`exchange.engine.hashtable`) of (clord, account) → order slot (or
  :func:`done_mark` of the seq at which the clord stopped naming a live order, until a
  FORGET_DONE removes it), (instrument, account) → position row, (instrument, side,
  price) → level.
* ``retired``  the client order ids (their ``clord_index`` keys) that stopped naming a
  live order, in the order they did (so by seq), for FORGET_DONE to delete the oldest of
  them without scanning the table: a queue whose words ``RQ_HEAD`` and ``RQ_TAIL`` hold
  where its keys start and end (``retired[head:tail]``). It is derived state, not
  in snapshots: :func:`retired_queue` rebuilds it from ``clord_index``.
* ``counters``  ``CT_*``: next ids, free-list heads, rows and keys in use.

Growth: :func:`has_room` says whether every pool and table has room for what one command
can add (one order, one level, one position, one listing; one retired client order id
per live order, and two more); when it has not, the wrapper calls :func:`grow` between
commands.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from exchange.engine.hashtable import EMPTY, KEY, VALUE, hash_put, new_table, rehash, rehash_into
from exchange.schema import EngineConfig

(O_ID, O_ACCOUNT, O_INSTRUMENT, O_TERMS, O_PRICE, O_QTY, O_LEAVES, O_FILLED, O_REMOVED,
 O_EXPIRE, O_CLORD, O_NEXT, O_PREV, O_LEVEL) = range(14)
O_FIELDS = 14
SIDE_SHIFT, TIF_SHIFT, STP_SHIFT, FLAGS_SHIFT = 0, 4, 8, 12
"""An order's side, time in force, stp mode and flags share the O_TERMS field, 4 bits
each, at these shifts (it keeps an order row at 112 bytes)."""
(L_PRICE, L_QTY, L_COUNT, L_HEAD, L_TAIL, L_NEXT, L_PREV, L_INSTRUMENT, L_SIDE) = range(9)
L_FIELDS = 9
(I_STATE, I_CLASS, I_REGION, I_SLOT, I_GATE, I_TICK, I_LO, I_HI, I_MIN_QTY, I_MAX_QTY,
 I_BEST_BID, I_BEST_ASK, I_LAST, I_CALL_END) = range(14)
I_FIELDS = 14
CL_TICK, CL_LO, CL_HI, CL_MIN_QTY, CL_MAX_QTY, CL_GATE, CL_REFERENCE = range(7)
"""Columns of the per-class rows of :func:`class_table`."""
A_CASH, A_CREDIT, A_RESERVED, A_HELD = range(4)
A_FIELDS = 4
P_CAPACITY, P_BOUGHT, P_SOLD, P_ASK_OPEN, P_ACCOUNT, P_INSTRUMENT, P_HELD = range(7)
P_FIELDS = 7
(CT_INSTRUMENTS, CT_NEXT_ORDER_ID, CT_NEXT_TRADE_ID, CT_ORDER_FREE, CT_LEVEL_FREE,
 CT_POSITIONS, CT_CLORD_N, CT_POS_N, CT_LEVEL_N, CT_LIVE) = range(10)
CT_FIELDS = 10

DONE = -2
"""Values ``<= DONE`` in ``clord_index`` mark a client order id that no longer names a
live order (:func:`done_mark`)."""
RQ_HEAD, RQ_TAIL, RQ_KEYS = 0, 1, 2
"""Words of the ``retired`` queue: where its keys start, where they end, where the room
for keys starts."""

kernel = njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
"""Decorator of the kernels that never allocate: compiled without reference counting,
which makes a call between them as cheap as in C."""


class State(NamedTuple):
    """The engine's arrays (all int64); the field names but ``retired`` are also a
    snapshot's keys."""

    orders: np.ndarray
    levels: np.ndarray
    instruments: np.ndarray
    accounts: np.ndarray
    positions: np.ndarray
    clord_index: np.ndarray
    position_index: np.ndarray
    level_index: np.ndarray
    retired: np.ndarray
    counters: np.ndarray


@kernel
def done_mark(seq):
    """The ``clord_index`` value of a client order id retired at command ``seq`` (its order
    done, or replaced under a new clord): ``DONE - seq``, so FORGET_DONE can select by seq."""
    return DONE - seq


@kernel
def retire_clord(st, key, seq):
    """Mark a client order id (its ``clord_index`` key) as no longer naming a live order
    since command ``seq`` and queue it in ``retired``; the queue has room
    (:func:`has_room`)."""
    hash_put(st.clord_index, key, done_mark(seq))
    q = st.retired
    q[q[RQ_TAIL]] = key
    q[RQ_TAIL] += 1


# ---------------------------------------------------------------- order terms

@kernel
def order_terms(side, tif, stp, flags):
    """The O_TERMS value of an order with these terms."""
    return (side << SIDE_SHIFT) | (tif << TIF_SHIFT) | (stp << STP_SHIFT) | (flags << FLAGS_SHIFT)


@kernel
def order_side(o):
    return (o[O_TERMS] >> SIDE_SHIFT) & 15


@kernel
def order_tif(o):
    return (o[O_TERMS] >> TIF_SHIFT) & 15


@kernel
def order_stp(o):
    return (o[O_TERMS] >> STP_SHIFT) & 15


@kernel
def order_flags(o):
    return (o[O_TERMS] >> FLAGS_SHIFT) & 15


# ---------------------------------------------------------------- making and growing

def class_table(config: EngineConfig) -> np.ndarray:
    """The per-class parameters the kernels read, one row per GPU class (``CL_*``)."""
    return np.array(
        [[config.tick[c], config.band_lo[c], config.band_hi[c], config.min_qty[c],
          config.max_qty[c], config.gate_closure_ns, config.reference[c]]
         for c in range(config.n_classes)],
        dtype=np.int64,
    )


def new_state(initial_orders: int, max_accounts: int) -> State:
    """An empty state with room for ``initial_orders`` orders (at least 16)."""
    n = max(16, initial_orders)
    orders = _free_pool(n, O_FIELDS, O_NEXT)
    orders[:, O_ID] = 0  # a free order slot has id 0
    levels = _free_pool(n, L_FIELDS, L_NEXT)
    counters = np.zeros(CT_FIELDS, np.int64)
    counters[CT_NEXT_ORDER_ID] = 1
    counters[CT_NEXT_TRADE_ID] = 1
    return State(orders, levels, np.zeros((64, I_FIELDS), np.int64),
                 np.zeros((max_accounts, A_FIELDS), np.int64), np.zeros((n, P_FIELDS), np.int64),
                 new_table(n), new_table(n), new_table(n), _empty_queue(n), counters)


def _empty_queue(room: int) -> np.ndarray:
    """An empty ``retired`` queue with room for ``room`` keys."""
    queue = np.zeros(RQ_KEYS + room, np.int64)
    queue[RQ_HEAD] = queue[RQ_TAIL] = RQ_KEYS
    return queue


def retired_queue(clord_index: np.ndarray, live: int) -> np.ndarray:
    """The ``retired`` queue of a ``clord_index`` (a restored one): its keys marked done,
    by the seq they were retired at (those of one seq in any order: FORGET_DONE deletes
    a seq's keys together, and deletions in any order leave the same table), with room
    for the ``live`` + 2 more :func:`has_room` asks. O(table + retired log retired)."""
    done = np.flatnonzero(clord_index[:, VALUE] <= DONE)
    queue = _empty_queue(2 * (len(done) + live + 2))
    queue[RQ_KEYS:RQ_KEYS + len(done)] = clord_index[done[np.argsort(-clord_index[done, VALUE], kind="stable")], KEY]
    queue[RQ_TAIL] = RQ_KEYS + len(done)
    return queue


@kernel
def has_room(st):
    """Whether every pool and table has room for what one command can add."""
    ctr = st.counters
    return (ctr[CT_ORDER_FREE] != EMPTY and ctr[CT_LEVEL_FREE] != EMPTY
            and ctr[CT_INSTRUMENTS] < st.instruments.shape[0]
            and ctr[CT_POSITIONS] < st.positions.shape[0]
            and 2 * (ctr[CT_CLORD_N] + 1) <= st.clord_index.shape[0]
            and 2 * (ctr[CT_POS_N] + 1) <= st.position_index.shape[0]
            and 2 * (ctr[CT_LEVEL_N] + 1) <= st.level_index.shape[0]
            and st.retired[RQ_TAIL] + ctr[CT_LIVE] + 2 <= st.retired.shape[0])


def grow(st: State, clord_table: np.ndarray | None = None) -> State:
    """Double every pool or table that may not have room for one more command: the pools
    in place, the tables into new arrays (so the returned state replaces ``st``). The
    client order id table doubles into ``clord_table`` if given (an empty table of twice
    its rows, made ahead: :func:`must_double` says when it is used)."""
    ctr = st.counters
    if ctr[CT_ORDER_FREE] == EMPTY:
        start = _double(st.orders, EMPTY)
        st.orders[start:, O_ID] = 0
        _chain(st.orders, start, O_NEXT)
        ctr[CT_ORDER_FREE] = start
    if ctr[CT_LEVEL_FREE] == EMPTY:
        start = _double(st.levels, EMPTY)
        _chain(st.levels, start, L_NEXT)
        ctr[CT_LEVEL_FREE] = start
    if ctr[CT_INSTRUMENTS] >= len(st.instruments):
        _double(st.instruments, 0)
    if ctr[CT_POSITIONS] >= len(st.positions):
        _double(st.positions, 0)
    return st._replace(
        clord_index=_grown_table(st.clord_index, ctr[CT_CLORD_N], clord_table),
        position_index=_grown_table(st.position_index, ctr[CT_POS_N]),
        level_index=_grown_table(st.level_index, ctr[CT_LEVEL_N]),
        retired=_roomy_queue(st.retired, int(ctr[CT_LIVE]) + 2))


def must_double(table: np.ndarray, keys: int) -> bool:
    """Whether a table holding ``keys`` keys doubles at the next :func:`grow`: one more
    would fill it over half."""
    return 2 * (keys + 1) > len(table)


def _grown_table(table: np.ndarray, keys: int, grown: np.ndarray | None = None) -> np.ndarray:
    """The table, or if it must double a copy twice its size (into ``grown``, an empty
    table of that size, if given)."""
    if not must_double(table, keys):
        return table
    if grown is None:
        return rehash(table, 2 * len(table))
    assert len(grown) == 2 * len(table), "a table made ahead at another size would change the state"
    return rehash_into(table, grown)


def _roomy_queue(queue: np.ndarray, room: int) -> np.ndarray:
    """The ``retired`` queue with room for ``room`` more keys: its keys moved to the front
    of it, or of a copy twice as large as they and ``room`` need, if they do not fit.
    O(queued keys)."""
    head, tail = queue[RQ_HEAD], queue[RQ_TAIL]
    if tail + room <= len(queue):
        return queue
    keys = queue[head:tail].copy()
    if RQ_KEYS + len(keys) + room > len(queue):
        queue = _empty_queue(2 * (len(keys) + room))
    queue[RQ_KEYS:RQ_KEYS + len(keys)] = keys
    queue[RQ_HEAD], queue[RQ_TAIL] = RQ_KEYS, RQ_KEYS + len(keys)
    return queue


def _free_pool(rows: int, fields: int, next_col: int) -> np.ndarray:
    """A pool of free rows (all EMPTY) chained through ``next_col`` from row 0."""
    pool = np.full((rows, fields), EMPTY, np.int64)
    _chain(pool, 0, next_col)
    return pool


def _chain(pool: np.ndarray, start: int, next_col: int) -> None:
    """Link rows ``start..`` of a pool into a free list through ``next_col``."""
    pool[start:, next_col] = np.arange(start + 1, len(pool) + 1)
    pool[-1, next_col] = EMPTY


def _double(pool: np.ndarray, fill: int) -> int:
    """Double a pool in place, new rows set to ``fill``; return the first new row.

    ``ndarray.resize`` reallocates (large blocks are moved by mremap, not copied), so the
    old and the new pool are never both alive: peak memory stays at the new size. The
    pool must own its data and no view of it may be alive (the state holds no views).
    """
    n = len(pool)
    pool.resize((2 * n, pool.shape[1]), refcheck=False)
    pool[n:] = fill
    return n
