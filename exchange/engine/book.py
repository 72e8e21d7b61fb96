"""The numba matching engine: typed wrapper over the kernels in ``_matching``.

Rules: :mod:`exchange.schema.rules`. The engine holds its state in numpy arrays that
only the jitted kernels mutate, one batch at a time; this class only allocates, grows
and reads them. It is deterministic: no clock, no randomness, no dict iteration.

Cost: ``process`` is O(commands + events) for orders that rest near the top of the book
(inserting a new price level walks from the best level); mass cancel by account and
TIMER scan the order pool, O(pool).
"""

from __future__ import annotations

import numpy as np

from exchange.engine import _matching as k
from exchange.engine.api import (
    AccountView,
    BookView,
    EngineStateError,
    Level,
    OrderView,
    PositionView,
)
from exchange.engine.hashtable import EMPTY, clord_key, hash_find, level_key, new_table, position_key, rehash
from exchange.schema import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    E,
    CommandKind,
    EngineConfig,
    InstrumentState,
    Side,
    command,
    copy_records,
    events_bound,
    record_words,
)

STATE_ARRAYS = ("orders", "levels", "instruments", "accounts", "positions", "clord_index",
                "position_index", "level_index", "counters")
"""Names of the engine's state arrays, in the order of its state tuple."""


def _process(*args):
    """The process kernel, called through its compiled entry point once there is one.

    Numba's dispatcher type-checks every argument on every call, which costs about a
    microsecond for the state tuple; the kernel has one signature, so after the first
    call this skips straight to the compiled code (O(1) per call, same results).
    """
    global _process
    result = k.process(*args)
    signatures = getattr(k.process, "signatures", ())
    if len(signatures) == 1:  # absent when NUMBA_DISABLE_JIT=1
        _process = k.process.overloads[signatures[0]].entry_point
    return result


def _term(order: np.ndarray, shift: int) -> int:
    """One of the 4-bit terms (side, tif, stp, flags) packed in an order row."""
    return (int(order[k.O_TERMS]) >> shift) & 15


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


class Engine:
    """Numba matching engine implementing :class:`exchange.engine.api.MatchingEngine`."""

    def __init__(self, config: EngineConfig, initial_orders: int = 1024) -> None:
        self.config = config
        self._classes = np.array(
            [[config.tick[c], config.band_lo[c], config.band_hi[c], config.min_qty[c],
              config.max_qty[c], config.gate_closure_ns, config.reference[c]]
             for c in range(config.n_classes)],
            dtype=np.int64,
        )
        n = max(16, initial_orders)
        orders = _free_pool(n, k.O_FIELDS, k.O_NEXT)
        orders[:, k.O_ID] = 0  # a free order slot has id 0
        levels = _free_pool(n, k.L_FIELDS, k.L_NEXT)
        insts = np.zeros((64, k.I_FIELDS), np.int64)
        accts = np.zeros((config.max_accounts, k.A_FIELDS), np.int64)
        pos = np.zeros((n, k.P_FIELDS), np.int64)
        ctr = np.zeros(k.CT_FIELDS, np.int64)
        ctr[k.CT_NEXT_ORDER_ID] = 1
        ctr[k.CT_NEXT_TRADE_ID] = 1
        self._st = (orders, levels, insts, accts, pos, new_table(n), new_table(n), new_table(n), ctr)
        self._events = np.empty((4096, len(E)), np.int64)

    # ------------------------------------------------------------------ commands

    def process(self, batch: np.ndarray, copy: bool = True) -> np.ndarray:
        """Apply a batch of commands (``COMMAND_DTYPE``) in order; return their events.

        O(commands + events) amortised; pools grow by doubling when full. The kernel
        runs without the GIL. With ``copy=False`` the events are a view of the engine's
        buffer, valid only until the next call (saves a copy when replaying).
        """
        if batch.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands must be COMMAND_DTYPE records, not {batch.dtype}")
        if not batch.flags.c_contiguous:
            batch = np.ascontiguousarray(batch)
        rows = record_words(batch)
        start, n = 0, 0
        while True:
            status, start, n = _process(self._st, self._classes, rows, start, self._events, n)
            if status == k.OK:
                events = np.ndarray((n,), EVENT_DTYPE, self._events)
                return copy_records(events) if copy else events
            self._reserve_events(n)
            self._grow()

    def _reserve_events(self, written: int) -> None:
        """Keep the first ``written`` rows of the reused event buffer and make room for
        at least as many again plus one command's worst case. O(written).

        The buffer comes from ``np.empty``: room that is never written costs no memory.
        """
        need = 2 * written + events_bound(self._live, self.n_instruments)
        if need > len(self._events):
            grown = np.empty((max(need, 2 * len(self._events)), len(E)), np.int64)
            grown[:written] = self._events[:written]
            self._events = grown

    @property
    def _live(self) -> int:
        return int(self._st[8][k.CT_LIVE])

    def submit(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Apply one command given by its fields (others 0); return its events."""
        return self.process(command(kind, **fields))

    def _grow(self) -> None:
        """Double every pool or table that may not have room for one more command."""
        (orders, levels, insts, accts, pos, ct, pt, lt, ctr) = self._st
        if ctr[k.CT_ORDER_FREE] == EMPTY:
            start = _double(orders, EMPTY)
            orders[start:, k.O_ID] = 0
            _chain(orders, start, k.O_NEXT)
            ctr[k.CT_ORDER_FREE] = start
        if ctr[k.CT_LEVEL_FREE] == EMPTY:
            start = _double(levels, EMPTY)
            _chain(levels, start, k.L_NEXT)
            ctr[k.CT_LEVEL_FREE] = start
        if ctr[k.CT_INSTRUMENTS] >= len(insts):
            _double(insts, 0)
        if ctr[k.CT_POSITIONS] >= len(pos):
            _double(pos, 0)
        if 2 * (ctr[k.CT_CLORD_N] + 1) > len(ct):
            ct = rehash(ct, 2 * len(ct))
        if 2 * (ctr[k.CT_POS_N] + 1) > len(pt):
            pt = rehash(pt, 2 * len(pt))
        if 2 * (ctr[k.CT_LEVEL_N] + 1) > len(lt):
            lt = rehash(lt, 2 * len(lt))
        self._st = (orders, levels, insts, accts, pos, ct, pt, lt, ctr)

    # ------------------------------------------------------------------ snapshots

    def export_state(self) -> dict[str, np.ndarray]:
        """A copy of every state array, by name: what a snapshot stores. O(state size)."""
        return {name: array.copy() for name, array in zip(STATE_ARRAYS, self._st)}

    @classmethod
    def from_state(cls, config: EngineConfig, state: dict[str, np.ndarray]) -> Engine:
        """An engine continuing from :meth:`export_state` output (arrays are copied).

        ``ValueError`` if an array is missing or has the wrong dtype or width.
        """
        engine = cls(config, initial_orders=16)
        arrays = []
        for name, like in zip(STATE_ARRAYS, engine._st):
            array = state.get(name)
            if array is None or array.dtype != np.int64 or array.shape[1:] != like.shape[1:]:
                raise ValueError(f"engine state: array {name!r} is missing or malformed")
            arrays.append(np.array(array, np.int64, order="C", copy=True))
        if len(arrays[3]) != config.max_accounts:
            raise ValueError("engine state: account table does not match config.max_accounts")
        engine._st = tuple(arrays)
        return engine

    # ------------------------------------------------------------------ views

    @property
    def n_instruments(self) -> int:
        """Instruments listed so far."""
        return int(self._st[8][k.CT_INSTRUMENTS])

    def _side_levels(self, instrument: int, side: Side) -> list[int]:
        levels, insts = self._st[1], self._st[2]
        out = []
        lvl = insts[instrument, k.I_BEST_BID if side == Side.BUY else k.I_BEST_ASK]
        while lvl != EMPTY:
            out.append(int(lvl))
            lvl = levels[lvl, k.L_NEXT]
        return out

    def book(self, instrument: int, depth: int | None = None) -> BookView:
        """Aggregated levels of an instrument, best first. O(levels shown)."""
        if not 0 <= instrument < self.n_instruments:
            raise KeyError(f"instrument {instrument} is not listed")
        levels = self._st[1]

        def side(s: Side) -> tuple[Level, ...]:
            ids = self._side_levels(instrument, s)[:depth]
            return tuple(Level(int(levels[i, k.L_PRICE]), int(levels[i, k.L_QTY]),
                               int(levels[i, k.L_COUNT])) for i in ids)

        i = self._st[2][instrument]
        reference = int(i[k.I_LAST]) or int(self._classes[i[k.I_CLASS], k.CL_REFERENCE])
        call_end = int(i[k.I_CALL_END]) if i[k.I_STATE] == InstrumentState.CALL else 0
        return BookView(instrument, InstrumentState(int(i[k.I_STATE])), side(Side.BUY),
                        side(Side.SELL), reference, call_end)

    def account(self, account: int) -> AccountView:
        """Money of an account. O(1)."""
        a = self._st[3][account]
        return AccountView(int(a[k.A_CASH]), int(a[k.A_CREDIT]), int(a[k.A_RESERVED]), int(a[k.A_HELD]))

    def position(self, account: int, instrument: int) -> PositionView:
        """Capacity and holdings of an account in an instrument. O(1)."""
        row = k._position(self._st, account, instrument, False)
        if row == EMPTY:
            return PositionView(0, 0, 0, 0)
        p = self._st[4][row]
        return PositionView(int(p[k.P_CAPACITY]), int(p[k.P_BOUGHT]), int(p[k.P_SOLD]),
                            int(p[k.P_ASK_OPEN]), int(p[k.P_HELD]))

    def positions_of(self, account: int) -> dict[int, PositionView]:
        """Every position an account has, by instrument id. O(positions), vectorised."""
        pos = self._st[4][: int(self._st[8][k.CT_POSITIONS])]
        rows = pos[pos[:, k.P_ACCOUNT] == account]
        return {int(r[k.P_INSTRUMENT]): PositionView(int(r[k.P_CAPACITY]), int(r[k.P_BOUGHT]), int(r[k.P_SOLD]),
                                                     int(r[k.P_ASK_OPEN]), int(r[k.P_HELD])) for r in rows}

    def next_trade_id(self) -> int:
        """The id the next trade will get (trade ids are 1, 2, 3, ...)."""
        return int(self._st[8][k.CT_NEXT_TRADE_ID])

    def instrument_states(self) -> np.ndarray:
        """The state (:class:`InstrumentState` values) of every listed instrument, by id."""
        return self._st[2][: self.n_instruments, k.I_STATE].copy()

    def live_orders(self, account: int | None = None) -> list[OrderView]:
        """Live orders (of one account or all), ascending order id. O(pool)."""
        orders = self._st[0]
        live = orders[(orders[:, k.O_ID] != 0) & (orders[:, k.O_LEVEL] != EMPTY)]
        if account is not None:
            live = live[live[:, k.O_ACCOUNT] == account]
        live = live[np.argsort(live[:, k.O_ID])]
        return [OrderView(
            int(o[k.O_ID]), int(o[k.O_ACCOUNT]), int(o[k.O_INSTRUMENT]), int(o[k.O_CLORD]),
            _term(o, k.SIDE_SHIFT), int(o[k.O_PRICE]), int(o[k.O_QTY]), int(o[k.O_LEAVES]),
            int(o[k.O_FILLED]), _term(o, k.TIF_SHIFT), int(o[k.O_EXPIRE])) for o in live]

    # ------------------------------------------------------------------ invariants

    def check(self) -> None:
        """Verify every invariant of the arrays; raise EngineStateError if one fails.

        O(pool + levels + positions); for tests.
        """
        (orders, levels, insts, accts, pos, ct, pt, lt, ctr) = self._st

        def fail(msg: str) -> None:
            raise EngineStateError(msg)

        in_queue: set[int] = set()
        reserved = np.zeros(len(accts), np.int64)
        ask_open: dict[tuple[int, int], int] = {}
        n_levels = 0
        for inst in range(self.n_instruments):
            best = {}
            for side in (Side.BUY, Side.SELL):
                prev_lvl, prev_price = EMPTY, None
                for lvl in self._side_levels(inst, side):
                    n_levels += 1
                    price = int(levels[lvl, k.L_PRICE])
                    if levels[lvl, k.L_PREV] != prev_lvl:
                        fail(f"level {lvl} of instrument {inst}: broken back link")
                    if prev_price is not None and (price >= prev_price if side == Side.BUY else price <= prev_price):
                        fail(f"instrument {inst} side {side.name}: levels not sorted at {price}")
                    if hash_find(lt, level_key(inst, int(side), price)) != lvl:
                        fail(f"level index does not point at level {lvl} ({price})")
                    qty, count, prev_slot = 0, 0, EMPTY
                    slot = levels[lvl, k.L_HEAD]
                    while slot != EMPTY:
                        o = orders[slot]
                        if o[k.O_LEVEL] != lvl or o[k.O_PREV] != prev_slot or o[k.O_PRICE] != price:
                            fail(f"order slot {slot} misplaced in level {lvl}")
                        if o[k.O_LEAVES] <= 0 or o[k.O_INSTRUMENT] != inst or _term(o, k.SIDE_SHIFT) != side:
                            fail(f"order {o[k.O_ID]} in level {lvl} has bad leaves/instrument/side")
                        in_queue.add(int(slot))
                        qty += int(o[k.O_LEAVES])
                        count += 1
                        prev_slot = slot
                        slot = o[k.O_NEXT]
                    if levels[lvl, k.L_TAIL] != prev_slot or count == 0:
                        fail(f"level {lvl} of instrument {inst}: bad tail or empty")
                    if qty != levels[lvl, k.L_QTY] or count != levels[lvl, k.L_COUNT]:
                        fail(f"level {lvl} at {price}: qty/count {levels[lvl, k.L_QTY]}/"
                             f"{levels[lvl, k.L_COUNT]} but queue holds {qty}/{count}")
                    prev_lvl, prev_price = lvl, price
                    best.setdefault(side, price)
            state = insts[inst, k.I_STATE]
            if state not in (InstrumentState.OPEN, InstrumentState.HALTED, InstrumentState.CLOSED,
                             InstrumentState.CALL):
                fail(f"instrument {inst}: bad state {state}")
            if state == InstrumentState.CLOSED and best:
                fail(f"instrument {inst}: closed but has orders")
            if state != InstrumentState.CALL and insts[inst, k.I_CALL_END] != 0:
                fail(f"instrument {inst}: a call end without a call phase")
            if (state != InstrumentState.CALL and Side.BUY in best and Side.SELL in best
                    and best[Side.BUY] >= best[Side.SELL]):
                fail(f"instrument {inst} crossed: bid {best[Side.BUY]} >= ask {best[Side.SELL]}")
        if n_levels != ctr[k.CT_LEVEL_N]:
            fail(f"{ctr[k.CT_LEVEL_N]} levels counted, {n_levels} linked")
        used = np.flatnonzero(orders[:, k.O_ID] != 0)
        if set(used.tolist()) != in_queue:
            fail("live orders and queued orders differ")
        for slot in used:
            o = orders[slot]
            if o[k.O_QTY] != o[k.O_FILLED] + o[k.O_LEAVES] + o[k.O_REMOVED]:
                fail(f"order {o[k.O_ID]}: qty {o[k.O_QTY]} != filled + leaves + removed")
            if hash_find(ct, clord_key(o[k.O_CLORD], o[k.O_ACCOUNT])) != slot:
                fail(f"order {o[k.O_ID]}: client order id index does not point at it")
            if _term(o, k.SIDE_SHIFT) == Side.BUY:
                reserved[o[k.O_ACCOUNT]] += o[k.O_PRICE] * o[k.O_LEAVES]
            else:
                key = (int(o[k.O_ACCOUNT]), int(o[k.O_INSTRUMENT]))
                ask_open[key] = ask_open.get(key, 0) + int(o[k.O_LEAVES])
        if not np.array_equal(reserved, accts[:, k.A_RESERVED]):
            bad = int(np.flatnonzero(reserved != accts[:, k.A_RESERVED])[0])
            fail(f"account {bad}: reserved {accts[bad, k.A_RESERVED]} != open bids {reserved[bad]}")
        if np.any(accts[:, k.A_CASH] + accts[:, k.A_CREDIT] < accts[:, k.A_RESERVED] + accts[:, k.A_HELD]):
            fail("an account has reserved and held more than cash + credit")
        if np.any(accts[:, k.A_HELD] < 0):
            fail("negative held funds")
        if np.any(accts[:, k.A_CREDIT] < 0):
            fail("negative credit")
        for row in range(int(ctr[k.CT_POSITIONS])):
            p = pos[row]
            key = (int(p[k.P_ACCOUNT]), int(p[k.P_INSTRUMENT]))
            if hash_find(pt, position_key(key[1], key[0])) != row:
                fail(f"position index does not point at row {row}")
            if p[k.P_ASK_OPEN] != ask_open.pop(key, 0):
                fail(f"position {key}: ask_open {p[k.P_ASK_OPEN]} != open asks")
            if min(p[k.P_CAPACITY], p[k.P_BOUGHT], p[k.P_SOLD], p[k.P_HELD]) < 0:
                fail(f"position {key}: negative capacity/bought/sold/held")
            if p[k.P_SOLD] + p[k.P_ASK_OPEN] + p[k.P_HELD] > p[k.P_CAPACITY] + p[k.P_BOUGHT]:
                fail(f"position {key}: sold + offered exceeds capacity + bought")
        if ask_open:
            fail(f"open asks without a position row: {sorted(ask_open)}")
