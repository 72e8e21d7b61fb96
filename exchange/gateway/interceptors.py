"""The one interceptor in front of every RPC: authentication, authorization, rate limits,
and the mapping of errors to gRPC statuses.

* ``authorization: Bearer <token>`` metadata names the caller (the scheme in any case,
  RFC 6750; UNAUTHENTICATED if it is missing or unknown); health and reflection need no
  token.
* :data:`POLICY` lists the roles allowed to call each method (PERMISSION_DENIED else);
  ownership needs no check in handlers: every command is built with the caller's
  own account, so no one can touch another account's orders.
* Each account has a token bucket (``rate`` requests/s, ``burst`` deep); an empty
  bucket answers RESOURCE_EXHAUSTED. Opening a stream takes one token; the order
  stream takes one more per batch it carries.
* Streams (server-streaming and bidirectional calls) are capped per account and per
  server (:class:`StreamCaps`); one past a cap is refused RESOURCE_EXHAUSTED (reason
  STREAM_LIMIT) naming the cap.
* A streaming handler may yield a message already serialized (``bytes``, e.g. one
  encoded once for many subscribers by :mod:`~exchange.gateway.feed`); it is sent as it is.
* A request whose bytes do not parse as the method's message is answered
  INVALID_ARGUMENT (after the checks above; in a stream, when the handler reaches it),
  never an exception in grpc's own code.
* Every refusal is one error model (:func:`~exchange.gateway.errors.status_details`):
  the status, a message that says what to fix, and a ``google.rpc.Status`` with an
  ``ErrorInfo`` in the trailers. :class:`GatewayError` gives its own; the
  :data:`DOMAIN_ERRORS` theirs; a stopped sequencer is UNAVAILABLE; anything else
  INTERNAL (and is logged).
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
from exchange.gateway.errors import GatewayError, GatewayReason, quote, status_details
from exchange.schema import Reason
from exchange.sequencer import SequencerStoppedError

log = logging.getLogger("gpux.gateway")

CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("gpux_caller")
"""The authenticated caller of the RPC being served."""

TRADERS = frozenset({Role.PROVIDER, Role.BUYER})
EVERYONE = frozenset(Role)
POLICY: dict[str, frozenset[Role]] = {
    **{f"/gpux.v1.TradingService/{m}": TRADERS for m in (
        "PlaceOrder", "CancelOrder", "ReplaceOrder", "MassCancel", "GetOrder", "ListOrders", "StreamOrders",
        "StreamExecutionReports")},
    **{f"/gpux.v1.MarketDataService/{m}": EVERYONE for m in (
        "GetCatalog", "ListInstruments", "GetBook", "StreamBook", "ListTrades", "GetTicker", "StreamTrades",
        "StreamTickers")},
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
CALLERS_KEPT = 65536
"""Most ``authorization`` values whose principal the interceptor keeps (a value of an
issued token; the spellings of one token differ at most in case and spaces)."""


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


DOMAIN_ERRORS: tuple[tuple[type[BaseException], grpc.StatusCode, int], ...] = (
    (InvalidDayAheadOrder, grpc.StatusCode.INVALID_ARGUMENT, GatewayReason.BAD_FIELD),
    (DuplicateDayAheadOrder, grpc.StatusCode.ALREADY_EXISTS, Reason.DUPLICATE_CLIENT_ORDER_ID),
    (DayAheadClosed, grpc.StatusCode.FAILED_PRECONDITION, GatewayReason.WRONG_STATE),
    (DayAheadCorruptError, grpc.StatusCode.DATA_LOSS, GatewayReason.DATA_CORRUPT),
    (DayAheadError, grpc.StatusCode.FAILED_PRECONDITION, GatewayReason.WRONG_STATE),
    (ClearingError, grpc.StatusCode.FAILED_PRECONDITION, GatewayReason.WRONG_STATE),
)
"""Domain exceptions a handler may let through, their status and reason (first match
wins); the message is the exception's own, which says what to fix."""


def as_gateway_error(error: BaseException) -> GatewayError:
    """Any exception a handler raised as the :class:`GatewayError` to answer it with."""
    if isinstance(error, GatewayError):
        return error
    for kind, code, reason in DOMAIN_ERRORS:
        if isinstance(error, kind):
            return GatewayError(code, str(error), reason)
    if isinstance(error, SequencerStoppedError):
        return GatewayError(grpc.StatusCode.UNAVAILABLE, f"the exchange is not accepting commands: {error}",
                            GatewayReason.UNAVAILABLE)
    log.exception("internal error", exc_info=error)
    return GatewayError(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}", GatewayReason.INTERNAL)


async def abort(context, error: GatewayError):
    """End the call with ``error`` in the one error model (raises AbortError)."""
    status = status_details(error.code, error.message, error.reason, error.metadata)
    await context.abort(status.code, status.details, status.trailing_metadata)


class MalformedRequest:
    """What the tolerant deserializer (:func:`_tolerant`) gives for bytes that do not parse."""

    def __init__(self, size: int, problem: str) -> None:
        self.error = GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request is not a valid protobuf message of this method ({size} bytes: {quote(problem)})",
            GatewayReason.MALFORMED_REQUEST)


def _tolerant(deserialize):
    """``deserialize``, with bytes that do not parse given as a :class:`MalformedRequest`
    instead of an exception inside grpc (which answers UNKNOWN or INTERNAL and logs a
    traceback)."""
    if deserialize is None:
        return None

    def parse(data: bytes):
        try:
            return deserialize(data)
        except Exception as error:  # noqa: BLE001 - protobuf raises DecodeError, and others on some inputs
            return MalformedRequest(len(data), str(error) or type(error).__name__)
    return parse


async def _checked(requests):
    """A request stream whose first malformed message raises its error."""
    async for message in requests:
        if isinstance(message, MalformedRequest):
            raise message.error
        yield message


class StreamCaps:
    """Streams open per account and in all, each below its cap (in the event loop)."""

    def __init__(self, total: int, per_account: int) -> None:
        self.total, self.per_account = total, per_account
        self.open = 0
        self._by_account: dict[int, int] = {}

    def take(self, account: int) -> GatewayError | None:
        """Count a new stream of ``account``; the refusal if a cap is reached."""
        mine = self._by_account.get(account, 0)
        if mine >= self.per_account or self.open >= self.total:
            which, cap = ("per account", self.per_account) if mine >= self.per_account else ("per server", self.total)
            return GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"at most {cap} streams may be open {which} (gpux serve --max-streams"
                                f"{'-per-account' if which == 'per account' else ''}); close one first",
                                GatewayReason.STREAM_LIMIT, limit=cap)
        self._by_account[account] = mine + 1
        self.open += 1
        return None

    def give_back(self, account: int) -> None:
        """A stream of ``account`` ended."""
        self.open -= 1
        left = self._by_account[account] - 1
        if left:
            self._by_account[account] = left
        else:
            del self._by_account[account]


def _passthrough(serialize):
    """``serialize``, except that bytes (a message serialized already) go out as they are."""
    if serialize is None:
        return None
    return lambda message: message if isinstance(message, bytes) else serialize(message)


class GatewayInterceptor(grpc.aio.ServerInterceptor):
    """Authenticate, authorize, rate-limit, then map errors (see the module docstring).

    The wrapped handler of each method is built once and kept (the services are
    registered before the server starts and never change); the caller is found per
    call, from the call's own metadata."""

    def __init__(self, accounts: AccountRegistry, limiter: TokenBucket, caps: StreamCaps | None = None) -> None:
        self.accounts = accounts
        self.limiter = limiter
        self.caps = caps or StreamCaps(10_000, 100)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self.open_streams: dict[str, int] = {}
        """Server-streaming calls open now, by method name (the operator metrics read it)."""
        self._callers: dict[str, Principal] = {}
        """The principal of each ``authorization`` value that named one (:meth:`_principal`)."""

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        method = details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        wrapped = _wrap(handler, method, self._principal, POLICY.get(method, frozenset()), self.limiter,
                        self.open_streams, self.caps)
        self._handlers[method] = wrapped
        return wrapped

    def _principal(self, context) -> Principal | None:
        """The caller named by a call's ``authorization: Bearer <token>`` metadata (the
        scheme in any case). A value that named a caller is kept (up to
        :data:`CALLERS_KEPT` of them): tokens are never revoked and an account's principal
        never changes, so the next call with it skips the parse and the token's SHA-256."""
        value = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), "")
        principal = self._callers.get(value)
        if principal is None:
            scheme, _, token = value.strip().partition(" ")
            principal = self.accounts.authenticate(token.strip()) if scheme.lower() == "bearer" else None
            if principal is not None and len(self._callers) < CALLERS_KEPT:
                self._callers[value] = principal
        return principal


def _check(method: str, principal: Principal | None, allowed, limiter: TokenBucket) -> GatewayError | None:
    if principal is None:
        return GatewayError(grpc.StatusCode.UNAUTHENTICATED,
                            "missing or unknown bearer token: send 'authorization: Bearer <token>'",
                            GatewayReason.UNAUTHENTICATED)
    if principal.role not in allowed:
        return GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                            f"{principal.role.name.lower()} accounts may not call {method.rsplit('/', 1)[-1]}",
                            GatewayReason.PERMISSION_DENIED)
    if not limiter.take(principal.account):
        return GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"rate limit of {limiter.rate:g} requests/s exceeded; retry later",
                            GatewayReason.RATE_LIMITED, limit=f"{limiter.rate:g}/s")
    return None


def _wrap(handler, method, principal_of, allowed, limiter, open_streams: dict[str, int], caps: StreamCaps):
    """The same handler with the checks in front, malformed requests refused and errors
    mapped; its streams counted and capped."""
    guard = _Guard(method, principal_of, allowed, limiter, open_streams, caps)
    kinds = (("unary_unary", guard.unary, False, grpc.unary_unary_rpc_method_handler),
             ("unary_stream", guard.streaming, False, grpc.unary_stream_rpc_method_handler),
             ("stream_unary", guard.unary, True, grpc.stream_unary_rpc_method_handler),
             ("stream_stream", guard.streaming, True, grpc.stream_stream_rpc_method_handler))
    for attr, wrap, streamed, make in kinds:
        behavior = getattr(handler, attr)
        if behavior is not None:
            return make(wrap(behavior, streamed), request_deserializer=_tolerant(handler.request_deserializer),
                        response_serializer=_passthrough(handler.response_serializer))
    return handler


class _Guard:
    """The checks in front of one method's behaviours, and its open stream count."""

    def __init__(self, method, principal_of, allowed, limiter, open_streams: dict[str, int],
                 caps: StreamCaps) -> None:
        self.method, self.principal_of, self.allowed, self.limiter = method, principal_of, allowed, limiter
        self.open_streams, self.caps = open_streams, caps
        self.name = method.rsplit("/", 1)[-1]

    def admit(self, request, context, streamed: bool):
        """The request to hand on (a checked stream), or the error to refuse the call with."""
        principal = self.principal_of(context)
        denied = _check(self.method, principal, self.allowed, self.limiter)
        if denied:
            return None, denied
        if isinstance(request, MalformedRequest):
            return None, request.error
        CALLER.set(principal)
        return (_checked(request) if streamed else request), None

    def unary(self, behavior, streamed):
        admit = self.admit

        async def call(request, context):
            request, denied = admit(request, context, streamed)
            if denied:
                await abort(context, denied)
            try:
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a status
                await abort(context, as_gateway_error(error))
        return call

    def streaming(self, behavior, streamed):
        admit, name, open_streams, caps = self.admit, self.name, self.open_streams, self.caps

        async def call(request, context):
            request, denied = admit(request, context, streamed)
            if denied:
                await abort(context, denied)
            account = CALLER.get().account
            refused = caps.take(account)
            if refused:
                await abort(context, refused)
            open_streams[name] = open_streams.get(name, 0) + 1
            try:
                async for item in behavior(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a status
                await abort(context, as_gateway_error(error))
            finally:
                open_streams[name] -= 1
                caps.give_back(account)
        return call
