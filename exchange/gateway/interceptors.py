"""The one interceptor in front of every RPC: authentication, authorization, rate limits,
and the mapping of domain errors to gRPC status codes.

* ``authorization: Bearer <token>`` metadata names the caller (UNAUTHENTICATED if it is
  missing or unknown); health and reflection need no token.
* :data:`POLICY` lists the roles allowed to call each method (PERMISSION_DENIED else);
  ownership needs no check in handlers: every command is built with the caller's
  own account, so no one can touch another account's orders.
* Each account has a token bucket (``rate`` requests/s, ``burst`` deep); an empty
  bucket answers RESOURCE_EXHAUSTED. Opening a stream takes one token; the order
  stream takes one more per batch it carries.
* :class:`GatewayError` becomes its status and message; a stopped sequencer becomes
  UNAVAILABLE; anything else INTERNAL (and is logged).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable

import grpc

from exchange.clearing import ClearingError
from exchange.dayahead import (
    DayAheadClosed,
    DayAheadCorruptError,
    DayAheadError,
    DuplicateDayAheadOrder,
    InvalidDayAheadOrder,
)
from exchange.gateway.accounts import AccountRegistry, Principal, Role
from exchange.gateway.errors import GatewayError
from exchange.sequencer import SequencerStoppedError

log = logging.getLogger("gpux.gateway")

CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("gpux_caller")
"""The authenticated caller of the RPC being served."""

TRADERS = frozenset({Role.PROVIDER, Role.BUYER})
EVERYONE = frozenset(Role)
POLICY: dict[str, frozenset[Role]] = {
    **{f"/gpux.v1.TradingService/{m}": TRADERS for m in (
        "PlaceOrder", "CancelOrder", "ReplaceOrder", "MassCancel", "GetOrder", "ListOrders", "StreamOrders")},
    **{f"/gpux.v1.MarketDataService/{m}": EVERYONE for m in (
        "GetCatalog", "ListInstruments", "GetBook", "StreamBook", "ListTrades", "GetTicker")},
    "/gpux.v1.CapacityService/DepositCapacity": frozenset({Role.PROVIDER}),
    "/gpux.v1.CapacityService/WithdrawCapacity": frozenset({Role.PROVIDER}),
    "/gpux.v1.CapacityService/GetCapacity": TRADERS,
    **{f"/gpux.v1.AccountService/{m}": TRADERS for m in (
        "DepositFunds", "WithdrawFunds", "GetBalance", "GetStatement")},
    **{f"/gpux.v1.AuditService/{m}": frozenset({Role.AUDITOR, Role.ADMIN}) for m in (
        "ListTradeFiles", "DownloadTradeFile", "StreamTrades")},
    **{f"/gpux.v1.AdminService/{m}": frozenset({Role.ADMIN}) for m in (
        "CreateAccount", "IssueToken", "HaltInstrument", "ResumeInstrument", "StartCall", "Uncross",
        "KillSwitch", "SetCredit", "GrantVoucher", "ListSlots")},
    "/gpux.v1.DayAheadService/SubmitDayAheadOrder": TRADERS,
    "/gpux.v1.DayAheadService/ListDayAheadOrders": TRADERS,
    "/gpux.v1.DayAheadService/GetDayAheadResult": EVERYONE,
    "/gpux.v1.DayAheadService/RunDayAhead": frozenset({Role.ADMIN}),
}
"""Roles allowed to call each method; a method not listed here is refused."""
OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class TokenBucket:
    """Per-account token buckets (thread-safe); O(1) per request."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._state: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """Requests refused so far (the operator metrics read it)."""

    def take(self, account: int) -> bool:
        """Take one token for ``account``; False if its bucket is empty."""
        now = self.clock()
        with self._lock:
            tokens, then = self._state.get(account, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._state[account] = (tokens, now)
                self.refused += 1
                return False
            self._state[account] = (tokens - 1.0, now)
            return True


DOMAIN_ERRORS: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (InvalidDayAheadOrder, grpc.StatusCode.INVALID_ARGUMENT),
    (DuplicateDayAheadOrder, grpc.StatusCode.ALREADY_EXISTS),
    (DayAheadClosed, grpc.StatusCode.FAILED_PRECONDITION),
    (DayAheadCorruptError, grpc.StatusCode.DATA_LOSS),
    (DayAheadError, grpc.StatusCode.FAILED_PRECONDITION),
    (ClearingError, grpc.StatusCode.FAILED_PRECONDITION),
)
"""Domain exceptions a handler may let through, and their status (first match wins);
the message is the exception's own, which says what to fix."""


def _abort_code(error: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(error, GatewayError):
        return error.code, error.message
    for kind, code in DOMAIN_ERRORS:
        if isinstance(error, kind):
            return code, str(error)
    if isinstance(error, SequencerStoppedError):
        return grpc.StatusCode.UNAVAILABLE, f"the exchange is not accepting commands: {error}"
    log.exception("internal error", exc_info=error)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}"


class GatewayInterceptor(grpc.aio.ServerInterceptor):
    """Authenticate, authorize, rate-limit, then map errors (see the module docstring).

    The wrapped handler of each method is built once and kept (the services are
    registered before the server starts and never change); the caller is found per
    call, from the call's own metadata."""

    def __init__(self, accounts: AccountRegistry, limiter: TokenBucket) -> None:
        self.accounts = accounts
        self.limiter = limiter
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self.open_streams: dict[str, int] = {}
        """Server-streaming calls open now, by method name (the operator metrics read it)."""

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        method = details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        wrapped = _wrap(handler, method, self._principal, POLICY.get(method, frozenset()), self.limiter,
                        self.open_streams)
        self._handlers[method] = wrapped
        return wrapped

    def _principal(self, context) -> Principal | None:
        """The caller named by a call's ``authorization: Bearer <token>`` metadata."""
        token = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), "")
        return self.accounts.authenticate(token[7:]) if token.startswith("Bearer ") else None


def _check(method: str, principal: Principal | None, allowed, limiter: TokenBucket):
    if principal is None:
        return grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token: send 'authorization: Bearer <token>'"
    if principal.role not in allowed:
        return (grpc.StatusCode.PERMISSION_DENIED,
                f"{principal.role.name.lower()} accounts may not call {method.rsplit('/', 1)[-1]}")
    if not limiter.take(principal.account):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"rate limit of {limiter.rate:g} requests/s exceeded; retry later"
    return None


def _wrap(handler, method, principal_of, allowed, limiter, open_streams: dict[str, int]):
    """The same handler with the checks in front and errors mapped; its streams counted."""
    name = method.rsplit("/", 1)[-1]

    def unary(behavior):
        async def call(request, context):
            principal = principal_of(context)
            denied = _check(method, principal, allowed, limiter)
            if denied:
                await context.abort(*denied)
            CALLER.set(principal)
            try:
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a status
                await context.abort(*_abort_code(error))
        return call

    def streaming(behavior):
        async def call(request, context):
            principal = principal_of(context)
            denied = _check(method, principal, allowed, limiter)
            if denied:
                await context.abort(*denied)
            CALLER.set(principal)
            open_streams[name] = open_streams.get(name, 0) + 1
            try:
                async for item in behavior(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a status
                await context.abort(*_abort_code(error))
            finally:
                open_streams[name] -= 1
        return call

    kinds = (("unary_unary", unary, grpc.unary_unary_rpc_method_handler),
             ("unary_stream", streaming, grpc.unary_stream_rpc_method_handler),
             ("stream_unary", unary, grpc.stream_unary_rpc_method_handler),
             ("stream_stream", streaming, grpc.stream_stream_rpc_method_handler))
    for attr, wrap, make in kinds:
        behavior = getattr(handler, attr)
        if behavior is not None:
            return make(wrap(behavior), request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)
    return handler
