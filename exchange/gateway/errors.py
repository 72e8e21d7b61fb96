"""Domain errors of the gateway and the one error model they travel in.

Handlers raise :class:`GatewayError` (or let a known domain exception through); the
interceptor in :mod:`exchange.gateway.interceptors` answers it with its gRPC status, a
message that says what to fix and, in the ``grpc-status-details-bin`` trailer, a
``google.rpc.Status`` holding a ``google.rpc.ErrorInfo`` (:func:`status_details`):
``reason`` is the name of a ``gpux.v1.Reason`` value, ``domain`` is ``gpux`` and
``metadata`` names the ``field`` at fault, its ``limit`` and the ``value`` sent, where
they help. Engine rejections carry the engine's reason (the hundreds digit chooses the
status, see :class:`exchange.schema.Reason`); the gateway's own refusals carry a
:class:`GatewayReason` (9xx). Every quoted input is cut to :data:`QUOTE_CHARS`
characters (:func:`quote`), so no message can outgrow the metadata limits.
"""

from __future__ import annotations

from enum import IntEnum

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from exchange.proto.gpux.v1 import types_pb2
from exchange.schema import MONEY_LIMIT, Reason

DOMAIN = "gpux"
"""The ``ErrorInfo.domain`` of every gpux error."""
QUOTE_CHARS = 100
"""Most characters of any input a status message quotes."""
MESSAGE_CHARS = 1000
"""Most characters of a status message (a backstop: inputs are quoted shorter)."""


class GatewayReason(IntEnum):
    """The gateway's own refusals, beside the engine's :class:`Reason` (same numbering:
    ``gpux.v1.Reason`` holds both; 9xx never appears in an engine event)."""

    MALFORMED_REQUEST = 901
    """The request's bytes are not a valid protobuf message of the method's type."""
    BAD_FIELD = 902
    """A field is missing or outside what it allows (``metadata.field`` names it)."""
    BAD_SYMBOL = 903
    """A symbol is not of the form GPU.REGION.YYYYMMDDTHH, or names an unknown class or region."""
    NOT_FOUND = 904
    """What the request names does not exist (an account, a day's settlement, a file)."""
    ALREADY_EXISTS = 905
    """What the request would create exists already (a voucher grant, an account name)."""
    UNAUTHENTICATED = 906
    PERMISSION_DENIED = 907
    RATE_LIMITED = 908
    STREAM_LIMIT = 909
    """Too many streams open (per account or per server; ``metadata.limit`` says which)."""
    SLOW_CONSUMER = 910
    """A stream's reader fell too far behind; ``metadata.resume_after`` says where to resume."""
    UNAVAILABLE = 911
    """The exchange is not accepting commands (stopping, or its journal failed)."""
    WRONG_STATE = 912
    """The request does not fit the exchange's state now (a day-ahead day closed, a
    clearing that failed)."""
    DATA_CORRUPT = 913
    """A file the request needs is damaged (the message names it)."""
    INTERNAL = 914


class GatewayError(Exception):
    """A request that cannot be served: its status, message, reason and ErrorInfo metadata."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: int = GatewayReason.BAD_FIELD,
                 **metadata: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = int(reason)
        self.metadata = {key: str(value) if key != "value" else quote(value, marks=False)
                         for key, value in metadata.items() if value is not None}

    def __reduce__(self):  # copies (copy.copy) keep the reason and metadata
        return _rebuilt, (self.code, self.message, self.reason, self.metadata)


def _rebuilt(code: grpc.StatusCode, message: str, reason: int, metadata: dict[str, str]) -> GatewayError:
    error = GatewayError(code, message, reason)
    error.metadata = dict(metadata)
    return error


def quote(value: object, limit: int = QUOTE_CHARS, marks: bool = True) -> str:
    """``value`` for a message: a string in quotes (``repr``), cut after ``limit``
    characters with its full length said, so that no input can blow a message up."""
    text = repr(value) if marks and isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    length = f" ({len(value)} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{text[:limit]}…{length}"


def invalid(message: str, field: str | None = None, reason: int = GatewayReason.BAD_FIELD, **metadata) -> GatewayError:
    """INVALID_ARGUMENT for a request field (``field`` goes into the ErrorInfo)."""
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, message, reason, field=field, **metadata)


def not_found(message: str, field: str | None = None, reason: int = GatewayReason.NOT_FOUND, **metadata
              ) -> GatewayError:
    """NOT_FOUND for what a request field names."""
    return GatewayError(grpc.StatusCode.NOT_FOUND, message, reason, field=field, **metadata)


_BY_HUNDREDS = {
    1: grpc.StatusCode.INVALID_ARGUMENT,
    2: grpc.StatusCode.FAILED_PRECONDITION,
    3: grpc.StatusCode.NOT_FOUND,
    4: grpc.StatusCode.ALREADY_EXISTS,
    5: grpc.StatusCode.FAILED_PRECONDITION,
}

_HINTS: dict[int, str] = {
    Reason.UNKNOWN_ACCOUNT: "the account is not known to the engine",
    Reason.UNKNOWN_INSTRUMENT: "the symbol is not listed",
    Reason.QUANTITY_OUT_OF_LIMITS: "the quantity is outside the lot limits of the class (or capacity limits)",
    Reason.PRICE_NOT_ON_TICK: "the price is not a multiple of the class's tick",
    Reason.PRICE_OUT_OF_BAND: "the price is outside the class's price band",
    Reason.BAD_EXPIRY: "GTD orders need expire_time_ns in the future; other orders need 0",
    Reason.BAD_AMOUNT: f"the amount must be positive and at most {MONEY_LIMIT} fen",
    Reason.GATE_CLOSED: "trading in this slot has closed (gate closure)",
    Reason.INSTRUMENT_HALTED: "the instrument is halted; only cancels are accepted",
    Reason.INSTRUMENT_NOT_HALTED: "the instrument is not halted",
    Reason.INSTRUMENT_IN_CALL: ("the instrument is in a call phase: only GTC/GTD limit orders without "
                                "post-only are accepted until the uncross (and it cannot be halted)"),
    Reason.INSTRUMENT_NOT_IN_CALL: "the instrument is not in a call phase",
    Reason.POST_ONLY_WOULD_CROSS: "a post-only order would have traded; lower a bid or raise an ask",
    Reason.ORDER_DONE: "the order is no longer live",
    Reason.REPLACE_BELOW_FILLED: "the new quantity must exceed what is already filled",
    Reason.UNKNOWN_ORDER: "no order with that client order id",
    Reason.DUPLICATE_CLIENT_ORDER_ID: "that client order id was used before; GetOrder shows the original",
    Reason.INSUFFICIENT_FUNDS: "not enough funds: deposit funds or lower price x quantity",
    Reason.INSUFFICIENT_CAPACITY: "not enough free GPUs in this slot: deposit capacity or offer fewer",
}


def status_for(reason: int) -> grpc.StatusCode:
    """The gRPC status of an engine rejection reason."""
    return _BY_HUNDREDS.get(reason // 100, grpc.StatusCode.INTERNAL)


def explain(reason: int) -> str:
    """A reason's name and what to do about it."""
    name = Reason(reason).name if reason in Reason._value2member_map_ else str(reason)
    hint = _HINTS.get(reason)
    return f"{name}: {hint}" if hint else name


def rejection(reason: int, message: str | None = None, **metadata) -> GatewayError:
    """The error for a command the engine rejected (``message``: instead of the reason's hint)."""
    return GatewayError(status_for(reason), message or f"rejected, {explain(reason)}", reason, **metadata)


def reason_name(reason: int) -> str:
    """The ``gpux.v1.Reason`` name of a reason code (``REASON_UNSPECIFIED`` if it has none)."""
    try:
        return types_pb2.Reason.Name(reason)
    except ValueError:
        return "REASON_UNSPECIFIED"


def status_details(code: grpc.StatusCode, message: str, reason: int, metadata: dict[str, str] | None = None
                   ) -> grpc.Status:
    """The status to abort with: ``code``, ``message`` (cut to :data:`MESSAGE_CHARS`) and
    a ``google.rpc.Status`` with one ``ErrorInfo`` in the trailing metadata."""
    message = message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + "…"
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason_name(reason), domain=DOMAIN, metadata=metadata or {}))
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=[detail]))

