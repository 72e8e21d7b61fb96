"""The deterministic state machine behind the sequencer: what one sequenced batch does.

:class:`MarketState` applies a sequenced command batch to the engine and keeps what is
derived from the events in step: the listing (an instrument is listed once its
``LIST_INSTRUMENT`` is acknowledged), the order ledger, each account's execution
records (numbered by its ``exec_seq``, :mod:`exchange.executions`) and the trades handed
to the trade log. It is a pure function of the command sequence, so the same journal gives
the same state, events and trades on every replay (recovery and audit use it too).
A snapshot holds all of it at a sequence number; of the orders, only the hot ones (live,
or done since the last FORGET_DONE): the older ones are in the order history on disk,
which :meth:`MarketState.mark` consults when a command is stamped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
from numba import njit

from exchange.catalog import Catalog, Listing
from exchange.engine import Engine
from exchange.executions import derive_executions
from exchange.journal import Snapshot
from exchange.schema import (
    ACCOUNT_BITS,
    CLORD_LIMIT,
    HISTORY_MARKS,
    C,
    CommandKind,
    E,
    EventKind,
    OrderFlag,
    Reason,
    copy_reusing,
    record_words,
)
from exchange.sequencer.orders import OrderLedger
from exchange.sequencer.pipeline import read_ahead

TradeSink = Callable[[np.ndarray], None]
"""Called with the TRADE events of every batch that traded (the trade-log feed, an auditor)."""
ExecSink = Callable[[np.ndarray], None]
"""Called with the execution records (EXEC_DTYPE) of every batch that made some."""
Listener = Callable[[np.ndarray, np.ndarray], None]
"""Called with every applied batch and its events (valid during the call only)."""

_LEDGER = "order_ledger"
_LEDGER_INDEX = "order_ledger_index"
_TICKER = "ticker"
_EXEC_COUNTS = "exec_counts"
_LAST, _VOLUME = 0, 1
FORMAT = 8
"""Snapshot format of this code; other formats are skipped (the journal replays instead)."""
_LIST = int(CommandKind.LIST_INSTRUMENT)
_TIMER = int(CommandKind.TIMER)
_DA_TRADE = int(CommandKind.DA_TRADE)
_FORGET = int(CommandKind.FORGET_DONE)
_NEW, _CANCEL, _REPLACE = int(CommandKind.NEW_ORDER), int(CommandKind.CANCEL), int(CommandKind.REPLACE)
_ACK = int(EventKind.ACK)
_C_FLAGS, _C_ACCOUNT, _C_CLORD, _C_ORIG = int(C.FLAGS), int(C.ACCOUNT), int(C.CLORD), int(C.ORIG_CLORD)
_MARKS, _CLORD_MARK, _ORIG_MARK = int(HISTORY_MARKS), int(OrderFlag.CLORD_IN_HISTORY), int(OrderFlag.ORIG_IN_HISTORY)
_ACCOUNT_BITS, _ACCOUNTS, _CLORD_LIMIT = ACCOUNT_BITS, 1 << ACCOUNT_BITS, CLORD_LIMIT
WHOLE_GROUP_KINDS = (_DA_TRADE,)
"""Kinds whose effect depends on the group they came in (a day's booking records the
span of its group): a replay applies a group holding one as a batch of its own. Every
other effect is the same however the commands are batched."""
_WHOLE_GROUP_BITS = sum(1 << kind for kind in WHOLE_GROUP_KINDS)
REPLAY_PIECE = 4096
"""Commands the engine applies at a time in :meth:`MarketState.replay`: their events
(about 160 bytes each, 2-3 a command) stay in the caches for the passes that follow
them, and the engine alone runs faster in pieces of this size than in batches of 65,536
or more (``bench/replay.py``: pieces against floor)."""
REPLAY_AHEAD = 4
"""Pieces the engine may run ahead of the rest in :meth:`MarketState.replay`, to take up
the pauses of one stage (a table doubling: 10-100 ms) with the other's work. A per-piece
CPU trace of a 1 M-command replay (engine 617 ms, the rest 399) run through a two-core
model: 787 ms with the engine one piece ahead in lockstep (as before), 718 at 4 ahead,
691 at 8, 618 unbounded. But each piece ahead is an event buffer
more, and each buffer grows, page by fresh page, to hold the worst case of one command
(3 events per live order): the engine alone cost about the same CPU over 6 buffers as
over 2, 10-25 % more over 10."""
_TRADE = int(EventKind.TRADE)
_C_KIND = int(C.KIND)
_E_KIND, _E_INSTRUMENT, _E_PRICE, _E_QTY = int(E.KIND), int(E.INSTRUMENT), int(E.PRICE), int(E.QTY)
_E_TRADE_ID = int(E.TRADE_ID)
_kernel = njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
"""Decorator of the kernels here, which never allocate: compiled without reference
counting (an array or row view passed to a call costs no atomic increments) and run
without the GIL."""


@_kernel
def _kinds_present(commands):
    """Bit ``1 << kind`` set for each command kind in the batch (kinds 0..62). O(commands)."""
    present = 0
    for i in range(commands.shape[0]):
        kind = commands[i, _C_KIND]
        if 0 <= kind < 63:
            present |= 1 << kind
    return present


@_kernel
def _follow_ticker(ticker, events, listed):
    """Add each TRADE event's quantity to its instrument's volume and make its price the
    last; returns the last trade's id (0: no trade), or -1 (nothing changed) if one names
    an instrument outside ``0..listed-1`` or the ticker. O(events)."""
    last = 0
    for i in range(events.shape[0]):
        if events[i, _E_KIND] == _TRADE:
            instrument = events[i, _E_INSTRUMENT]
            if not 0 <= instrument < min(listed, ticker.shape[0]):
                return -1
            last = events[i, _E_TRADE_ID]
    if last:
        for i in range(events.shape[0]):
            if events[i, _E_KIND] == _TRADE:
                instrument = events[i, _E_INSTRUMENT]
                ticker[instrument, _VOLUME] += events[i, _E_QTY]
                ticker[instrument, _LAST] = events[i, _E_PRICE]
    return last


@njit(cache=True)
def _history_keys(commands, lookup):
    """Clear the history marks of the order commands (in place); with ``lookup``, the
    (row, clord key, mark) of each client order id they name: a NEW_ORDER's or REPLACE's
    clord (CLORD_IN_HISTORY), a CANCEL's or REPLACE's orig_clord (ORIG_IN_HISTORY), when
    in range. O(commands)."""
    n = commands.shape[0]
    rows = np.empty(2 * n, np.int64)
    keys = np.empty(2 * n, np.int64)
    marks = np.empty(2 * n, np.int64)
    m = 0
    for i in range(n):
        kind = commands[i, _C_KIND]
        if kind != _NEW and kind != _CANCEL and kind != _REPLACE:
            continue
        commands[i, _C_FLAGS] &= ~_MARKS
        account = commands[i, _C_ACCOUNT]
        if not lookup or account < 0 or account >= _ACCOUNTS:
            continue
        clord = commands[i, _C_CLORD]
        if kind != _CANCEL and 0 < clord < _CLORD_LIMIT:
            rows[m], keys[m], marks[m] = i, (clord << _ACCOUNT_BITS) | account, _CLORD_MARK
            m += 1
        orig = commands[i, _C_ORIG]
        if kind != _NEW and 0 < orig < _CLORD_LIMIT:
            rows[m], keys[m], marks[m] = i, (orig << _ACCOUNT_BITS) | account, _ORIG_MARK
            m += 1
    return rows[:m], keys[:m], marks[:m]


class MarketState:
    """Engine, listing, order ledger and trade output, advanced one batch at a time."""

    def __init__(self, catalog: Catalog, engine: Engine | None = None, max_accounts: int = 4096,
                 track_orders: bool = True) -> None:
        self.catalog = catalog
        self.engine = engine or Engine(catalog.engine_config(max_accounts))
        self.listing = Listing(catalog)
        self.orders = OrderLedger()
        self.track_orders = track_orders
        """Whether the order ledger and the execution records follow the events (an
        auditor's replay skips both)."""
        self.exec_counts = np.zeros(self.engine.config.max_accounts, np.int64)
        """Per account: execution records so far, i.e. its last exec_seq."""
        self.exec_sink: ExecSink | None = None
        self.exec_held: np.ndarray | None = None
        """Per account, how many execution records the sink holds already (a recovery's
        execution log): those are numbered, not derived and handed over again."""
        self.listeners: list[Listener] = []
        """Told of every applied batch and its events (market data); each must return quickly."""
        self.trade_sink: TradeSink | None = None
        self.trades_through = 0
        """Trades up to this id are not handed to the sink again (already logged)."""
        self.ticker = np.zeros((64, 2), np.int64)
        """Per instrument id: last trade price, volume traded."""
        self.last_seq = 0
        self.last_ts = 0
        self.timer_ts = 0
        """Time of the latest TIMER applied: every gate up to it has closed."""
        self.dayahead_booked: dict[str, list[int]] = {}
        """Delivery day (ISO) -> [first seq, last seq, trades booked] of the first batch that
        booked its day-ahead trades (DA_TRADE): how a run knows its booking happened."""

    def apply(self, batch: np.ndarray, copy: bool = True) -> np.ndarray:
        """Apply a sequenced batch; return its events (a view valid until the next call
        when ``copy`` is False). The TRADE events also go to the sink, as a copy."""
        batch = np.ascontiguousarray(batch)
        events = self.engine.process(batch, copy=copy)
        self._follow(batch, events)
        return events

    def replay(self, batches: Iterable[np.ndarray], piece: int = REPLAY_PIECE, ahead: int = REPLAY_AHEAD) -> int:
        """Apply sequenced batches in order (a journal read: many groups joined); the
        same state, sink calls and listener calls as :meth:`apply` of each cut into
        pieces of up to ``piece`` commands (a batch holding a kind of
        :data:`WHOLE_GROUP_KINDS` stays whole). How many commands were applied.

        A pipeline of two threads: one reads the batches and runs the engine over each
        piece, up to ``ahead`` pieces ahead of this one, which follows each piece's events
        in order (listing, ledger, execution records, ticker, sinks), read where the
        engine wrote them (event buffers taken in turn, each written again only once its
        piece is followed: no copy). Both stages are compiled kernels that run without the
        GIL, so on two cores a replay takes about as long as the slower stage, and a
        pause of one (a table doubling) is taken up by the queue, not waited out by the
        other; the engine's client order id table is made ahead of its doublings on a
        helper thread (:meth:`Engine.prepare_growth`). Neither reads the other's state,
        so the result does not depend on their timing; a listener called here must not
        read the engine, nor keep the events past its call. An error reading the batches
        or in the engine is raised after the pieces before it are followed.
        """
        applied = 0
        pieces = read_ahead(self._run_engine(batches, piece, ahead + 2), ahead, "gpux-replay-engine")
        try:
            for part, events in pieces:
                self._follow(part, events)
                applied += len(part)
        finally:
            pieces.close()  # (the engine thread has stopped when this returns)
            self.engine.release_spares()
        return applied

    def _run_engine(self, batches: Iterable[np.ndarray], piece: int, buffers: int
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each piece of the batches (see :meth:`replay`) with its events, the engine's
        event buffers taken in turn (``buffers`` of them)."""
        made = 0
        for batch in batches:
            batch = np.ascontiguousarray(batch)
            step = len(batch) if _kinds_present(record_words(batch)) & _WHOLE_GROUP_BITS else piece
            for start in range(0, len(batch) or 1, step):  # an empty batch is followed too
                part = batch[start:start + step]
                events = self.engine.process(part, False, made % buffers)
                self.engine.prepare_growth()
                yield part, events
                made += 1

    def _follow(self, batch: np.ndarray, events: np.ndarray) -> None:
        """Everything but the engine that a batch and its events change, in order."""
        present = _kinds_present(record_words(batch))
        if present >> _LIST & 1:
            self._follow_listing(batch, events)
        if self.track_orders:
            self.orders.apply(events, self._forgets(batch, events) if present >> _FORGET & 1 else [])
            executions = derive_executions(batch, events, self.exec_counts, self.exec_held)
            if len(executions) and self.exec_sink is not None:
                self.exec_sink(executions)
        if self._follow_trades(events) > self.trades_through and self.trade_sink is not None:
            self.trade_sink(events[events["kind"] == _TRADE])  # (a replay of logged trades skips the copy)
        if len(batch):
            if present >> _DA_TRADE & 1:
                self._follow_day_ahead(batch[batch["kind"] == _DA_TRADE], events)
            self.last_seq = int(batch["seq"][-1])
            self.last_ts = int(batch["ts"][-1])
            if present >> _TIMER & 1:
                self.timer_ts = max(self.timer_ts, int(batch["ts"][batch["kind"] == _TIMER].max()))
        for listener in self.listeners:
            listener(batch, events)

    @staticmethod
    def _forgets(batch: np.ndarray, events: np.ndarray) -> list[tuple[int, int]]:
        """(seq, amount) of the batch's FORGET_DONE commands that the engine acknowledged."""
        acked = events["seq"][events["kind"] == _ACK]
        forgets = batch[batch["kind"] == _FORGET]
        return [(int(row["seq"]), int(row["amount"])) for row in forgets if int(row["seq"]) in acked]

    def mark(self, batch: np.ndarray) -> None:
        """Set the history marks of rule O9 on a stamped batch, in place: CLORD_IN_HISTORY
        on a NEW_ORDER or REPLACE whose (account, clord), ORIG_IN_HISTORY on a CANCEL or
        REPLACE whose (account, orig_clord) some order ever had (the ledger's hot index,
        else the order history); marks a client set are cleared. Until the first retirement
        the engine knows every id, so nothing is looked up. O(commands) expected."""
        history = self.orders.history
        lookup = bool(self.orders.forgotten_through or (history is not None and history.segments))
        words = record_words(batch)
        rows, keys, marks = _history_keys(words, lookup)
        if len(rows):
            known = self.orders.known(keys)
            np.bitwise_or.at(words[:, _C_FLAGS], rows[known], marks[known])  # a REPLACE may get both

    def _follow_trades(self, events: np.ndarray) -> int:
        """Last price and volume per instrument (the ticker); the last trade's id (0: no
        trade). O(events).
        The ticker grows by doubling, only as far as a trade of a listed instrument needs,
        so its size depends on the trades, not on how the commands were batched."""
        if len(self.ticker) < len(self.listing):
            traded = events["instrument"][events["kind"] == _TRADE]
            top = int(traded.max()) if len(traded) else -1
            if len(self.ticker) <= top < len(self.listing):
                self.ticker.resize((len(self.ticker) << (top // len(self.ticker)).bit_length(), 2), refcheck=False)
        last = _follow_ticker(self.ticker, record_words(events), len(self.listing))
        if last < 0:
            raise AssertionError("the engine traded an instrument that is not listed "
                                 f"(listed: 0..{len(self.listing) - 1})")
        return last

    def last_trade_price(self, instrument: int) -> int:
        """Price of the instrument's latest trade, fen (0 if none)."""
        return int(self.ticker[instrument, _LAST]) if instrument < len(self.ticker) else 0

    def traded_volume(self, instrument: int) -> int:
        """GPUs traded in the instrument so far."""
        return int(self.ticker[instrument, _VOLUME]) if instrument < len(self.ticker) else 0

    def _follow_day_ahead(self, booked: np.ndarray, events: np.ndarray) -> None:
        """Record the first booking of each delivery day (the day of its instruments): the
        first and last seq of its DA_TRADE commands and how many traded. Day by day, so a
        replay that applies the journal's groups several to a batch books as the run did."""
        traded = events["seq"][(events["kind"] == EventKind.TRADE) & (events["reason"] == Reason.DAY_AHEAD)]
        days: dict[str, list[int]] = {}
        for i in np.unique(booked["instrument"]).tolist():
            if 0 <= i < len(self.listing):
                day = self.catalog.market_time(self.listing.instrument(i).slot_ts_ns).date().isoformat()
                days.setdefault(day, []).append(i)
        for day, instruments in days.items():
            seqs = booked["seq"][np.isin(booked["instrument"], instruments)]
            self.dayahead_booked.setdefault(day, [int(seqs[0]), int(seqs[-1]), int(np.isin(traded, seqs).sum())])

    def _follow_listing(self, batch: np.ndarray, events: np.ndarray) -> None:
        """List the instruments whose LIST_INSTRUMENT the engine acknowledged, in one
        :meth:`Listing.extend` (a whole day's listing of ~10,000 in ~30 ms)."""
        listed = batch[batch["kind"] == _LIST]
        acked = listed[np.isin(listed["seq"], events["seq"][events["kind"] == EventKind.ACK])]
        ids = np.arange(len(self.listing), len(self.listing) + len(acked))
        out_of_step = np.flatnonzero(acked["instrument"] != ids)
        if len(out_of_step):
            raise AssertionError(f"listing out of step with the engine at instrument "
                                 f"{int(acked['instrument'][out_of_step[0]])}")
        self.listing.extend(acked[["gpu_class", "region", "slot_ts"]].tolist())

    def snapshot(self, spare: Snapshot | None = None) -> Snapshot:
        """Everything needed to continue from ``last_seq`` (arrays are copies), copied
        into the arrays of ``spare`` (an older snapshot nothing reads any more) where they
        fit (:func:`~exchange.schema.copy_reusing`; the ledger's copy gets the room of its
        rows, so later ones fit too)."""
        old = spare.arrays if spare is not None else {}
        arrays = self.engine.export_state(old)
        arrays[_LEDGER] = copy_reusing(self.orders.rows[: self.orders.count], old.get(_LEDGER), len(self.orders.rows))
        arrays[_LEDGER_INDEX] = copy_reusing(self.orders.index, old.get(_LEDGER_INDEX))
        arrays[_TICKER] = copy_reusing(self.ticker, old.get(_TICKER))
        arrays[_EXEC_COUNTS] = copy_reusing(self.exec_counts, old.get(_EXEC_COUNTS))
        meta = {"format": FORMAT, "seq": self.last_seq, "ts": self.last_ts, "timer_ts": self.timer_ts,
                "listing": self.listing.rows(), "max_accounts": self.engine.config.max_accounts,
                "dayahead_booked": self.dayahead_booked,
                "forgotten_through": self.orders.forgotten_through}
        return Snapshot(self.last_seq, arrays, meta)

    @classmethod
    def from_snapshot(cls, catalog: Catalog, snapshot: Snapshot) -> MarketState:
        """The state a snapshot holds; ``ValueError`` if it does not fit this catalog."""
        meta = snapshot.meta
        if meta.get("format") != FORMAT:
            raise ValueError(f"snapshot format {meta.get('format')} is not this version's {FORMAT}")
        config = catalog.engine_config(int(meta["max_accounts"]))
        state = cls(catalog, Engine.from_state(config, snapshot.arrays))
        state.orders = OrderLedger(snapshot.arrays[_LEDGER], snapshot.arrays[_LEDGER_INDEX],
                                   int(meta["forgotten_through"]))
        state.ticker = np.array(snapshot.arrays[_TICKER], np.int64, order="C")
        state.exec_counts = np.array(snapshot.arrays[_EXEC_COUNTS], np.int64, order="C")
        state.listing.extend(meta["listing"])
        state.last_seq, state.last_ts, state.timer_ts = int(meta["seq"]), int(meta["ts"]), int(meta["timer_ts"])
        state.dayahead_booked = {day: [int(x) for x in span] for day, span in meta["dayahead_booked"].items()}
        if state.last_seq != snapshot.seq or state.engine.n_instruments != len(state.listing):
            raise ValueError(f"snapshot at seq {snapshot.seq} is inconsistent with its metadata")
        return state
