"""Domain errors of the gateway and the gRPC status each maps to.

Handlers raise :class:`GatewayError` (or let a known domain exception through); the
interceptor in :mod:`exchange.gateway.interceptors` turns it into the status and a
message that says what to fix. Engine rejections map by the hundreds digit of their
reason code (see :class:`exchange.schema.Reason`).
"""

from __future__ import annotations

import grpc

from exchange.schema import Reason


class GatewayError(Exception):
    """A request that cannot be served, with the status to answer it with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.NOT_FOUND, message)


_BY_HUNDREDS = {
    1: grpc.StatusCode.INVALID_ARGUMENT,
    2: grpc.StatusCode.FAILED_PRECONDITION,
    3: grpc.StatusCode.NOT_FOUND,
    4: grpc.StatusCode.ALREADY_EXISTS,
    5: grpc.StatusCode.FAILED_PRECONDITION,
}

_HINTS = {
    Reason.UNKNOWN_ACCOUNT: "the account is not known to the engine",
    Reason.UNKNOWN_INSTRUMENT: "the symbol is not listed",
    Reason.QUANTITY_OUT_OF_LIMITS: "the quantity is outside the lot limits of the class (or capacity limits)",
    Reason.PRICE_NOT_ON_TICK: "the price is not a multiple of the class's tick",
    Reason.PRICE_OUT_OF_BAND: "the price is outside the class's price band",
    Reason.BAD_EXPIRY: "GTD orders need expire_time_ns in the future; other orders need 0",
    Reason.BAD_AMOUNT: "the amount must be positive and at most 10^15 fen",
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


def rejection(reason: int) -> GatewayError:
    """The error for a command the engine rejected."""
    return GatewayError(status_for(reason), f"rejected, {explain(reason)}")
