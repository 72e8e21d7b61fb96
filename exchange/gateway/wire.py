"""The protobuf wire format of the order path, read and written by compiled kernels.

A StreamOrdersRequest of place and cancel commands is read straight from the bytes grpc received
(:func:`count_commands`, :func:`read_places`), and a batch's execution reports are
written as the bytes of a ``repeated ExecutionReport`` field (:func:`encode_reports`)
that grpc sends as they are: no protobuf message is made, per order, per report or per
batch.

Field numbers and wire types come from the generated descriptors, resolved once at import
into the module constants the kernels close over (numba compiles them in as constants,
so no call looks a descriptor up; a field's number never changes once published). The
tests check both kernels against the protobuf classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from numba import njit

from exchange.proto.gpux.v1 import trading_pb2, types_pb2

_VARINT, _LENGTH_DELIMITED = 0, 2  # the wire types these messages use


def field_number(message: Any, field: str) -> int:
    """The number of ``message``'s ``field`` in the generated descriptor."""
    return message.DESCRIPTOR.fields_by_name[field].number


def _key(number: int, wire_type: int) -> int:
    """The key that precedes a field's value on the wire."""
    return (number << 3) | wire_type


def length_delimited_key(message: type, field: str) -> int:
    """The wire key of ``message``'s string, bytes or (repeated) message ``field``."""
    return _key(field_number(message, field), _LENGTH_DELIMITED)


# ---------------------------------------------------------------- place orders from the wire

_COMMANDS_NUMBER = field_number(trading_pb2.StreamOrdersRequest, "commands")
_BATCH_ID_NUMBER = field_number(trading_pb2.StreamOrdersRequest, "batch_id")
_CANCEL_NUMBER = field_number(trading_pb2.StreamOrdersRequest, "cancel_on_disconnect")
_PLACE_KEY = np.uint64(length_delimited_key(trading_pb2.OrderCommand, "place"))
_CANCEL_KEY = np.uint64(length_delimited_key(trading_pb2.OrderCommand, "cancel"))
_ORIG_NUMBER = field_number(trading_pb2.CancelOrderRequest, "orig_client_order_id")
_ORIG_KEY = np.uint64(_key(_ORIG_NUMBER, _VARINT))
if trading_pb2.CancelOrderRequest.DESCRIPTOR.fields_by_name["orig_client_order_id"].type != FieldDescriptor.TYPE_UINT64:
    raise TypeError("read_places reads CancelOrderRequest.orig_client_order_id as a uint64")
_SYMBOL_NUMBER = field_number(trading_pb2.PlaceOrderRequest, "symbol")

PLACE_COLUMNS = ("side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id", "expire_time_ns",
                 "post_only", "self_trade_prevention")
"""The PlaceOrderRequest fields :func:`read_places` reads into int64 columns, in this order."""

_AS_INT32, _AS_INT64, _AS_BOOL, _AS_CAPPED_UINT64 = range(4)
_READ_AS = {FieldDescriptor.TYPE_ENUM: _AS_INT32, FieldDescriptor.TYPE_INT32: _AS_INT32,
            FieldDescriptor.TYPE_INT64: _AS_INT64, FieldDescriptor.TYPE_BOOL: _AS_BOOL,
            FieldDescriptor.TYPE_UINT64: _AS_CAPPED_UINT64}
"""How each varint type becomes the int64 Python reads (uint64: capped, see read_places)."""


def _place_tables() -> tuple[np.ndarray, np.ndarray]:
    """By PlaceOrderRequest field number: the column of :data:`PLACE_COLUMNS` (-1: none)
    and how its varint is read."""
    fields = [trading_pb2.PlaceOrderRequest.DESCRIPTOR.fields_by_name[name] for name in PLACE_COLUMNS]
    column = np.full(max(f.number for f in fields) + 1, -1, np.int64)
    read_as = np.zeros(len(column), np.int64)
    for j, f in enumerate(fields):
        if f.type not in _READ_AS or f.is_repeated:
            raise TypeError(f"read_places reads singular varints, not PlaceOrderRequest.{f.name}")
        column[f.number], read_as[f.number] = j, _READ_AS[f.type]
    return column, read_as


_PLACE_COLUMN_OF, _PLACE_READ_AS = _place_tables()
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


_MAX_NUMBER = (1 << 29) - 1


@njit(cache=True)
def _skip_unknown(buf, at, end, number, wire):
    """:func:`_skip_field` of an unknown field, -1 also for a field number protobuf refuses
    (0, or above 2^29 - 1)."""
    if number < 1 or number > _MAX_NUMBER:
        return -1
    return _skip_field(buf, at, end, wire)


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
def count_commands(buf):
    """How many ``commands`` a StreamOrdersRequest's bytes hold (-1: they do not parse as
    top-level fields). O(top-level fields)."""
    end = len(buf)
    at = 0
    n = 0
    while at < end:
        key, at = _read_varint(buf, at, end)
        if at < 0:
            return -1
        number, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
        at = _skip_unknown(buf, at, end, number, wire)
        if at < 0:
            return -1
        n += number == _COMMANDS_NUMBER
    return n


@njit(cache=True)
def read_places(buf, values, symbol_at, cancels, uint64_cap, head):  # noqa: C901 - one compiled pass over the wire bytes
    """Read a StreamOrdersRequest whose commands are all ``place`` or ``cancel``: per
    command i, ``cancels[i]`` 0 for a place and then the :data:`PLACE_COLUMNS` of its
    PlaceOrderRequest in ``values[i]`` (as Python reads them, but a uint64
    (client_order_id) at or above ``uint64_cap`` as ``uint64_cap``, so that it fits an
    int64) and the byte range of its symbol in ``symbol_at[i]``; for a cancel, its
    orig_client_order_id in ``cancels[i]`` (``values[i]`` and ``symbol_at[i]`` zero); the
    request's batch_id and cancel_on_disconnect (0 or 1) into ``head`` (uint64, 2 entries).
    Returns 1 if the symbols of the places are all the same, 0 if not, -1 if the request
    holds anything else (a replace, an empty or repeated oneof, a field of an unexpected
    wire type, a cancel's orig_client_order_id outside 1..``uint64_cap`` - 1, a count
    other than ``len(values)``): the caller then reads the message the ordinary way.
    O(bytes)."""
    end = len(buf)
    n = values.shape[0]
    at = 0
    i = 0
    same = 1
    first = -1  # the first place: the symbol the others are compared with
    head[0] = 0
    head[1] = 0
    while at < end:
        key, at = _read_varint(buf, at, end)
        if at < 0:
            return -1
        number, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
        if number == _BATCH_ID_NUMBER or number == _CANCEL_NUMBER:
            if wire != _VARINT:
                return -1
            value, at = _read_varint(buf, at, end)
            if at < 0:
                return -1
            if number == _BATCH_ID_NUMBER:
                head[0] = value
            else:
                head[1] = 1 if value != 0 else 0
            continue
        if number != _COMMANDS_NUMBER:
            at = _skip_unknown(buf, at, end, number, wire)
            if at < 0:
                return -1
            continue
        if wire != _LENGTH_DELIMITED or i >= n:
            return -1
        length, at = _read_varint(buf, at, end)
        if at < 0 or length > np.uint64(end - at):
            return -1
        cmd_end = at + np.int64(length)
        places = 0
        while at < cmd_end:  # OrderCommand: exactly one field, place or cancel
            key, at = _read_varint(buf, at, cmd_end)
            if at < 0 or (key != _PLACE_KEY and key != _CANCEL_KEY) or places:
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
            cancels[i] = 0
            if key == _CANCEL_KEY:
                at = _read_cancel(buf, at, place_end, cancels, i, uint64_cap)
                if at < 0:
                    return -1
                continue
            while at < place_end:  # PlaceOrderRequest
                key, at = _read_varint(buf, at, place_end)
                if at < 0:
                    return -1
                number, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
                if number == _SYMBOL_NUMBER:
                    if wire != _LENGTH_DELIMITED:
                        return -1
                    length, at = _read_varint(buf, at, place_end)
                    if at < 0 or length > np.uint64(place_end - at):
                        return -1
                    symbol_at[i, 0] = at
                    at += np.int64(length)
                    symbol_at[i, 1] = at
                elif number < len(_PLACE_COLUMN_OF) and _PLACE_COLUMN_OF[number] >= 0:
                    if wire != _VARINT:
                        return -1
                    value, at = _read_varint(buf, at, place_end)
                    if at < 0:
                        return -1
                    j = _PLACE_COLUMN_OF[number]
                    read_as = _PLACE_READ_AS[number]
                    if read_as == _AS_CAPPED_UINT64:
                        values[i, j] = np.int64(value) if value < np.uint64(uint64_cap) else uint64_cap
                    elif read_as == _AS_BOOL:
                        values[i, j] = 1 if value != 0 else 0
                    elif read_as == _AS_INT64:
                        values[i, j] = _int64(value)
                    else:
                        values[i, j] = _int32(value)
                else:
                    at = _skip_unknown(buf, at, place_end, number, wire)
                    if at < 0:
                        return -1
            if at != place_end:
                return -1
        if places != 1 or at != cmd_end:
            return -1
        if cancels[i] == 0 and first < 0:
            first = i
        elif cancels[i] == 0 and same:
            a0, a1, b0 = symbol_at[first, 0], symbol_at[first, 1], symbol_at[i, 0]
            if symbol_at[i, 1] - b0 != a1 - a0:
                same = 0
            else:
                for k in range(a1 - a0):
                    if buf[a0 + k] != buf[b0 + k]:
                        same = 0
                        break
        i += 1
    return same if i == n else -1


@njit(cache=True)
def _read_cancel(buf, at, end, cancels, i, uint64_cap):
    """Read the CancelOrderRequest in ``buf[at:end]``: its orig_client_order_id into
    ``cancels[i]``; the offset after it, -1 if it is malformed or the id is outside
    1..``uint64_cap`` - 1 (protobuf reads it then, and the error quotes it whole)."""
    while at < end:
        key, at = _read_varint(buf, at, end)
        if at < 0:
            return -1
        if key == _ORIG_KEY:
            value, at = _read_varint(buf, at, end)
            if at < 0:
                return -1
            cancels[i] = np.int64(value) if value < np.uint64(uint64_cap) else 0
        else:
            number = np.int64(key >> np.uint64(3))
            if number == _ORIG_NUMBER:
                return -1  # of another wire type
            at = _skip_unknown(buf, at, end, number, np.int64(key & np.uint64(7)))
            if at < 0:
                return -1
    return at if at == end and cancels[i] > 0 else -1


# ---------------------------------------------------------------- execution reports to the wire

_REPORT_FIELDS = sorted(types_pb2.ExecutionReport.DESCRIPTOR.fields, key=lambda f: f.number)
REPORT_COLUMNS = tuple(f.name for f in _REPORT_FIELDS)
"""The columns of :func:`encode_reports`: every ExecutionReport field, in field-number
order (the order protobuf writes them in)."""
_TEXT, _SYMBOL = REPORT_COLUMNS.index("text"), REPORT_COLUMNS.index("symbol")
_VARINT_TYPES = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_INT64,
                 FieldDescriptor.TYPE_ENUM)


def _report_keys() -> np.ndarray:
    """The wire key of each of the :data:`REPORT_COLUMNS`."""
    keys = []
    for f in _REPORT_FIELDS:
        string = f.type == FieldDescriptor.TYPE_STRING and f.name in ("text", "symbol")
        if f.is_repeated or not (string or f.type in _VARINT_TYPES):
            raise TypeError(f"encode_reports writes singular varints, text and symbol, not ExecutionReport.{f.name}")
        keys.append(_key(f.number, _LENGTH_DELIMITED if string else _VARINT))
    return np.array(keys, np.uint64)


_REPORT_KEYS = _report_keys()


def varint_bytes(value: int) -> bytes:
    """An unsigned varint as protobuf writes it (7 bits a byte, low first)."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_field(number: int, value: int) -> bytes:
    """A singular unsigned varint field (uint64, uint32, bool) on the wire, as protobuf
    writes it: nothing for 0."""
    return varint_bytes(_key(number, _VARINT)) + varint_bytes(value) if value else b""
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
    """Byte range of string column ``j`` (text or symbol) of reference ``ref``."""
    k = np.int64(ref) - 1
    if j == _TEXT:
        return text_at[k], text_at[k + 1]
    return symbol_at[k], symbol_at[k + 1]


_KEY_SIZES = np.array([len(varint_bytes(int(key))) for key in _REPORT_KEYS], np.int64)
_MOST_VARINT = 10  # bytes of the longest varint (a uint64)


@njit(cache=True)
def encode_reports(values, text_buf, text_at, symbol_buf, symbol_at, reports_key):
    """Wire bytes of one entry of a repeated ExecutionReport field (key ``reports_key``)
    per row of ``values`` (uint64, the :data:`REPORT_COLUMNS`, zeros omitted as proto3
    does). The text and symbol columns hold 0 for empty, else 1 + an index into their
    table (entry k: ``buf[at[k]:at[k + 1]]``). One pass: each report is written with a
    1-byte length, moved along in the rare case its length needs more. O(output bytes)."""
    n, width = values.shape
    key = np.uint64(reports_key)
    room = 0  # an upper bound of the output: every field at its longest
    for j in range(width):
        room += _KEY_SIZES[j] + _MOST_VARINT
    room = n * (room + 2 * _MOST_VARINT)
    for i in range(n):
        for j in (_TEXT, _SYMBOL):
            if values[i, j] != 0:
                start, end = _string_field(j, values[i, j], text_at, symbol_at)
                room += max(end - start, 0)
    out = np.empty(room, np.uint8)
    at = 0
    for i in range(n):
        at = _put_varint(out, at, key)
        body = at + 1
        p = body
        for j in range(width):
            value = values[i, j]
            if value == 0:
                continue
            if j == _TEXT or j == _SYMBOL:
                start, end = _string_field(j, value, text_at, symbol_at)
                if end > start:
                    p = _put_varint(out, p, _REPORT_KEYS[j])
                    p = _put_varint(out, p, np.uint64(end - start))
                    for b in range(start, end):
                        out[p] = text_buf[b] if j == _TEXT else symbol_buf[b]
                        p += 1
            else:
                p = _put_varint(out, p, _REPORT_KEYS[j])
                p = _put_varint(out, p, value)
        size = p - body
        extra = _varint_size(np.uint64(size)) - 1
        if extra:  # the length takes more than its byte: move the report along
            for k in range(p - 1, body - 1, -1):
                out[k + extra] = out[k]
        at = _put_varint(out, at, np.uint64(size)) + size
    return out[:at]
