"""The private execution streams: each account's execution records pushed as they happen.

:class:`ExecutionHub` listens to the node's :class:`~exchange.executions.ExecLog`: after
every applied group the writer hands it the group's records, and it puts each
subscribed account's records into that account's subscriptions (nothing is done when
nobody subscribes). The writer never waits for a reader: a subscription holds at most
``bound`` records; one that would hold more is dropped at once and its stream ends
with RESOURCE_EXHAUSTED (reason SLOW_CONSUMER) naming the exec_seq to resume after.

A stream (:func:`stream_executions`) subscribes first, then reads the account's
records after the client's ``after_exec_seq`` from the log, up to the last one the log
held when it subscribed, then goes live: every record is sent exactly once, in
exec_seq order, across reconnects and restarts (the numbering is the journal's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import grpc
import numpy as np

from exchange.executions import ExecLog, X
from exchange.gateway.errors import GatewayError, GatewayReason, invalid
from exchange.gateway.instruments import Instruments
from exchange.gateway.reports import execution_reports
from exchange.proto.gpux.v1 import trading_pb2
from exchange.schema import CommandKind, EventKind

HISTORY_CHUNK = 1000
"""Records per message while a stream catches up from the log."""

_CHANGE_KIND = {
    CommandKind.DEPOSIT_FUNDS: trading_pb2.ACCOUNT_CHANGE_KIND_DEPOSIT_FUNDS,
    CommandKind.WITHDRAW_FUNDS: trading_pb2.ACCOUNT_CHANGE_KIND_WITHDRAW_FUNDS,
    CommandKind.SET_CREDIT: trading_pb2.ACCOUNT_CHANGE_KIND_SET_CREDIT,
    CommandKind.HOLD_FUNDS: trading_pb2.ACCOUNT_CHANGE_KIND_HOLD_FUNDS,
    CommandKind.DEPOSIT_CAPACITY: trading_pb2.ACCOUNT_CHANGE_KIND_DEPOSIT_CAPACITY,
    CommandKind.WITHDRAW_CAPACITY: trading_pb2.ACCOUNT_CHANGE_KIND_WITHDRAW_CAPACITY,
    CommandKind.HOLD_CAPACITY: trading_pb2.ACCOUNT_CHANGE_KIND_HOLD_CAPACITY,
    CommandKind.RELEASE_HOLDS: trading_pb2.ACCOUNT_CHANGE_KIND_RELEASE_HOLDS,
    CommandKind.MASS_CANCEL: trading_pb2.ACCOUNT_CHANGE_KIND_MASS_CANCEL,
}
_MONEY = frozenset({CommandKind.DEPOSIT_FUNDS, CommandKind.WITHDRAW_FUNDS, CommandKind.SET_CREDIT,
                    CommandKind.HOLD_FUNDS})
_ACK = int(EventKind.ACK)
_EVENT = slice(int(X.SEQ), int(X.CHECK))  # type: ignore[attr-defined]  # the event's fields in a record (X from EXEC_FIELDS)


def account_events(records: np.ndarray, instruments: Instruments) -> list[trading_pb2.AccountEvent]:
    """Execution records (EXEC_DTYPE, one account's) as AccountEvent messages: an order
    event as its ExecutionReport (the account's side of a fill), an ACK as the
    AccountChange it made. O(records)."""
    out = []
    for row in records.tolist():
        account, exec_seq, exec_index, command = row[:4]
        event = row[_EVENT]
        message = trading_pb2.AccountEvent(exec_seq=exec_seq, exec_id=f"{account}-{exec_seq}")
        if event[X.KIND - X.SEQ] == _ACK:  # type: ignore[attr-defined]  # X's members come from EXEC_FIELDS
            seq, ts, _, _, _, instrument, *_ = event
            qty = event[X.QTY - X.SEQ]  # type: ignore[attr-defined]  # X's members come from EXEC_FIELDS
            money = command in _MONEY
            message.change.CopyFrom(trading_pb2.AccountChange(
                kind=_CHANGE_KIND[command], seq=seq, transact_time_ns=ts,
                symbol="" if money else instruments.symbol(instrument),  # money belongs to no slot
                amount_fen=qty if money else 0, qty=0 if money else qty))
        else:
            (report,) = execution_reports([tuple(event)], account, instruments)
            report.exec_index = exec_index
            message.report.CopyFrom(report)
        out.append(message)
    return out


class Subscription:
    """The records of one account waiting for one stream (at most ``bound``)."""

    def __init__(self, account: int, bound: int) -> None:
        self.account = account
        self.bound = bound
        self.waiting: list[np.ndarray] = []
        self.held = 0
        self.overflowed = False
        self.ready = asyncio.Event()

    def put(self, records: np.ndarray) -> bool:
        """Hold ``records`` (in the writer); False, and everything dropped, if that
        would exceed the bound."""
        if self.held + len(records) > self.bound:
            self.waiting.clear()
            self.overflowed = True
            self.ready.set()
            return False
        self.waiting.append(records)
        self.held += len(records)
        self.ready.set()
        return True

    async def take(self, resume_after: int) -> np.ndarray:
        """The records held so far (waiting for some); SLOW_CONSUMER if the bound was hit
        (the client resumes after ``resume_after``, the last exec_seq it was sent)."""
        while not self.waiting and not self.overflowed:
            self.ready.clear()
            await self.ready.wait()
        if self.overflowed:
            raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"this stream fell more than {self.bound} reports behind and was ended; "
                               f"call again with after_exec_seq={resume_after}",
                               GatewayReason.SLOW_CONSUMER, resume_after=resume_after, limit=self.bound)
        taken = self.waiting[0] if len(self.waiting) == 1 else np.concatenate(self.waiting)
        self.waiting, self.held = [], 0
        return taken


class ExecutionHub:
    """Subscriptions by account, fed by the execution log's appends (in the writer)."""

    def __init__(self, log: ExecLog, bound: int) -> None:
        self.log = log
        self.bound = bound
        """Most records one stream may fall behind by before it is ended."""
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)
        self.overflows = 0
        """Streams ended for being too slow, so far."""
        log.listeners.append(self.publish)

    def publish(self, records: np.ndarray) -> None:
        """Hand a group's records to the subscriptions of their accounts. O(records) when
        someone subscribes, O(1) when nobody does."""
        if not self._subscribers:
            return
        accounts = records["exec_account"]
        for account in np.unique(accounts).tolist() if len(records) > 1 else accounts.tolist():
            subscribers = self._subscribers.get(account)
            if subscribers:
                mine = records if len(records) == 1 else records[accounts == account]
                for subscription in list(subscribers):
                    if not subscription.put(mine):
                        self.overflows += 1
                        self._drop(subscription)

    @contextlib.contextmanager
    def subscribe(self, account: int) -> Iterator[Subscription]:
        """A subscription to ``account``'s records from now on, for the ``with`` block."""
        subscription = Subscription(account, self.bound)
        self._subscribers[account].add(subscription)
        try:
            yield subscription
        finally:
            self._drop(subscription)

    def _drop(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.account)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.account]


async def stream_executions(hub: ExecutionHub, account: int, after: int, instruments: Instruments
                            ) -> AsyncIterator[trading_pb2.StreamExecutionReportsResponse]:
    """The messages of one StreamExecutionReports call: the account's records after
    ``after`` from the log, then live ones, each exactly once, in exec_seq order."""
    response = trading_pb2.StreamExecutionReportsResponse
    with hub.subscribe(account) as live:  # before the log's end is read: nothing falls between
        last = int(hub.log.counts[account])
        if after > last:
            raise invalid(f"after_exec_seq {after} is beyond the account's last exec_seq {last}",
                          "after_exec_seq", limit=last, value=after)
        positions = hub.log.positions(account, after, last)
        for start in range(0, len(positions), HISTORY_CHUNK):
            records = await asyncio.to_thread(hub.log.read, positions[start:start + HISTORY_CHUNK], account)
            yield response(events=account_events(records, instruments), last_exec_seq=last)
            after = int(records["exec_seq"][-1])
        if not len(positions):  # caught up at once: say so
            yield response(last_exec_seq=last)
        while True:
            records = await live.take(after)
            records = records[records["exec_seq"] > after]
            if len(records):
                after = int(records["exec_seq"][-1])
                yield response(events=account_events(records, instruments), last_exec_seq=after)
