"""Validation of order batches in the gateway, row by row against the rules."""

from __future__ import annotations

from exchange.catalog import Listing, default_catalog
from exchange.gateway.convert import Instruments, place_commands
from exchange.proto.gpux.v1 import trading_pb2, types_pb2

SYMBOL = "H100-80G.jiaxing.20261125T14"


def _instruments() -> Instruments:
    catalog = default_catalog()
    listing = Listing(catalog)
    listing.add(SYMBOL)
    listing.add("910B.ningxia.20261125T14")
    return Instruments(listing, catalog)


def _order(**fields):
    base = dict(symbol=SYMBOL, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
                time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=1800, qty=4, client_order_id=1)
    return trading_pb2.PlaceOrderRequest(**{**base, **fields})


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
