"""The echo servers of ``bench/gateway.py``: the same gpux.v1.TradingService calls with
none of the exchange behind them, the floors the gateway is measured against.

* :func:`raw_echo_handler`: no (de)serializer; each request's bytes come back unread
  (the transport alone); given a :class:`GroupCommit`, only once they are durable (the
  raw durable echo: the transport and an fsync before each answer, no protobuf).
* :class:`EchoTrading`: decodes each request and answers the messages the gateway would
  (grpc aio + protobuf messages built in Python, nothing else).
* :class:`DurableEcho`: the echo, answering only once the request's bytes are written
  and fsynced (:class:`GroupCommit`, with the gateway's group hold): the floor that
  "durable before acknowledged" alone puts under the gateway.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from exchange.proto.gpux.v1 import trading_pb2, trading_pb2_grpc, types_pb2

SERVICE = "gpux.v1.TradingService"
MOST_HOLD = 0.005
"""Longest a group is held back for the callers coming back (seconds): the gateway's
``exchange.sequencer.loop.MOST_HOLD`` (not imported: a baseline tree may lack it)."""


class EchoTrading(trading_pb2_grpc.TradingServiceServicer):
    """The same messages as the gateway's TradingService, and no work behind them;
    ``now``: the reports' transact time (ns)."""

    def __init__(self, now: int) -> None:
        self.n = 0
        self.now = now

    def _report(self, p: trading_pb2.PlaceOrderRequest, index: int) -> types_pb2.ExecutionReport:
        self.n += 1
        return types_pb2.ExecutionReport(
            seq=self.n, exec_index=index, transact_time_ns=self.now, exec_type=types_pb2.EXEC_TYPE_NEW,
            order_status=types_pb2.ORDER_STATUS_NEW, order_id=self.n, client_order_id=p.client_order_id,
            symbol=p.symbol, side=p.side, price_fen=p.price_fen, order_qty=p.qty, leaves_qty=p.qty, cum_qty=0)

    async def PlaceOrder(self, request, context):
        report = self._report(request, 0)
        order = types_pb2.Order(order_id=report.order_id, client_order_id=request.client_order_id,
                                first_client_order_id=request.client_order_id, symbol=request.symbol,
                                side=request.side, price_fen=request.price_fen, order_qty=request.qty,
                                cum_qty=0, leaves_qty=request.qty, order_status=types_pb2.ORDER_STATUS_NEW)
        return trading_pb2.PlaceOrderResponse(reports=[report], order=order)

    def _stream_response(self, message: trading_pb2.StreamOrdersRequest) -> trading_pb2.StreamOrdersResponse:
        return trading_pb2.StreamOrdersResponse(
            batch_id=message.batch_id, reports=[self._report(c.place, i) for i, c in enumerate(message.commands)])

    async def StreamOrders(self, request_iterator, context):
        async for message in request_iterator:
            yield self._stream_response(message)


class GroupCommit:
    """Answers after the bytes are written and fsynced to ``path``: what arrives while an
    fsync runs shares the next one (the fsync in a thread), and a group that would start
    with no fsync running is held back, for at most :data:`MOST_HOLD`, while fewer
    requests wait than the most seen outstanding at once (the callers just answered are
    coming back): the gateway's group-commit policy (``LoopSequencer._holding``), so the
    durable echoes compare like with like."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.syncer = ThreadPoolExecutor(1)
        self.waiting: list[tuple[bytes, asyncio.Future]] = []
        self.syncing: list[tuple[bytes, asyncio.Future]] | None = None
        self.callers = 0
        """The most requests seen outstanding at once (waiting or syncing) since a hold last ran out."""
        self.hold: asyncio.TimerHandle | None = None

    async def durable(self, data: bytes) -> None:
        """Return once ``data`` is written and fsynced (in a group)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self.waiting.append((data, waiter))
        self.callers = max(self.callers, len(self.waiting) + len(self.syncing or ()))
        if self.syncing is None:
            if len(self.waiting) >= self.callers:
                self._sync(loop)  # all are here: a hold running ends
            elif self.hold is None:
                self.hold = loop.call_later(MOST_HOLD, self._hold_ran_out, loop)
        await waiter

    def _hold_ran_out(self, loop: asyncio.AbstractEventLoop) -> None:
        self.hold = None
        self.callers = len(self.waiting)  # the others are not coming
        self._sync(loop)

    def _sync(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.hold is not None:
            self.hold.cancel()
            self.hold = None
        group, self.waiting, self.syncing = self.waiting, [], self.waiting

        def write_and_sync() -> None:
            os.write(self.fd, b"".join(data for data, _ in group))
            os.fsync(self.fd)

        def synced(_) -> None:
            self.syncing = None
            for _, waiter in group:
                waiter.set_result(None)
            if self.waiting and len(self.waiting) >= self.callers:
                self._sync(loop)
            elif self.waiting:
                self.hold = loop.call_later(MOST_HOLD, self._hold_ran_out, loop)
        self.syncer.submit(write_and_sync).add_done_callback(lambda done: loop.call_soon_threadsafe(synced, done))


class DurableEcho(EchoTrading):
    """The echo, answering each request only once its bytes are durable (:class:`GroupCommit`)."""

    def __init__(self, path: Path, now: int) -> None:
        super().__init__(now)
        self.commit = GroupCommit(path)

    async def PlaceOrder(self, request, context):
        await self.commit.durable(request.SerializeToString())
        return await super().PlaceOrder(request, context)

    async def StreamOrders(self, request_iterator, context):
        async for message in request_iterator:
            await self.commit.durable(message.SerializeToString())
            yield self._stream_response(message)


def raw_echo_handler(commit: GroupCommit | None = None) -> grpc.GenericRpcHandler:
    """PlaceOrder and StreamOrders with no (de)serializer: each request's bytes come back
    as the answer, unread; with ``commit``, only once they are durable there (the raw
    durable echo)."""
    async def place(request: bytes, context) -> bytes:
        if commit is not None:
            await commit.durable(request)
        return request

    async def stream(request_iterator, context):
        async for message in request_iterator:
            if commit is not None:
                await commit.durable(message)
            yield message
    return grpc.method_handlers_generic_handler(SERVICE, {
        "PlaceOrder": grpc.unary_unary_rpc_method_handler(place),
        "StreamOrders": grpc.stream_stream_rpc_method_handler(stream)})
