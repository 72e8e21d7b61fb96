"""TradingService: orders of the caller's account."""

from __future__ import annotations

import asyncio
from typing import NoReturn

import grpc
import numpy as np
from google.protobuf.message_factory import GetMessageClass

from exchange.gateway.errors import GatewayError, GatewayReason, invalid, not_found, rejection
from exchange.gateway.executions import stream_executions
from exchange.gateway.reports import (
    execution_reports,
    first_rejection,
    invalid_report,
    order_fields,
    order_message,
    stream_response,
)
from exchange.gateway.services.shared import Exchange, caller_account
from exchange.gateway.validation import (
    cancel_command,
    place_command,
    read_stream_request,
    replace_command,
    stream_commands,
)
from exchange.proto.gpux.v1 import trading_pb2, trading_pb2_grpc
from exchange.schema import CommandKind, EventKind, Reason, command, commands
from exchange.sequencer import OrderStatus

_DISCONNECT_GRACE = 0.05  # seconds a stream's end waits to tell a client cancel from a close
_LIVE = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class TradingService(trading_pb2_grpc.TradingServiceServicer):
    """Orders of the caller's account."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _refuse(self, rows: list[tuple], batch: np.ndarray, account: int) -> NoReturn:
        """Raise the gRPC status of an order command whose event ``rows`` hold a rejection
        (a duplicate client order id names the order that has it). The handlers check
        :func:`first_rejection` themselves and await this only then: a coroutine around
        every order call's answer would cost each call one more."""
        reason = first_rejection(rows)
        if reason == Reason.DUPLICATE_CLIENT_ORDER_ID:
            clord = int(batch["clord"][0])
            original = await self.exchange.read(lambda s: s.orders.find(account, clord))
            which = f"by order {original.order_id} ({original.status.name}); GetOrder returns it" if original \
                else "(by a command that was rejected or has not been applied)"
            raise GatewayError(grpc.StatusCode.ALREADY_EXISTS, f"client_order_id {clord} was used before {which}",
                               Reason.DUPLICATE_CLIENT_ORDER_ID, field="client_order_id", value=clord)
        raise rejection(reason)

    async def PlaceOrder(self, request, context):
        account = caller_account()
        batch = place_command(request, account, self.exchange.instruments)
        rows = (await self.exchange.execute(batch)).tolist()
        if first_rejection(rows):
            await self._refuse(rows, batch, account)
        response = trading_pb2.PlaceOrderResponse(order=order_fields(rows, self.exchange.instruments))
        execution_reports(rows, account, self.exchange.instruments, response.reports)
        return response

    async def CancelOrder(self, request, context):
        return trading_pb2.CancelOrderResponse(reports=await self._amend(cancel_command, request))

    async def ReplaceOrder(self, request, context):
        return trading_pb2.ReplaceOrderResponse(reports=await self._amend(replace_command, request))

    async def _amend(self, build, request) -> list:
        """The execution reports of the one command ``build`` makes of ``request`` for the
        caller (a cancel or a replace of one of its orders); a rejection is raised."""
        account, batch = caller_account(), commands(1)
        build(request, account, batch)
        rows = (await self.exchange.execute(batch)).tolist()
        if first_rejection(rows):
            await self._refuse(rows, batch, account)
        return execution_reports(rows, account, self.exchange.instruments)

    async def MassCancel(self, request, context):
        account = caller_account()
        instrument = self.exchange.instrument(request.symbol) if request.symbol else -1
        events = await self.exchange.one(CommandKind.MASS_CANCEL, account=account, instrument=instrument)
        ack = events[events["kind"] == EventKind.ACK]
        reports = execution_reports(events.tolist(), account, self.exchange.instruments)
        return trading_pb2.MassCancelResponse(reports=reports, cancelled=int(ack["qty"][0]))

    async def GetOrder(self, request, context):
        account, clord = caller_account(), request.client_order_id
        record = await self.exchange.read(lambda s: s.orders.find(account, clord))
        if record is None:
            raise not_found(f"no order with client_order_id {clord}", "client_order_id", Reason.UNKNOWN_ORDER,
                            value=clord)
        return trading_pb2.GetOrderResponse(order=order_message(record, self.exchange.instruments))

    async def ListOrders(self, request, context):
        account = caller_account()
        instrument = self.exchange.instrument(request.symbol) if request.symbol else -1
        limit = request.limit or 1000
        if limit < 0:
            raise invalid("limit must be positive", "limit", value=limit)

        records = await self.exchange.read(
            lambda state: state.orders.hot_orders(account, instrument, request.open_only, limit))
        return trading_pb2.ListOrdersResponse(orders=[order_message(r, self.exchange.instruments) for r in records])

    async def StreamOrders(self, request_iterator, context):
        """Batches of orders; each request comes as the bytes grpc received
        (:func:`add_trading_service`) and each answer goes as bytes when it can."""
        account = caller_account()
        armed = clean = False
        try:
            async for data in request_iterator:
                request = read_stream_request(data)
                armed |= request.cancel_on_disconnect
                if not self.exchange.limiter.take(account):
                    raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                       f"rate limit of {self.exchange.limiter.rate:g} batches/s exceeded",
                                       GatewayReason.RATE_LIMITED, limit=f"{self.exchange.limiter.rate:g}/s")
                batch, problems = stream_commands(request, account, self.exchange.instruments)
                events = await self.exchange.execute(batch) if len(batch) else None
                if problems:
                    yield trading_pb2.StreamOrdersResponse(
                        batch_id=request.batch_id,
                        reports=self._in_order(request.commands(), events, problems, account))
                else:  # the reports in bulk, as wire bytes
                    yield stream_response(events, account, self.exchange.instruments, request.batch_id)
            if armed:  # a client cancel can end the request stream like a half-close; it surfaces here
                await asyncio.sleep(_DISCONNECT_GRACE)
            clean = True
        finally:
            if armed and not clean:  # opt-in cancel on disconnect
                self.exchange.node.submit(command(CommandKind.MASS_CANCEL, account=account, instrument=-1))

    async def StreamExecutionReports(self, request, context):
        async for message in stream_executions(self.exchange.executions, caller_account(), request.after_exec_seq,
                                               self.exchange.instruments):
            yield message

    def _in_order(self, cmds, events, problems: dict[int, GatewayError], account: int) -> list:
        """Reports of a stream batch, command by command (refused ones in their place)."""
        made = execution_reports(events.tolist(), account, self.exchange.instruments) if events is not None else []
        if not problems:
            return made
        seqs = [r.seq for r in made]
        first_seq = int(events["seq"][0]) if events is not None and len(events) else 0
        out, at, valid = [], 0, 0
        for i, cmd in enumerate(cmds):
            if i in problems:
                out.append(invalid_report(problems[i], cmd))
                continue
            seq = first_seq + valid
            while at < len(made) and seqs[at] == seq:
                out.append(made[at])
                at += 1
            valid += 1
        return out


RAW_REQUESTS = frozenset({"StreamOrders"})
"""Methods whose handler gets each request as the bytes grpc received (it reads them itself)."""
_HANDLER_OF = {(False, False): grpc.unary_unary_rpc_method_handler, (False, True): grpc.unary_stream_rpc_method_handler,
               (True, False): grpc.stream_unary_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}


def add_trading_service(server: grpc.aio.Server, exchange: Exchange) -> None:
    """Register the TradingService as the generated code does, but for
    :data:`RAW_REQUESTS`, whose requests are not parsed by grpc."""
    servicer = TradingService(exchange)
    service = trading_pb2.DESCRIPTOR.services_by_name["TradingService"]
    handlers = {}
    for method in service.methods:
        request, response = GetMessageClass(method.input_type), GetMessageClass(method.output_type)
        handlers[method.name] = _HANDLER_OF[method.client_streaming, method.server_streaming](
            getattr(servicer, method.name),
            request_deserializer=None if method.name in RAW_REQUESTS else request.FromString,
            response_serializer=response.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
