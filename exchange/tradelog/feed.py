"""The trade log's own thread: engine events in, sealed Arrow files out.

The sequencer's writer hands each batch's events to :class:`TradeLogFeed` and goes on:
they are held under a lock, and the feed's thread is woken only once ``convert_rows``
events are held (or by a seal, a drain or its ``flush_seconds`` timeout), so a busy
writer does not hand the GIL to the feed after every group. The thread keeps the TRADE
events and converts them in bulk
(:func:`trades_from_events`: its fixed cost is paid per ``convert_rows`` trades, not per
batch) into the :class:`TradeLogWriter` before every flush, which happens when
``flush_rows`` are buffered or when it has been idle for ``flush_seconds``, and seals every
delivery day whose last gate has closed (after converting and flushing what it holds).
The journal stays the record of truth: trades the feed had not flushed when a process
died are made again by the recovery replay (the node writes a snapshot only after a
:meth:`TradeLogFeed.drain`, so the replay from it starts before them). Events whose trades are all at or below
the writer's ``logged_through`` are dropped unconverted (a replay of logged trades).
An error in the feed's thread is kept and raised by :meth:`TradeLogFeed.drain` and
:meth:`TradeLogFeed.close`.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import date, datetime, time
from typing import Any

import numpy as np

from exchange.catalog import Catalog, Listing
from exchange.schema import EventKind, concat_records
from exchange.tradelog.events import trades_from_events
from exchange.tradelog.files import TradeLogWriter

log = logging.getLogger("gpux.tradelog")


def day_closes_ns(catalog: Catalog, day: date) -> int:
    """When trading in a delivery day ends: the gate closure of its last slot (23:00)."""
    last_slot = datetime.combine(day, time(23), catalog.market.tz)
    return int(last_slot.timestamp()) * 10**9 - catalog.market.gate_closure_ns


class TradeLogFeed:
    """A thread that owns a :class:`TradeLogWriter` and feeds it from engine events."""

    def __init__(self, writer: TradeLogWriter, listing: Listing, *, flush_rows: int = 65536,
                 flush_seconds: float = 1.0, convert_rows: int = 4096) -> None:
        self.writer = writer
        self.listing = listing
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.convert_rows = convert_rows
        self._pending: list[np.ndarray] = []  # TRADE events not converted yet, in order
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._held: list[np.ndarray] = []  # events handed over since the thread last looked
        self._held_rows = 0
        self._woken = False
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gpux-tradelog", daemon=True)
        self._thread.start()

    def events(self, events: np.ndarray) -> None:
        """Hand over a batch's events (only its TRADE rows matter). O(1) for the caller,
        who wakes the thread only when ``convert_rows`` events are held."""
        with self._lock:
            self._held.append(events)
            self._held_rows += len(events)
            wake = self._held_rows >= self.convert_rows and not self._woken
            self._woken |= wake
        if wake:
            self._queue.put(("events", None))

    def seal_through(self, timer_ts: int) -> None:
        """Queue sealing every traded day whose last gate closed at or before ``timer_ts``."""
        self._queue.put(("seal", timer_ts))

    def drain(self) -> None:
        """Wait until everything queued is written and flushed; raise the thread's error."""
        done = threading.Event()
        self._queue.put(("drain", done))
        done.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Drain, then stop the thread."""
        try:
            self.drain()
        finally:
            self._queue.put(("stop", None))
            self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                kind, item = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                kind, item = "idle", None
            if kind == "stop":
                return
            with self._lock:  # everything handed over before this item (a seal, a drain) first
                held, self._held, self._held_rows, self._woken = self._held, [], 0, False
            if kind == "idle" and held:  # events came within flush_seconds: not idle
                kind = "events"
            try:
                if self.error is None:
                    for events in held:
                        self._hold(events)
                    self._handle(kind, item)
            except BaseException as error:  # kept for drain/close; trades stay in the journal
                log.exception("trade log stopped writing; the journal keeps every trade, a restart refills it")
                self.error = error
            if kind == "drain":
                item.set()

    def _handle(self, kind: str, item: Any) -> None:
        writer = self.writer
        if kind == "events":
            if self._pending_rows >= self.convert_rows:
                self._convert()
            if writer.buffered >= self.flush_rows:
                writer.flush()
        elif kind in ("idle", "drain"):
            self._convert()
            writer.flush()
        elif kind == "seal":
            self._convert()
            writer.flush()
            for day in writer.trade_days():
                if day_closes_ns(self.listing.catalog, day) <= item and not writer.sealed(day):
                    writer.seal(day)

    def _hold(self, events: np.ndarray) -> None:
        """Keep the TRADE events not logged yet for the next conversion."""
        trades = events[events["kind"] == EventKind.TRADE]
        if len(trades) and trades["trade_id"].max() > self.writer.logged_through:
            self._pending.append(trades)
            self._pending_rows += len(trades)

    def _convert(self) -> None:
        """Append the held TRADE events to the writer as trade-log rows. O(rows)."""
        if self._pending:
            pending, self._pending, self._pending_rows = self._pending, [], 0
            self.writer.append(trades_from_events(concat_records(pending), self.listing))
