"""Unit tests of the rules that change resting orders (cancel, replace, self-trade
prevention, mass cancel), run against every engine (fixture ``engine_cls``); conventions
as in ``test_rules.py``.
"""

from __future__ import annotations

import pytest

from exchange.schema import CLORD_LIMIT
from tests.helpers import (
    BIG,
    BUY,
    CANCEL_BOTH,
    CANCEL_NEWEST,
    CANCEL_OLDEST,
    DECREMENT,
    GTD,
    I0,
    I1,
    SELL,
    T0,
    Market,
    O,
    R,
    accepted,
    ack,
    assert_events,
    cancelled,
    done,
    expired,
    rejected,
    replaced,
    trade,
)

nojit = pytest.mark.nojit



# ============================================================================ cancel

@nojit
def test_cancel(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    b = O(1, 1, 5, BUY, 500)
    m.buy(1, 500, 10, 5)
    assert m.money(1) == (BIG, 0, 5_000)
    assert_events(m.cancel(1, 5), [cancelled(b, R.USER_CANCEL, 10), done(b, 10)])
    assert m.money(1) == (BIG, 0, 0)
    assert m.levels() == ([], [])
    assert_events(m.cancel(1, 5), [rejected(R.ORDER_DONE, account=1, clord=5)])
    assert_events(m.cancel(1, 99), [rejected(R.UNKNOWN_ORDER, account=1, clord=99)])
    assert_events(m.cancel(2, 5), [rejected(R.UNKNOWN_ORDER, account=2, clord=5)])
    assert_events(m.cancel(16, 5), [rejected(R.UNKNOWN_ACCOUNT, account=16, clord=5)])
    # a partly filled order: the cancel takes the leaves
    b2 = O(1, 2, 6, BUY, 500)
    m.buy(1, 500, 10, 6)
    m.sell(3, 500, 3, 1)
    assert m.pos(3) == (100, 0, 3, 0)
    assert_events(m.cancel(1, 6), [
        cancelled(b2, R.USER_CANCEL, 7, leaves=0, filled=3), done(b2, 10, filled=3),
    ])
    assert m.money(1) == (BIG - 1_500, 0, 0)
    # a fully filled order is done
    assert_events(m.cancel(3, 1), [rejected(R.ORDER_DONE, account=3, clord=1)])


# ============================================================================ replace

def _two_bids(m: Market, first_qty: int) -> dict:
    """Buyers 1 and 2 bid 500 (``first_qty``, then 5; clord 1 each), provider 3 can sell;
    the second bid's identity."""
    m.fund(1)
    m.fund(2)
    m.provide(3)
    m.buy(1, 500, first_qty, 1)
    m.buy(2, 500, 5, 1)
    return O(2, 2, 1, BUY, 500)

@nojit
def test_replace_qty_down_keeps_priority(market: Market) -> None:
    m = market
    b2 = _two_bids(m, 10)
    b1n = O(1, 1, 2, BUY, 500)
    assert_events(m.replace(1, 1, 2, 500, 6), [replaced(b1n, R.PRIORITY_KEPT, 6, leaves=6, orig=1)])
    assert m.money(1) == (BIG, 0, 3_000)
    assert m.levels() == ([(500, 11, 2)], [])
    # same price and qty: only the clord changes, priority kept
    b1nn = O(1, 1, 3, BUY, 500)
    assert_events(m.replace(1, 2, 3, 500, 6), [replaced(b1nn, R.PRIORITY_KEPT, 6, leaves=6, orig=2)])
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 7, 1), [
        accepted(s, 7),
        trade(s, b1nn, price=500, qty=6, leaves=1, filled=6, contra_leaves=0, trade_id=1),
        done(b1nn, 6, filled=6),
        trade(s, b2, price=500, qty=1, leaves=0, filled=7, contra_leaves=4, trade_id=2),
        done(s, 7, filled=7),
    ])


@nojit
def test_replace_qty_up_loses_priority(market: Market) -> None:
    m = market
    b2 = _two_bids(m, 5)
    b1n = O(1, 1, 2, BUY, 500)
    assert_events(m.replace(1, 1, 2, 500, 8), [replaced(b1n, R.PRIORITY_LOST, 8, leaves=8, orig=1)])
    assert m.money(1) == (BIG, 0, 4_000)
    assert m.levels() == ([(500, 13, 2)], [])
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 6, 1), [
        accepted(s, 6),
        trade(s, b2, price=500, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(b2, 5, filled=5),
        trade(s, b1n, price=500, qty=1, leaves=0, filled=6, contra_leaves=7, trade_id=2),
        done(s, 6, filled=6),
    ])


@nojit
def test_replace_price_change_loses_priority(market: Market) -> None:
    m = market
    b2 = _two_bids(m, 5)
    assert_events(m.replace(1, 1, 2, 495, 4), [
        replaced(O(1, 1, 2, BUY, 495), R.PRIORITY_LOST, 4, leaves=4, orig=1),
    ])
    assert m.levels() == ([(500, 5, 1), (495, 4, 1)], [])
    b1n = O(1, 1, 3, BUY, 500)
    assert_events(m.replace(1, 2, 3, 500, 4), [replaced(b1n, R.PRIORITY_LOST, 4, leaves=4, orig=2)])
    assert m.money(1) == (BIG, 0, 2_000)
    s = O(3, 3, 1, SELL, 500)
    assert_events(m.sell(3, 500, 6, 1), [
        accepted(s, 6),
        trade(s, b2, price=500, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(b2, 5, filled=5),
        trade(s, b1n, price=500, qty=1, leaves=0, filled=6, contra_leaves=3, trade_id=2),
        done(s, 6, filled=6),
    ])


@nojit
def test_replace_that_crosses_trades_then_rests(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    s1, s2 = O(3, 1, 1, SELL, 505), O(3, 2, 2, SELL, 510)
    m.sell(3, 505, 3, 1)
    m.sell(3, 510, 5, 2)
    m.buy(1, 495, 10, 1)
    assert m.money(1) == (BIG, 0, 4_950)
    bn = O(1, 3, 2, BUY, 505)
    assert_events(m.replace(1, 1, 2, 505, 10), [
        replaced(bn, R.PRIORITY_LOST, 10, leaves=10, orig=1),
        trade(bn, s1, price=505, qty=3, leaves=7, filled=3, contra_leaves=0, trade_id=1),
        done(s1, 3, filled=3),
    ])
    assert m.levels() == ([(505, 7, 1)], [(510, 5, 1)])
    assert m.money(1) == (BIG - 1_515, 0, 505 * 7)
    assert m.orders(1) == [(3, 2, 505, 7, 3)]
    # and one that fills completely is done
    bnn = O(1, 3, 3, BUY, 510)
    assert_events(m.replace(1, 2, 3, 510, 8), [
        replaced(bnn, R.PRIORITY_LOST, 8, leaves=5, filled=3, orig=2),
        trade(bnn, s2, price=510, qty=5, leaves=0, filled=8, contra_leaves=0, trade_id=2),
        done(s2, 5, filled=5),
        done(bnn, 8, filled=8),
    ])
    assert m.levels() == ([], [])
    assert m.money(1) == (BIG - 1_515 - 2_550, 0, 0)


@nojit
def test_replace_below_filled(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(3)
    m.sell(3, 500, 4, 1)
    m.buy(1, 500, 10, 1)
    assert m.orders(1) == [(2, 1, 500, 6, 4)]
    assert_events(m.replace(1, 1, 2, 500, 4), [
        rejected(R.REPLACE_BELOW_FILLED, account=1, price=500, qty=4, clord=2),
    ])
    assert_events(m.replace(1, 1, 2, 500, 5), [
        replaced(O(1, 2, 2, BUY, 500), R.PRIORITY_KEPT, 5, leaves=1, filled=4, orig=1),
    ])
    assert m.money(1) == (BIG - 2_000, 0, 500)
    assert_events(m.replace(1, 2, 3, 500, 20), [
        replaced(O(1, 2, 3, BUY, 500), R.PRIORITY_LOST, 20, leaves=16, filled=4, orig=2),
    ])
    assert m.money(1) == (BIG - 2_000, 0, 8_000)
    assert m.levels() == ([(500, 16, 1)], [])


@nojit
def test_replace_client_order_id_rules(market: Market) -> None:
    m = market
    m.fund(1)
    m.buy(1, 500, 5, 1)
    assert_events(m.replace(1, 1, 2, 500, 4), [
        replaced(O(1, 1, 2, BUY, 500), R.PRIORITY_KEPT, 4, leaves=4, orig=1),
    ])
    # the old clord no longer names the order
    assert_events(m.cancel(1, 1), [rejected(R.ORDER_DONE, account=1, clord=1)])
    assert_events(m.replace(1, 1, 3, 500, 4), [
        rejected(R.ORDER_DONE, account=1, price=500, qty=4, clord=3),
    ])
    # new clords must be fresh, including the current and the old one
    assert_events(m.replace(1, 2, 2, 500, 3), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=2),
    ])
    assert_events(m.replace(1, 2, 1, 500, 3), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=1),
    ])
    assert_events(m.replace(1, 2, 0, 500, 3), [
        rejected(R.BAD_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=0),
    ])
    assert_events(m.replace(1, 2, CLORD_LIMIT, 500, 3), [
        rejected(R.BAD_CLIENT_ORDER_ID, account=1, price=500, qty=3, clord=CLORD_LIMIT),
    ])
    assert_events(m.replace(1, 9, 3, 500, 3), [
        rejected(R.UNKNOWN_ORDER, account=1, price=500, qty=3, clord=3),
    ])
    b = O(1, 1, CLORD_LIMIT - 1, BUY, 500)
    assert_events(m.replace(1, 2, CLORD_LIMIT - 1, 500, 3), [
        replaced(b, R.PRIORITY_KEPT, 3, leaves=3, orig=2),
    ])
    assert_events(m.cancel(1, CLORD_LIMIT - 1), [cancelled(b, R.USER_CANCEL, 3), done(b, 3)])
    # clords taken by replaces cannot be reused by new orders
    assert_events(m.buy(1, 500, 1, 2), [
        rejected(R.DUPLICATE_CLIENT_ORDER_ID, account=1, instrument=I0, side=BUY, price=500,
                 qty=1, clord=2),
    ])


@nojit
def test_replace_risk_checks_the_change(market: Market) -> None:
    m = market
    m.fund(1, 10_000)
    m.buy(1, 500, 10, 1)
    assert m.money(1) == (10_000, 0, 5_000)
    assert_events(m.replace(1, 1, 2, 500, 20), [  # + 5_000 <= 5_000 available
        replaced(O(1, 1, 2, BUY, 500), R.PRIORITY_LOST, 20, leaves=20, orig=1),
    ])
    assert m.money(1) == (10_000, 0, 10_000)
    assert_events(m.replace(1, 2, 3, 505, 20), [
        rejected(R.INSUFFICIENT_FUNDS, account=1, price=505, qty=20, clord=3),
    ])
    assert_events(m.replace(1, 2, 3, 505, 19), [  # 9_595 - 10_000 < 0: always fine
        replaced(O(1, 1, 3, BUY, 505), R.PRIORITY_LOST, 19, leaves=19, orig=2),
    ])
    assert m.money(1) == (10_000, 0, 9_595)

    m.provide(3, I0, 10)
    m.sell(3, 600, 6, 1)
    assert_events(m.replace(3, 1, 2, 600, 10), [
        replaced(O(3, 2, 2, SELL, 600), R.PRIORITY_LOST, 10, leaves=10, orig=1),
    ])
    assert m.pos(3) == (10, 0, 0, 10)
    assert_events(m.replace(3, 2, 3, 600, 11), [
        rejected(R.INSUFFICIENT_CAPACITY, account=3, price=600, qty=11, clord=3),
    ])
    assert_events(m.replace(3, 2, 3, 595, 2), [
        replaced(O(3, 2, 3, SELL, 595), R.PRIORITY_LOST, 2, leaves=2, orig=2),
    ])
    assert m.pos(3) == (10, 0, 0, 2)


# ============================================================================ self-trade prevention

def _stp_setup(m: Market) -> tuple[dict, dict, dict]:
    m.fund(1)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 505)
    m.sell(1, 500, 4, 1)
    m.sell(3, 505, 5, 1)
    return own, other, O(1, 3, 2, BUY, 505)


@nojit
def test_stp_cancel_newest(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_NEWEST), [
        accepted(t, 6), cancelled(t, R.SELF_TRADE, 6), done(t, 6),
    ])
    assert m.levels() == ([], [(500, 4, 1), (505, 5, 1)])
    assert m.money(1) == (BIG, 0, 0)


@nojit
def test_stp_cancel_oldest(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_OLDEST), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        trade(t, other, price=505, qty=5, leaves=1, filled=5, contra_leaves=0, trade_id=1),
        done(other, 5, filled=5),
    ])
    assert m.levels() == ([(505, 1, 1)], [])
    assert m.pos(1) == (100, 5, 0, 0)
    assert m.money(1) == (BIG - 2_525, 0, 505)


@nojit
def test_stp_cancel_both(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=CANCEL_BOTH), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        cancelled(t, R.SELF_TRADE, 6), done(t, 6),
    ])
    assert m.levels() == ([], [(505, 5, 1)])
    assert m.pos(1) == (100, 0, 0, 0)
    assert m.money(1) == (BIG, 0, 0)


@nojit
def test_stp_decrement_taker_larger(market: Market) -> None:
    m = market
    own, other, t = _stp_setup(m)
    assert_events(m.buy(1, 505, 6, 2, stp=DECREMENT), [
        accepted(t, 6),
        cancelled(own, R.SELF_TRADE, 4), done(own, 4),
        cancelled(t, R.SELF_TRADE, 4, leaves=2),
        trade(t, other, price=505, qty=2, leaves=0, filled=2, contra_leaves=3, trade_id=1),
        done(t, 6, filled=2),
    ])
    assert m.levels() == ([], [(505, 3, 1)])
    assert m.money(1) == (BIG - 1_010, 0, 0)


@nojit
def test_stp_decrement_maker_larger_keeps_its_place(market: Market) -> None:
    m = market
    m.fund(1)
    m.fund(2)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 500)
    m.sell(1, 500, 8, 1)
    m.sell(3, 500, 2, 1)
    t = O(1, 3, 2, BUY, 500)
    assert_events(m.buy(1, 500, 5, 2, stp=DECREMENT), [
        accepted(t, 5),
        cancelled(own, R.SELF_TRADE, 5, leaves=3),
        cancelled(t, R.SELF_TRADE, 5),
        done(t, 5),
    ])
    assert m.levels() == ([], [(500, 5, 2)])
    assert m.pos(1) == (100, 0, 0, 3)
    (ov,) = m.engine.live_orders(1)
    assert (ov.order_id, ov.qty, ov.leaves, ov.filled) == (1, 8, 3, 0)
    b = O(2, 4, 1, BUY, 500)
    assert_events(m.buy(2, 500, 4, 1), [  # the decremented order is still first
        accepted(b, 4),
        trade(b, own, price=500, qty=3, leaves=1, filled=3, contra_leaves=0, trade_id=1),
        done(own, 8, filled=3),
        trade(b, other, price=500, qty=1, leaves=0, filled=4, contra_leaves=1, trade_id=2),
        done(b, 4, filled=4),
    ])


@nojit
def test_replace_after_decrement_counts_removed_qty(market: Market) -> None:
    """Rule O6: leaves after a replace = qty - filled - removed."""
    m = market
    m.fund(1)
    m.provide(1)
    m.sell(1, 500, 8, 1)
    m.buy(1, 500, 5, 2, stp=DECREMENT)  # the sell: qty 8, leaves 3, removed 5
    assert_events(m.replace(1, 1, 3, 500, 5), [
        rejected(R.REPLACE_BELOW_FILLED, account=1, price=500, qty=5, clord=3),
    ])
    assert_events(m.replace(1, 1, 3, 500, 7), [
        replaced(O(1, 1, 3, SELL, 500), R.PRIORITY_KEPT, 7, leaves=2, orig=1),
    ])
    assert m.pos(1) == (100, 0, 0, 2)


@nojit
def test_stp_expired_own_gtd_order_is_expired_not_cancelled(market: Market) -> None:
    m = market
    m.fund(1)
    m.provide(1)
    m.provide(3)
    own, other = O(1, 1, 1, SELL, 500), O(3, 2, 1, SELL, 500)
    m.sell(1, 500, 4, 1, tif=GTD, expire_ts=T0 + 1)
    m.sell(3, 500, 4, 1)
    t = O(1, 3, 2, BUY, 500)
    assert_events(m.buy(1, 500, 2, 2, ts=T0 + 1), [
        accepted(t, 2),
        expired(own, R.GTD_EXPIRY, 4), done(own, 4),
        trade(t, other, price=500, qty=2, leaves=0, filled=2, contra_leaves=2, trade_id=1),
        done(t, 2, filled=2),
    ])


# ============================================================================ mass cancel

def _mass_setup(m: Market) -> list[dict]:
    m.fund(1)
    m.fund(2)
    m.provide(3)
    orders = [O(1, 1, 1, BUY, 400), O(1, 2, 2, BUY, 400, I1), O(2, 3, 1, BUY, 405),
              O(1, 4, 3, BUY, 395), O(3, 5, 1, SELL, 500)]
    m.buy(1, 400, 1, 1)
    m.buy(1, 400, 2, 2, instrument=I1)
    m.buy(2, 405, 3, 1)
    m.buy(1, 395, 4, 3)
    m.sell(3, 500, 5, 1)
    return orders


def _mc(o: dict, qty: int) -> list[dict]:
    return [cancelled(o, R.MASS_CANCEL, qty), done(o, qty)]


@nojit
def test_mass_cancel_by_account(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(account=1), [*_mc(o[0], 1), *_mc(o[1], 2), *_mc(o[3], 4),
                                             ack(1, -1, 3)])
    assert m.orders() == [(3, 1, 405, 3, 0), (5, 1, 500, 5, 0)]
    assert m.money(1) == (BIG, 0, 0)
    assert_events(m.mass_cancel(account=1), [ack(1, -1, 0)])


@nojit
def test_mass_cancel_by_instrument(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(instrument=I0), [*_mc(o[0], 1), *_mc(o[2], 3), *_mc(o[3], 4),
                                                 *_mc(o[4], 5), ack(-1, I0, 4)])
    assert m.orders() == [(2, 2, 400, 2, 0)]
    assert m.pos(3) == (100, 0, 0, 0)


@nojit
def test_mass_cancel_by_account_and_instrument(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    assert_events(m.mass_cancel(account=1, instrument=I0), [*_mc(o[0], 1), *_mc(o[3], 4),
                                                            ack(1, I0, 2)])
    assert m.orders() == [(2, 2, 400, 2, 0), (3, 1, 405, 3, 0), (5, 1, 500, 5, 0)]
    assert m.money(1) == (BIG, 0, 800)


@nojit
def test_mass_cancel_rejects(market: Market) -> None:
    m = market
    _mass_setup(m)
    assert_events(m.mass_cancel(), [rejected(R.BAD_MASS_CANCEL_FILTER, account=-1, instrument=-1)])
    assert_events(m.mass_cancel(16, -1), [rejected(R.UNKNOWN_ACCOUNT, account=16, instrument=-1)])
    assert_events(m.mass_cancel(-2, I0), [rejected(R.UNKNOWN_ACCOUNT, account=-2, instrument=I0)])
    assert_events(m.mass_cancel(-1, 3), [rejected(R.UNKNOWN_INSTRUMENT, account=-1, instrument=3)])
    assert_events(m.mass_cancel(5, -1), [ack(5, -1, 0)])
    assert len(m.orders()) == 5


@nojit
def test_mass_cancel_while_halted(market: Market) -> None:
    m = market
    o = _mass_setup(m)
    m.halt(I1)
    assert_events(m.mass_cancel(instrument=I1), [*_mc(o[1], 2), ack(-1, I1, 1)])
