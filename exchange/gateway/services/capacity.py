"""CapacityService: providers' GPUs per slot."""

from __future__ import annotations

from exchange.gateway.errors import invalid, rejection
from exchange.gateway.reports import first_rejection
from exchange.gateway.services.shared import Exchange, caller_account
from exchange.proto.gpux.v1 import capacity_pb2, capacity_pb2_grpc
from exchange.schema import CAPACITY_LIMIT, CommandKind, Reason, command


def _position_message(symbol: str, p) -> capacity_pb2.Position:
    return capacity_pb2.Position(symbol=symbol, capacity=p.capacity, bought=p.bought, sold=p.sold,
                                 ask_open=p.ask_open, free=p.free)


class CapacityService(capacity_pb2_grpc.CapacityServiceServicer):
    """Providers' GPUs per slot."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _change(self, kind: CommandKind, request) -> capacity_pb2.Position:
        account, instrument = caller_account(), self.exchange.instrument(request.symbol)
        if not 0 < request.qty <= CAPACITY_LIMIT:
            raise invalid(f"qty must be a number of GPUs in 1..{CAPACITY_LIMIT}", "qty", Reason.QUANTITY_OUT_OF_LIMITS,
                          limit=f"1..{CAPACITY_LIMIT}", value=request.qty)
        events = await self.exchange.execute(command(kind, account=account, instrument=instrument, qty=request.qty))
        reason = first_rejection(events.tolist())
        if reason == Reason.QUANTITY_OUT_OF_LIMITS and kind == CommandKind.DEPOSIT_CAPACITY:
            raise rejection(reason, f"rejected, QUANTITY_OUT_OF_LIMITS: the deposit would lift the capacity in "
                                    f"{request.symbol} over {CAPACITY_LIMIT} GPUs", field="qty",
                            limit=CAPACITY_LIMIT, value=request.qty)
        if reason:
            raise rejection(reason)
        p = await self.exchange.read(lambda s: s.engine.position(account, instrument))
        return _position_message(request.symbol, p)

    async def DepositCapacity(self, request, context):
        position = await self._change(CommandKind.DEPOSIT_CAPACITY, request)
        return capacity_pb2.DepositCapacityResponse(position=position)

    async def WithdrawCapacity(self, request, context):
        position = await self._change(CommandKind.WITHDRAW_CAPACITY, request)
        return capacity_pb2.WithdrawCapacityResponse(position=position)

    async def GetCapacity(self, request, context):
        account = caller_account()
        if request.symbol:
            instrument = self.exchange.instrument(request.symbol)
            found = {instrument: await self.exchange.read(lambda s: s.engine.position(account, instrument))}
        else:
            found = await self.exchange.read(lambda s: s.engine.positions_of(account))
        return capacity_pb2.GetCapacityResponse(positions=[
            _position_message(self.exchange.instruments.symbol(i), p) for i, p in sorted(found.items())])
