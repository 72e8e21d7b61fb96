"""Requests checked and turned into command records, before anything reaches the sequencer.

A request that names an unlisted symbol, leaves a required enum unset, or breaks the
class's tick, band or lot limits is refused with INVALID_ARGUMENT or NOT_FOUND and a
message naming the field and the rule. The engine checks everything again.

Orders are checked as numpy columns in one compiled pass (:func:`place_commands`), one
order or many; a unary call's one order by :func:`place_command`, the same pass on a row
built in compiled code (a few numpy calls instead of a dozen); a stream batch of orders
and cancels is read from the bytes grpc received
(:func:`read_stream_request`, with :func:`exchange.gateway.wire.read_places`) instead of
parsed into messages and read attribute by attribute. The tests compare each fast path
with the plain one.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from operator import attrgetter
from typing import NamedTuple

import numpy as np
from numba import njit

from exchange.gateway.errors import GatewayError, invalid, quote
from exchange.gateway.instruments import Instruments
from exchange.gateway.interceptors import MalformedRequest
from exchange.gateway.wire import PLACE_COLUMNS, count_commands, read_places
from exchange.proto.gpux.v1 import trading_pb2
from exchange.schema import (
    CLORD_LIMIT,
    COMMAND_DTYPE,
    DEFAULT_STP_MODE,
    C,
    CommandKind,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
    commands,
    record_words,
)


def parse_day(text: str, field: str = "day") -> date:
    """A request's date field (``YYYY-MM-DD``); INVALID_ARGUMENT naming the field if not."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(f"{field} {quote(text)} is not a date like 2026-11-25", field, value=text) from None


def _clord(value: int, field: str) -> int:
    if not 0 < value < CLORD_LIMIT:
        raise invalid(f"{field} must be in 1..{CLORD_LIMIT - 1}", field, Reason.BAD_CLIENT_ORDER_ID,
                      limit=f"1..{CLORD_LIMIT - 1}", value=value)
    return value


_SYMBOL, _PLACE, _PLACE_VALUES = attrgetter("symbol"), attrgetter("place"), attrgetter(*PLACE_COLUMNS)
_CLORD_AT = PLACE_COLUMNS.index("client_order_id")


def _place_row(req) -> tuple:
    """A request's fields in ``PLACE_COLUMNS`` order; client_order_id (uint64 on the wire)
    capped at CLORD_LIMIT, which is refused below, so that it fits an int64."""
    values = _PLACE_VALUES(req)
    if values[_CLORD_AT] < CLORD_LIMIT:
        return values
    return (*values[:_CLORD_AT], CLORD_LIMIT, *values[_CLORD_AT + 1:])


def place_commands(reqs: list, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """Validate PlaceOrderRequests as rows of values; the NEW_ORDER records of the valid
    ones (in order) and, by index, the error of each invalid one. Per order only the field
    reads and a cached symbol lookup run in Python; the checks run in one compiled pass
    (:func:`_check_places`). The fields become one int64 matrix in one array conversion: a
    unary call makes a handful of numpy calls, each of which costs several times its warm
    price in a server whose caches the network work keeps cold."""
    n = len(reqs)
    ids, problems = _symbol_ids(list(map(_SYMBOL, reqs)), instruments)
    if len(problems) == n:
        return commands(0), problems
    values = np.array(list(map(_place_row, reqs)), np.int64).reshape(n, len(PLACE_COLUMNS))
    return _place_values(values, ids, problems, account, instruments)


def _symbol_ids(symbols: list[str], instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """The engine id of each order's symbol (each distinct symbol looked up once) and, by
    index, the error of each order whose symbol is malformed or not listed."""
    n = len(symbols)
    problems: dict[int, GatewayError] = {}
    found: dict[str, int | GatewayError] = {}
    for symbol in set(symbols):
        try:
            found[symbol] = instruments.id(symbol)
        except GatewayError as error:
            found[symbol] = error
    if len(found) == 1 and not isinstance(found[symbols[0]], GatewayError):
        return np.full(n, found[symbols[0]], np.int64), problems
    ids = np.zeros(n, np.int64)
    for i, symbol in enumerate(symbols):
        got = found[symbol]
        if isinstance(got, GatewayError):
            problems[i] = copy.copy(got)
        else:
            ids[i] = got
    return ids, problems


_PLACE_PROBLEMS = (
    (Reason.BAD_SIDE, "side", lambda f, ids, i, x: "side must be SIDE_BUY or SIDE_SELL"),
    (Reason.BAD_ORDER_TYPE, "order_type",
     lambda f, ids, i, x: "order_type must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET"),
    (Reason.BAD_TIME_IN_FORCE, "time_in_force",
     lambda f, ids, i, x: "time_in_force is required (GTC, GTD, IOC or FOK)"),
    (Reason.BAD_TIME_IN_FORCE, "time_in_force", lambda f, ids, i, x: "market orders need time_in_force IOC or FOK"),
    (Reason.BAD_EXPIRY, "expire_time_ns",
     lambda f, ids, i, x: "expire_time_ns is required for GTD orders and must be 0 for the others"),
    (Reason.BAD_FLAGS, "post_only", lambda f, ids, i, x: "post_only needs a limit order with GTC or GTD"),
    (Reason.BAD_STP_MODE, "self_trade_prevention", lambda f, ids, i, x: "self_trade_prevention is not a known mode"),
    (Reason.QUANTITY_OUT_OF_LIMITS, "qty",
     lambda f, ids, i, x: (f"qty {f['qty'][i]} is outside the lot limits of {x.gpu_class(ids[i]).name}: "
                           f"{x.rule(ids[i])[3]}..{x.rule(ids[i])[4]} GPUs")),
    (Reason.MARKET_ORDER_HAS_PRICE, "price_fen",
     lambda f, ids, i, x: "market orders carry no price: set price_fen to 0"),
    (Reason.PRICE_NOT_ON_TICK, "price_fen",
     lambda f, ids, i, x: (f"price_fen {f['price_fen'][i]} is not on the tick of {x.gpu_class(ids[i]).name} "
                           f"({x.rule(ids[i])[0]} fen)")),
    (Reason.PRICE_OUT_OF_BAND, "price_fen",
     lambda f, ids, i, x: (f"price_fen {f['price_fen'][i]} is outside the band of {x.gpu_class(ids[i]).name}: "
                           f"{x.rule(ids[i])[1]}..{x.rule(ids[i])[2]} fen")),
    (Reason.BAD_CLIENT_ORDER_ID, "client_order_id",
     lambda f, ids, i, x: f"client_order_id must be in 1..{CLORD_LIMIT - 1}"),
)
"""What :func:`_check_places` check k (its index here) is: the reason, the field at
fault, and what it tells the client, given the columns ``f``, the ids, the row and the
:class:`Instruments`."""
_LIMIT, _MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_GTC, _GTD, _IOC, _FOK = int(TimeInForce.GTC), int(TimeInForce.GTD), int(TimeInForce.IOC), int(TimeInForce.FOK)
_STP_LAST, _STP_DEFAULT = int(StpMode.DECREMENT), int(DEFAULT_STP_MODE)
_POST_ONLY, _NEW_ORDER = int(OrderFlag.POST_ONLY), int(CommandKind.NEW_ORDER)
_C_KIND, _C_ACCOUNT, _C_INSTRUMENT, _C_SIDE, _C_ORDER_TYPE, _C_TIF, _C_FLAGS, _C_STP, _C_PRICE, _C_QTY, _C_CLORD, \
    _C_EXPIRE_TS = (int(C[name]) for name in ("KIND", "ACCOUNT", "INSTRUMENT", "SIDE", "ORDER_TYPE", "TIF", "FLAGS",
                                              "STP", "PRICE", "QTY", "CLORD", "EXPIRE_TS"))


_V_SIDE, _V_TYPE, _V_TIF, _V_PRICE, _V_QTY, _V_CLORD, _V_EXPIRE, _V_POST_ONLY, _V_STP = (
    PLACE_COLUMNS.index(name) for name in ("side", "order_type", "time_in_force", "price_fen", "qty",
                                           "client_order_id", "expire_time_ns", "post_only", "self_trade_prevention"))


@njit(cache=True)
def _check_places(values, ids, rules, account, bad, out):
    """Per order (a row of ``values``, the :data:`PLACE_COLUMNS`): ``bad[i]`` = the first
    of the checks of :data:`_PLACE_PROBLEMS` it fails (-1: none), and ``out[i]`` its
    NEW_ORDER record (int64 command row); how many fail a check. O(orders)."""
    side, kind, tif, price, qty = values[:, _V_SIDE], values[:, _V_TYPE], values[:, _V_TIF], values[:, _V_PRICE], \
        values[:, _V_QTY]
    clord, expire, post_only, stp = values[:, _V_CLORD], values[:, _V_EXPIRE], values[:, _V_POST_ONLY], \
        values[:, _V_STP]
    refused = 0
    for i in range(len(ids)):
        tick, lo, hi = rules[ids[i], 0], rules[ids[i], 1], rules[ids[i], 2]
        market = kind[i] == _MARKET
        ioc_fok = tif[i] == _IOC or tif[i] == _FOK
        b = -1
        if side[i] != _BUY and side[i] != _SELL:
            b = 0
        elif kind[i] != _LIMIT and not market:
            b = 1
        elif tif[i] < _GTC or tif[i] > _FOK:
            b = 2
        elif market and not ioc_fok:
            b = 3
        elif (tif[i] == _GTD) != (expire[i] != 0):
            b = 4
        elif post_only[i] != 0 and (market or ioc_fok):
            b = 5
        elif stp[i] < 0 or stp[i] > _STP_LAST:
            b = 6
        elif qty[i] < rules[ids[i], 3] or qty[i] > rules[ids[i], 4]:
            b = 7
        elif market and price[i] != 0:
            b = 8
        elif not market and price[i] % tick != 0:
            b = 9
        elif not market and (price[i] < lo or price[i] > hi):
            b = 10
        elif clord[i] <= 0 or clord[i] >= CLORD_LIMIT:
            b = 11
        bad[i] = b
        refused += b >= 0
        row = out[i]
        row[:] = 0
        row[_C_KIND] = _NEW_ORDER
        row[_C_ACCOUNT] = account
        row[_C_INSTRUMENT] = ids[i]
        row[_C_SIDE] = side[i]
        row[_C_ORDER_TYPE] = kind[i]
        row[_C_TIF] = tif[i]
        row[_C_FLAGS] = _POST_ONLY if post_only[i] != 0 else 0
        row[_C_STP] = _STP_DEFAULT if stp[i] == 0 else stp[i]
        row[_C_PRICE] = price[i]
        row[_C_QTY] = qty[i]
        row[_C_CLORD] = clord[i]
        row[_C_EXPIRE_TS] = expire[i]
    return refused


@njit(cache=True)
def _check_place(out, rules, account, instrument, side, kind, tif, price, qty, clord, expire, post_only, stp):
    """:func:`_check_places` of one order given as its :data:`PLACE_COLUMNS` values (in
    that order): its record into ``out[0]``; the check it fails (-1: none)."""
    values = np.empty((1, len(PLACE_COLUMNS)), np.int64)
    values[0, _V_SIDE], values[0, _V_TYPE], values[0, _V_TIF], values[0, _V_PRICE] = side, kind, tif, price
    values[0, _V_QTY], values[0, _V_CLORD], values[0, _V_EXPIRE] = qty, clord, expire
    values[0, _V_POST_ONLY], values[0, _V_STP] = post_only, stp
    bad = np.empty(1, np.int64)
    _check_places(values, np.full(1, instrument, np.int64), rules, account, bad, out)
    return bad[0]


assert PLACE_COLUMNS == ("side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id",
                         "expire_time_ns", "post_only", "self_trade_prevention"), "_check_place's arguments"
_COMMAND_WORDS = len(COMMAND_DTYPE.names or ())


def _place_error(check: int, f, ids, i: int, instruments: Instruments) -> GatewayError:
    """The error of order ``i`` that failed check ``check`` of :data:`_PLACE_PROBLEMS`
    (``f``: the columns by name, ``ids``: the instruments)."""
    reason, field, message = _PLACE_PROBLEMS[check]
    return invalid(message(f, ids, i, instruments), field, reason, value=int(f[field][i]))


def place_command(req: trading_pb2.PlaceOrderRequest, account: int, instruments: Instruments) -> np.ndarray:
    """A PlaceOrderRequest (a unary call's) as its NEW_ORDER record, a batch of one; the
    error :func:`place_commands` would give it is raised. The same checks, on the
    request's values instead of columns: a unary call makes three numpy calls here."""
    instrument = instruments.id(req.symbol)
    values = _place_row(req)
    words = np.empty((1, _COMMAND_WORDS), np.int64)  # every word written by the kernel
    check = _check_place(words, instruments.rules_through(instrument), account, instrument, *values)
    if check >= 0:
        raise _place_error(check, {name: (v,) for name, v in zip(PLACE_COLUMNS, values)}, (instrument,), 0,
                           instruments)
    return np.frombuffer(words, COMMAND_DTYPE)


def _place_values(values: np.ndarray, ids: np.ndarray, problems: dict[int, GatewayError], account: int,
                  instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """The checks and records of :func:`place_commands` (``values``: the request fields, a
    row per order, the :data:`PLACE_COLUMNS` as int64, client_order_id already capped at
    CLORD_LIMIT; ``problems``: the orders already refused, which get no second error), in
    one compiled pass."""
    n = len(ids)
    if problems:  # rows already refused borrow a listed id so the checks can run
        ids[list(problems)] = ids[next(i for i in range(n) if i not in problems)]
    bad = np.empty(n, np.int64)
    batch = commands(n)
    refused = _check_places(values, ids, instruments.rule_table(ids), account, bad, record_words(batch))
    # only the refused orders, found only if there are some: no Python step per order, and
    # no numpy call for a batch (a unary call's) with none, where each costs several µs
    f = dict(zip(PLACE_COLUMNS, values.T)) if refused else {}  # the fields the messages quote
    for i in np.flatnonzero(bad >= 0).tolist() if refused else ():
        if i not in problems:
            problems[i] = _place_error(int(bad[i]), f, ids, i, instruments)
    if problems:
        keep = np.ones(n, bool)
        keep[list(problems)] = False
        batch = batch[keep]
    return batch, problems


def cancel_command(req: trading_pb2.CancelOrderRequest, account: int, out: np.ndarray) -> None:
    """Validate a CancelOrderRequest into a CANCEL record."""
    out["kind"] = CommandKind.CANCEL
    out["account"] = account
    out["orig_clord"] = _clord(req.orig_client_order_id, "orig_client_order_id")


def replace_command(req: trading_pb2.ReplaceOrderRequest, account: int, out: np.ndarray) -> None:
    """Validate a ReplaceOrderRequest into a REPLACE record (limits are the engine's)."""
    if req.qty <= 0 or req.price_fen <= 0:
        raise invalid("replace needs the new total qty > 0 and a limit price_fen > 0",
                      "qty" if req.qty <= 0 else "price_fen", value=req.qty if req.qty <= 0 else req.price_fen)
    out["kind"] = CommandKind.REPLACE
    out["account"] = account
    out["orig_clord"] = _clord(req.orig_client_order_id, "orig_client_order_id")
    out["clord"] = _clord(req.client_order_id, "client_order_id")
    out["price"] = req.price_fen
    out["qty"] = req.qty


class StreamRequest(NamedTuple):
    """A StreamOrdersRequest as the order stream uses it: read from its wire bytes when it
    holds only place and cancel commands (``places``), else parsed by protobuf (``message``)."""

    batch_id: int
    cancel_on_disconnect: bool
    data: bytes
    places: tuple[np.ndarray, list[str], np.ndarray] | None
    """Per command (:func:`~exchange.gateway.wire.read_places`): the order's
    :data:`PLACE_COLUMNS`, its symbol, and 0, or a cancel's orig_client_order_id."""
    message: trading_pb2.StreamOrdersRequest | None

    def commands(self) -> Sequence[trading_pb2.OrderCommand]:
        """The OrderCommands (read by protobuf if they were read from the wire)."""
        message = self.message or trading_pb2.StreamOrdersRequest.FromString(self.data)
        return message.commands


def read_stream_request(data: bytes) -> StreamRequest:
    """A StreamOrdersRequest from the bytes grpc received: a request of place and cancel
    commands only (the usual batch) is read by compiled kernels, without a protobuf message
    or a Python attribute read per order; anything else is parsed by protobuf (the tests
    check both read the same). Bytes that do not parse: INVALID_ARGUMENT (MALFORMED_REQUEST)."""
    buf = np.frombuffer(data, np.uint8)
    n = count_commands(buf)
    if n >= 0:
        values = np.empty((n, len(PLACE_COLUMNS)), np.int64)
        symbol_at = np.empty((n, 2), np.int64)
        cancels = np.empty(n, np.int64)
        head = np.zeros(2, np.uint64)
        same = read_places(buf, values, symbol_at, cancels, CLORD_LIMIT, head)
        try:
            if same >= 0:
                first = int(np.argmin(cancels)) if n else 0  # a place, if there is one
                symbols = [data[symbol_at[first, 0]:symbol_at[first, 1]].decode()] * n if same and n else \
                    [data[a:b].decode() for a, b in symbol_at.tolist()]
                return StreamRequest(int(head[0]), bool(head[1]), data, (values, symbols, cancels), None)
        except UnicodeDecodeError:
            pass  # protobuf refuses it below, in its own words
    try:
        message = trading_pb2.StreamOrdersRequest.FromString(data)
    except Exception as error:  # noqa: BLE001 - protobuf raises DecodeError, and others on some inputs
        raise MalformedRequest(len(data), str(error) or type(error).__name__).error from None
    return StreamRequest(message.batch_id, message.cancel_on_disconnect, data, None, message)


def stream_commands(request: StreamRequest, account: int, instruments: Instruments
                    ) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """The records of a stream batch's valid OrderCommands, in order, and for each
    invalid one (by its index in the batch) its error."""
    if request.places is not None:
        return _wire_commands(*request.places, account, instruments)
    assert request.message is not None  # read_stream_request gives one or the other
    return _stream_commands(request.message.commands, account, instruments)


def _stream_commands(reqs, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """:func:`stream_commands` command by command (any mix of place, cancel, replace)."""
    kinds = [cmd.WhichOneof("command") for cmd in reqs]
    places = [i for i, k in enumerate(kinds) if k == "place"]
    placed, place_problems = place_commands([reqs[i].place for i in places] if len(places) < len(reqs)
                                            else list(map(_PLACE, reqs)), account, instruments)
    problems = {places[j]: error for j, error in place_problems.items()}
    if len(places) == len(reqs):  # only orders (the usual batch): no interleaving to do
        return placed, problems
    batch = commands(len(reqs))
    batch[[i for i in places if i not in problems]] = placed
    valid = []
    for i, which in enumerate(kinds):
        if which == "place":
            if i not in problems:
                valid.append(i)
            continue
        try:
            if which == "cancel":
                cancel_command(reqs[i].cancel, account, batch[i:i + 1])
            elif which == "replace":
                replace_command(reqs[i].replace, account, batch[i:i + 1])
            else:
                raise invalid("empty command: set place, cancel or replace", "command")
            valid.append(i)
        except GatewayError as error:
            problems[i] = error
    return batch[valid] if len(valid) < len(reqs) else batch, problems


def _wire_commands(values: np.ndarray, symbols: list[str], cancels: np.ndarray, account: int,
                   instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """:func:`stream_commands` of place and cancel commands read from the wire
    (:attr:`StreamRequest.places`): the places checked in one pass, the cancels (their
    orig_client_order_id in range already) as CANCEL records in their places."""
    at = np.flatnonzero(cancels)
    if not len(at):  # only orders (the usual batch): no interleaving to do
        return _wire_places(values, symbols, account, instruments)
    n = len(cancels)
    batch = commands(n)
    batch["kind"][at] = CommandKind.CANCEL
    batch["account"][at] = account
    batch["orig_clord"][at] = cancels[at]
    places = np.flatnonzero(cancels == 0)
    placed, place_problems = _wire_places(values[places], [symbols[i] for i in places.tolist()], account,
                                          instruments)
    problems = {int(places[j]): error for j, error in place_problems.items()}
    valid = np.ones(n, bool)
    valid[list(problems)] = False
    batch[places[valid[places]]] = placed
    return (batch[valid] if problems else batch), problems


def _wire_places(values: np.ndarray, symbols: list[str], account: int, instruments: Instruments
                 ) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """:func:`stream_commands` of place commands read from the wire: their
    :data:`PLACE_COLUMNS` and symbols."""
    n = len(values)
    if n == 0:
        return commands(0), {}
    ids, problems = _symbol_ids(symbols, instruments)
    if len(problems) == n:
        return commands(0), problems
    return _place_values(values, ids, problems, account, instruments)
