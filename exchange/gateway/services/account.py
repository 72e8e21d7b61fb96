"""AccountService: the caller's money and statements."""

from __future__ import annotations

from exchange.gateway.errors import invalid, not_found, rejection
from exchange.gateway.reports import first_rejection
from exchange.gateway.services.shared import Exchange, caller_account
from exchange.gateway.validation import parse_day
from exchange.proto.gpux.v1 import account_pb2, account_pb2_grpc
from exchange.schema import MONEY_LIMIT, CommandKind, Reason, command
from exchange.settlement import SettlementError, read_settlement
from exchange.tradelog import read_seal


def _balance(a) -> account_pb2.Balance:
    return account_pb2.Balance(cash_fen=a.cash, credit_fen=a.credit, reserved_fen=a.reserved,
                               available_fen=a.available, held_fen=a.held)


class AccountService(account_pb2_grpc.AccountServiceServicer):
    """The caller's money."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _funds(self, kind: CommandKind, amount: int) -> account_pb2.Balance:
        account = caller_account()
        if not 0 < amount <= MONEY_LIMIT:
            raise invalid(f"amount_fen must be positive and at most {MONEY_LIMIT}", "amount_fen", Reason.BAD_AMOUNT,
                          limit=f"1..{MONEY_LIMIT}", value=amount)
        events = await self.exchange.execute(command(kind, account=account, amount=amount))
        reason = first_rejection(events.tolist())
        balance = await self.exchange.read(lambda s: s.engine.account(account))
        if reason == Reason.BAD_AMOUNT and kind == CommandKind.DEPOSIT_FUNDS:  # the amount itself was checked above
            raise rejection(reason, f"rejected, BAD_AMOUNT: the deposit would lift the cash balance "
                                    f"({balance.cash} fen) over {MONEY_LIMIT} fen: at most "
                                    f"{MONEY_LIMIT - balance.cash} fen more can be deposited",
                            field="amount_fen", limit=MONEY_LIMIT, value=amount)
        if reason:
            raise rejection(reason)
        return _balance(balance)

    async def DepositFunds(self, request, context):
        balance = await self._funds(CommandKind.DEPOSIT_FUNDS, request.amount_fen)
        return account_pb2.DepositFundsResponse(balance=balance)

    async def WithdrawFunds(self, request, context):
        balance = await self._funds(CommandKind.WITHDRAW_FUNDS, request.amount_fen)
        return account_pb2.WithdrawFundsResponse(balance=balance)

    async def GetBalance(self, request, context):
        account = caller_account()
        balance = await self.exchange.read(lambda s: s.engine.account(account))
        return account_pb2.GetBalanceResponse(balance=_balance(balance))

    async def GetStatement(self, request, context):
        day = parse_day(request.day)
        try:
            result = read_settlement(self.exchange.node.data.root, day)
        except SettlementError:
            raise not_found(f"delivery day {day} has not been settled", "day", value=request.day) from None
        rows = [r for r in result.statements.to_pylist() if r["account"] == caller_account()]
        r = rows[0] if rows else {}
        return account_pb2.GetStatementResponse(
            provisional=read_seal(self.exchange.node.data.trades, day) is None, day=day.isoformat(),
            bought_qty=r.get("bought_qty", 0), bought_value_fen=r.get("bought_value", 0),
            sold_qty=r.get("sold_qty", 0), sold_value_fen=r.get("sold_value", 0), fees_fen=r.get("fees", 0),
            subsidy_fen=r.get("subsidy", 0), net_fen=r.get("net", 0))
