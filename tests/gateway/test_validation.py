"""Validation of order requests in the gateway, row by row against the rules, and the
stream path that reads orders from the wire against the per-command one."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from exchange.gateway import validation
from exchange.gateway.errors import GatewayError, GatewayReason
from exchange.gateway.validation import place_command, place_commands
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from tests.gateway_harness import SYMBOL, listed_instruments as _instruments


def _order(**fields):
    base = dict(symbol=SYMBOL, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
                time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=1800, qty=4, client_order_id=1)
    return trading_pb2.PlaceOrderRequest(**{**base, **fields})


def _errors(problems: dict) -> dict:
    """Comparable contents of a problems dict (index -> GatewayError)."""
    return {i: (e.code, e.message, e.reason, e.metadata) for i, e in problems.items()}


def test_a_mixed_batch_keeps_the_good_orders_and_names_each_fault():
    reqs = [
        _order(client_order_id=1),
        _order(side=types_pb2.SIDE_UNSPECIFIED, client_order_id=2),
        _order(symbol="H100-80G.nowhere.20261125T14", client_order_id=3),
        _order(symbol="H100-80G.jiaxing.20261125T15", client_order_id=4),
        _order(price_fen=99, client_order_id=5),
        _order(qty=5000, client_order_id=6),
        _order(order_type=types_pb2.ORDER_TYPE_MARKET, price_fen=0, client_order_id=7),
        _order(order_type=types_pb2.ORDER_TYPE_MARKET, price_fen=0, time_in_force=types_pb2.TIME_IN_FORCE_IOC,
               client_order_id=8),
        _order(time_in_force=types_pb2.TIME_IN_FORCE_GTD, client_order_id=9),
        _order(post_only=True, time_in_force=types_pb2.TIME_IN_FORCE_IOC, client_order_id=10),
        _order(client_order_id=0),
        _order(symbol="910B.ningxia.20261125T14", side=types_pb2.SIDE_SELL, price_fen=400, client_order_id=12,
               self_trade_prevention=types_pb2.SELF_TRADE_PREVENTION_DECREMENT, post_only=True),
    ]
    batch, problems = place_commands(reqs, 7, _instruments())
    words = {i: e.message for i, e in problems.items()}
    assert sorted(words) == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert "side" in words[1] and "nowhere" in words[2] and "not listed" in words[3]
    assert "band" in words[4] and "lot limits" in words[5] and "IOC or FOK" in words[6]
    assert "expire_time_ns" in words[8] and "post_only" in words[9] and "client_order_id" in words[10]
    assert problems[3].code.name == "NOT_FOUND" and problems[1].code.name == "INVALID_ARGUMENT"
    assert batch["clord"].tolist() == [1, 8, 12]
    assert batch["instrument"].tolist() == [0, 0, 1] and set(batch["account"].tolist()) == {7}
    assert batch["order_type"].tolist() == [1, 2, 1] and batch["flags"].tolist() == [0, 0, 1]
    assert batch["stp"].tolist() == [1, 1, 4] and batch["price"].tolist() == [1800, 0, 400]


def test_all_refused_gives_an_empty_batch():
    batch, problems = place_commands([_order(symbol="nope")], 1, _instruments())
    assert len(batch) == 0 and list(problems) == [0]


def test_one_order_takes_the_scalar_path_with_the_same_outcome_as_the_columns():
    """place_command(r) (a unary call's) checks one order as Python ints; a batch checks
    columns. Each request below must come out the same both ways (record or error code
    and message)."""
    good = _order(client_order_id=999)
    cases = [
        _order(), _order(side=types_pb2.SIDE_SELL, price_fen=1810, self_trade_prevention=2),
        _order(side=types_pb2.SIDE_UNSPECIFIED), _order(symbol="H100-80G.nowhere.20261125T14"),
        _order(symbol="H100-80G.jiaxing.20261125T15"), _order(symbol=""), _order(price_fen=99),
        _order(price_fen=1801), _order(price_fen=-1800), _order(qty=0), _order(qty=5000),
        _order(order_type=types_pb2.ORDER_TYPE_MARKET, price_fen=0),
        _order(order_type=types_pb2.ORDER_TYPE_MARKET, price_fen=0, time_in_force=types_pb2.TIME_IN_FORCE_FOK),
        _order(order_type=types_pb2.ORDER_TYPE_MARKET, price_fen=5, time_in_force=types_pb2.TIME_IN_FORCE_IOC),
        _order(order_type=7), _order(time_in_force=0), _order(time_in_force=9),
        _order(time_in_force=types_pb2.TIME_IN_FORCE_GTD),
        _order(time_in_force=types_pb2.TIME_IN_FORCE_GTD, expire_time_ns=1_900_000_000 * 10**9),
        _order(expire_time_ns=5), _order(post_only=True),
        _order(post_only=True, time_in_force=types_pb2.TIME_IN_FORCE_FOK),
        _order(self_trade_prevention=-1), _order(self_trade_prevention=99), _order(client_order_id=0),
        _order(client_order_id=2**64 - 1), _order(client_order_id=2**40),
        _order(symbol="910B.ningxia.20261125T14", side=types_pb2.SIDE_SELL, price_fen=400, post_only=True),
    ]
    instruments = _instruments()
    for req in cases:
        many, many_problems = place_commands([req, good], 7, instruments)
        if 0 in many_problems:
            with pytest.raises(GatewayError) as refused:
                place_command(req, 7, instruments)
            assert (refused.value.code, refused.value.message, refused.value.reason, refused.value.metadata) == \
                (many_problems[0].code, many_problems[0].message, many_problems[0].reason,
                 many_problems[0].metadata), req
        else:
            one = place_command(req, 7, instruments)
            assert one.dtype == many.dtype and one.tobytes() == many[:1].tobytes(), req


def _wire_cases(rng: np.random.Generator, n: int) -> list:
    """Place requests hitting every check (and none), with odd wire values."""
    symbols = [SYMBOL, SYMBOL, SYMBOL, "910B.ningxia.20261125T14", "H100-80G.nowhere.20261125T14",
               "H100-80G.jiaxing.20261125T15", "", "not a symbol", "H100-80G.jiaxing.20261125T14 ",
               "H100-80G.嘉兴.20261125T14"]
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    out = []
    for _ in range(n):
        fields = dict(
            symbol=pick(symbols), side=pick([1, 1, 2, 2, 0, 3, -1, 2**31 - 1, -2**31]),
            order_type=pick([1, 1, 1, 2, 0, 7, -5]), time_in_force=pick([1, 1, 2, 3, 4, 0, 9, -1]),
            price_fen=pick([1800, 1810, 400, 0, 99, 1801, -1800, 2**63 - 1, -2**63, 5]),
            qty=pick([4, 1, 0, 5000, -3, 2**63 - 1, -2**63]),
            client_order_id=pick([1, 2, 999, 0, (1 << 43) - 1, 1 << 43, 2**64 - 1, 2**63]),
            expire_time_ns=pick([0, 0, 0, 5, -5, 1_900_000_000 * 10**9]), post_only=pick([False, False, True]),
            self_trade_prevention=pick([0, 0, 1, 2, 3, 4, 5, -1, 99]))
        out.append(trading_pb2.PlaceOrderRequest(**fields))
    return out


def _parsed(data: bytes) -> validation.StreamRequest:
    """The request as protobuf reads it (the per-command path)."""
    message = trading_pb2.StreamOrdersRequest.FromString(data)
    return validation.StreamRequest(message.batch_id, message.cancel_on_disconnect, data, None, message)


def test_stream_orders_from_the_wire_are_those_of_the_per_command_path():
    """The compiled reader of a StreamOrdersRequest's bytes gives the same records, the
    same problems (index and message, every validation rule), batch_id and
    cancel_on_disconnect as protobuf's message read field by field, for orders alone and
    with cancels among them; requests it does not take (another command kind) go that way."""
    rng = np.random.default_rng(20261125)
    instruments = _instruments()
    for trial in range(300):
        n = int(rng.integers(0, 40))
        places = _wire_cases(rng, n)
        if trial % 3 == 0:  # all valid-ish: one symbol, so the single-lookup branch runs
            places = [trading_pb2.PlaceOrderRequest(symbol=SYMBOL, side=1 + i % 2, order_type=1, time_in_force=1,
                                                    price_fen=1800 + 10 * (i % 3), qty=1 + i % 7,
                                                    client_order_id=100 + i) for i in range(n)]
        orders = [trading_pb2.OrderCommand(place=p) for p in places]
        if trial % 2:  # cancels among them (of ids in range: the kernel takes those)
            for _ in range(int(rng.integers(1, 6))):
                orig = int(rng.integers(1, validation.CLORD_LIMIT))
                cancel = trading_pb2.CancelOrderRequest(orig_client_order_id=orig)
                orders.insert(int(rng.integers(0, len(orders) + 1)), trading_pb2.OrderCommand(cancel=cancel))
        message = trading_pb2.StreamOrdersRequest(batch_id=trial * 2**57 % 2**64,
                                                  cancel_on_disconnect=bool(trial % 2), commands=orders)
        if trial % 5 == 4 and n and not trial % 2:  # an unknown field in one order and in the request: skipped
            raw = bytearray(message.commands[0].place.SerializeToString()) + b"\x98\x06\x07"  # field 99 = 7
            message.commands[0].place.ParseFromString(bytes(raw))
        data = message.SerializeToString()
        if trial % 5 == 4:
            data += b"\x98\x06\x07"
        read = validation.read_stream_request(data)
        assert read.places is not None and read.message is None, trial  # orders and cancels: from the wire
        assert (read.batch_id, read.cancel_on_disconnect) == (message.batch_id, message.cancel_on_disconnect)
        want = validation.stream_commands(_parsed(data), 7, instruments)
        got = validation.stream_commands(read, 7, instruments)
        assert got[0].tolist() == want[0].tolist() and _errors(got[1]) == _errors(want[1])
        assert list(read.commands()) == list(message.commands)


def test_stream_requests_the_reader_declines_are_parsed_or_refused_by_protobuf():
    """Not a plain batch of orders: the kernel declines and protobuf reads the message;
    bytes protobuf refuses are a MALFORMED_REQUEST error, whichever side would have read them."""
    instruments = _instruments()
    mixed = trading_pb2.StreamOrdersRequest(batch_id=3, commands=[
        trading_pb2.OrderCommand(place=_order(client_order_id=1)),
        trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=1)),
        trading_pb2.OrderCommand()])
    read = validation.read_stream_request(mixed.SerializeToString())
    assert read.places is None and read.message == mixed and read.batch_id == 3
    batch, problems = validation.stream_commands(read, 7, instruments)
    assert len(batch) == 2 and {i: e.message for i, e in problems.items()} == {
        2: "empty command: set place, cancel or replace"}
    for orig in (0, validation.CLORD_LIMIT, 2**64 - 1):  # out of range: protobuf's error quotes the id whole
        bad = trading_pb2.StreamOrdersRequest(commands=[
            trading_pb2.OrderCommand(place=_order(client_order_id=1)),
            trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=orig))])
        read = validation.read_stream_request(bad.SerializeToString())
        assert read.places is None and read.message == bad
        batch, problems = validation.stream_commands(read, 7, instruments)
        assert len(batch) == 1 and problems[1].message.startswith("orig_client_order_id must be in 1..")

    two = trading_pb2.StreamOrdersRequest(commands=[trading_pb2.OrderCommand(place=_order(client_order_id=i))
                                                    for i in (1, 2)]).SerializeToString()
    bad_utf8 = two.replace(SYMBOL.encode()[:2], b"\xff\xfe", 1)
    for data in (two[:-1], two + b"\x12", b"\x00\x01", b"\x0a\x01", bad_utf8, two + b"\x0f"):
        try:
            trading_pb2.StreamOrdersRequest.FromString(data)
        except Exception:  # noqa: BLE001 - protobuf refuses it: so must the reader
            with pytest.raises(GatewayError) as refused:
                validation.read_stream_request(data)
            assert refused.value.reason == GatewayReason.MALFORMED_REQUEST
            assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        else:
            raise AssertionError(f"protobuf took {data!r}")
