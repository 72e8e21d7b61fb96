"""The sequencer run by an asyncio event loop (the gateway's) instead of a writer thread.

Same rules as :mod:`exchange.sequencer.sequencer`, through the same methods; what differs
is how work reaches the writer (the loop's own submissions without a hand-off, other
threads' through a locked inbox) and the group hold (:meth:`LoopSequencer._holding`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from exchange.journal import Journal
from exchange.sequencer import pauses
from exchange.sequencer.sequencer import (
    _STOP,
    _UNAPPLIED,
    Sequencer,
    SequencerStoppedError,
    SyncPolicy,
    _resolve,
    _take,
    log,
)
from exchange.sequencer.state import MarketState

MOST_HOLD = 0.005
"""Longest a group is held back for the submitters coming back (seconds;
:meth:`LoopSequencer._holding`): about what a fast fsync takes, what a split group
would cost the submitters behind it."""


def _is_command(payload) -> bool:
    """A batch of commands, which may wait in a group; a read (a callable) or the stop
    is never held back and ends the group before it."""
    return payload is not _STOP and not callable(payload)


class LoopSequencer(Sequencer):
    """The same sequencer, driven by an asyncio event loop instead of a writer thread.

    The loop's thread owns the state and does the writer thread's work, with the same
    rules: what is submitted while the loop runs one turn is gathered into one group when
    the turn ends, stamped and journaled, and its fsync runs in the sync thread; a group
    is applied and answered in the loop only once its fsync has returned, while the next
    group gathers (pipelined as above); a read sees every group submitted before it.
    From the loop, :meth:`submit_async` and :meth:`call_async` cost no thread hand-off
    and answer without a wake-up (the gateway's path). Other threads' :meth:`submit` and
    :meth:`call` go through a locked inbox that the loop empties before it takes anything
    of its own, so a submission that returned in a thread comes before whatever the loop
    submits after learning of it. :meth:`stop` is called from outside the loop: it waits
    for the loop to finish what was queued, or, once no loop runs, fails it. The work
    runs in the loop: a group's encoding, write and apply, reads and snapshot copies
    hold it for as long as they take.

    With ``SyncPolicy.GROUP``, a group that would start with nothing in flight is held
    back while the submitters the last groups answered are coming back (:meth:`_holding`):
    closed-loop callers (a unary caller, a stream with a window) submit again once
    answered, each through its own loop turns, and the first of them would otherwise
    take a sync of its own while the rest wait behind it for the next one (under the
    bench's 16 unary callers, groups of 1 and 15 in turn: two syncs per round of calls).
    """

    def __init__(self, state: MarketState, journal: Journal, *, loop: asyncio.AbstractEventLoop,
                 **kwargs) -> None:
        self.loop = loop
        self._pending: deque[tuple] = deque()  # loop thread only
        self._inbox: deque[tuple] = deque()  # other threads' items, under _inbox_lock
        self._inbox_lock = threading.Lock()
        self._scheduled = False
        self._ended = False
        self._callers = 0
        """The most submissions seen outstanding at once (pending or in flight) since a hold
        last ran out: how many closed-loop callers there are. A hold that runs out sets it
        to those that came (the rest left: a caller that ended, a stream gone quiet)."""
        self._hold_until: float | None = None
        self._hold_timer: asyncio.TimerHandle | None = None
        super().__init__(state, journal, **kwargs)

    def _start(self) -> None:
        """Nothing to start: the loop runs the writer's work as callbacks (and, with
        ``GPUX_LOOP_PAUSE_MS`` set, a watch that logs its pauses: :mod:`~exchange.sequencer.pauses`)."""
        self._pauses = pauses.from_environment(self.loop)

    def submit_async(self, batch: np.ndarray, copy: bool = True) -> asyncio.Future:
        """:meth:`submit` from the loop's thread; an asyncio future. With ``copy`` False
        the batch is handed over as it is (the caller never touches it again; a unary
        call's batch of one, made for this submission)."""
        return self._submit(batch, self.loop.create_future(), copy, self._enqueue)

    def call_async(self, work: Callable[[MarketState], object]) -> asyncio.Future:
        """:meth:`call` from the loop's thread; an asyncio future."""
        return self._call(work, self.loop.create_future())

    def stop(self) -> None:
        """Finish what is queued, then stop (from outside the loop; once no loop runs it,
        what is still pending fails instead)."""
        if self._in_loop():
            raise RuntimeError("LoopSequencer.stop() waits for the loop: call it from outside the loop")
        self._stopped = True
        done: Future = Future()
        try:
            with self._inbox_lock:
                if not self._ended:
                    self._inbox.append((_STOP, done))
            self._wake()
            while not self._ended:
                if not self.loop.is_running():
                    self._end()  # no loop will run it: end here (nothing else touches the state)
                    break
                with contextlib.suppress(TimeoutError):
                    done.result(timeout=0.5)
        finally:
            self._syncer.shutdown()  # no journal call runs once stop() returns
            self._snapshot_writer.shutdown(wait=True)
            self._history_writer.shutdown(wait=True)

    # ------------------------------------------------------------------ handing over

    def _in_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _put(self, item: tuple) -> None:
        if self._in_loop():
            self._enqueue(item)
            return
        with self._inbox_lock:
            ended = self._ended or self.loop.is_closed()
            if not ended:
                self._inbox.append(item)
        if ended:  # never sequenced
            why = self.failure or ("stop() was called" if self._ended else "its event loop is closed")
            _resolve(item[1], SequencerStoppedError(f"sequencer stopped: {why}"))
        else:
            self._wake()

    def _wake(self) -> None:
        """Have the loop run :meth:`_pump` (from any thread; a closed loop is left to stop())."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._pump)

    def _take_inbox(self) -> None:
        """Move the other threads' items behind what the loop holds (they came first)."""
        if self._inbox:
            with self._inbox_lock:
                self._pending.extend(self._inbox)
                self._inbox.clear()

    # ------------------------------------------------------------------ in the loop

    def _enqueue(self, item: tuple) -> None:
        """Queue an item of the loop's own; have :meth:`_pump` run unless it could do nothing
        with it: while a sync runs (its return pumps) or a hold waits for more commands
        (a command that is not the last awaited; the hold's timer pumps), the item waits
        for that pump (under closed-loop callers, all but one submission per group)."""
        if self._ended:
            _resolve(item[1], SequencerStoppedError(f"sequencer stopped: {self.failure or 'stop() was called'}"))
            return
        self._take_inbox()
        self._pending.append(item)
        self._callers = max(self._callers, len(self._pending) + (len(self._flight[2]) if self._flight else 0))
        if self._scheduled or self._syncing():
            return
        if self._hold_until is not None and len(self._pending) < self._callers and _is_command(item[0]):
            return
        self._scheduled = True
        self.loop.call_soon(self._pump)

    def _sync_returned(self, done: Future) -> None:
        self._wake()

    def _idle(self) -> bool:
        return not self._pending and not self._inbox

    def _pump(self) -> None:
        """Do what the writer thread would: never dies silently, stops acknowledging on error."""
        self._scheduled = False
        try:
            self._advance()
        except BaseException as error:  # noqa: BLE001 - recorded; everything pending fails
            log.exception("sequencer failed")
            self.failure = self.failure or error
            self._end()

    def _advance(self) -> None:
        """Group, journal, land and read as far as the group in flight allows."""
        while not self._ended:
            if self._syncing():
                return  # gather until its sync returns (_sync_returned pumps again)
            self._take_inbox()
            if self._holding():
                self._land()  # the group synced meanwhile is answered while the hold lasts
                if self._holding():
                    return  # gather until they are back or the hold ends (its timer pumps again)
            group, futures, count = [], [], 0
            while self._pending and count < self.max_batch:
                payload, future = self._pending[0]
                if not _is_command(payload):
                    break  # a read or the stop sees every group queued before it
                self._pending.popleft()
                if _take(future):
                    group.append(payload)
                    futures.append(future)
                    count += len(payload)
            if group:
                if self._hold_until is not None and self.loop.time() >= self._hold_until:
                    self._callers = len(futures)  # the hold ran out: the others are not coming
                self._release_hold()
                self._group(group, futures)
                continue
            self._land()
            if not self._pending:
                return
            payload, future = self._pending.popleft()
            if payload is _STOP:
                self._final_snapshot()
                self._end()
                future.set_result(None)
                return
            self._run_call(payload, future)

    def _syncing(self) -> bool:
        """The group in flight waits for its sync (whose return pumps)."""
        return self._flight is not None and self._flight[3] is not None and not self._flight[3].done()

    def _holding(self) -> bool:
        """Hold the next group back? Only while nothing is syncing (the caller checked),
        only commands are pending (a read or a stop goes at once), fewer of them than there
        are callers (:attr:`_callers`: the most seen outstanding at once, so those answered
        and still on their way back count too), and for at most :data:`MOST_HOLD` from the
        first check: splitting the returning submitters over two groups costs them a whole
        sync more, and the loop a group's fixed work more (each group is applied and
        answered in one pass). Counting only the submissions answered since the last group
        forgot those answered before a group that went without them, and under load two
        part groups then kept taking turns for good (8 callers: 1, 4, 5, 5, 6, 6, 6, 6, 5,
        4, 1). Starts the hold's timer."""
        if self.sync is not SyncPolicy.GROUP or not self._pending:
            return False
        pending = self._pending
        if len(pending) >= self._callers or not all(_is_command(payload) for payload, _ in pending):
            return False
        now = self.loop.time()
        if self._hold_until is None:
            self._hold_until = now + MOST_HOLD
            self._hold_timer = self.loop.call_at(self._hold_until, self._pump)
        return now < self._hold_until

    def _release_hold(self) -> None:
        """A group is going: end the hold, if any."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._hold_until = self._hold_timer = None

    def _end(self) -> None:
        """Stop for good: the group in flight (journaled, never applied) and everything
        pending fail; a stop waiting is released. Never waits for the sync thread
        (:meth:`stop` does, before the journal can be closed)."""
        self._release_hold()
        if self._pauses is not None:
            self._pauses.stop()
        with self._inbox_lock:
            self._stopped = self._ended = True
            self._pending.extend(self._inbox)
            self._inbox.clear()
        flight, self._flight = self._flight, None
        if flight is not None:
            self._fail(flight[2], _UNAPPLIED)
        error = SequencerStoppedError(f"sequencer stopped: {self.failure or 'stop() was called'}")
        while self._pending:
            payload, future = self._pending.popleft()
            if payload is _STOP:
                future.set_result(None)
            elif _take(future):
                _resolve(future, error)
