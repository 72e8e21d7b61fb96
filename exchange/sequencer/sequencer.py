"""The sequencer: one writer that orders, journals, applies and acknowledges.

The writer is a thread of its own (:class:`Sequencer`) or an asyncio event loop
(:class:`~exchange.sequencer.loop.LoopSequencer`, the gateway's); both follow the same
rules, through the same methods.

Rules enforced here:

* One writer owns the market state; everything else hands it command batches and
  waits on a future.
* The thread gathers whatever is queued (up to ``max_batch`` commands) into one group,
  stamps each command with the next sequence number and the group's timestamp (the
  only clock read; never earlier than the previous one), appends the group to the
  journal and syncs it (group commit; :class:`SyncPolicy`), and only then applies it
  and resolves the futures with each submission's events.
* Pipelined group commit (``SyncPolicy.GROUP``): the fsync of group N runs in a sync
  thread while the writer thread gathers and stamps group N+1. Once N's fsync has
  returned, the writer appends N+1 and starts its fsync, and only then applies N and
  answers N's futures (overlapping N+1's fsync). So a group is applied, answered and
  published (listeners, trade log, reads, snapshots) only after the fsync covering it
  returned, the engine never holds a command that is not durable, and the journal is
  never touched by two threads at once (the next append waits for the running sync).
  A read (:meth:`call`) or a stop first finishes the group in flight. The gateway's
  :class:`~exchange.sequencer.loop.LoopSequencer` may hold N+1 back (applying N first) while
  the submitters it answered are coming back, up to its ``MOST_HOLD``.
* If the journal fails (a write or fsync error), nothing more is acknowledged: the
  group's futures and every later submission fail with :class:`SequencerStoppedError`
  (a group whose own fsync had already returned stays answered: it is durable).
* A submission whose future was cancelled before the thread took it is dropped (it
  was never acknowledged); once taken, it cannot be cancelled any more.
* Between groups it may take a snapshot: the state is copied in the writer thread
  (O(state), into the arrays of the previous snapshot, whose write is over: no page
  faults) and written by a background thread, so trading pauses only for the copy.
  A snapshot is due once ``snapshot_every`` commands, ``snapshot_bytes`` bytes appended
  to the journal or ``snapshot_seconds`` (with at least one command) have passed since
  the last (0: not by that measure); with ``snapshot_on_stop`` a clean
  stop takes one of whatever changed since, durable before :meth:`Sequencer.stop`
  returns. The journal tail a recovery replayed counts as passed since the newest
  snapshot (``tail_commands``, ``tail_bytes``): else each start would count from zero,
  so a kill before its next snapshot would leave the next restart a longer tail (up to
  ``snapshot_every`` more commands per restart), and a clean stop right after a restart
  would leave that tail to every later start. A crash mid-write leaves the previous
  snapshot valid (atomic rename).
* Retirement keeps the order ledger bounded by live state: once ``retire_every`` hot
  orders are done, their rows are copied (in the writer) and written to the order
  history on disk by a background thread (fsynced); then, back in the writer, the new
  history file is installed and ``FORGET_DONE(through)`` is submitted like any command,
  so the engine and the ledger forget them when it is applied, and a replay of the
  journal does the same. A crash after the write and before the FORGET_DONE is durable
  leaves a history file that recovery deletes (its orders are still in the ledger). A
  clean stop with ``snapshot_on_stop`` retires every done order before its snapshot.
  Every stamped group gets its history marks (rule O9, :meth:`MarketState.mark`).
* An :attr:`~Sequencer.observer` (:class:`GroupObserver`, e.g. the operator metrics)
  is told of every fsync, applied group and snapshot; it must only record.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum
from itertools import accumulate
from pathlib import Path
from typing import Protocol

import numpy as np

from exchange.journal import Journal, Snapshot, SnapshotStore
from exchange.schema import COMMAND_DTYPE, CommandKind, command, concat_records, copy_records
from exchange.sequencer.state import MarketState

log = logging.getLogger("gpux.sequencer")

Clock = Callable[[], int]
"""Nanoseconds since the Unix epoch."""


class GroupObserver(Protocol):
    """What the sequencer tells an observer; each call must return at once."""

    def synced(self, seconds: float) -> None:
        """A journal sync returned after ``seconds`` (in the sync thread)."""

    def applied(self, batch: np.ndarray, events: np.ndarray) -> None:
        """A group was applied and answered (in the writer); neither array changes after."""

    def snapshot_written(self, seconds: float, size: int) -> None:
        """A snapshot was copied and written in ``seconds``; ``size`` bytes (in the snapshot thread)."""


class SyncPolicy(Enum):
    """When the journal is fsynced before acknowledging."""

    GROUP = "group"
    """fsync every group before acknowledging it: survives power loss (the default)."""
    OS = "os"
    """leave flushing to the OS: survives a process crash, not a power loss (tests, benches)."""


class SequencerStoppedError(RuntimeError):
    """The sequencer stopped or its journal failed; nothing submitted is acknowledged."""


_STOP = object()
_SYNCED = object()  # queued by the sync thread when a group's sync has returned
_UNAPPLIED = ("the commands are journaled but were not applied: their outcome is unknown until a "
              "restart replays them")


def _report_snapshot(future: Future) -> None:
    """Log a snapshot that could not be written (trading goes on; recovery replays more)."""
    if future.exception() is not None:
        log.error("snapshot write failed: %s", future.exception())


def _report_after_write(future: Future) -> None:
    """Log a failure of the history thread's work after a write (:meth:`OrderHistory.after_write`):
    a failed save of the filter is due again after the next write, and a restart rebuilds
    what a missing or stale one lacks."""
    if future.exception() is not None:
        log.error("order history filter save failed: %s", future.exception())


def _take(future: Future | asyncio.Future) -> bool:
    """Mark a submission's future as taken by the writer; False if its caller gave up first."""
    if isinstance(future, asyncio.Future):
        return not future.done()
    return future.set_running_or_notify_cancel()


def _resolve(future: Future | asyncio.Future, outcome: object) -> None:
    """Set the result (or exception) of a taken future (an asyncio one its caller has
    cancelled since, or whose loop is closed, is left alone)."""
    if isinstance(future, asyncio.Future) and (future.done() or future.get_loop().is_closed()):
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class SyncThread:
    """The journal's sync thread: runs ``work`` once per :meth:`start`, in order, one at a
    time, and calls ``returned(future)`` from this thread once that start's future is set.

    What a one-worker ``ThreadPoolExecutor`` with a done callback did, with a lighter
    hand-over from the writer: a ``SimpleQueue.put`` (the executor's submit also locked
    itself and checked its idle semaphore through a ``threading.Condition``, the writer's
    biggest cost of starting a group's fsync). The thread starts with the first sync."""

    def __init__(self, work: Callable[[], None], returned: Callable[[Future], None], name: str) -> None:
        self._work, self._returned = work, returned
        self._starts: queue.SimpleQueue[Future | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Future:
        """Have ``work`` run after the ones started before; its future (an error it raised
        is the future's)."""
        future: Future = Future()
        if self._thread.ident is None:
            self._thread.start()
        self._starts.put(future)
        return future

    def _run(self) -> None:
        while (future := self._starts.get()) is not None:
            try:
                self._work()
            except BaseException as error:  # noqa: BLE001 - the future carries it to the writer
                future.set_exception(error)
            else:
                future.set_result(None)
            self._returned(future)

    def shutdown(self) -> None:
        """Wait for the syncs started so far, then end the thread."""
        if self._thread.ident is not None:
            self._starts.put(None)
            self._thread.join()


class Sequencer:
    """The single writer in front of a :class:`MarketState` and its journal."""

    def __init__(self, state: MarketState, journal: Journal, *, clock: Clock = time.time_ns,
                 sync: SyncPolicy = SyncPolicy.GROUP, max_batch: int = 65536,
                 snapshots: SnapshotStore | None = None, snapshot_every: int = 0,
                 snapshot_seconds: float = 0.0, snapshot_bytes: int = 0, snapshot_on_stop: bool = False,
                 after_group: Callable[[bool], None] | None = None, retire_every: int = 0,
                 tail_commands: int = 0, tail_bytes: int = 0,
                 flush_before_snapshot: Callable[[], None] | None = None) -> None:
        """``tail_commands``, ``tail_bytes``: what the state holds beyond the newest
        snapshot (the journal tail a recovery replayed), counted toward the next snapshot
        as if applied here. ``flush_before_snapshot``: called in the
        snapshot thread before each snapshot is written, for what must be durable first
        (the node's trade log: a recovery from a snapshot replays nothing before it, so
        trades the log had not flushed when the snapshot became durable would be lost to
        it after a kill); if it raises, that snapshot is not written."""
        if state.last_seq != journal.last_seq:
            raise ValueError(f"state is at seq {state.last_seq} but the journal at {journal.last_seq}")
        self.state = state
        self.journal = journal
        self.clock = clock
        self.sync = sync
        self.max_batch = max_batch
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.snapshot_seconds = snapshot_seconds
        self.snapshot_bytes = snapshot_bytes
        self._bytes_at_snapshot = journal.appended_bytes - tail_bytes
        self.snapshot_on_stop = snapshot_on_stop
        self.flush_before_snapshot = flush_before_snapshot
        self.retire_every = retire_every
        """Retire the done orders to the order history once this many are hot (0: never;
        needs ``state.orders.history``)."""
        self._retiring: Future | None = None
        """The history write in progress (its segment and filter), if any."""
        self._history_writer = ThreadPoolExecutor(1, thread_name_prefix="gpux-history")
        self._snapshot_taken = time.monotonic()
        self.after_group = after_group
        self.observer: GroupObserver | None = None
        """Told of every fsync, applied group and snapshot (set it before the first submit)."""
        self.failure: BaseException | None = None
        self._stopped = False
        self._since_snapshot = tail_commands
        self._snapshot_writer = ThreadPoolExecutor(1, thread_name_prefix="gpux-snapshot")
        self._syncer = SyncThread(self._sync, self._sync_returned, "gpux-journal-sync")
        self._flight: tuple | None = None
        """(batch, sizes, futures, sync future) of the group journaled last, not yet applied."""
        self._last_seq, self._last_ts = state.last_seq, state.last_ts
        """Seq and ts of the last group stamped (the state lags by the group in flight)."""
        self._snapshot_pending: Future | None = None
        self._snapshot_copied: Snapshot | None = None
        """The snapshot copied last: the next copy goes into its arrays (its write is over by then)."""
        self._start()

    def _start(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gpux-sequencer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ client side

    def submit(self, batch: np.ndarray) -> Future:
        """Queue a command batch (seq and ts are stamped here); the future gives its events."""
        return self._submit(batch, Future())

    def call(self, work: Callable[[MarketState], object]) -> Future:
        """Run ``work(state)`` in the writer thread between groups (reads, snapshots)."""
        return self._call(work, Future())

    def _submit(self, batch: np.ndarray, future, copy: bool = True, put: Callable[[tuple], None] | None = None):
        """Queue ``batch`` (a copy of it, unless ``copy`` is False: handed over) with
        ``put`` (default :meth:`_put`)."""
        if batch.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands must be COMMAND_DTYPE records, not {batch.dtype}")
        if self.failure is not None or self._stopped:
            future.set_exception(SequencerStoppedError(f"sequencer stopped: {self.failure or 'stop() was called'}"))
        elif len(batch):
            (put or self._put)((copy_records(batch) if copy else batch, future))
        else:
            future.set_result(np.empty(0, batch.dtype))
        return future

    def _call(self, work: Callable[[MarketState], object], future):
        if self.failure is not None or self._stopped:  # a failed state is not served
            future.set_exception(SequencerStoppedError(f"sequencer stopped: {self.failure or 'stop() was called'}"))
        else:
            self._put((work, future))
        return future

    def _put(self, item: tuple) -> None:
        """Hand an item to the writer."""
        self._queue.put(item)

    def snapshot(self) -> Future:
        """Take a snapshot now; the future gives its path once it is durable."""
        return self.call(lambda state: self._start_snapshot(wait=True)).result()

    def stop(self) -> None:
        """Finish what is queued, stop the thread, wait for a snapshot being written."""
        self._stopped = True
        self._queue.put((_STOP, None))
        self._thread.join()
        self._syncer.shutdown()
        self._snapshot_writer.shutdown(wait=True)
        self._history_writer.shutdown(wait=True)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        """The writer thread: never dies silently; on any error it stops acknowledging."""
        try:
            self._loop()
        except BaseException as error:  # noqa: BLE001 - recorded, then everything queued fails
            log.exception("sequencer thread failed")
            self.failure = self.failure or error
        finally:
            self._stopped = True
            flight, self._flight = self._flight, None
            if flight is not None:  # journaled, perhaps durable, never applied
                if flight[3] is not None:
                    flight[3].exception()  # no journal call may still be running
                self._fail(flight[2], _UNAPPLIED)
            self._drain()

    def _loop(self) -> None:
        held = None
        while True:
            group: list[np.ndarray] = []
            futures: list[Future] = []
            count = 0
            item, held = held or self._queue.get(), None
            while True:
                payload, future = item
                if payload is _SYNCED:
                    if self._flight is not None and future is self._flight[3]:
                        if group:
                            break  # the sync returned: journal what was gathered meanwhile
                        self._land()  # nothing gathered to overlap with
                elif payload is _STOP or callable(payload):
                    if group:  # keep order: the commands queued before it go first
                        held = item
                        break
                    self._land()  # a read or the stop sees every group queued before it
                    if payload is _STOP:
                        self._final_snapshot()
                        return
                    self._run_call(payload, future)
                elif _take(future):  # else its caller gave up before
                    group.append(payload)                    # it was sequenced: drop it
                    futures.append(future)
                    count += len(payload)
                if count >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    if not group or self._flight is None:
                        break
                    item = self._queue.get()  # a group is being synced: gather until it returns
            if group:
                self._group(group, futures)

    def _run_call(self, work: Callable[[MarketState], object], future: Future) -> None:
        if not _take(future):
            return  # the caller gave up waiting: nothing to do
        try:
            result = work(self.state)
        except BaseException as error:  # handed to the caller
            future.set_exception(error)
        else:
            future.set_result(result)

    def _group(self, group: list[np.ndarray], futures: list[Future]) -> None:
        """Stamp and journal a group, start its sync; then apply and answer the group
        synced before it (it is in flight until its own sync has returned)."""
        if self.failure is not None:
            self._fail(futures, "nothing acknowledged")
            return
        batch = concat_records(group) if len(group) > 1 else group[0]
        first = self._last_seq + 1
        batch["seq"] = np.arange(first, first + len(batch))
        self._last_ts = batch["ts"] = max(self.clock(), self._last_ts)
        self.state.mark(batch)
        flight, self._flight = self._flight, None
        if flight is not None and not self._synced(flight):  # its sync failed: so does this group
            self._fail(futures, "nothing acknowledged")
            return
        try:
            self.journal.append(batch)
        except BaseException as error:
            self.failure = error
            self._fail(futures, "nothing acknowledged")
            self._finish(flight)  # synced before this failure: durable, answered
            return
        self._last_seq = first + len(batch) - 1
        sizes = [len(b) for b in group]
        if self.sync is SyncPolicy.GROUP:
            self._flight = (batch, sizes, futures, self._syncer.start())
            self._finish(flight)
        else:  # SyncPolicy.OS: nothing to wait for
            self._finish(flight)
            self._finish((batch, sizes, futures, None))

    def _sync(self) -> None:
        """In the sync thread: sync the journal; tell the observer how long it took."""
        started = time.perf_counter()
        self.journal.sync()
        if self.observer is not None:
            self.observer.synced(time.perf_counter() - started)

    def _sync_returned(self, done: Future) -> None:
        """In the sync thread: tell the writer that a group's sync has returned."""
        self._queue.put((_SYNCED, done))

    def _synced(self, flight: tuple) -> bool:
        """Wait for a group's sync; False (and the group failed) if the sync failed."""
        syncing = flight[3]
        error = syncing.exception() if syncing is not None else None
        if error is not None:
            self.failure = self.failure or error
            self._fail(flight[2], "nothing acknowledged")
            return False
        return True

    def _land(self) -> None:
        """Finish the group in flight, if any: wait for its sync, apply, answer."""
        flight, self._flight = self._flight, None
        if flight is not None and self._synced(flight):
            self._finish(flight)

    def _finish(self, flight: tuple | None) -> None:
        """Apply a group whose sync has returned, answer its futures, tell the listeners."""
        if flight is None:
            return
        batch, sizes, futures, _ = flight
        first = int(batch["seq"][0])
        try:
            events = self.state.apply(batch)
        except BaseException as error:
            log.exception("engine failed on journaled commands %d..%d", first, first + len(batch) - 1)
            self.failure = error
            self._fail(futures, _UNAPPLIED)
            if self._flight is not None:  # journaled after it, and cannot be applied now either
                self._fail(self._flight[2], _UNAPPLIED)
                self._flight = None
            return
        if len(futures) == 1:
            _resolve(futures[0], events)
        else:  # each submission's events: from the first event of its first command on
            bounds = np.searchsorted(events["seq"], list(accumulate(sizes[:-1], initial=first))[1:]).tolist()
            for future, lo, hi in zip(futures, [0, *bounds], [*bounds, len(events)]):
                _resolve(future, events[lo:hi])
        if self.observer is not None:
            self.observer.applied(batch, events)
        self._since_snapshot += len(batch)
        if self._snapshot_due():
            self._start_snapshot()
        if self._retire_due():
            self._start_retirement()
        if self.after_group is not None and self.failure is None:
            self.after_group(self._idle())

    def _idle(self) -> bool:
        """Nothing more is queued for the writer."""
        return self._queue.empty()

    def _snapshot_due(self) -> bool:
        """``snapshot_every`` commands, ``snapshot_bytes`` journal bytes, or ``snapshot_seconds``
        with some command, since the last."""
        if self.snapshots is None or not self._since_snapshot:
            return False
        if self.snapshot_every and self._since_snapshot >= self.snapshot_every:
            return True
        if self.snapshot_bytes and self.journal.appended_bytes - self._bytes_at_snapshot >= self.snapshot_bytes:
            return True
        return 0 < self.snapshot_seconds <= time.monotonic() - self._snapshot_taken

    def _final_snapshot(self) -> None:
        """At a clean stop: every done order retired, then a snapshot of what changed
        since the last (stop() waits for its write)."""
        if self.snapshot_on_stop and self.snapshots is not None and self.failure is None and self._since_snapshot:
            self._retire_at_stop()
            if self.failure is None:
                self._start_snapshot(wait=True)

    # ------------------------------------------------------------------ retirement

    def _retire_due(self) -> bool:
        """``retire_every`` hot orders are done, no retirement is running or waiting for
        its FORGET_DONE to be applied, all is well."""
        ledger = self.state.orders
        return (0 < self.retire_every <= ledger.done and self._retiring is None and ledger.history is not None
                and ledger.forgotten_through >= ledger.history.through and self.failure is None
                and not self._stopped)

    def _start_retirement(self) -> None:
        """Copy the done rows now; write them to the history in the background; then
        (in the writer) install the file and submit FORGET_DONE, while the history thread
        saves the Bloom filter or fills its successor, if due (:meth:`OrderHistory.after_write`)."""
        ledger = self.state.orders
        assert ledger.history is not None  # _retire_due checked it
        through = self.state.last_seq
        rows = ledger.retiring(ledger.history.through, through)
        retiring = self._retiring = self._history_writer.submit(ledger.history.write, rows, through)
        retiring.add_done_callback(lambda done: self._put(
            (lambda state: self._retired(done, self._forget_later), Future())))
        after = self._history_writer.submit(ledger.history.after_write, len(rows))  # beside the FORGET_DONE
        after.add_done_callback(_report_after_write)

    def _retired(self, done: Future, forget: Callable[[np.ndarray], None]) -> None:
        """In the writer, once a history write has returned: install its file and have
        ``forget`` journal FORGET_DONE(the file's through) (a failed write is logged;
        the orders stay hot and a later retirement takes them)."""
        if self._retiring is not done:
            return  # handled already (at a stop)
        self._retiring = None
        if done.exception() is not None:
            log.error("order history write failed, done orders stay in memory: %s", done.exception())
            return
        assert self.state.orders.history is not None
        segment, keys = done.result()
        self.state.orders.history.install(segment, keys)
        forget(command(CommandKind.FORGET_DONE, amount=segment.through))

    def _retire_at_stop(self) -> None:
        """Finish a running retirement, then retire every done order, FORGET_DONE
        journaled and applied here (the writer's queue is closed)."""
        ledger = self.state.orders
        if ledger.history is None or not self.retire_every:
            return
        if self._retiring is not None:
            self._retiring.exception()  # wait for the write
            self._retired(self._retiring, self._forget_now)
        if ledger.done and self.failure is None:
            through = self.state.last_seq
            rows = ledger.retiring(ledger.history.through, through)
            self._retiring = done = self._history_writer.submit(ledger.history.write, rows, through)
            done.exception()  # wait: on the history thread, after any queued after_write (the filters are its own)
            self._retired(done, self._forget_now)  # (a failed write is logged there; its orders stay hot)

    def _forget_later(self, batch: np.ndarray) -> None:
        """Submit one command like any other (its future is not waited for)."""
        self._put((batch, Future()))

    def _forget_now(self, batch: np.ndarray) -> None:
        """Journal, sync and apply one command now (at a stop, nothing else is queued)."""
        self._group([batch], [Future()])
        self._land()

    def _start_snapshot(self, wait: bool = False) -> Future:
        """Copy the state now; write it in the background (one write at a time).

        If a write is still going on: with ``wait``, wait for it first, else skip.
        """
        if self.snapshots is None:
            raise ValueError("this sequencer has no snapshot store")
        pending = self._snapshot_pending
        if pending is not None and not pending.done():
            if not wait:
                return pending
            pending.exception()
        self._since_snapshot = 0
        self._bytes_at_snapshot = self.journal.appended_bytes
        self._snapshot_taken = time.monotonic()
        started = time.perf_counter()
        snapshot = self._snapshot_copied = self.state.snapshot(self._snapshot_copied)
        self._snapshot_pending = self._snapshot_writer.submit(self._write_snapshot, snapshot, started)
        self._snapshot_pending.add_done_callback(_report_snapshot)
        return self._snapshot_pending

    def _write_snapshot(self, snapshot, started: float) -> Path:
        """In the snapshot thread: :attr:`flush_before_snapshot`, then write it; tell the
        observer the time since the copy began (the flush included)."""
        assert self.snapshots is not None  # _start_snapshot refuses to run without a store
        if self.flush_before_snapshot is not None:
            self.flush_before_snapshot()
        path = self.snapshots.write(snapshot)
        if self.observer is not None:
            self.observer.snapshot_written(time.perf_counter() - started, path.stat().st_size)
        return path

    def _fail(self, futures: list[Future], what: str) -> None:
        error = SequencerStoppedError(f"sequencer stopped, {what}: {self.failure}")
        for future in futures:
            _resolve(future, error)

    def _drain(self) -> None:
        """Fail whatever is still queued after the stop."""
        while True:
            try:
                payload, future = self._queue.get_nowait()
            except queue.Empty:
                return
            if payload is not _SYNCED and future is not None and _take(future):
                _resolve(future, SequencerStoppedError("sequencer stopped"))
