"""The numba matching engine: the typed wrapper in front of the kernels.

Rules: :mod:`exchange.schema.rules`. The engine holds its state in numpy arrays (a
:class:`exchange.engine.layout.State`) that only the jitted kernels mutate, one batch at a
time (:func:`exchange.engine.process.process`); this class only allocates, grows and
reads them. It is deterministic: no clock, no randomness, no dict iteration.

Cost: ``process`` is O(commands + events) for orders that rest near the top of the book
(inserting a new price level walks from the best level); mass cancel by account and
TIMER scan the order pool, O(pool).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import NoReturn

import numpy as np

from exchange.engine import layout as lay, process as kernels
from exchange.engine.api import (
    AccountView,
    BookView,
    EngineStateError,
    Level,
    OrderView,
    PositionView,
    command_batch,
)
from exchange.engine.hashtable import EMPTY, clord_key, hash_find, level_key, new_table, position_key
from exchange.engine.orderbook import position_row
from exchange.schema import (
    EVENT_DTYPE,
    CommandKind,
    E,
    EngineConfig,
    InstrumentState,
    Side,
    command,
    copy_records,
    copy_reusing,
    events_bound,
    record_words,
)

STATE_ARRAYS = tuple(name for name in lay.State._fields if name != "retired")
"""Names of the engine's state arrays that :meth:`Engine.export_state` gives (its keys):
all but the ``retired`` queue, which :meth:`Engine.from_state` derives from the rest."""


EVENT_BUFFER_GROWTH = 8
"""How much larger an event buffer becomes when it must grow. Its size follows the
worst case of one command (3 events per live order), not what a batch writes, so the
buffers grow with the live orders while the rows written stay few, and each growth
moves those rows into fresh pages (1.5-2 us of page fault each on the VM of
``bench/RESULTS.md``). By 8 rather than 2, a 1 M-command replay grows its 6 buffers
(taken in turn) 18 times instead of 42, and the engine alone over its pieces took 527
ns a command instead of 604, as much as with every buffer made at full size first
(529; one thread, 8 rounds, medians). The room never written costs no memory, only
address space: less than 8 times what the growth needed."""


_TABLE_MAKER = ThreadPoolExecutor(1, thread_name_prefix="gpux-engine-tables")
"""The helper thread that makes tables ahead (:meth:`Engine.prepare_growth`)."""


def _process(*args):
    """The process kernel, called through its compiled entry point once there is one.

    Numba's dispatcher type-checks every argument on every call, which costs about a
    microsecond for the state tuple; the kernel has one signature, so after the first
    call this skips straight to the compiled code (O(1) per call, same results).
    """
    global _process
    result = kernels.process(*args)
    signatures = getattr(kernels.process, "signatures", ())
    if len(signatures) == 1:  # absent when NUMBA_DISABLE_JIT=1
        _process = kernels.process.overloads[signatures[0]].entry_point  # type: ignore[attr-defined, misc]
    return result


def _term(order: np.ndarray, shift: int) -> int:
    """One of the 4-bit terms (side, tif, stp, flags) packed in an order row."""
    return (int(order[lay.O_TERMS]) >> shift) & 15


class Engine:
    """Numba matching engine implementing :class:`exchange.engine.api.MatchingEngine`."""

    def __init__(self, config: EngineConfig, initial_orders: int = 1024) -> None:
        self.config = config
        self._classes = lay.class_table(config)
        self._st = lay.new_state(initial_orders, config.max_accounts)
        self._buffers: list[np.ndarray] = []
        """Event buffers, reused (made as ``process`` first asks for them): ``process(copy=False)``
        returns a view of one of them."""
        self._table_ahead: Future | None = None
        """The empty table the client order id table doubles into next, being made by
        :meth:`prepare_growth` (or None)."""

    # ------------------------------------------------------------------ commands

    def process(self, batch: np.ndarray, copy: bool = True, buffer: int = 0) -> np.ndarray:
        """Apply a batch of commands (``COMMAND_DTYPE``) in order; return their events.
        ``TypeError`` for any other batch (:func:`~exchange.engine.api.command_batch`).

        O(commands + events) amortised; pools grow by doubling when full. The kernel
        runs without the GIL. With ``copy=False`` the events are a view of the engine's
        event buffer number ``buffer`` (0, 1, ...), valid only until the next call that
        writes that buffer: saves a copy when replaying, and taking the buffers in turn
        lets earlier batches' events be read while the next batch runs
        (:meth:`release_spares` lets go of them).
        """
        rows = record_words(command_batch(batch))
        while len(self._buffers) <= buffer:
            self._buffers.append(np.empty((4096, len(E)), np.int64))
        start, n = 0, 0
        while True:
            status, start, n = _process(self._st, self._classes, rows, start, self._buffers[buffer], n)
            if status == kernels.OK:
                events = np.ndarray((n,), EVENT_DTYPE, self._buffers[buffer])
                return copy_records(events) if copy else events
            self._reserve_events(buffer, n)
            self._st = lay.grow(self._st, self._table_made_ahead())

    def prepare_growth(self) -> None:
        """Have a helper thread make the empty table that the client order id table will
        double into once it is 3/8 full (it doubles at half full), so that the doubling, in
        a later :meth:`process`, only moves the keys in: the new table's page faults (about
        2 us a 4 KiB page on the VM of ``bench/RESULTS.md``) are taken on another core, and
        NumPy backs a table of 4 MB or more with transparent huge pages, so the lookups
        miss the TLB less. The state and the events are the same. O(1) here."""
        table, keys = self._st.clord_index, int(self._st.counters[lay.CT_CLORD_N])
        if self._table_ahead is None and 8 * keys >= 3 * len(table):
            self._table_ahead = _TABLE_MAKER.submit(new_table, len(table))  # twice its rows

    def _table_made_ahead(self) -> np.ndarray | None:
        """The table :meth:`prepare_growth` made, waited for, if the client order id table
        doubles at this growth; else None (the table is made there as it doubles)."""
        st = self._st
        if self._table_ahead is None or not lay.must_double(st.clord_index, int(st.counters[lay.CT_CLORD_N])):
            return None
        table, self._table_ahead = self._table_ahead.result(), None
        return table

    def release_spares(self, keep: int = 1) -> None:
        """Let go of the room a replay made ahead: the event buffers past the first
        ``keep`` (those it took in turn) and a table :meth:`prepare_growth` made."""
        del self._buffers[keep:]
        self._table_ahead = None

    def _reserve_events(self, buffer: int, written: int) -> None:
        """Keep the first ``written`` rows of an event buffer and make room for at least as
        many again plus one command's worst case: a buffer :data:`EVENT_BUFFER_GROWTH` times
        as large, or as large as that needs. O(written).

        Buffers come from ``np.empty``: room that is never written costs no memory.
        """
        events = self._buffers[buffer]
        need = 2 * written + events_bound(self._live, self.n_instruments)
        if need > len(events):
            grown = np.empty((max(need, EVENT_BUFFER_GROWTH * len(events)), len(E)), np.int64)
            grown[:written] = events[:written]
            self._buffers[buffer] = grown

    @property
    def _live(self) -> int:
        return int(self._st.counters[lay.CT_LIVE])

    def submit(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Apply one command given by its fields (others 0; see :func:`exchange.schema.command`);
        return its events."""
        return self.process(command(kind, **fields))

    # ------------------------------------------------------------------ snapshots

    def export_state(self, spare: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """A copy of every state array, by name: what a snapshot stores. O(state size).
        Each goes into the array of that name in ``spare`` (arrays nothing reads any
        more, e.g. an older snapshot's) where it fits (:func:`~exchange.schema.copy_reusing`)."""
        spare = spare or {}
        return {name: copy_reusing(getattr(self._st, name), spare.get(name)) for name in STATE_ARRAYS}

    @classmethod
    def from_state(cls, config: EngineConfig, state: dict[str, np.ndarray]) -> Engine:
        """An engine continuing from :meth:`export_state` output (arrays are copied).

        ``ValueError`` if an array is missing or has the wrong dtype or width.
        """
        engine = cls(config, initial_orders=16)
        arrays = {}
        for name in STATE_ARRAYS:
            array, like = state.get(name), getattr(engine._st, name)
            if array is None or array.dtype != np.int64 or array.shape[1:] != like.shape[1:]:
                raise ValueError(f"engine state: array {name!r} is missing or malformed")
            arrays[name] = np.array(array, np.int64, order="C", copy=True)
        if len(engine._st.accounts) != config.max_accounts:
            raise ValueError("engine state: account table does not match config.max_accounts")
        live = int(arrays["counters"][lay.CT_LIVE])
        engine._st = lay.State(**arrays, retired=lay.retired_queue(arrays["clord_index"], live))
        return engine

    # ------------------------------------------------------------------ views

    @property
    def n_instruments(self) -> int:
        """Instruments listed so far."""
        return int(self._st.counters[lay.CT_INSTRUMENTS])

    def _side_levels(self, instrument: int, side: Side) -> list[int]:
        levels, insts = self._st.levels, self._st.instruments
        out = []
        lvl = insts[instrument, lay.I_BEST_BID if side == Side.BUY else lay.I_BEST_ASK]
        while lvl != EMPTY:
            out.append(int(lvl))
            lvl = levels[lvl, lay.L_NEXT]
        return out

    def book(self, instrument: int, depth: int | None = None) -> BookView:
        """Aggregated levels of an instrument, best first. O(levels shown)."""
        if not 0 <= instrument < self.n_instruments:
            raise KeyError(f"instrument {instrument} is not listed")
        levels = self._st.levels

        def side(s: Side) -> tuple[Level, ...]:
            ids = self._side_levels(instrument, s)[:depth]
            return tuple(Level(int(levels[i, lay.L_PRICE]), int(levels[i, lay.L_QTY]),
                               int(levels[i, lay.L_COUNT])) for i in ids)

        i = self._st.instruments[instrument]
        reference = int(i[lay.I_LAST]) or int(self._classes[i[lay.I_CLASS], lay.CL_REFERENCE])
        call_end = int(i[lay.I_CALL_END]) if i[lay.I_STATE] == InstrumentState.CALL else 0
        return BookView(instrument, InstrumentState(int(i[lay.I_STATE])), side(Side.BUY),
                        side(Side.SELL), reference, call_end)

    def account(self, account: int) -> AccountView:
        """Money of an account. O(1)."""
        a = self._st.accounts[account]
        return AccountView(int(a[lay.A_CASH]), int(a[lay.A_CREDIT]), int(a[lay.A_RESERVED]), int(a[lay.A_HELD]))

    def position(self, account: int, instrument: int) -> PositionView:
        """Capacity and holdings of an account in an instrument. O(1)."""
        row = position_row(self._st, account, instrument, False)
        if row == EMPTY:
            return PositionView(0, 0, 0, 0)
        p = self._st.positions[row]
        return PositionView(int(p[lay.P_CAPACITY]), int(p[lay.P_BOUGHT]), int(p[lay.P_SOLD]),
                            int(p[lay.P_ASK_OPEN]), int(p[lay.P_HELD]))

    def positions_of(self, account: int) -> dict[int, PositionView]:
        """Every position an account has, by instrument id. O(positions), vectorised."""
        pos = self._st.positions[: int(self._st.counters[lay.CT_POSITIONS])]
        rows = pos[pos[:, lay.P_ACCOUNT] == account]
        return {int(r[lay.P_INSTRUMENT]): PositionView(int(r[lay.P_CAPACITY]), int(r[lay.P_BOUGHT]), int(r[lay.P_SOLD]),
                                                     int(r[lay.P_ASK_OPEN]), int(r[lay.P_HELD])) for r in rows}

    def next_trade_id(self) -> int:
        """The id the next trade will get (trade ids are 1, 2, 3, ...)."""
        return int(self._st.counters[lay.CT_NEXT_TRADE_ID])

    def instrument_states(self) -> np.ndarray:
        """The state (:class:`InstrumentState` values) of every listed instrument, by id."""
        return self._st.instruments[: self.n_instruments, lay.I_STATE].copy()

    def top_of_book(self) -> dict[str, np.ndarray]:
        """Best bid and ask of every listed instrument, by id: arrays ``state``,
        ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty`` (0 for an empty side).
        O(instruments), vectorised: what a market-wide view reads between groups."""
        insts, levels = self._st.instruments[: self.n_instruments], self._st.levels
        top = {"state": insts[:, lay.I_STATE].copy()}
        for side, best in (("bid", lay.I_BEST_BID), ("ask", lay.I_BEST_ASK)):
            level = insts[:, best]
            has = level != EMPTY
            for field, column in (("price", lay.L_PRICE), ("qty", lay.L_QTY)):
                values = np.zeros(len(level), np.int64)
                values[has] = levels[level[has], column]
                top[f"{side}_{field}"] = values
        return top

    def live_orders(self, account: int | None = None) -> list[OrderView]:
        """Live orders (of one account or all), ascending order id. O(pool)."""
        orders = self._st.orders
        live = orders[(orders[:, lay.O_ID] != 0) & (orders[:, lay.O_LEVEL] != EMPTY)]
        if account is not None:
            live = live[live[:, lay.O_ACCOUNT] == account]
        live = live[np.argsort(live[:, lay.O_ID])]
        return [OrderView(
            int(o[lay.O_ID]), int(o[lay.O_ACCOUNT]), int(o[lay.O_INSTRUMENT]), int(o[lay.O_CLORD]),
            _term(o, lay.SIDE_SHIFT), int(o[lay.O_PRICE]), int(o[lay.O_QTY]), int(o[lay.O_LEAVES]),
            int(o[lay.O_FILLED]), _term(o, lay.TIF_SHIFT), int(o[lay.O_EXPIRE])) for o in live]

    # ------------------------------------------------------------------ invariants

    def check(self) -> None:
        """Verify every invariant of the arrays; raise EngineStateError if one fails.

        O(pool + levels + positions); for tests.
        """
        in_queue: set[int] = set()
        n_levels = 0
        for inst in range(self.n_instruments):
            best: dict[Side, int] = {}
            for side in (Side.BUY, Side.SELL):
                prev_lvl, prev_price = EMPTY, None
                for lvl in self._side_levels(inst, side):
                    n_levels += 1
                    price = self._check_level(inst, side, lvl, prev_lvl, prev_price, in_queue)
                    prev_lvl, prev_price = lvl, price
                    best.setdefault(side, price)
            self._check_instrument(inst, best)
        ctr = self._st.counters
        if n_levels != ctr[lay.CT_LEVEL_N]:
            _fail(f"{ctr[lay.CT_LEVEL_N]} levels counted, {n_levels} linked")
        clords = int(np.count_nonzero(self._st.clord_index[:, 0] != EMPTY))
        if clords != ctr[lay.CT_CLORD_N]:
            _fail(f"{ctr[lay.CT_CLORD_N]} client order ids counted, {clords} indexed")
        self._check_retired()
        reserved, ask_open = self._check_orders(in_queue)
        self._check_accounts(reserved)
        self._check_positions(ask_open)

    def _check_retired(self) -> None:
        """The ``retired`` queue holds every client order id marked done in the index,
        once each, by the seq it was retired at."""
        st = self._st
        queued = st.retired[st.retired[lay.RQ_HEAD]:st.retired[lay.RQ_TAIL]]
        marks = np.array([hash_find(st.clord_index, key) for key in queued], np.int64)
        if len(np.unique(queued)) != len(queued) or np.any(marks > lay.DONE) or np.any(np.diff(marks) > 0):
            _fail("the retired queue holds a key twice, one not retired, or keys out of seq order")
        if len(queued) != np.count_nonzero(st.clord_index[:, 1] <= lay.DONE):
            _fail(f"{len(queued)} retired client order ids queued, "
                  f"{np.count_nonzero(st.clord_index[:, 1] <= lay.DONE)} marked done")

    def _check_level(self, inst: int, side: Side, lvl: int, prev_lvl: int, prev_price: int | None,
                     in_queue: set[int]) -> int:
        """One price level (after ``prev_lvl`` at ``prev_price`` on its side) and its queue,
        whose order slots it adds to ``in_queue``; its price."""
        st = self._st
        orders, levels = st.orders, st.levels
        price = int(levels[lvl, lay.L_PRICE])
        if levels[lvl, lay.L_PREV] != prev_lvl:
            _fail(f"level {lvl} of instrument {inst}: broken back link")
        if prev_price is not None and (price >= prev_price if side == Side.BUY else price <= prev_price):
            _fail(f"instrument {inst} side {side.name}: levels not sorted at {price}")
        if hash_find(st.level_index, level_key(inst, int(side), price)) != lvl:
            _fail(f"level index does not point at level {lvl} ({price})")
        qty, count, prev_slot = 0, 0, EMPTY
        slot = levels[lvl, lay.L_HEAD]
        while slot != EMPTY:
            o = orders[slot]
            if o[lay.O_LEVEL] != lvl or o[lay.O_PREV] != prev_slot or o[lay.O_PRICE] != price:
                _fail(f"order slot {slot} misplaced in level {lvl}")
            if o[lay.O_LEAVES] <= 0 or o[lay.O_INSTRUMENT] != inst or _term(o, lay.SIDE_SHIFT) != side:
                _fail(f"order {o[lay.O_ID]} in level {lvl} has bad leaves/instrument/side")
            in_queue.add(int(slot))
            qty += int(o[lay.O_LEAVES])
            count += 1
            prev_slot = slot
            slot = o[lay.O_NEXT]
        if levels[lvl, lay.L_TAIL] != prev_slot or count == 0:
            _fail(f"level {lvl} of instrument {inst}: bad tail or empty")
        if qty != levels[lvl, lay.L_QTY] or count != levels[lvl, lay.L_COUNT]:
            _fail(f"level {lvl} at {price}: qty/count {levels[lvl, lay.L_QTY]}/"
                  f"{levels[lvl, lay.L_COUNT]} but queue holds {qty}/{count}")
        return price

    def _check_instrument(self, inst: int, best: dict[Side, int]) -> None:
        """An instrument's state against its best prices (``best``: side -> price)."""
        insts = self._st.instruments
        state = insts[inst, lay.I_STATE]
        if state not in (InstrumentState.OPEN, InstrumentState.HALTED, InstrumentState.CLOSED,
                         InstrumentState.CALL):
            _fail(f"instrument {inst}: bad state {state}")
        if state == InstrumentState.CLOSED and best:
            _fail(f"instrument {inst}: closed but has orders")
        if state != InstrumentState.CALL and insts[inst, lay.I_CALL_END] != 0:
            _fail(f"instrument {inst}: a call end without a call phase")
        if (state != InstrumentState.CALL and Side.BUY in best and Side.SELL in best
                and best[Side.BUY] >= best[Side.SELL]):
            _fail(f"instrument {inst} crossed: bid {best[Side.BUY]} >= ask {best[Side.SELL]}")

    def _check_orders(self, in_queue: set[int]) -> tuple[np.ndarray, dict[tuple[int, int], int]]:
        """Every live order against the queues and the client order id index; the funds
        reserved per account and the GPUs offered per (account, instrument)."""
        st = self._st
        orders = st.orders
        reserved = np.zeros(len(st.accounts), np.int64)
        ask_open: dict[tuple[int, int], int] = {}
        used = np.flatnonzero(orders[:, lay.O_ID] != 0)
        if set(used.tolist()) != in_queue:
            _fail("live orders and queued orders differ")
        for slot in used:
            o = orders[slot]
            if o[lay.O_QTY] != o[lay.O_FILLED] + o[lay.O_LEAVES] + o[lay.O_REMOVED]:
                _fail(f"order {o[lay.O_ID]}: qty {o[lay.O_QTY]} != filled + leaves + removed")
            if hash_find(st.clord_index, clord_key(o[lay.O_CLORD], o[lay.O_ACCOUNT])) != slot:
                _fail(f"order {o[lay.O_ID]}: client order id index does not point at it")
            if _term(o, lay.SIDE_SHIFT) == Side.BUY:
                reserved[o[lay.O_ACCOUNT]] += o[lay.O_PRICE] * o[lay.O_LEAVES]
            else:
                key = (int(o[lay.O_ACCOUNT]), int(o[lay.O_INSTRUMENT]))
                ask_open[key] = ask_open.get(key, 0) + int(o[lay.O_LEAVES])
        return reserved, ask_open

    def _check_accounts(self, reserved: np.ndarray) -> None:
        accts = self._st.accounts
        if not np.array_equal(reserved, accts[:, lay.A_RESERVED]):
            bad = int(np.flatnonzero(reserved != accts[:, lay.A_RESERVED])[0])
            _fail(f"account {bad}: reserved {accts[bad, lay.A_RESERVED]} != open bids {reserved[bad]}")
        if np.any(accts[:, lay.A_CASH] + accts[:, lay.A_CREDIT] < accts[:, lay.A_RESERVED] + accts[:, lay.A_HELD]):
            _fail("an account has reserved and held more than cash + credit")
        if np.any(accts[:, lay.A_HELD] < 0):
            _fail("negative held funds")
        if np.any(accts[:, lay.A_CREDIT] < 0):
            _fail("negative credit")

    def _check_positions(self, ask_open: dict[tuple[int, int], int]) -> None:
        """Every position row against its index and the open asks (``ask_open`` is emptied)."""
        st = self._st
        pos = st.positions
        for row in range(int(st.counters[lay.CT_POSITIONS])):
            p = pos[row]
            key = (int(p[lay.P_ACCOUNT]), int(p[lay.P_INSTRUMENT]))
            if hash_find(st.position_index, position_key(key[1], key[0])) != row:
                _fail(f"position index does not point at row {row}")
            if p[lay.P_ASK_OPEN] != ask_open.pop(key, 0):
                _fail(f"position {key}: ask_open {p[lay.P_ASK_OPEN]} != open asks")
            if min(p[lay.P_CAPACITY], p[lay.P_BOUGHT], p[lay.P_SOLD], p[lay.P_HELD]) < 0:
                _fail(f"position {key}: negative capacity/bought/sold/held")
            if p[lay.P_SOLD] + p[lay.P_ASK_OPEN] + p[lay.P_HELD] > p[lay.P_CAPACITY] + p[lay.P_BOUGHT]:
                _fail(f"position {key}: sold + offered exceeds capacity + bought")
        if ask_open:
            _fail(f"open asks without a position row: {sorted(ask_open)}")


def _fail(msg: str) -> NoReturn:
    raise EngineStateError(msg)
