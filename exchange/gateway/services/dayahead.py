"""DayAheadService: the day-ahead auction over gRPC (rules in :mod:`exchange.dayahead`).

Traders submit and list their own orders for a delivery day; anyone reads a cleared
day's prices; an operator runs a day's auction. Domain errors pass through to the
interceptor, which maps them (:data:`exchange.gateway.interceptors.DOMAIN_ERRORS`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc

from exchange.clearing import ClearingResult
from exchange.dayahead import (
    APPLIED_FILE,
    DayAheadBook,
    DayAheadOrder,
    DayAheadOutcome,
    InvalidDayAheadOrder,
    failure,
    instrument_symbol,
    read_clearing,
    read_outcome,
    run_day_ahead,
)
from exchange.gateway.errors import GatewayError, invalid, not_found
from exchange.gateway.interceptors import CALLER
from exchange.gateway.validation import parse_day
from exchange.proto.gpux.v1 import day_ahead_pb2, day_ahead_pb2_grpc, types_pb2

_BLOCK = day_ahead_pb2.DAY_AHEAD_ORDER_TYPE_BLOCK
_HOURLY = day_ahead_pb2.DAY_AHEAD_ORDER_TYPE_HOURLY


def _message(o: DayAheadOrder) -> day_ahead_pb2.DayAheadOrder:
    return day_ahead_pb2.DayAheadOrder(
        ref=o.ref, client_order_id=o.client_order_id, side=o.side, start_hour=o.hour, hours=o.length, qty=o.qty,  # type: ignore[arg-type]
        order_type=_BLOCK if o.kind == "block" else _HOURLY, min_ratio_percent=o.min_ratio,
        alternatives=[day_ahead_pb2.DayAheadAlternative(gpu_class=a.gpu_class, region=a.region, limit_fen=a.limit_fen,
                                                        start_hour=a.start) for a in o.alternatives],
        accepted_alternative=-1)


def _fill(m: day_ahead_pb2.DayAheadOrder, o: DayAheadOrder, result: ClearingResult) -> None:
    """Set an order's outcome: fill, accepted alternative and its start, reason, conflicts."""
    if o.kind == "hourly":
        m.filled_qty = result.fills.get(o.ref, 0)
        m.accepted_alternative = 0 if m.filled_qty else -1
        m.reason = result.order_reasons[o.ref].value
    else:
        b = result.blocks[o.ref]
        m.filled_qty = b.qty
        m.accepted_alternative = -1 if b.alternative is None else b.alternative
        m.reason = b.reason.value if b.reason else ""
        m.conflicts.extend(b.conflicts)
    if m.accepted_alternative >= 0:
        m.accepted_start_hour = o.alternatives[m.accepted_alternative].start


class DayAheadService(day_ahead_pb2_grpc.DayAheadServiceServicer):
    """Day-ahead intake, results and the operator's run."""

    def __init__(self, exchange) -> None:
        self.exchange = exchange
        self.book = DayAheadBook(exchange.node.data.dayahead, exchange.catalog)
        self._running = asyncio.Lock()

    async def SubmitDayAheadOrder(self, request, context):
        o = request.order
        if o.order_type not in (_HOURLY, _BLOCK):
            raise invalid("order_type must be DAY_AHEAD_ORDER_TYPE_HOURLY or DAY_AHEAD_ORDER_TYPE_BLOCK")
        if o.side not in (types_pb2.SIDE_BUY, types_pb2.SIDE_SELL):
            raise invalid("side must be SIDE_BUY or SIDE_SELL")
        block = o.order_type == _BLOCK
        day = parse_day(request.delivery_day, "delivery_day")
        today = self.exchange.catalog.market_time(self.exchange.node.sequencer.clock()).date()
        last = today + timedelta(days=self.exchange.catalog.market.listing_horizon_days)
        if not today < day <= last:
            raise invalid(f"delivery_day must be a day from {today + timedelta(days=1)} to {last} (market time)")
        try:
            order = await asyncio.to_thread(
                self.book.submit, day, CALLER.get().account, o.client_order_id,
                1 if o.side == types_pb2.SIDE_BUY else 2, o.start_hour, o.qty,
                [(a.gpu_class, a.region, a.limit_fen, a.start_hour if a.HasField("start_hour") else None)
                 for a in o.alternatives],
                length=o.hours if block else 1, min_ratio=o.min_ratio_percent or 100, block=block)
        except InvalidDayAheadOrder as error:
            raise invalid(str(error), error.field and f"order.{error.field}") from None
        return day_ahead_pb2.SubmitDayAheadOrderResponse(order=_message(order))

    async def ListDayAheadOrders(self, request, context):
        day, account = parse_day(request.delivery_day, "delivery_day"), CALLER.get().account
        orders = [o for o in await asyncio.to_thread(self.book.orders, day) if o.account == account]
        messages = [_message(o) for o in orders]
        folder = self.book.day_dir(day)
        cleared = (folder / APPLIED_FILE).exists()
        if cleared:
            _, result, _ = await asyncio.to_thread(read_clearing, folder)
            for o, m in zip(orders, messages):
                _fill(m, o, result)
        return day_ahead_pb2.ListDayAheadOrdersResponse(orders=messages, cleared=cleared)

    async def GetDayAheadResult(self, request, context):
        day = parse_day(request.delivery_day, "delivery_day")
        folder = self.book.day_dir(day)
        if (reason := failure(folder)) is not None:
            raise GatewayError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"the day-ahead auction for {day} failed, nothing was booked: {reason}")
        if not (folder / APPLIED_FILE).exists():
            raise not_found(f"the day-ahead auction for {day} has not run")
        return self._result(await asyncio.to_thread(read_outcome, folder, day))

    async def RunDayAhead(self, request, context):
        day = parse_day(request.delivery_day, "delivery_day")
        if request.time_limit_seconds < 0:
            raise invalid("time_limit_seconds must be positive (0: the default, 60)")
        async with self._running:  # one run at a time
            outcome = await asyncio.to_thread(run_day_ahead, self.exchange.node, self.book, day,
                                              time_limit=float(request.time_limit_seconds or 60))
        return day_ahead_pb2.RunDayAheadResponse(result=self._result(outcome))

    def _result(self, outcome: DayAheadOutcome) -> day_ahead_pb2.GetDayAheadResultResponse:
        r = outcome.result
        prices = [day_ahead_pb2.DayAheadPrice(symbol=instrument_symbol(self.exchange.catalog, outcome.day, p, h),  # type: ignore[arg-type]  # products and ids as the day-ahead makes them
                                              price_fen=price, volume=r.volume.get((p, h), 0))
                  for (p, h), price in sorted(r.prices.items())]  # price None: the field stays absent
        return day_ahead_pb2.GetDayAheadResultResponse(
            delivery_day=outcome.day.isoformat(), prices=prices, welfare_fen=r.welfare_fen,
            mip_gap_ppm=round(r.mip_gap * 1_000_000), solve_ms=round(r.solve_seconds * 1000),
            rounds=r.iterations, removed_blocks=list(r.removed), trades=outcome.trades)  # type: ignore[arg-type]  # products and ids as the day-ahead makes them


def add_day_ahead(server: grpc.aio.Server, exchange) -> str:
    """Register the service; its full name."""
    day_ahead_pb2_grpc.add_DayAheadServiceServicer_to_server(DayAheadService(exchange), server)
    return "gpux.v1.DayAheadService"
