"""One exchange node: a data directory brought back to life and a sequencer running on it.

Opening a node is recovery: the newest valid snapshot (damaged newer ones are named in
the report), then every journal record after it replayed through the same
:class:`MarketState` (:meth:`MarketState.replay`: the groups joined into large batches
and cut into pieces that stay in the caches, the engine a piece ahead, execution records
the log holds not derived again); trades the trade log does not hold yet are written
(a snapshot is written only once the trade log has flushed every trade handed to it, so
no snapshot covers trades the log lacks: a recovery replays nothing before its snapshot),
and so are execution records the execution log does not hold yet (a log that is
damaged, or lags behind the snapshot, is rebuilt from the whole journal). The result is exactly the
state, events, trades and execution records of a run that never stopped. Then the
sequencer takes over, and acknowledges nothing before the journal holds it.
The order history (:mod:`exchange.sequencer.history`) is opened last, as far as the
replayed journal says orders were forgotten (a file written after that, by a run that
crashed before its FORGET_DONE was durable, is deleted).

Exactly-once: a command that repeats a client order id the account used before is
rejected by the engine (DUPLICATE_CLIENT_ORDER_ID; for an id retired to the order
history, the sequencer's history mark makes it so); :meth:`ExchangeNode.order` gives the
original order, hot or from the history, so a client retrying after a crash, or weeks
later, learns the original outcome.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exchange.catalog import Catalog
from exchange.executions import ExecLog
from exchange.journal import DataDir, FileJournal, FileOps, JournalError, SnapshotStore, TornTail
from exchange.schema import CommandKind, command, commands
from exchange.sequencer.history import OrderHistory
from exchange.sequencer.loop import LoopSequencer
from exchange.sequencer.orders import OrderRecord
from exchange.sequencer.pipeline import read_ahead
from exchange.sequencer.sequencer import Clock, Sequencer, SyncPolicy
from exchange.sequencer.state import WHOLE_GROUP_KINDS, MarketState
from exchange.tradelog import TradeLogFeed, TradeLogWriter

log = logging.getLogger("gpux.node")

RETIRE_EVERY = 100_000
"""Default retirement policy: done orders move to the order history once this many are
hot (until then each costs a 104-byte ledger row and its index entries)."""


@dataclass
class RecoveryReport:
    """What opening the data directory found and did."""

    snapshot: str | None = None
    skipped_snapshots: list[tuple[str, str]] = field(default_factory=list)
    torn_tail: TornTail | None = None
    replayed_commands: int = 0
    replayed_bytes: int = 0
    """About how many journal bytes hold the replayed commands (:meth:`FileJournal.bytes_after`)."""
    rebuilt_executions: str | None = None
    """Why the execution log was rebuilt from the journal (None: it was not)."""
    last_seq: int = 0
    snapshot_seconds: float = 0.0
    """Finding and loading the newest valid snapshot."""
    replay_seconds: float = 0.0
    """Everything after it: opening the journal (its newest segment checked), reading,
    checking and decoding its tail and replaying it, trades and execution records
    handed over (what recovery's commands/s are measured by)."""
    seconds: float = 0.0


def recover(data: DataDir, catalog: Catalog, ops: FileOps, max_accounts: int,
            trades: TradeLogWriter | None = None, executions: ExecLog | Future[ExecLog] | None = None,
            ) -> tuple[MarketState, FileJournal, SnapshotStore, TradeLogFeed | None, RecoveryReport]:
    """Newest valid snapshot + journal tail → the state of an uninterrupted run; with a
    trade-log writer, a feed that gets the replayed trades (and those to come); with an
    execution log, the replayed execution records it lacks (rebuilt from the whole
    journal if it is damaged or lags behind the snapshot). The execution log may still be
    opening (a future): it is waited for once the snapshot is loaded and the order
    history's opening has started."""
    started = time.perf_counter()
    report = RecoveryReport()
    store = SnapshotStore(data.snapshots, ops)
    restored, loaded = store.latest(lambda snapshot: MarketState.from_snapshot(catalog, snapshot))
    report.snapshot, report.skipped_snapshots = loaded.loaded, loaded.skipped
    report.snapshot_seconds = time.perf_counter() - started
    # the history files the snapshot's ledger forgot are opened (their keys checked, the
    # filter loaded or built, mostly without the GIL) while the execution log's open check
    # ends and the journal tail is replayed
    opening = ThreadPoolExecutor(1, thread_name_prefix="gpux-history-open")
    history = opening.submit(OrderHistory.opening, data.history, ops,
                             restored.orders.forgotten_through if restored is not None else 0)
    opening.shutdown(wait=False)
    if isinstance(executions, Future):
        try:
            executions = executions.result()
        except BaseException:
            history.exception()  # let it finish before the files are left to others
            raise
    journal = FileJournal(data.journal, ops)
    report.torn_tail = journal.torn_tail
    if restored is not None and restored.last_seq > journal.last_seq:
        raise JournalError(f"snapshot {loaded.loaded} is at seq {restored.last_seq} but the journal "
                           f"ends at {journal.last_seq}: journal records are missing")
    state = restored or MarketState(catalog, max_accounts=max_accounts)
    feed = None
    if trades is not None:
        feed = TradeLogFeed(trades, state.listing)
        state.trade_sink, state.trades_through = feed.events, trades.logged_through
    if executions is not None:
        state.exec_sink, state.exec_held = executions.append, executions.counts
    try:
        snapshot_seq = state.last_seq
        report.replayed_commands = state.replay(read_ahead(journal.read(snapshot_seq, WHOLE_GROUP_KINDS)))
        report.replayed_bytes = journal.bytes_after(snapshot_seq)
        if feed is not None:
            feed.drain()
        if executions is not None:
            state.exec_held = None  # from here on every record is new
            report.rebuilt_executions = _check_executions(executions, journal, state, catalog)
        state.orders.history = history.result()
        state.orders.history.follow(state.orders.forgotten_through)
    except BaseException:
        history.exception()  # let it finish before the files are left to others
        if feed is not None:
            feed.close()
        journal.close()
        raise
    report.replay_seconds = time.perf_counter() - started - report.snapshot_seconds
    report.last_seq = state.last_seq
    report.seconds = time.perf_counter() - started
    return state, journal, store, feed, report


def _check_executions(executions: ExecLog, journal: FileJournal, state: MarketState, catalog: Catalog
                      ) -> str | None:
    """Rebuild the execution log from the whole journal if it is damaged or does not
    hold exactly the records the state has numbered; why it was rebuilt (None: it was
    fine). The journal keeps every segment, so the numbering is always recomputable."""
    why = executions.damaged or executions.lagging
    if why is None and np.array_equal(executions.counts, state.exec_counts):
        executions.checking = False
        return None
    why = why or f"{executions.path} does not end where the journal does"
    kept = executions.reset()
    log.warning("rebuilding the execution log from the journal: %s%s", why,
                f" (the damaged file is kept as {kept})" if kept else "")
    replay = MarketState(catalog, max_accounts=state.engine.config.max_accounts)
    replay.exec_sink = executions.append
    replay.replay(read_ahead(journal.read(0, WHOLE_GROUP_KINDS)))
    if not np.array_equal(replay.exec_counts, state.exec_counts):
        raise JournalError(f"replaying the journal numbers the executions differently from snapshot "
                           f"{state.last_seq}: the snapshot does not fit the journal")
    executions.checking = False
    return why


class ExchangeNode:
    """A running exchange on one data directory (use :meth:`open`, then :meth:`close`)."""

    _lock: int
    """The data directory's writer lock (its file descriptor), taken by :meth:`open`."""

    def __init__(self, data: DataDir, catalog: Catalog, state: MarketState, journal: FileJournal,
                 snapshots: SnapshotStore, trades: TradeLogFeed, report: RecoveryReport,
                 *, clock: Clock, sync: SyncPolicy, snapshot_every: int, max_batch: int,
                 snapshot_seconds: float = 0.0, snapshot_bytes: int = 0, snapshot_on_stop: bool = False,
                 retire_every: int = 0,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.data = data
        self.catalog = catalog
        self.recovery = report
        self.trades = trades
        self.executions: ExecLog | None = None
        """Every account's execution records (set by :meth:`open`)."""
        self._listing_lock = threading.Lock()
        self._sealed_through = 0
        self._closed = False
        self._listeners: list[Callable[[int], None]] = []
        kwargs: dict[str, Any] = dict(clock=clock, sync=sync, max_batch=max_batch, snapshots=snapshots,
                      snapshot_every=snapshot_every, snapshot_seconds=snapshot_seconds,
                      snapshot_bytes=snapshot_bytes, snapshot_on_stop=snapshot_on_stop, after_group=self._after_group,
                      retire_every=retire_every, tail_commands=report.replayed_commands,
                      tail_bytes=report.replayed_bytes, flush_before_snapshot=trades.drain)
        self.sequencer = Sequencer(state, journal, **kwargs) if loop is None \
            else LoopSequencer(state, journal, loop=loop, **kwargs)

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, catalog_path: str | os.PathLike[str] | None = None,
             *, sync: SyncPolicy = SyncPolicy.GROUP, ops: FileOps | None = None, clock: Clock = time.time_ns,
             snapshot_every: int = 1_000_000, max_batch: int = 65536, max_accounts: int | None = None,
             loop: asyncio.AbstractEventLoop | None = None, snapshot_seconds: float = 0.0,
             snapshot_bytes: int = 0, snapshot_on_stop: bool = False,
             retire_every: int = RETIRE_EVERY) -> ExchangeNode:
        """Recover the data directory (created on first use) and start the sequencer: a
        writer thread, or with ``loop`` a :class:`LoopSequencer` run by that event loop.
        Snapshots: every ``snapshot_every`` commands, every ``snapshot_bytes`` bytes
        appended to the journal, every ``snapshot_seconds`` (0: not by that measure) and,
        with ``snapshot_on_stop``, at :meth:`close`. Done orders are retired to the order
        history once ``retire_every`` are hot (0: never)."""
        data = DataDir.resolve(data_dir)
        lock = data.lock()
        try:
            ops = ops or FileOps()
            catalog = data.catalog(catalog_path, ops)
            accounts = data.max_accounts(max_accounts, ops)
            writer = TradeLogWriter(data.trades, catalog, data.parquet)
            # the execution log's open check (O(records), mostly without the GIL) runs
            # while the snapshot loads
            opening = ThreadPoolExecutor(1, thread_name_prefix="gpux-exec-open")
            executions = opening.submit(ExecLog, data.executions, accounts)
            opening.shutdown(wait=False)
            try:
                state, journal, snapshots, feed, report = recover(data, catalog, ops, accounts, writer, executions)
            except BaseException:
                if executions.exception() is None:
                    executions.result().close()
                raise
            assert feed is not None  # recover makes one for the writer
            node = cls(data, catalog, state, journal, snapshots, feed, report, clock=clock, sync=sync,
                       snapshot_every=snapshot_every, max_batch=max_batch, loop=loop,
                       snapshot_seconds=snapshot_seconds, snapshot_bytes=snapshot_bytes,
                       snapshot_on_stop=snapshot_on_stop, retire_every=retire_every)
            node.executions = executions.result()
        except BaseException:
            os.close(lock)
            raise
        node._lock = lock
        return node

    @property
    def state(self) -> MarketState:
        """The market state (read it only through :meth:`read` while the node runs)."""
        return self.sequencer.state

    def submit(self, batch: np.ndarray) -> Future:
        """Queue commands; the future gives their events once they are durable and applied."""
        return self.sequencer.submit(batch)

    def execute(self, batch: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Submit and wait for the events (a TimeoutError after ``timeout`` s says so)."""
        return _answer(self.submit(batch), timeout, f"a batch of {len(batch)} commands")

    def send(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Execute one command given by its fields."""
        return self.execute(command(kind, **fields))

    def read(self, work, timeout: float | None = 30.0):
        """Run ``work(state)`` in the writer thread, between groups, and return its result."""
        return _answer(self.sequencer.call(work), timeout, "a read of the market state")

    def order(self, account: int, clord: int) -> OrderRecord | None:
        """The order an account placed (or replaced) under a client order id."""
        return self.read(lambda state: state.orders.find(account, clord))

    def list_due(self, now_ns: int, opening_call_ns: int = 0) -> int:
        """List every slot due at ``now_ns`` (the rolling listing); the number listed.
        With ``opening_call_ns`` > 0 each opens with a call phase ending that long after
        ``now_ns`` (an opening auction), else straight into continuous trading."""
        call_end = now_ns + opening_call_ns if opening_call_ns > 0 else 0
        return self._list(lambda state: state.listing.due(now_ns), call_end)

    def list_symbols(self, symbols: list[str]) -> int:
        """List the given symbols that are not listed yet; the number listed."""
        return self._list(lambda state: [state.catalog.instrument(s) for s in dict.fromkeys(symbols)
                                         if s not in state.listing])

    def _list(self, choose, call_end: int = 0) -> int:
        with self._listing_lock:  # ids continue the listing: one lister at a time
            batch = self.read(lambda state: _listing_commands(state, choose(state)))
            batch["expire_ts"] = call_end
            if len(batch):
                self.execute(batch)
        return len(batch)

    def snapshot(self) -> Path:
        """Write a snapshot now and return its path once durable."""
        return self.sequencer.snapshot().result()

    def on_group(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(last_seq)`` in the writer thread after every group applied
        (market data uses it to wake its streams; it must return quickly)."""
        self._listeners.append(listener)

    def _after_group(self, idle: bool) -> None:
        """Tell the listeners; have the trade log seal the days a new TIMER has closed."""
        for listener in self._listeners:
            listener(self.state.last_seq)
        if self.state.timer_ts > self._sealed_through:
            self._sealed_through = self.state.timer_ts
            self.trades.seal_through(self._sealed_through)

    def close(self) -> None:
        """Finish queued work, flush trades, close the journal, release the data dir
        (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            try:
                self.sequencer.stop()
            finally:
                try:
                    self.trades.close()
                finally:
                    if self.executions is not None:
                        self.executions.close()
                    self.sequencer.journal.close()
                    if self.state.orders.history is not None:
                        self.state.orders.history.close()
        finally:
            os.close(self._lock)


def _listing_commands(state: MarketState, instruments: list) -> np.ndarray:
    """LIST_INSTRUMENT commands for ``instruments``, ids continuing the listing."""
    batch = commands(len(instruments))
    batch["kind"] = int(CommandKind.LIST_INSTRUMENT)
    batch["instrument"] = np.arange(state.listing.next_id, state.listing.next_id + len(instruments))
    batch["gpu_class"] = [state.catalog.class_index(i.gpu_class) for i in instruments]
    batch["region"] = [state.catalog.region_index(i.region) for i in instruments]
    batch["slot_ts"] = [i.slot_ts_ns for i in instruments]
    return batch


def _answer(future: Future, timeout: float | None, what: str):
    """The result of ``future``; a TimeoutError that names ``what`` and the wait when the
    sequencer has not answered within ``timeout`` s (a bare one would print as nothing)."""
    try:
        return future.result(timeout)
    except TimeoutError:
        if future.done():  # the work itself raised it
            raise
        raise TimeoutError(f"{what}: the sequencer did not answer within {timeout:g} s") from None
