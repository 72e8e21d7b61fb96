"""What every gpux.v1 service shares: :class:`Exchange`, the node and its gateway state,
and the caller's account."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import TYPE_CHECKING

import numpy as np

from exchange.gateway.accounts import AccountRegistry
from exchange.gateway.errors import rejection
from exchange.gateway.executions import ExecutionHub
from exchange.gateway.feed import MarketFeed
from exchange.gateway.instruments import Instruments
from exchange.gateway.interceptors import CALLER, TokenBucket
from exchange.gateway.reports import first_rejection
from exchange.schema import CommandKind, command
from exchange.sequencer import ExchangeNode, LoopSequencer

if TYPE_CHECKING:
    from exchange.web.metrics import ExchangeMetrics


class Exchange:
    """What every service shares: the node, the accounts, the rate limiter."""

    def __init__(self, node: ExchangeNode, accounts: AccountRegistry, limiter: TokenBucket,
                 opening_call_ns: int = 0, exec_buffer: int = 10_000, feed_interval: float = 0.05) -> None:
        if not isinstance(node.sequencer, LoopSequencer):
            raise TypeError("the gateway runs its node's sequencer in the event loop: open it with loop=")
        self.node = node
        self.sequencer: LoopSequencer = node.sequencer
        self.catalog = node.catalog
        self.listing = node.state.listing
        self.instruments = Instruments(self.listing, self.catalog)
        self.accounts = accounts
        self.limiter = limiter
        self.opening_call_ns = opening_call_ns
        """Length of the call phase new slots open with (0: none)."""
        assert node.executions is not None  # ExchangeNode.open made the node's execution log
        self.executions = ExecutionHub(node.executions, exec_buffer)
        """The private execution streams (:mod:`exchange.gateway.executions`)."""
        self.feed = MarketFeed(self, feed_interval)
        """The public market-data fan-out (:mod:`exchange.gateway.feed`): books, tickers, trades."""
        self.book_changed = asyncio.Condition()
        self.notified_seq = 0
        """The last sequence number the node reported applied (the market page's live
        feed waits on it, :mod:`exchange.web.live`)."""
        self.book_streams = 0
        """Consumers of the per-group wake-up :meth:`applied_after` (the live market page
        counts as one while it has clients): the node reports applied groups only while
        there are some."""
        self.metrics: ExchangeMetrics | None = None
        """The operator metrics (:class:`exchange.web.metrics.ExchangeMetrics`) when served."""

    def execute(self, batch: np.ndarray) -> asyncio.Future[np.ndarray]:
        """Sequence, journal and apply a batch (in one group with the rest of this loop
        turn's): the future of its events (the sequencer's own, no coroutine around it).
        The batch is handed over, not copied: the caller made it for this call and never
        touches it again. With metrics, the time to each answer is recorded."""
        events = self.sequencer.submit_async(batch, copy=False)
        if self.metrics is not None:
            events.add_done_callback(functools.partial(self._acked, self.metrics, time.perf_counter()))
        return events

    @staticmethod
    def _acked(metrics, started: float, events: asyncio.Future) -> None:
        """Record the time from a submission to its answer (not to a failure)."""
        if not events.cancelled() and events.exception() is None:
            metrics.acked(time.perf_counter() - started)

    async def applied_after(self, seen: int) -> int:
        """Wait until the node reports a group applied after sequence number ``seen``; the
        newest such number. No wakeup is lost: the condition is tested under its lock."""
        async with self.book_changed:
            await self.book_changed.wait_for(lambda: self.notified_seq > seen)
            return self.notified_seq

    async def read(self, work):
        """Run ``work(state)`` between groups, once every group submitted before it is applied."""
        return await self.sequencer.call_async(work)

    async def one(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Execute one command; a rejection becomes its gRPC status."""
        events = await self.execute(command(kind, **fields))
        reason = first_rejection(events.tolist())
        if reason:
            raise rejection(reason)
        return events

    def trades_written_out(self) -> None:
        """Wait (call it in a worker thread) until the trade log has written every trade
        handed to it so far, so a read of the files sees every trade acknowledged before
        it. A log that has stopped writing (the error is logged; the journal keeps the
        trades) is read as it is on disk."""
        with contextlib.suppress(Exception):
            self.node.trades.drain()

    def instrument(self, symbol: str) -> int:
        """Engine id of a listed symbol (INVALID_ARGUMENT / NOT_FOUND otherwise)."""
        return self.instruments.id(symbol)


def caller_account() -> int:
    """The account of the caller (set by the interceptor); commands always carry it."""
    return CALLER.get().account
