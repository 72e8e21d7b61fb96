"""Reasons of the day-ahead clearing, tested for truth: every rejected block's and every
hourly order's reason against what the result and a brute force (tests/clearing/reference.py)
say about it; no price where nothing traded."""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings, strategies as st

from exchange.clearing import Auction, OrderReason, ProductSpec, RejectReason
from tests.clearing.reference import (
    BAND,
    BUY,
    ask,
    bid,
    block,
    capped_days,
    evaluate,
    paradox_prone_days,
    prices_exist,
    run,
    run_hours,
    small_days,
)

R = RejectReason
WHY = OrderReason


def test_a_block_below_every_ask_is_out_of_the_money_not_paradoxically_rejected():
    # nothing trades: no price, and the block's hour counts at the cheapest ask (22)
    a = Auction({"r": BAND}, 1, (ask("A", 22, 5),), (block("low", BUY, 2, 0, 1, [("r", 15)]),))
    r = run(a)
    assert r.prices == {("r", 0): None} and r.volume == {("r", 0): 0}
    assert r.blocks["low"].reason is R.OUT_OF_THE_MONEY and r.blocks["low"].surplus_fen == 15 - 22
    assert r.order_reasons == {"A": WHY.NO_COUNTERPARTY}


def test_a_block_with_no_counterparty_says_so():
    a = Auction({"r": BAND, "s": BAND}, 2, (bid("B", 50, 5, 0, "r"), ask("A", 10, 1, 1, "s")),
                (block("job", BUY, 3, 0, 2, [("r", 90), ("s", 90)]),))
    r = run(a)
    # r has no seller at all; s has one GPU, the job needs 3 in both hours
    assert r.blocks["job"].reason is R.NO_COUNTERPARTY and r.blocks["job"].surplus_fen is None
    assert r.order_reasons == {"B": WHY.NO_COUNTERPARTY, "A": WHY.NO_COUNTERPARTY}


def test_an_all_or_none_block_is_not_reported_as_min_ratio():
    # 3 GPUs at 50, then 200: the job (6, all or none, 100) would gain on 3 of them only
    orders = (ask("C", 50, 3), ask("X", 200, 10))
    r = run(Auction({"r": BAND}, 1, orders, (block("job", BUY, 6, 0, 1, [("r", 100)]),)))
    assert r.blocks["job"].reason is R.ALL_OR_NONE and r.blocks["job"].surplus_fen == 100 - 50
    r = run(Auction({"r": BAND}, 1, orders, (block("job", BUY, 6, 0, 1, [("r", 100)], min_ratio=80),)))
    assert r.blocks["job"].reason is R.MIN_RATIO


def test_a_block_kept_out_by_a_conflict_names_the_block_that_forces_it():
    # issue 16's band reproducer: b1 takes 4 GPUs in hour 1; with b0's 2 more, the 70 ask
    # sets the price above b0's 60. At the final prices b0 is well in the money.
    orders = (ask("a0", 30, 4, 0), ask("a1", 30, 4, 1), ask("a2", 40, 1, 1), ask("a3", 70, 1, 1))
    blocks = (block("b0", BUY, 2, 1, 1, [("r", 60)]), block("b1", BUY, 4, 0, 2, [("r", 100)]))
    r = run(Auction({"r": ProductSpec(1, 1, 500)}, 2, orders, blocks), cut_rounds=5)
    b0 = r.blocks["b0"]
    assert b0.reason is R.REMOVED_PARADOXICAL and b0.conflicts == ("b1",) and b0.surplus_fen > 0
    assert r.prices[("r", 1)] <= 40


def test_hourly_orders_get_their_reason():
    orders = (bid("B0", 60, 10), bid("B1", 50, 10), bid("B2", 40, 10),
              ask("A0", 30, 10), ask("A1", 45, 10), ask("A2", 55, 10))
    r = run(Auction({"r": BAND}, 1, orders))
    assert r.prices[("r", 0)] == 47
    assert r.order_reasons == {"B0": WHY.IN_THE_MONEY, "B1": WHY.IN_THE_MONEY, "B2": WHY.OUT_OF_THE_MONEY,
                               "A0": WHY.IN_THE_MONEY, "A1": WHY.IN_THE_MONEY, "A2": WHY.OUT_OF_THE_MONEY}
    # at the price, earlier orders first: A0 and A1 sell all (asks fill before bids
    # drop), B takes 10, B2 the 2 left
    orders = (ask("A0", 50, 6), ask("A1", 50, 6), bid("B", 50, 10), bid("B2", 50, 3))
    r = run(Auction({"r": BAND}, 1, orders))
    assert r.fills == {"A0": 6, "A1": 6, "B": 10, "B2": 2}
    assert set(r.order_reasons.values()) == {WHY.AT_THE_PRICE}
    # a partial ask at the price, and one held back by its capacity
    orders = (ask("P", 10, 10, account="p"), ask("Q", 20, 10, account="q"), bid("B", 50, 10))
    r = run(Auction({"r": BAND}, 1, orders, capacity={("p", "r", 0): 5}))
    assert r.prices[("r", 0)] == 20 and r.fills == {"P": 5, "Q": 5, "B": 10}
    assert r.order_reasons == {"P": WHY.CAPPED_BY_CAPACITY, "Q": WHY.AT_THE_PRICE, "B": WHY.IN_THE_MONEY}


def test_time_priority_holds_under_caps():
    # two asks at one limit, both of capped accounts: the earlier one sells first
    orders = (ask("E", 20, 5, account="e"), ask("L", 20, 5, account="l"), bid("B", 50, 6))
    caps = {("e", "r", 0): 5, ("l", "r", 0): 5, ("x", "r", 0): 1}
    r = run(Auction({"r": BAND}, 1, orders, capacity=caps))
    assert r.fills == {"E": 5, "L": 1, "B": 6}
    assert r.order_reasons == {"E": WHY.AT_THE_PRICE, "L": WHY.AT_THE_PRICE, "B": WHY.IN_THE_MONEY}
    # funds: the earlier bid's account can pay for one GPU only, the later one fills
    orders = (bid("E", 30, 5, account="e"), bid("L", 30, 5, account="l"), ask("A", 10, 4))
    r = run(Auction({"r": BAND}, 1, orders, funds={"e": 30, "l": 150}))
    assert r.fills == {"E": 1, "L": 3, "A": 4}
    assert r.order_reasons["E"] is WHY.CAPPED_BY_FUNDS and r.order_reasons["L"] is WHY.AT_THE_PRICE


def _other_side(auction: Auction, product, hour, side):
    return [o for o in auction.orders if (o.product, o.hour) == (product, hour) and o.side is not side]


def _alternative_surplus(auction, r, blk, alt):
    """Reference: surplus at the final prices, an hour without one at the best hourly price
    on the other side; None if an hour lacks counterparty volume for the minimum fill or
    has neither a price nor an hourly order on the other side."""
    total = 0
    a = blk.alternatives.index(alt)
    for h in run_hours(blk, a):
        others = _other_side(auction, alt.product, h, blk.side)
        offered = sum(o.qty for o in others) + sum(
            b.qty for b in auction.blocks if b.side is not blk.side
            and any(x.product == alt.product and h in run_hours(b, j) for j, x in enumerate(b.alternatives)))
        if offered < blk.min_fill:
            return None
        price = r.prices[(alt.product, h)]
        if price is None:
            if not others:
                return None
            limits = [o.limit_fen for o in others]
            price = min(limits) if blk.side is BUY else max(limits)
        total += price
    return blk.side.sign * (alt.limit_fen * blk.length - total)


def _decisions(auction: Auction, r) -> list:
    return [None if r.blocks[b.block_id].qty == 0 else (r.blocks[b.block_id].alternative, r.blocks[b.block_id].qty)
            for b in auction.blocks]


def _best_fill_alone(auction: Auction, r, i: int) -> int:
    """Reference: the largest fill of rejected block ``i``, everything else as cleared,
    that adds welfare (hourly orders re-dispatched), over its alternatives."""
    base = evaluate(auction, _decisions(auction, r))[0]
    best = 0
    blk = auction.blocks[i]
    for a in range(len(blk.alternatives)):
        for k in range(1, blk.qty + 1):
            combo = _decisions(auction, r)
            combo[i] = (a, k)
            found = evaluate(auction, combo)
            if found is not None and found[0] > base:
                best = max(best, k)
    return best


def _conflicts_if_accepted(auction: Auction, r, i: int) -> bool:
    """Reference: whether accepting rejected block ``i`` at some alternative, at every
    fill, everything else as cleared, leaves no prices keeping the accepted blocks in the
    money (or cannot be absorbed)."""
    blk = auction.blocks[i]
    for a in range(len(blk.alternatives)):
        stuck = True
        for k in range(blk.min_fill, blk.qty + 1):
            combo = _decisions(auction, r)
            combo[i] = (a, k)
            found = evaluate(auction, combo)
            if found is not None and prices_exist(auction, found[1], found[2]):
                stuck = False
        if stuck:
            return True
    return False


def _check_block_reasons(auction: Auction, r, cut_rounds: int) -> None:
    accepted = {bid_ for bid_, b in r.blocks.items() if b.qty}
    for i, blk in enumerate(auction.blocks):
        res = r.blocks[blk.block_id]
        if res.qty:
            continue
        event(res.reason.value)
        found = [s for alt in blk.alternatives if (s := _alternative_surplus(auction, r, blk, alt)) is not None]
        best = max(found) if found else None
        assert res.surplus_fen == best
        if res.reason is R.NO_COUNTERPARTY:
            assert best is None
        elif res.reason is R.OUT_OF_THE_MONEY:
            assert best is not None and best <= 0
        elif res.reason in (R.MIN_RATIO, R.ALL_OR_NONE):
            assert best > 0 and 0 < _best_fill_alone(auction, r, i) < blk.min_fill
            assert (res.reason is R.ALL_OR_NONE) == (blk.min_fill == blk.qty)
        elif res.reason is R.PARADOXICALLY_REJECTED:
            assert best > 0
        else:
            assert res.reason is R.REMOVED_PARADOXICAL and blk.block_id in r.removed
            if cut_rounds and not auction.capacity and not auction.funds:  # never removed: a cut keeps it out
                assert best > 0 and set(res.conflicts) <= accepted
                assert _conflicts_if_accepted(auction, r, i)


def _check_order_reasons(auction: Auction, r) -> None:
    for o in auction.orders:
        why, f, p = r.order_reasons[o.order_id], r.fills[o.order_id], r.prices[(o.product, o.hour)]
        event(why.value)
        better = None if p is None else o.side.sign * (o.limit_fen - p)
        if why is WHY.IN_THE_MONEY:
            assert f == o.qty and better > 0
        elif why is WHY.AT_THE_PRICE:
            assert better == 0
        elif why is WHY.OUT_OF_THE_MONEY:
            others = _other_side(auction, o.product, o.hour, o.side)
            assert f == 0 and (better < 0 if p is not None else
                               others and all(o.side.sign * (o.limit_fen - q.limit_fen) < 0 for q in others))
        elif why is WHY.NO_COUNTERPARTY:
            assert f == 0 and p is None
        else:
            capped = (o.account in auction.funds if o.side is BUY
                      else (o.account, o.product, o.hour) in auction.capacity)
            assert f < o.qty and capped and (better is None or better >= 0)
            assert why is (WHY.CAPPED_BY_FUNDS if o.side is BUY else WHY.CAPPED_BY_CAPACITY)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(small_days(), paradox_prone_days()), st.sampled_from([0, 50]))
def test_reasons_are_true_on_random_days(auction, cut_rounds):
    r = run(auction, cut_rounds=cut_rounds)
    traded = {key for key, v in r.volume.items() if v}
    assert {key for key, p in r.prices.items() if p is not None} == traded
    _check_block_reasons(auction, r, cut_rounds)
    _check_order_reasons(auction, r)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped_days(), st.sampled_from([0, 50]))
def test_reasons_are_true_on_random_capped_days(auction, cut_rounds):
    r = run(auction, cut_rounds=cut_rounds)
    _check_order_reasons(auction, r)
    for blk in auction.blocks:
        res = r.blocks[blk.block_id]
        if not res.qty and res.reason is not R.REMOVED_PARADOXICAL:
            found = [s for alt in blk.alternatives if (s := _alternative_surplus(auction, r, blk, alt)) is not None]
            assert res.surplus_fen == (max(found) if found else None)
