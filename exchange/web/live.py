"""The market page's live feed: one reader of the market for every page client.

The gateway wakes its book streams after every applied group (the node's
``on_group`` listener notifies ``Exchange.book_changed`` with the applied seq, while
some stream is open). :class:`LiveFeed` is one more such stream, for all page clients
together: after a wake-up it reads the top of every book, the last price and volume in
one vectorised read between groups (:meth:`~exchange.engine.Engine.top_of_book`, the
state's ticker), finds the instruments whose row changed since its last read, and puts
one JSON message of those rows into every client's queue. So the engine is read once
per wake-up whatever the number of clients, and at most once per ``min_interval``
seconds (the groups in between coalesce), never per client. A client whose queue is
full (it reads too slowly) is dropped; its browser reconnects and starts afresh.

A client subscribes first, then takes its first picture (:meth:`LiveFeed.current`:
the rows as of the feed's last read, with its seq), and applies every message whose
seq is newer: the messages carry whole rows, so nothing is missed or applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import numpy as np

from exchange.sequencer import MarketState

log = logging.getLogger("gpux.web")

LIVE_FIELDS = ("state", "bid", "bid_qty", "ask", "ask_qty", "last", "volume")
"""Columns of a live row, per instrument id (prices in fen, quantities in GPUs)."""
QUEUE_MESSAGES = 256
"""Messages a client may fall behind by before it is dropped."""
CLOSED = None
"""Put into client queues when the feed stops."""


def live_rows(state: MarketState) -> tuple[np.ndarray, int]:
    """(instruments x LIVE_FIELDS int64 matrix, last seq): run between groups. O(instruments)."""
    top = state.engine.top_of_book()
    n = len(top["state"])
    ticker = np.zeros((n, 2), np.int64)
    known = min(n, len(state.ticker))
    ticker[:known] = state.ticker[:known]
    rows = np.column_stack([top["state"], top["bid_price"], top["bid_qty"], top["ask_price"], top["ask_qty"],
                            ticker[:, 0], ticker[:, 1]])
    return rows, state.last_seq


class LiveFeed:
    """Reads the market after groups and fans the changed rows out to page clients."""

    def __init__(self, exchange, cells, min_interval: float = 0.25) -> None:
        self.exchange = exchange
        self.cells = cells
        """``cells(ids, rows)``: the JSON-ready cells of changed instruments."""
        self.min_interval = min_interval
        self.clients: set[asyncio.Queue] = set()
        self.rows = np.zeros((0, len(LIVE_FIELDS)), np.int64)
        self.seq = 0
        self.messages = 0
        """Messages sent (to all clients at once) since the start."""
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    def subscribe(self) -> asyncio.Queue:
        """A new client's queue of JSON messages; the first client starts the feed."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_MESSAGES)
        self.clients.add(queue)
        if self._task is None:
            self.exchange.book_streams += 1  # from now on every applied group wakes book streams
            self._ready.clear()
            self._task = asyncio.ensure_future(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """A client left; the last one stops the feed."""
        self.clients.discard(queue)
        if not self.clients and self._task is not None:
            self._task.cancel()
            self._task = None
            self.exchange.book_streams -= 1

    async def current(self) -> tuple[np.ndarray, int]:
        """The rows and seq a new client starts from: the feed's last read while it runs
        (so that its next message follows on), else a fresh read."""
        if self._task is not None:
            await self._ready.wait()
            return self.rows, self.seq
        return await self.exchange.read(live_rows)

    async def close(self) -> None:
        """Stop the feed; every client's stream ends."""
        for queue in list(self.clients):
            self.unsubscribe(queue)
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(CLOSED)

    async def _run(self) -> None:
        self.rows, self.seq = await self.exchange.read(live_rows)
        self._ready.set()
        seen = self.exchange.notified_seq
        while True:
            seen = await self.exchange.applied_after(seen)  # the gateway's fan-out: woken per applied group
            rows, seq = await self.exchange.read(live_rows)
            message = self._changes(rows, seq)
            if message is not None:
                self.messages += 1
                for queue in list(self.clients):
                    try:
                        queue.put_nowait(message)
                    except asyncio.QueueFull:  # too slow: drop it, its browser reconnects
                        log.info("live page client dropped: %d messages behind", queue.qsize())
                        self.clients.discard(queue)
                        while not queue.empty():
                            queue.get_nowait()
                        queue.put_nowait(CLOSED)
            await asyncio.sleep(self.min_interval)

    def _changes(self, rows: np.ndarray, seq: int) -> str | None:
        """The JSON message of the rows that differ from the last read (None if none)."""
        old = self.rows
        if len(old) < len(rows):  # new listings: compared with empty rows
            old = np.vstack([old, np.zeros((len(rows) - len(old), rows.shape[1]), np.int64)])
        changed = np.flatnonzero((rows != old).any(axis=1))
        self.rows, self.seq = rows, seq
        if not len(changed):
            return None
        return json.dumps({"seq": seq, "cells": self.cells(changed, rows[changed])}, separators=(",", ":"))
