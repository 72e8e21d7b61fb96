"""The compiled protobuf codec of the gateway against the generated descriptors and the
protobuf classes themselves: the same field numbers, and bytes either side reads the same.
All ``nojit``: the kernels also run as plain Python."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given, settings, strategies as st

from exchange.gateway import wire
from exchange.proto.gpux.v1 import trading_pb2, types_pb2

pytestmark = pytest.mark.nojit

CAP = 1 << 43  # what read_places is told: a uint64 at or above it is read as it


def _fields(message: type) -> dict:
    return message.DESCRIPTOR.fields_by_name


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def test_the_codec_takes_its_field_numbers_from_the_descriptors():
    request = _fields(trading_pb2.StreamOrdersRequest)
    assert (wire._COMMANDS_NUMBER, wire._BATCH_ID_NUMBER, wire._CANCEL_NUMBER) == (
        request["commands"].number, request["batch_id"].number, request["cancel_on_disconnect"].number)
    assert set(request) == {"commands", "batch_id", "cancel_on_disconnect"}  # every field is read
    assert int(wire._PLACE_KEY) == _fields(trading_pb2.OrderCommand)["place"].number << 3 | 2
    place = _fields(trading_pb2.PlaceOrderRequest)
    assert wire._SYMBOL_NUMBER == place["symbol"].number
    assert {int(n): int(wire._PLACE_COLUMN_OF[n]) for n in np.flatnonzero(wire._PLACE_COLUMN_OF >= 0)} == {
        place[name].number: j for j, name in enumerate(wire.PLACE_COLUMNS)}
    assert set(wire.PLACE_COLUMNS) | {"symbol"} == set(place)  # every field of an order is read

    report = _fields(types_pb2.ExecutionReport)
    assert sorted(wire.REPORT_COLUMNS) == sorted(report)
    for name, key in zip(wire.REPORT_COLUMNS, wire._REPORT_KEYS.tolist()):
        assert key >> 3 == report[name].number, name
        assert key & 7 == (2 if name in ("text", "symbol") else 0), name
    assert wire.length_delimited_key(trading_pb2.StreamOrdersResponse, "reports") == \
        _fields(trading_pb2.StreamOrdersResponse)["reports"].number << 3 | 2


def _random_place(rng: np.random.Generator) -> trading_pb2.PlaceOrderRequest:
    """Every field at ordinary and extreme values, zeros (left off the wire) included."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    return trading_pb2.PlaceOrderRequest(
        symbol=pick(["H100-80G.jiaxing.20261125T14", "910B.ningxia.20261125T14", "", "H100-80G.嘉兴.20261125T14"]),
        side=pick([0, 1, 2, -1, 2**31 - 1, -2**31]), order_type=pick([0, 1, 2, 7, -5]),
        time_in_force=pick([0, 1, 4, 9, -1]), price_fen=pick([0, 1800, -1800, 2**63 - 1, -2**63]),
        qty=pick([0, 4, -3, 2**63 - 1, -2**63]),
        client_order_id=pick([0, 1, CAP - 1, CAP, 2**63, 2**64 - 1]),
        expire_time_ns=pick([0, 5, -5, 1_900_000_000 * 10**9]), post_only=pick([False, True]),
        self_trade_prevention=pick([0, 1, 4, -1, 99]))


def _as_read(place: trading_pb2.PlaceOrderRequest) -> list[int]:
    """What read_places should give for a request: the fields as Python reads them, the
    uint64 capped."""
    return [min(int(getattr(place, name)), CAP) if name == "client_order_id" else int(getattr(place, name))
            for name in wire.PLACE_COLUMNS]


def _field(number: int, body: bytes) -> bytes:
    """A length-delimited field on the wire."""
    return _varint(number << 3 | 2) + _varint(len(body)) + body


def _reordered(message: trading_pb2.StreamOrdersRequest) -> bytes:
    """The bytes of ``message`` with each order's fields in the reverse of protobuf's order
    and the other fields last (protobuf reads them as the same message)."""
    commands, place = _fields(trading_pb2.StreamOrdersRequest)["commands"].number, \
        _fields(trading_pb2.OrderCommand)["place"].number
    orders = b"".join(
        _field(commands, _field(place, b"".join(trading_pb2.PlaceOrderRequest(**{f.name: v}).SerializeToString()
                                                for f, v in reversed(cmd.place.ListFields()))))
        for cmd in message.commands)
    rest = trading_pb2.StreamOrdersRequest(batch_id=message.batch_id, cancel_on_disconnect=message.cancel_on_disconnect)
    return orders + rest.SerializeToString()


def test_orders_written_by_protobuf_are_read_by_the_kernel_as_python_reads_them():
    rng = np.random.default_rng(17)
    for trial in range(200):
        n = int(rng.integers(1, 12))
        places = [_random_place(rng) for _ in range(n)]
        if trial % 4 == 0:  # one symbol throughout: the kernel says so
            for p in places:
                p.symbol = "H100-80G.jiaxing.20261125T14"
        message = trading_pb2.StreamOrdersRequest(batch_id=trial, cancel_on_disconnect=bool(trial % 2),
                                                  commands=[trading_pb2.OrderCommand(place=p) for p in places])
        data = message.SerializeToString()
        if trial % 3 == 0:
            data = _reordered(message)
            assert trading_pb2.StreamOrdersRequest.FromString(data) == message
        got = _read(data)
        assert got is not None
        head, rows, symbols, same, cancels = got
        assert cancels == [0] * n
        assert head == [message.batch_id, message.cancel_on_disconnect]
        assert rows == [_as_read(p) for p in places]
        assert symbols == [p.symbol for p in places]
        assert same == (len({p.symbol for p in places}) == 1)


def _read(data: bytes) -> tuple[list[int], list[list[int]], list[str], int, list[int]] | None:
    """What count_commands and read_places read from ``data`` (head, rows, symbols,
    same, cancels), or None if they decline it."""
    buf = np.frombuffer(data, np.uint8)
    n = wire.count_commands(buf)
    if n < 0:
        return None
    values = np.empty((n, len(wire.PLACE_COLUMNS)), np.int64)
    symbol_at = np.empty((n, 2), np.int64)
    cancels = np.empty(n, np.int64)
    head = np.zeros(2, np.uint64)
    same = wire.read_places(buf, values, symbol_at, cancels, CAP, head)
    if same < 0:
        return None
    try:
        symbols = [data[a:b].decode() for a, b in symbol_at.tolist()]
    except UnicodeDecodeError:
        return None
    return [int(x) for x in head], values.tolist(), symbols, same, cancels.tolist()


_int32s = st.sampled_from([0, 1, 2, 3, 4, -1, 2**31 - 1, -2**31]) | st.integers(-2**31, 2**31 - 1)
_int64s = st.sampled_from([0, 1, 1800, -1800, 2**63 - 1, -2**63]) | st.integers(-2**63, 2**63 - 1)
_places = st.builds(
    trading_pb2.PlaceOrderRequest,
    symbol=st.sampled_from(["H100-80G.jiaxing.20261125T14", "910B.ningxia.20261125T14", ""]) | st.text(max_size=8),
    side=_int32s, order_type=_int32s, time_in_force=_int32s, price_fen=_int64s, qty=_int64s,
    client_order_id=st.sampled_from([0, 1, CAP - 1, CAP, 2**64 - 1]) | st.integers(0, 2**64 - 1),
    expire_time_ns=_int64s, post_only=st.booleans(), self_trade_prevention=_int32s)
_commands = st.one_of(
    st.builds(trading_pb2.OrderCommand, place=_places),
    st.builds(lambda c: trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=c)),
              st.sampled_from([0, 1, 7, CAP - 1, CAP, 2**64 - 1]) | st.integers(0, 2**64 - 1)),
    st.just(trading_pb2.OrderCommand()))
_requests = st.builds(trading_pb2.StreamOrdersRequest, batch_id=st.integers(0, 2**64 - 1),
                      commands=st.lists(_commands, max_size=12), cancel_on_disconnect=st.booleans())


@settings(max_examples=300)
@given(_requests, st.data())
def test_random_requests_and_their_damaged_bytes_read_as_protobuf_reads_them(message, data):
    """Random StreamOrdersRequests, whole or with bytes cut, flipped or appended: whatever
    the kernels take, protobuf parses to the same message (the same head, orders, cancels
    and symbols); a request of place commands and cancels of ids in 1..CAP - 1 only,
    intact, they always take."""
    raw = bytearray(message.SerializeToString())
    damage = data.draw(st.sampled_from(["none", "cut", "flip", "append"]))
    if damage == "cut" and raw:
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip" and raw:
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    elif damage == "append":
        raw += data.draw(st.binary(min_size=1, max_size=6))
    got = _read(bytes(raw))
    try:
        parsed = trading_pb2.StreamOrdersRequest.FromString(bytes(raw))
    except Exception:  # noqa: BLE001 - protobuf refuses the bytes: the kernels must too
        assert got is None
        return
    readable = all(c.WhichOneof("command") == "place"
                   or (c.WhichOneof("command") == "cancel" and 0 < c.cancel.orig_client_order_id < CAP)
                   for c in parsed.commands)
    if got is None:
        assert damage != "none" or not readable
        return
    head, rows, symbols, same, cancels = got
    assert readable
    assert head == [parsed.batch_id, int(parsed.cancel_on_disconnect)]
    placed = trading_pb2.PlaceOrderRequest()  # a cancel's row: nothing read
    assert rows == [_as_read(c.place if c.WhichOneof("command") == "place" else placed) for c in parsed.commands]
    assert symbols == [c.place.symbol for c in parsed.commands]
    assert cancels == [c.cancel.orig_client_order_id for c in parsed.commands]
    assert bool(same) == (len({c.place.symbol for c in parsed.commands if c.WhichOneof("command") == "place"}) <= 1)


def _random_reports(rng: np.random.Generator, n: int, texts: list[str], symbols: list[str]
                    ) -> tuple[np.ndarray, list[types_pb2.ExecutionReport]]:
    """Report columns at random values of each field's type (a third of them 0), and the
    same reports built by protobuf."""
    fields = _fields(types_pb2.ExecutionReport)
    ranges = {FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
              FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_ENUM: (-2**31, 2**31 - 1)}
    values = np.zeros((n, len(wire.REPORT_COLUMNS)), np.uint64)
    made = []
    for i in range(n):
        kwargs = {}
        for j, name in enumerate(wire.REPORT_COLUMNS):
            if rng.random() < 1 / 3:
                continue
            if name in ("text", "symbol"):
                table = texts if name == "text" else symbols
                k = int(rng.integers(len(table)))
                values[i, j], kwargs[name] = k + 1, table[k]
            else:
                lo, hi = ranges[fields[name].type]
                options = [lo, hi, 1, -1 if lo < 0 else 2, int(rng.integers(0, 2**31))]
                value = options[int(rng.integers(len(options)))]
                values[i, j], kwargs[name] = value % 2**64, value
        made.append(types_pb2.ExecutionReport(**kwargs))
    return values, made


def _table(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode() for s in strings]
    at = np.zeros(len(encoded) + 1, np.int64)
    at[1:] = np.cumsum([len(e) for e in encoded])
    return np.frombuffer(b"".join(encoded), np.uint8), at


def test_reports_written_by_the_kernel_are_the_bytes_protobuf_writes():
    rng = np.random.default_rng(25)
    texts = ["the price is outside the class's price band", "", "已拒绝"]
    symbols = ["H100-80G.jiaxing.20261125T14", "910B.ningxia.20261125T14", ""]
    text_buf, text_at = _table(texts)
    symbol_buf, symbol_at = _table(symbols)
    for response in (trading_pb2.StreamOrdersResponse, trading_pb2.PlaceOrderResponse):
        key = wire.length_delimited_key(response, "reports")
        for n in (0, 1, 5, 60):
            values, made = _random_reports(rng, n, texts, symbols)
            data = wire.encode_reports(values, text_buf, text_at, symbol_buf, symbol_at, key).tobytes()
            assert data == response(reports=made).SerializeToString(), (response, n)
            assert response.FromString(data) == response(reports=made)

    for number, value in ((1, 0), (1, 1), (1, 2**64 - 1), (3, 1), (200, 300)):
        assert wire.varint_field(number, value) == (_varint(number << 3) + _varint(value) if value else b"")
    assert wire.varint_field(1, 2**64 - 1) == trading_pb2.StreamOrdersResponse(batch_id=2**64 - 1).SerializeToString()

    long_texts = ["x" * 20_000]  # a report whose length takes three bytes
    values, made = _random_reports(rng, 3, long_texts, symbols)
    values[:, wire.REPORT_COLUMNS.index("text")] = 1
    for report in made:
        report.text = long_texts[0]
    long_buf, long_at = _table(long_texts)
    key = wire.length_delimited_key(trading_pb2.StreamOrdersResponse, "reports")
    data = wire.encode_reports(values, long_buf, long_at, symbol_buf, symbol_at, key).tobytes()
    assert data == trading_pb2.StreamOrdersResponse(reports=made).SerializeToString()

    far_key = 200 << 3 | 2  # a field number whose key takes two bytes
    values, made = _random_reports(rng, 4, texts, symbols)
    data = wire.encode_reports(values, text_buf, text_at, symbol_buf, symbol_at, far_key).tobytes()
    assert data == b"".join(_varint(far_key) + _varint(r.ByteSize()) + r.SerializeToString() for r in made)
