"""AdminService: operators' controls (accounts and tokens, halts and calls, the kill
switch, credit, vouchers, listing)."""

from __future__ import annotations

import asyncio

import grpc

from exchange.gateway.accounts import Role
from exchange.gateway.errors import GatewayError, GatewayReason, invalid, not_found
from exchange.gateway.services.shared import Exchange
from exchange.gateway.validation import parse_day
from exchange.proto.gpux.v1 import admin_pb2, admin_pb2_grpc
from exchange.schema import CommandKind, EventKind, Reason
from exchange.settlement import VoucherBook, VoucherGrant

_NAME_CHARS = 64  # most characters of a voucher grant id or issuer


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    """Operators' controls."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def CreateAccount(self, request, context):
        if request.role not in (Role.PROVIDER, Role.BUYER, Role.AUDITOR, Role.ADMIN):
            raise invalid("role must be ROLE_PROVIDER, ROLE_BUYER, ROLE_AUDITOR or ROLE_ADMIN", "role",
                          value=request.role)
        account, token = self.exchange.accounts.create(request.name, Role(request.role), request.request_id)
        return admin_pb2.CreateAccountResponse(account=account, token=token)

    async def IssueToken(self, request, context):
        self._known(request.account)
        return admin_pb2.IssueTokenResponse(token=self.exchange.accounts.issue(request.account))

    def _known(self, account: int) -> int:
        """``account`` if the registry has it, else NOT_FOUND."""
        if not self.exchange.accounts.exists(account):
            raise not_found(f"no account {account}", "account", Reason.UNKNOWN_ACCOUNT, value=account)
        return account

    async def HaltInstrument(self, request, context):
        await self.exchange.one(CommandKind.HALT, instrument=self.exchange.instrument(request.symbol))
        return admin_pb2.HaltInstrumentResponse()

    async def ResumeInstrument(self, request, context):
        await self.exchange.one(CommandKind.RESUME, instrument=self.exchange.instrument(request.symbol),
                         expire_ts=self._call_end(request.call_seconds))
        return admin_pb2.ResumeInstrumentResponse()

    async def StartCall(self, request, context):
        await self.exchange.one(CommandKind.START_CALL, instrument=self.exchange.instrument(request.symbol),
                         expire_ts=self._call_end(request.call_seconds))
        return admin_pb2.StartCallResponse()

    async def Uncross(self, request, context):
        events = await self.exchange.one(CommandKind.UNCROSS, instrument=self.exchange.instrument(request.symbol))
        head = events[events["kind"] == EventKind.UNCROSSED][0]
        traded = int(events["qty"][events["kind"] == EventKind.ACK][0])
        return admin_pb2.UncrossResponse(price_fen=int(head["price"]), qty=traded)

    def _call_end(self, seconds: int) -> int:
        """The end of a call phase of ``seconds`` from now (0: none); the gateway reads the
        sequencer's clock, the engine only sees the time in the command."""
        if seconds < 0:
            raise invalid("call_seconds must be 0 or positive", "call_seconds", value=seconds)
        return self.exchange.node.sequencer.clock() + seconds * 10**9 if seconds else 0

    async def KillSwitch(self, request, context):
        events = await self.exchange.one(CommandKind.MASS_CANCEL, account=self._known(request.account), instrument=-1)
        return admin_pb2.KillSwitchResponse(cancelled=int(events["qty"][events["kind"] == EventKind.ACK][0]))

    async def SetCredit(self, request, context):
        await self.exchange.one(CommandKind.SET_CREDIT, account=self._known(request.account), amount=request.credit_fen)
        return admin_pb2.SetCreditResponse()

    async def GrantVoucher(self, request, context):
        self._known(request.account)
        for field in ("grant_id", "issuer"):
            if len(getattr(request, field)) > _NAME_CHARS:
                raise invalid(f"{field} must be at most {_NAME_CHARS} characters", field, limit=_NAME_CHARS,
                              value=getattr(request, field))
        try:
            grant = VoucherGrant(request.grant_id, request.issuer, request.account, request.rate_bps,
                                 request.cap_fen or None, parse_day(request.valid_from, "valid_from"),
                                 parse_day(request.valid_to, "valid_to"))
            VoucherBook(self.exchange.node.data.root).grant(grant)
        except ValueError as exc:
            if "already exists" in str(exc):
                raise GatewayError(grpc.StatusCode.ALREADY_EXISTS, str(exc), GatewayReason.ALREADY_EXISTS,
                                   field="grant_id") from None
            raise invalid(str(exc)) from None
        return admin_pb2.GrantVoucherResponse()

    async def ListSlots(self, request, context):
        node = self.exchange.node
        listed = await asyncio.to_thread(node.list_due, node.sequencer.clock(), self.exchange.opening_call_ns)
        return admin_pb2.ListSlotsResponse(listed=listed)
