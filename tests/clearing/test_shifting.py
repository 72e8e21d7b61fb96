"""Cross-period blocks (issue 16): alternatives that differ in start hour as well as in
product. The model and its validation, a night job landing in the cheapest hours, and
the clearing against brute force (tests/clearing/reference.py) on small days whose
blocks may shift: the best paradox-free welfare (or the removal rule's documented gap),
verify() accepting, every reason true."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from exchange.clearing import Auction, ClearingError, ProductSpec, RejectReason, VerifyError, clear, verify
from tests.clearing.reference import (
    BAND,
    BUY,
    SELL,
    ask,
    block,
    brute_force,
    capped_days,
    paradox_prone_days,
    run,
    small_days,
)
from tests.clearing.test_paradox import SEARCH, _against_brute_force
from tests.clearing.test_reasons import _check_block_reasons, _check_order_reasons

NIGHT = (60, 40, 35, 30, 30, 35, 40, 70)
"""Ask prices of hours 0..7; the day hours 8..23 ask 100."""


def night_day(job_limit: int = 80) -> Auction:
    """A 24-hour day with deep asks (10 GPUs an hour): cheap at night, 100 by day, and a
    6-hour training job that may start at 0, 1 or 2 (any run inside 00:00-08:00) in
    region "r", or at 1 in region "s" where every hour asks 50."""
    orders = tuple(ask(f"r{h}", NIGHT[h] if h < 8 else 100, 10, h, "r") for h in range(24))
    orders += tuple(ask(f"s{h}", 50, 10, h, "s") for h in range(24))
    job = block("train", BUY, 4, 0, 6, [("r", job_limit, 0), ("r", job_limit, 1), ("r", job_limit, 2),
                                        ("s", job_limit, 1)])
    return Auction({"r": BAND, "s": BAND}, 24, orders, (job,))


def test_a_night_job_lands_in_the_cheapest_night_hours():
    # runs from 0: 230, from 1: 210, from 2: 240 per GPU in r; 300 in s
    a = night_day()
    r = run(a)
    job = r.blocks["train"]
    assert (job.alternative, job.start, job.qty) == (1, 1, 4)
    assert job.surplus_fen == 6 * 80 - 210
    assert {h for (p, h), v in r.volume.items() if v} == set(range(1, 7))
    assert all(r.volume[("r", h)] == 4 for h in range(1, 7)) and not any(r.volume[("s", h)] for h in range(24))
    assert r.welfare_fen == 4 * (6 * 80 - 210) == brute_force(a, paradox_free=True)


def test_a_job_no_run_of_which_pays_is_out_of_the_money_at_its_best_start():
    # at 34 a GPU-hour (204 over six hours) even the cheapest run (210) does not pay
    r = run(night_day(job_limit=34))
    job = r.blocks["train"]
    assert job.qty == 0 and job.start is None and job.alternative is None
    assert job.reason is RejectReason.OUT_OF_THE_MONEY and job.surplus_fen == 204 - 210


def test_shifting_blocks_are_validated():
    def one(alts, hours=3, start=0, length=2):
        return Auction({"r": BAND, "s": BAND}, hours, (), (block("x", BUY, 1, start, length, alts),))

    run(one([("r", 5), ("r", 5, 1), ("s", 5, 0)]))  # (r, 0), (r, 1), (s, 0): all distinct
    with pytest.raises(ClearingError, match="block 'x' alternative 1: another alternative has product 'r' and start 0"):
        clear(one([("r", 5), ("r", 6, 0)]))
    with pytest.raises(ClearingError, match="block 'x' alternative 1: run 2\\+2 outside hours 0..2"):
        clear(one([("r", 5), ("r", 5, 2)]))
    with pytest.raises(ClearingError, match="block 'x' alternative 0: run 2\\+2 outside"):
        clear(one([("r", 5), ("r", 5, 0)], start=2))  # alternative 0 runs from the block's start
    with pytest.raises(ClearingError, match="block 'x' alternative 0: start must be an integer"):
        clear(one([("r", 5, 1.0)]))
    with pytest.raises(ClearingError, match="block 'x' alternative 0: run -1"):
        clear(one([("r", 5, -1)]))


def test_the_run_of_a_block_follows_its_alternative():
    blk = block("x", SELL, 1, 5, 3, [("r", 5), ("r", 5, 9), ("s", 5, 5)])
    assert [blk.start_of(i) for i in range(3)] == [5, 9, 5]
    assert blk.hours_of(1) == range(9, 12)
    with pytest.raises(ClearingError, match="hours_of"):
        _ = blk.hours
    assert block("y", SELL, 1, 5, 3, [("r", 5), ("s", 5, 5)]).hours == range(5, 8)


def test_verify_checks_the_reported_start():
    a = night_day()
    r = run(a)
    job = r.blocks["train"]
    with pytest.raises(VerifyError, match="reported start 0, alternative 1 starts at 1"):
        verify(a, replace(r, blocks={"train": replace(job, start=0)}))
    # the booking follows the alternative: claiming the run from 0 breaks the balance
    with pytest.raises(VerifyError, match="bought"):
        verify(a, replace(r, blocks={"train": replace(job, alternative=0, start=0)}))


def test_a_block_shifted_away_from_a_paradox():
    # b1 (4 GPUs, hours 0-1) takes the cheap asks; b0 in hour 1 would take the 40 and the
    # 70 ask (welfare +10) but the price would then be >= 70 > its 60. Shifted to hour 3
    # it adds only 6, and is in the money: the best paradox-free welfare, which the
    # search finds. The removal rule takes b0 out whole (560): its documented gap.
    orders = (ask("a0", 30, 4, 0), ask("a1", 30, 4, 1), ask("a2", 40, 1, 1), ask("a3", 70, 1, 1),
              ask("a4", 57, 2, 3))
    blocks = (block("b0", BUY, 2, 1, 1, [("r", 60), ("r", 60, 3)], account="x"),
              block("b1", BUY, 4, 0, 2, [("r", 100)], account="y"))
    a = Auction({"r": ProductSpec(1, 1, 500)}, 4, orders, blocks)
    best = brute_force(a, paradox_free=True)
    r = run(a, cut_rounds=SEARCH)
    assert r.welfare_fen == best == 4 * 2 * (100 - 30) + 2 * (60 - 57)
    assert (r.blocks["b0"].alternative, r.blocks["b0"].start) == (1, 3) and r.blocks["b1"].qty == 4
    r = run(a, cut_rounds=0)
    assert r.welfare_fen == 560 and r.removed == ("b0",) and r.mip_bound >= best


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_days(shifting=True), st.sampled_from([0, SEARCH]))
def test_random_shifting_days_against_brute_force(auction, cut_rounds):
    _against_brute_force(auction, cut_rounds)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paradox_prone_days(shifting=True), st.sampled_from([0, SEARCH]))
def test_paradox_prone_shifting_days_against_brute_force(auction, cut_rounds):
    _against_brute_force(auction, cut_rounds)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(small_days(shifting=True), paradox_prone_days(shifting=True)), st.sampled_from([0, SEARCH]))
def test_reasons_are_true_on_random_shifting_days(auction, cut_rounds):
    r = run(auction, cut_rounds=cut_rounds)
    for blk in auction.blocks:
        res = r.blocks[blk.block_id]
        assert res.start == (None if res.alternative is None else blk.start_of(res.alternative))
        event("shifted" if res.alternative is not None and res.start != blk.start else "at its own start")
    _check_block_reasons(auction, r, cut_rounds)
    _check_order_reasons(auction, r)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped_days(shifting=True), st.sampled_from([0, SEARCH]), st.sampled_from([0.0, 0.5]))
def test_random_capped_shifting_days_pass_the_checker(auction, cut_rounds, gap):
    verify(auction, clear(auction, mip_rel_gap=gap, cut_rounds=cut_rounds))
