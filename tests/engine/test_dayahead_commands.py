"""Holds and day-ahead trades in the engines (schema: "Holds and day-ahead trades"),
run against every engine: escrow, booking against the escrow, release, and every
reject."""

from __future__ import annotations

import pytest

from exchange.schema import COMMAND_DTYPE
from tests.helpers import (
    BIG,
    EV,
    GATE_TS,
    I0,
    I1,
    I2,
    Market,
    R,
    ack,
    assert_events,
    da_trade,
    ev,
    hold_capacity,
    hold_funds,
    rejected,
    release_holds,
    snapshot,
)

nojit = pytest.mark.nojit


def da(buyer: int, seller: int, price: int, qty: int, trade_id: int, instrument: int = I0,
       buyer_ref: int = 0, seller_ref: int = 0) -> dict:
    return ev(EV.TRADE, reason=R.DAY_AHEAD, account=buyer, instrument=instrument, clord=buyer_ref,
              side=1, price=price, qty=qty, contra_account=seller, contra_clord=seller_ref,
              trade_id=trade_id)


@nojit
def test_holds_escrow_and_day_ahead_trades_consume_them(market: Market) -> None:
    m = market
    m.fund(1, 10_000)
    m.provide(3, I0, 20)
    m.buy(1, 500, 4, 1)  # reserves 2,000 of the 10,000
    assert_events(m.hold_funds(1, 9_000), [ack(1, 0, 8_000)])  # only what is available
    assert m.engine.account(1).available == 0
    assert_events(m.buy(1, 100, 1, 2), [rejected(R.INSUFFICIENT_FUNDS, 1, I0, 1, 100, 1, 2)])
    m.sell(3, 600, 5, 1)  # offers 5 of 20
    assert_events(m.hold_capacity(3, I0, 30), [ack(3, I0, 15)])
    assert m.engine.position(3, I0).free == 0
    assert_events(m.hold_capacity(4, I0, 1), [ack(4, I0, 0)])  # nothing to hold
    m.verify()
    assert_events(m.da_trade(1, 3, I0, 550, 10, buyer_ref=7, seller_ref=8), [
        da(1, 3, 550, 10, 1, buyer_ref=7, seller_ref=8), ack(1, I0, 10)])
    assert m.money(1) == (10_000 - 5_500, 0, 2_000)
    assert m.engine.account(1).held == 8_000 - 5_500
    assert m.pos(1) == (0, 10, 0, 0)
    assert m.pos(3) == (20, 0, 10, 5) and m.engine.position(3, I0).held == 5
    assert m.money(3) == (5_500, 0, 0)
    assert m.engine.book(I0).reference == 550  # the last trade
    # more than the holds
    assert_events(m.da_trade(1, 3, I0, 550, 5), [rejected(R.INSUFFICIENT_FUNDS, 1, I0, 0, 550, 5)])
    assert_events(m.da_trade(1, 3, I0, 400, 6), [rejected(R.INSUFFICIENT_CAPACITY, 1, I0, 0, 400, 6)])
    m.verify()
    assert_events(m.release_holds(), [ack(-1, 0, 0)])
    assert m.engine.account(1).held == 0 and m.engine.position(3, I0).held == 0
    assert m.engine.account(1).available == 10_000 - 5_500 - 2_000
    assert m.engine.position(3, I0).free == 5
    m.verify()


@nojit
def test_release_holds_of_one_account(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.hold_funds(1, 100)
    m.hold_funds(2, 100)
    assert_events(m.release_holds(1), [ack(1, 0, 0)])
    assert (m.engine.account(1).held, m.engine.account(2).held) == (0, 100)
    assert m.engine.account(2).available == BIG - 100
    m.verify()


HOLD_REJECTS = [
    ("hold-funds-account", hold_funds(16, 1), R.UNKNOWN_ACCOUNT, None),
    ("hold-funds-zero", hold_funds(1, 0), R.BAD_AMOUNT, None),
    ("hold-cap-account", hold_capacity(-1, I0, 1), R.UNKNOWN_ACCOUNT, None),
    ("hold-cap-instrument", hold_capacity(3, 9, 1), R.UNKNOWN_INSTRUMENT, None),
    ("hold-cap-qty", hold_capacity(3, I0, 0), R.QUANTITY_OUT_OF_LIMITS, None),
    ("hold-cap-gate", hold_capacity(3, I0, 1), R.GATE_CLOSED, GATE_TS),
    ("da-buyer", da_trade(16, 3, I0, 500, 1), R.UNKNOWN_ACCOUNT, None),
    ("da-seller", da_trade(1, -1, I0, 500, 1), R.UNKNOWN_ACCOUNT, None),
    ("da-same", da_trade(3, 3, I0, 500, 1), R.SAME_ACCOUNT, None),
    ("da-instrument", da_trade(1, 3, 5, 500, 1), R.UNKNOWN_INSTRUMENT, None),
    ("da-qty", da_trade(1, 3, I0, 500, 0), R.QUANTITY_OUT_OF_LIMITS, None),
    ("da-qty-lot", da_trade(1, 3, I0, 500, 101), R.QUANTITY_OUT_OF_LIMITS, None),
    ("da-tick", da_trade(1, 3, I0, 502, 1), R.PRICE_NOT_ON_TICK, None),
    ("da-band", da_trade(1, 3, I2, 501, 1), R.PRICE_OUT_OF_BAND, None),
    ("da-gate", da_trade(1, 3, I0, 500, 1), R.GATE_CLOSED, GATE_TS),
    ("da-funds", da_trade(1, 3, I1, 500, 1), R.INSUFFICIENT_FUNDS, None),
    ("da-capacity", da_trade(1, 4, I0, 500, 1), R.INSUFFICIENT_CAPACITY, None),
    ("release-account", release_holds(16), R.UNKNOWN_ACCOUNT, None),
]


@nojit
@pytest.mark.parametrize("name, command, reason, ts", HOLD_REJECTS, ids=[c[0] for c in HOLD_REJECTS])
def test_hold_and_da_rejects_change_nothing(market: Market, name, command, reason, ts) -> None:
    m = market
    m.fund(1, 1_000)
    m.provide(3, I0, 10)
    m.provide(4, I0, 10)
    m.hold_funds(1, 600)  # funds held for I0 and I1 alike: one account-wide hold
    m.hold_capacity(3, I0, 10)
    if name == "da-funds":
        m.da_trade(1, 3, I0, 500, 1)  # leaves 100 held: not enough for 500 more
    before = snapshot(m.engine)
    events = m.do(command, ts)
    c = dict(zip(COMMAND_DTYPE.names, map(int, command[0])))
    assert_events(events, [rejected(reason, c["account"], c["instrument"], c["side"], c["price"], c["qty"],
                                    c["clord"])])
    assert snapshot(m.engine) == before
