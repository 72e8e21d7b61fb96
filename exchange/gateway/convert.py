"""Between the wire (``gpux.v1`` messages) and the engine's command and event records.

Validation happens here, before anything reaches the sequencer: a request that names
an unlisted symbol, leaves a required enum unset, or breaks the class's tick, band or
lot limits is refused with INVALID_ARGUMENT or NOT_FOUND and a message naming the field
and the rule. The engine checks everything again; its answer comes back as FIX
execution reports.

Both directions work on columns where a batch is large: requests are validated as numpy
columns, and the reports of a batch are written straight into protobuf wire format by
a compiled kernel and parsed back in one call (:func:`reports_message`), instead of one
Python-built message per report. A stream batch of orders is read from its wire bytes by
another kernel (:func:`stream_commands`). A single order takes scalar paths that give
the same results (the tests compare each fast path with the plain one).
"""

from __future__ import annotations

from datetime import date
from operator import attrgetter

import numpy as np
from numba import njit

from exchange.catalog import Catalog, GpuClass, Listing, SymbolError
from exchange.engine.schema import (
    CLORD_LIMIT,
    EVENT_FIELDS,
    C,
    CommandKind,
    EventKind,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
    commands,
    record_words,
)
from exchange.gateway.errors import GatewayError, explain, invalid, not_found
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from exchange.sequencer import OrderRecord

_EXEC_TYPE = {
    EventKind.ACCEPTED: types_pb2.EXEC_TYPE_NEW,
    EventKind.TRADE: types_pb2.EXEC_TYPE_TRADE,
    EventKind.CANCELLED: types_pb2.EXEC_TYPE_CANCELED,
    EventKind.EXPIRED: types_pb2.EXEC_TYPE_EXPIRED,
    EventKind.REPLACED: types_pb2.EXEC_TYPE_REPLACED,
    EventKind.REJECTED: types_pb2.EXEC_TYPE_REJECTED,
}
_ORDER_EVENTS = np.array(list(_EXEC_TYPE), np.int64)


class Instruments:
    """Symbol ↔ engine id and the class rules of each listed instrument, cached: ids are
    never reused, so an entry never goes stale. O(1) per lookup after the first."""

    def __init__(self, listing: Listing, catalog: Catalog) -> None:
        self.listing = listing
        self.catalog = catalog
        self._ids: dict[str, int] = {}
        self._symbols: list[str] = []
        self._classes: list[GpuClass] = []
        self._rules = np.zeros((0, 5), np.int64)
        self._rule_rows: list[tuple[int, ...]] = []
        self._symbol_table = (np.zeros(0, np.uint8), np.zeros(1, np.int64))

    def id(self, symbol: str) -> int:
        """Engine id of a symbol; INVALID_ARGUMENT if malformed, NOT_FOUND if not listed."""
        found = self._ids.get(symbol)
        if found is not None:
            return found
        if not symbol:
            raise invalid("symbol is required, e.g. H100-80G.jiaxing.20261125T14")
        try:
            inst = self.catalog.instrument(symbol)
        except SymbolError as exc:
            raise invalid(str(exc)) from None
        try:
            found = self.listing.id_of(inst.symbol)
        except KeyError:
            raise not_found(f"{inst.symbol} is not listed (slots are listed up to "
                            f"{self.catalog.market.listing_horizon_days} days ahead)") from None
        self._ids[symbol] = found
        return found

    def _fill(self, instrument: int) -> None:
        for i in range(len(self._symbols), instrument + 1):
            inst = self.listing.instrument(i)
            self._symbols.append(inst.symbol)
            self._classes.append(self.catalog.gpu_class(inst.gpu_class))

    def symbol(self, instrument: int) -> str:
        """The symbol of a listed engine id ("" for none, negative ids too)."""
        if not 0 <= instrument < len(self._symbols):
            if not 0 <= instrument < len(self.listing):
                return ""
            self._fill(instrument)
        return self._symbols[instrument]

    def gpu_class(self, instrument: int) -> GpuClass:
        """The class (tick, band, lot limits) of a listed engine id."""
        if instrument >= len(self._classes):
            self._fill(instrument)
        return self._classes[instrument]

    def rule_table(self, ids: np.ndarray) -> np.ndarray:
        """(tick, band_lo, band_hi, min_qty, max_qty) by engine id, one row per listed id,
        covering every id of ``ids``."""
        top = int(ids.max()) if len(ids) else 0
        if top >= len(self._rules):
            self._fill(top)
            self._rules = np.array([[c.tick_fen, c.band_lo_fen, c.band_hi_fen, c.min_qty, c.max_qty]
                                    for c in self._classes], np.int64)
        return self._rules

    def rule(self, instrument: int) -> tuple[int, ...]:
        """(tick, band_lo, band_hi, min_qty, max_qty) of one listed id, as ints."""
        if instrument >= len(self._rule_rows):
            self.rule_table(np.array([instrument]))
            self._rule_rows = [tuple(row) for row in self._rules.tolist()]
        return self._rule_rows[instrument]

    def symbol_table(self, top: int) -> tuple[np.ndarray, np.ndarray]:
        """The UTF-8 symbols of ids 0..top as one byte array and offsets (id i:
        ``buf[at[i]:at[i + 1]]``), for the report kernel."""
        if top + 1 >= len(self._symbol_table[1]):
            if top >= len(self._symbols):
                self._fill(top)
            encoded = [symbol.encode() for symbol in self._symbols]
            at = np.zeros(len(encoded) + 1, np.int64)
            np.cumsum([len(e) for e in encoded], out=at[1:])
            self._symbol_table = (np.frombuffer(b"".join(encoded), np.uint8), at)
        return self._symbol_table


def parse_day(text: str, field: str = "day") -> date:
    """A request's date field (``YYYY-MM-DD``); INVALID_ARGUMENT naming the field if not."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(f"{field} {text!r} is not a date like 2026-11-25") from None


def _clord(value: int, field: str) -> int:
    if not 0 < value < CLORD_LIMIT:
        raise invalid(f"{field} must be in 1..{CLORD_LIMIT - 1}")
    return value


_PLACE_FIELDS = ("side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id",
                 "expire_time_ns", "post_only", "self_trade_prevention")
_SYMBOL, _PLACE, _PLACE_VALUES = attrgetter("symbol"), attrgetter("place"), attrgetter(*_PLACE_FIELDS)
_CLORD_AT = _PLACE_FIELDS.index("client_order_id")


def _place_row(req) -> tuple:
    """A request's fields in ``_PLACE_FIELDS`` order; client_order_id (uint64 on the wire)
    capped at CLORD_LIMIT, which is refused below, so that it fits an int64."""
    values = _PLACE_VALUES(req)
    if values[_CLORD_AT] < CLORD_LIMIT:
        return values
    return (*values[:_CLORD_AT], CLORD_LIMIT, *values[_CLORD_AT + 1:])


def place_commands(reqs: list, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """Validate PlaceOrderRequests as columns; the NEW_ORDER records of the valid ones (in
    order) and, by index, the error of each invalid one. Per order only the field reads
    and a cached symbol lookup run in Python; the checks run in one compiled pass
    (:func:`_check_places`). The fields become columns in one array conversion: a unary
    call makes a handful of numpy calls, each of which costs several times its warm
    price in a server whose caches the network work keeps cold."""
    n = len(reqs)
    ids, problems = _symbol_ids(list(map(_SYMBOL, reqs)), instruments)
    if len(problems) == n:
        return commands(0), problems
    columns = np.array(list(map(_place_row, reqs)), np.int64).reshape(n, len(_PLACE_FIELDS)).T.copy()
    return _place_columns(dict(zip(_PLACE_FIELDS, columns)), ids, problems, account, instruments)


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
            problems[i] = GatewayError(got.code, got.message)
        else:
            ids[i] = got
    return ids, problems


_PLACE_PROBLEMS = (
    lambda f, ids, i, x: "side must be SIDE_BUY or SIDE_SELL",
    lambda f, ids, i, x: "order_type must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET",
    lambda f, ids, i, x: "time_in_force is required (GTC, GTD, IOC or FOK)",
    lambda f, ids, i, x: "market orders need time_in_force IOC or FOK",
    lambda f, ids, i, x: "expire_time_ns is required for GTD orders and must be 0 for the others",
    lambda f, ids, i, x: "post_only needs a limit order with GTC or GTD",
    lambda f, ids, i, x: "self_trade_prevention is not a known mode",
    lambda f, ids, i, x: (f"qty {f['qty'][i]} is outside the lot limits of {x.gpu_class(ids[i]).name}: "
                          f"{x.rule(ids[i])[3]}..{x.rule(ids[i])[4]} GPUs"),
    lambda f, ids, i, x: "market orders carry no price: set price_fen to 0",
    lambda f, ids, i, x: (f"price_fen {f['price_fen'][i]} is not on the tick of {x.gpu_class(ids[i]).name} "
                          f"({x.rule(ids[i])[0]} fen)"),
    lambda f, ids, i, x: (f"price_fen {f['price_fen'][i]} is outside the band of {x.gpu_class(ids[i]).name}: "
                          f"{x.rule(ids[i])[1]}..{x.rule(ids[i])[2]} fen"),
    lambda f, ids, i, x: f"client_order_id must be in 1..{CLORD_LIMIT - 1}",
)
"""What :func:`_check_places` check k (its index here) tells the client, given the
columns ``f``, the ids, the row and the :class:`Instruments`."""
_LIMIT, _MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_GTC, _GTD, _IOC, _FOK = int(TimeInForce.GTC), int(TimeInForce.GTD), int(TimeInForce.IOC), int(TimeInForce.FOK)
_STP_LAST, _STP_DEFAULT = int(StpMode.DECREMENT), int(StpMode.CANCEL_NEWEST)
_POST_ONLY, _NEW_ORDER = int(OrderFlag.POST_ONLY), int(CommandKind.NEW_ORDER)
_C_KIND, _C_ACCOUNT, _C_INSTRUMENT, _C_SIDE, _C_ORDER_TYPE, _C_TIF, _C_FLAGS, _C_STP, _C_PRICE, _C_QTY, _C_CLORD, \
    _C_EXPIRE_TS = (int(C[name]) for name in ("KIND", "ACCOUNT", "INSTRUMENT", "SIDE", "ORDER_TYPE", "TIF", "FLAGS",
                                              "STP", "PRICE", "QTY", "CLORD", "EXPIRE_TS"))


@njit(cache=True)
def _check_places(side, kind, tif, price, qty, clord, expire, post_only, stp, ids, rules, account, bad, out):
    """Per order: ``bad[i]`` = the first of the checks of :data:`_PLACE_PROBLEMS` it fails
    (-1: none), and ``out[i]`` its NEW_ORDER record (int64 command row). O(orders)."""
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


def _place_columns(f: dict[str, np.ndarray], ids: np.ndarray, problems: dict[int, GatewayError], account: int,
                   instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """The column checks and records of :func:`place_commands` (``f``: the request fields
    as int64 columns, client_order_id already capped at CLORD_LIMIT; ``problems``: the
    orders already refused, which get no second error), in one compiled pass."""
    n = len(ids)
    if problems:  # rows already refused borrow a listed id so the checks can run
        ids[list(problems)] = ids[next(i for i in range(n) if i not in problems)]
    bad = np.empty(n, np.int64)
    batch = commands(n)
    _check_places(f["side"], f["order_type"], f["time_in_force"], f["price_fen"], f["qty"], f["client_order_id"],
                  f["expire_time_ns"], f["post_only"], f["self_trade_prevention"], ids,
                  instruments.rule_table(ids), account, bad, record_words(batch))
    for i, why in enumerate(bad.tolist()):
        if why >= 0 and i not in problems:
            problems[i] = invalid(_PLACE_PROBLEMS[why](f, ids, i, instruments))
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
        raise invalid("replace needs the new total qty > 0 and a limit price_fen > 0")
    out["kind"] = CommandKind.REPLACE
    out["account"] = account
    out["orig_clord"] = _clord(req.orig_client_order_id, "orig_client_order_id")
    out["clord"] = _clord(req.client_order_id, "client_order_id")
    out["price"] = req.price_fen
    out["qty"] = req.qty


def stream_commands(reqs, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, str]]:
    """The records of a stream batch's valid OrderCommands, in order, and for each
    invalid one (by its index in the batch) what is wrong with it.

    ``reqs`` is the StreamOrdersRequest (or its ``commands``). A request of place
    commands only (the usual batch) is read from its wire bytes by a compiled kernel
    (:func:`_read_places`), without a Python attribute read per order; anything else
    takes the per-command path below (the tests check both give the same)."""
    if isinstance(reqs, trading_pb2.StreamOrdersRequest):
        n = len(reqs.commands)
        if n > 1:
            fast = _wire_places(reqs.SerializeToString(), n, account, instruments)
            if fast is not None:
                return fast
        reqs = reqs.commands
    return _stream_commands(reqs, account, instruments)


def _stream_commands(reqs, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, str]]:
    """:func:`stream_commands` command by command (any mix of place, cancel, replace)."""
    kinds = [cmd.WhichOneof("command") for cmd in reqs]
    places = [i for i, k in enumerate(kinds) if k == "place"]
    placed, place_problems = place_commands([reqs[i].place for i in places] if len(places) < len(reqs)
                                            else list(map(_PLACE, reqs)), account, instruments)
    problems = {places[j]: error.message for j, error in place_problems.items()}
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
                raise invalid("empty command: set place, cancel or replace")
            valid.append(i)
        except GatewayError as error:
            problems[i] = error.message
    return batch[valid] if len(valid) < len(reqs) else batch, problems


# ---------------------------------------------------------------- orders from the wire

_WIRE_FIELDS = ("side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id", "expire_time_ns",
                "post_only", "self_trade_prevention")
"""Columns :func:`_read_places` fills: PlaceOrderRequest fields 2..10 in field order."""
_U32, _U64_SIGN = np.uint64(0xFFFFFFFF), np.uint64(1 << 63)


@njit(cache=True)
def _read_varint(buf, at, end):
    """(value, next offset) of the varint at ``at``; offset -1 if it is cut or too long."""
    value = np.uint64(0)
    shift = np.uint64(0)
    while at < end:
        byte = buf[at]
        at += 1
        if shift < 64:
            value |= np.uint64(byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += np.uint64(7)
        if shift >= 70:
            return value, -1
    return value, -1


@njit(cache=True)
def _skip_field(buf, at, end, wire):
    """The offset after an unknown field's value of wire type ``wire`` (-1: malformed)."""
    if wire == 0:
        _, at = _read_varint(buf, at, end)
        return at
    if wire == 1:
        return at + 8 if at + 8 <= end else -1
    if wire == 5:
        return at + 4 if at + 4 <= end else -1
    if wire == 2:
        length, at = _read_varint(buf, at, end)
        if at < 0 or length > np.uint64(end - at):
            return -1
        return at + np.int64(length)
    return -1  # groups (3, 4) and reserved wire types: not in these messages


@njit(cache=True)
def _int32(value):
    """A proto enum / int32 varint as the signed value Python reads."""
    low = np.int64(value & _U32)
    return low - (np.int64(1) << 32) if low >= (np.int64(1) << 31) else low


@njit(cache=True)
def _int64(value):
    """A proto int64 varint (two's complement in 64 bits) as a signed value."""
    if value >= _U64_SIGN:
        return -np.int64(~value) - 1
    return np.int64(value)


@njit(cache=True)
def _read_places(buf, values, symbol_at, clord_limit):
    """Read a StreamOrdersRequest whose commands are all ``place``: per command i, the
    PlaceOrderRequest fields 2..10 into ``values[i]`` (as Python reads them; the uint64
    client_order_id capped at ``clord_limit``) and the byte range of its symbol into
    ``symbol_at[i]``. Returns 1 if every symbol equals the first, 0 if not, -1 if the
    request holds anything else (another command kind, an empty or repeated oneof, a
    field of an unexpected wire type, a count other than ``len(values)``): the caller
    then reads the message the ordinary way."""
    end = len(buf)
    n = values.shape[0]
    at = 0
    i = 0
    same = 1
    while at < end:
        key, at = _read_varint(buf, at, end)
        if at < 0:
            return -1
        number, wire = key >> np.uint64(3), np.int64(key & np.uint64(7))
        if number != 2:
            at = _skip_field(buf, at, end, wire)
            if at < 0:
                return -1
            continue
        if wire != 2 or i >= n:
            return -1
        length, at = _read_varint(buf, at, end)
        if at < 0 or length > np.uint64(end - at):
            return -1
        cmd_end = at + np.int64(length)
        places = 0
        while at < cmd_end:  # OrderCommand: exactly one field, place (1)
            key, at = _read_varint(buf, at, cmd_end)
            if at < 0 or key != np.uint64((1 << 3) | 2) or places:
                return -1
            length, at = _read_varint(buf, at, cmd_end)
            if at < 0 or length > np.uint64(cmd_end - at):
                return -1
            places += 1
            place_end = at + np.int64(length)
            for j in range(values.shape[1]):
                values[i, j] = 0
            symbol_at[i, 0] = 0
            symbol_at[i, 1] = 0
            while at < place_end:  # PlaceOrderRequest
                key, at = _read_varint(buf, at, place_end)
                if at < 0:
                    return -1
                number, wire = key >> np.uint64(3), np.int64(key & np.uint64(7))
                if number == 1:
                    if wire != 2:
                        return -1
                    length, at = _read_varint(buf, at, place_end)
                    if at < 0 or length > np.uint64(place_end - at):
                        return -1
                    symbol_at[i, 0] = at
                    at += np.int64(length)
                    symbol_at[i, 1] = at
                elif 2 <= number <= 10:
                    if wire != 0:
                        return -1
                    value, at = _read_varint(buf, at, place_end)
                    if at < 0:
                        return -1
                    j = np.int64(number) - 2
                    if number == 7:  # uint64 client_order_id
                        values[i, j] = np.int64(value) if value < np.uint64(clord_limit) else clord_limit
                    elif number == 9:  # bool post_only
                        values[i, j] = 1 if value != 0 else 0
                    elif number == 5 or number == 6 or number == 8:  # int64
                        values[i, j] = _int64(value)
                    else:  # enums (int32)
                        values[i, j] = _int32(value)
                else:
                    at = _skip_field(buf, at, place_end, wire)
                    if at < 0:
                        return -1
            if at != place_end:
                return -1
        if places != 1 or at != cmd_end:
            return -1
        if same and i > 0:
            a0, a1, b0 = symbol_at[0, 0], symbol_at[0, 1], symbol_at[i, 0]
            if symbol_at[i, 1] - b0 != a1 - a0:
                same = 0
            else:
                for k in range(a1 - a0):
                    if buf[a0 + k] != buf[b0 + k]:
                        same = 0
                        break
        i += 1
    return same if i == n else -1


def _wire_places(data: bytes, n: int, account: int, instruments: Instruments
                 ) -> tuple[np.ndarray, dict[int, str]] | None:
    """:func:`stream_commands` of a serialized request of ``n`` place commands, or None
    if it holds anything else (see :func:`_read_places`)."""
    buf = np.frombuffer(data, np.uint8)
    values = np.empty((n, len(_WIRE_FIELDS)), np.int64)
    symbol_at = np.empty((n, 2), np.int64)
    same = _read_places(buf, values, symbol_at, CLORD_LIMIT)
    if same < 0:
        return None
    if same:
        symbols = [data[symbol_at[0, 0]:symbol_at[0, 1]].decode()] * n
    else:
        symbols = [data[a:b].decode() for a, b in symbol_at.tolist()]
    ids, problems = _symbol_ids(symbols, instruments)
    if len(problems) < n:
        f = {name: values[:, j] for j, name in enumerate(_WIRE_FIELDS)}
        placed, problems = _place_columns(f, ids, problems, account, instruments)
    else:
        placed = commands(0)
    return placed, {i: error.message for i, error in problems.items()}


def invalid_report(message: str, clord: int) -> types_pb2.ExecutionReport:
    """The report of a stream command the gateway refused before sequencing it."""
    return types_pb2.ExecutionReport(exec_type=types_pb2.EXEC_TYPE_REJECTED,
                                     order_status=types_pb2.ORDER_STATUS_REJECTED, text=message,
                                     client_order_id=clord)


def _status(kind: int, reason: int, leaves: int, filled: int) -> int:
    if kind == EventKind.REJECTED:
        return types_pb2.ORDER_STATUS_REJECTED
    if kind == EventKind.EXPIRED and leaves == 0:
        return types_pb2.ORDER_STATUS_EXPIRED
    if kind == EventKind.CANCELLED and leaves == 0:
        return types_pb2.ORDER_STATUS_CANCELED
    if leaves == 0 and filled:
        return types_pb2.ORDER_STATUS_FILLED
    return types_pb2.ORDER_STATUS_PARTIALLY_FILLED if filled else types_pb2.ORDER_STATUS_NEW


_IS_ORDER_EVENT = np.zeros(16, bool)
_IS_ORDER_EVENT[_ORDER_EVENTS] = True


_EXEC_TYPE_OF_KIND = {int(k): int(v) for k, v in _EXEC_TYPE.items()}
assert EVENT_FIELDS == ("seq", "ts", "kind", "reason", "account", "instrument", "order_id", "clord", "side",
                        "price", "qty", "leaves", "filled", "contra_order_id", "contra_account",
                        "contra_clord", "contra_leaves", "trade_id"), "events are read by column position below"
_E_SEQ, _E_TS, _E_KIND, _E_REASON, _E_ACCOUNT, _E_INSTRUMENT, _E_ORDER_ID, _E_CLORD, _E_SIDE, _E_PRICE, _E_QTY, \
    _E_LEAVES, _E_FILLED, _E_CONTRA_ORDER_ID, _E_CONTRA_ACCOUNT, _E_CONTRA_CLORD, _E_CONTRA_LEAVES, _E_TRADE_ID = \
    range(len(EVENT_FIELDS))  # the order of EVENT_FIELDS
_E_TRADE, _E_ACCEPTED, _E_CANCELLED, _E_EXPIRED, _E_REJECTED, _E_REPLACED = (int(k) for k in (
    EventKind.TRADE, EventKind.ACCEPTED, EventKind.CANCELLED, EventKind.EXPIRED, EventKind.REJECTED,
    EventKind.REPLACED))
_NO_REASON = int(Reason.NONE)
_OS_NEW, _OS_PARTIAL, _OS_FILLED, _OS_CANCELED, _OS_EXPIRED, _OS_REJECTED = (
    types_pb2.ORDER_STATUS_NEW, types_pb2.ORDER_STATUS_PARTIALLY_FILLED, types_pb2.ORDER_STATUS_FILLED,
    types_pb2.ORDER_STATUS_CANCELED, types_pb2.ORDER_STATUS_EXPIRED, types_pb2.ORDER_STATUS_REJECTED)


def reports(rows: list[tuple], account: int, instruments: Instruments) -> list[types_pb2.ExecutionReport]:
    """The execution reports of ``account``'s orders among event ``rows`` (``events.tolist()``:
    its side of a trade, whether it was the taker or the maker), in event order. One pass
    over Python tuples (few rows: a unary call's; :func:`reports_message` does many)."""
    out = []
    Report = types_pb2.ExecutionReport
    for index, (seq, ts, k, reason, owner, instrument, order_id, clord, side, price, qty, leaves, filled,
                contra_order_id, contra_account, contra_clord, contra_leaves, trade_id) in enumerate(rows):
        exec_type = _EXEC_TYPE_OF_KIND.get(k)
        if exec_type is None or (owner != account and (k != _E_TRADE or contra_account != account)):
            continue
        maker = k == _E_TRADE and owner != account
        if maker:
            leaves, order_id, clord, side = contra_leaves, contra_order_id, contra_clord, 3 - side
        report = Report(seq=seq, exec_index=index, transact_time_ns=ts, exec_type=exec_type, reason=reason,
                        leaves_qty=leaves, order_id=order_id, client_order_id=clord,
                        symbol=instruments.symbol(instrument), side=side)
        if k == _E_TRADE:
            report.last_qty, report.last_price_fen, report.trade_id = qty, price, trade_id
            report.cum_qty = 0 if maker else filled
            report.order_status = _status(k, reason, leaves, True)
        else:
            report.price_fen, report.order_qty, report.cum_qty = price, qty, filled
            report.order_status = _status(k, reason, leaves, filled)
            if k == _E_REPLACED:
                report.orig_client_order_id = contra_clord
            elif k == _E_REJECTED:
                report.text = explain(reason)
        out.append(report)
    return out


# ---------------------------------------------------------------- reports in bulk

_BULK_FROM = 8
"""Below this many events the per-message path of :func:`reports` is cheaper."""
_EXEC_TYPE_OF = np.zeros(len(_IS_ORDER_EVENT), np.int64)
_EXEC_TYPE_OF[_ORDER_EVENTS] = [int(v) for v in _EXEC_TYPE.values()]
_U7, _U127, _U128 = np.uint64(7), np.uint64(127), np.uint64(128)


@njit(cache=True)
def _varint_size(value):
    size = 1
    while value >= _U128:
        value = value >> _U7
        size += 1
    return size


@njit(cache=True)
def _put_varint(out, at, value):
    while value >= _U128:
        out[at] = np.uint8((value & _U127) | _U128)
        value = value >> _U7
        at += 1
    out[at] = np.uint8(value)
    return at + 1


@njit(cache=True)
def _string_field(j, ref, text_at, symbol_at):
    """Byte range of string field ``j`` (0-based: 6 text, 10 symbol) of reference ``ref``."""
    k = np.int64(ref) - 1
    if j == 6:
        return text_at[k], text_at[k + 1]
    return symbol_at[k], symbol_at[k + 1]


@njit(cache=True)
def _encode_reports(values, text_buf, text_at, symbol_buf, symbol_at, field_key):
    """Wire bytes of one repeated ExecutionReport field entry per row of ``values``
    (uint64, column j = field j + 1, zeros omitted as proto3 does; for the string
    fields 7 and 11, 0 = empty, else 1 + index into their table)."""
    n, width = values.shape
    sizes = np.zeros(n, np.int64)
    total = 0
    for i in range(n):
        size = 0
        for j in range(width):
            value = values[i, j]
            if value == 0:
                continue
            tag = 1 if j < 15 else 2
            if j == 6 or j == 10:
                start, end = _string_field(j, value, text_at, symbol_at)
                if end > start:
                    size += tag + _varint_size(np.uint64(end - start)) + end - start
            else:
                size += tag + _varint_size(value)
        sizes[i] = size
        total += 1 + _varint_size(np.uint64(size)) + size
    out = np.empty(total, np.uint8)
    at = 0
    for i in range(n):
        out[at] = np.uint8(field_key)
        at = _put_varint(out, at + 1, np.uint64(sizes[i]))
        for j in range(width):
            value = values[i, j]
            if value == 0:
                continue
            if j == 6 or j == 10:
                start, end = _string_field(j, value, text_at, symbol_at)
                if end > start:
                    at = _put_varint(out, at, np.uint64(((j + 1) << 3) | 2))
                    at = _put_varint(out, at, np.uint64(end - start))
                    for b in range(start, end):
                        out[at] = text_buf[b] if j == 6 else symbol_buf[b]
                        at += 1
            else:
                at = _put_varint(out, at, np.uint64((j + 1) << 3))
                at = _put_varint(out, at, value)
    return out


@njit(cache=True)
def _report_values(ev, account, is_order_event, exec_type_of, n_listed, out):
    """Fill ``out`` (one row per report, the columns of :func:`_encode_reports`, the text
    column left 0) from the event rows ``ev`` that are ``account``'s
    order events; the number of rows written. The rules of :func:`reports`. O(events)."""
    n = 0
    for i in range(ev.shape[0]):
        kind = ev[i, _E_KIND]
        trade = kind == _E_TRADE
        if kind < 0 or kind >= is_order_event.shape[0] or not is_order_event[kind] or (ev[i, _E_ACCOUNT] != account
                                        and not (trade and ev[i, _E_CONTRA_ACCOUNT] == account)):
            continue
        maker = trade and ev[i, _E_ACCOUNT] != account
        leaves = ev[i, _E_CONTRA_LEAVES] if maker else ev[i, _E_LEAVES]
        filled = ev[i, _E_FILLED]
        worked = trade or filled != 0
        status = _OS_PARTIAL if worked else _OS_NEW
        if leaves == 0 and worked:
            status = _OS_FILLED
        if kind == _E_CANCELLED and leaves == 0:
            status = _OS_CANCELED
        if kind == _E_EXPIRED and leaves == 0:
            status = _OS_EXPIRED
        if kind == _E_REJECTED:
            status = _OS_REJECTED
        instrument = ev[i, _E_INSTRUMENT]
        row = out[n]
        row[0] = ev[i, _E_SEQ]
        row[1] = i
        row[2] = ev[i, _E_TS]
        row[3] = exec_type_of[kind]
        row[4] = status
        row[5] = ev[i, _E_REASON]
        row[6] = 0  # the text: set by the caller for rejections
        row[7] = ev[i, _E_CONTRA_ORDER_ID] if maker else ev[i, _E_ORDER_ID]
        row[8] = ev[i, _E_CONTRA_CLORD] if maker else ev[i, _E_CLORD]
        row[9] = ev[i, _E_CONTRA_CLORD] if kind == _E_REPLACED else 0
        row[10] = instrument + 1 if 0 <= instrument < n_listed else 0
        row[11] = 3 - ev[i, _E_SIDE] if maker else ev[i, _E_SIDE]
        row[12] = 0 if trade else ev[i, _E_PRICE]
        row[13] = 0 if trade else ev[i, _E_QTY]
        row[14] = ev[i, _E_QTY] if trade else 0
        row[15] = ev[i, _E_PRICE] if trade else 0
        row[16] = leaves
        row[17] = 0 if maker else filled
        row[18] = ev[i, _E_TRADE_ID] if trade else 0
        n += 1
    return n


def _report_columns(events: np.ndarray, account: int, instruments: Instruments
                    ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The fields of :func:`reports` over the event rows (:func:`_report_values`): values
    as for :func:`_encode_reports`, the texts of the rejections, the symbol table."""
    values = np.empty((len(events), 19), np.int64)
    n = _report_values(record_words(events), account, _IS_ORDER_EVENT,
                       _EXEC_TYPE_OF, len(instruments.listing), values)
    values = values[:n]
    rejected = values[:, 3] == types_pb2.EXEC_TYPE_REJECTED
    reasons = np.unique(values[rejected, 5])
    texts = [explain(r) for r in reasons.tolist()]
    values[rejected, 6] = np.searchsorted(reasons, values[rejected, 5]) + 1  # refers to texts[k - 1]
    top = int(values[:, 10].max()) - 1 if n else -1  # the highest listed id among them
    table = instruments.symbol_table(top) if top >= 0 else (np.zeros(0, np.uint8), np.zeros(1, np.int64))
    return values, texts, table


def reports_message(cls, events: np.ndarray | None, account: int, instruments: Instruments, **fields):
    """A ``cls`` message (a response with ``repeated ExecutionReport reports``) holding
    :func:`reports` of ``events`` and the other ``fields`` given. Many reports are written
    as wire bytes by a compiled kernel and parsed in one call (the same messages)."""
    if events is None or len(events) < _BULK_FROM:
        return cls(reports=reports(events, account, instruments) if events is not None else [], **fields)
    values, texts, (symbol_buf, symbol_at) = _report_columns(events, account, instruments)
    encoded = [t.encode() for t in texts]
    text_at = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=text_at[1:])
    text_buf = np.frombuffer(b"".join(encoded), np.uint8) if encoded else np.zeros(0, np.uint8)
    key = (cls.DESCRIPTOR.fields_by_name["reports"].number << 3) | 2
    blob = _encode_reports(values.view(np.uint64), text_buf, text_at, symbol_buf, symbol_at, key)
    message = cls.FromString(blob.tobytes())
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def order_from_rows(rows: list[tuple], instruments: Instruments) -> types_pb2.Order:
    """The order a NEW_ORDER created, as its own event ``rows`` (``events.tolist()``) leave
    it (no second lookup)."""
    accepted = next(row for row in rows if row[_E_KIND] == _E_ACCEPTED)
    oid = accepted[_E_ORDER_ID]
    own = [row for row in rows if row[_E_ORDER_ID] == oid and row[_E_KIND] in _EXEC_TYPE_OF_KIND]
    filled = next((row[_E_FILLED] for row in reversed(own) if row[_E_KIND] == _E_TRADE), 0)
    leaves = own[-1][_E_LEAVES]
    return types_pb2.Order(
        order_id=oid, client_order_id=accepted[_E_CLORD], first_client_order_id=accepted[_E_CLORD],
        symbol=instruments.symbol(accepted[_E_INSTRUMENT]), side=accepted[_E_SIDE], price_fen=accepted[_E_PRICE],
        order_qty=accepted[_E_QTY], cum_qty=filled, leaves_qty=leaves,
        order_status=_status(own[-1][_E_KIND], 0, leaves, filled))


def order_message(record: OrderRecord, instruments: Instruments) -> types_pb2.Order:
    """An OrderRecord of the ledger as the wire's Order."""
    return types_pb2.Order(
        order_id=record.order_id, client_order_id=record.clord, first_client_order_id=record.first_clord,
        symbol=instruments.symbol(record.instrument), side=record.side, price_fen=record.price,
        order_qty=record.qty, cum_qty=record.filled, leaves_qty=record.leaves,
        order_status=int(record.status))


def first_rejection(rows: list[tuple]) -> int:
    """The reason of the first REJECTED event among ``rows`` (``events.tolist()``), else
    Reason.NONE. A few rows (one command's) as tuples: no numpy call, which matters in a
    server whose caches the network work keeps cold."""
    return next((row[_E_REASON] for row in rows if row[_E_KIND] == _E_REJECTED), _NO_REASON)
