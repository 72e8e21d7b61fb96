"""Cross-period blocks on a real node: a night job whose alternatives differ in start
hour lands in the cheapest hours, is booked there and re-verified by the audit; bad
starts are refused; order and clearing files written before alternatives had their own
start still load and audit."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from exchange.audit import audit
from exchange.client import parse_window, window_alternatives, window_starts
from exchange.dayahead import (
    CLEARING_FILE,
    DayAheadBook,
    InvalidDayAheadOrder,
    read_clearing,
    read_outcome,
    run_day_ahead,
)
from exchange.dayahead.run import hold_requests
from exchange.schema import CommandKind
from tests.dayahead.test_dayahead import BUY, DAY, JX, NB, SELL, _instrument, _market

NIGHT = {0: 1500, 1: 1400, 2: 1300, 3: 1300, 4: 1300, 5: 1300, 6: 1400, 7: 1500}
"""Night hours of DAY and the asks of provider 3 there (jiaxing): 2..5 are the cheapest."""


def _night_market(node) -> DayAheadBook:
    """Provider 3 offers 8 GPUs in each night hour; buyer 1 bids a 4-hour training job
    that may start at any hour of the window 20-08 (on DAY: starts 0..4 and 20) in jiaxing or
    ningbo, where nobody offers."""
    node.send(CommandKind.DEPOSIT_FUNDS, account=1, amount=1_000_000)
    book = DayAheadBook(node.data.dayahead, node.catalog)
    for hour, price in NIGHT.items():
        node.send(CommandKind.DEPOSIT_CAPACITY, account=3, instrument=_instrument(node, JX, hour), qty=8)
        book.submit(DAY, 3, 100 + hour, SELL, hour, 8, [(*JX, price)])
    alternatives = window_alternatives([(*JX, 1600), (*NB, 1700)], parse_window("20-08"), 4)
    book.submit(DAY, 1, 1, BUY, alternatives[0][3], 8, alternatives, length=4, block=True)  # ref 9
    return book


def test_a_night_job_lands_in_the_cheapest_hours_and_is_booked_there(node):
    book = _night_market(node)
    job = book.orders(DAY)[-1]
    assert [a.start for a in job.alternatives] == [0, 1, 2, 3, 4, 20] * 2
    outcome = run_day_ahead(node, book, DAY, time_limit=30)
    block = outcome.result.blocks[9]
    assert (block.qty, block.start, job.alternatives[block.alternative][:2]) == (8, 2, JX)
    assert outcome.trades == 4
    for hour in NIGHT:
        bought = node.state.engine.position(1, _instrument(node, JX, hour)).bought
        assert bought == (8 if 2 <= hour < 6 else 0), hour
    assert node.state.engine.account(1).held == 0
    assert node.state.engine.account(1).cash == 1_000_000 - 8 * sum(outcome.result.prices[(JX, h)] for h in range(2, 6))
    node.close()
    report = audit(node.data.root)
    assert report.ok and report.dayahead_days == [DAY], report.problem
    record = node.data.dayahead / DAY.isoformat() / CLEARING_FILE
    doc = json.loads(record.read_text())
    doc["result"]["blocks"] = [[*b[:6], 3] if b[0] == 9 else b for b in doc["result"]["blocks"]]
    record.write_text(json.dumps(doc))  # the record says the job ran an hour later
    report = audit(node.data.root)
    assert not report.ok and "the recorded clearing breaks a rule" in report.problem, report.problem


def test_a_shifted_sell_block_holds_each_instrument_once(node):
    """A provider's block that may run from 0 or 1 holds its GPUs once per hour it may
    deliver, not once per alternative that covers the hour."""
    book = DayAheadBook(node.data.dayahead, node.catalog)
    order = book.submit(DAY, 3, 1, SELL, 0, 8, [(*JX, 1300, 0), (*JX, 1300, 1), (*NB, 1300, 1)], length=2,
                        block=True)
    _, capacity = hold_requests([order])
    assert capacity == {(3, JX, 0): 8, (3, JX, 1): 8, (3, JX, 2): 8, (3, NB, 1): 8, (3, NB, 2): 8}


@pytest.mark.parametrize("alternatives, length, block, field, message", [
    ([(*JX, 1600, 0), (*JX, 1600, 0)], 4, True, "alternatives[1]", "must differ in product or start hour"),
    ([(*JX, 1600, 0), (*JX, 1600, 21)], 4, True, "alternatives[1].start_hour", "cannot cross midnight"),
    ([(*JX, 1600)], 4, True, "start_hour", "cannot cross midnight"),  # the order's start, 22
    ([(*JX, 1600, 3)], 1, False, "alternatives[0].start_hour", "hourly order must be its start_hour"),
    ([(*JX, 1600, 0)], 25, True, "hours", "inside one delivery day"),
    ([(*JX, 1600, s) for s in range(20)] + [(*NB, 1600, s) for s in range(20)] +
     [("A800-80G", "guizhou", 1000, s) for s in range(20)] + [("910B", "ningxia", 800, s) for s in range(20)] +
     [("H100-80G", "hangzhou", 1600, s) for s in range(20)], 4, True, "alternatives", "at most 96"),
])
def test_bad_starts_are_refused_naming_the_field(node, alternatives, length, block, field, message):
    book = DayAheadBook(node.data.dayahead, node.catalog)
    with pytest.raises(InvalidDayAheadOrder, match=message) as error:
        book.submit(DAY, 1, 1, BUY, 22, 1, alternatives, length=length, block=block)
    assert error.value.field == field
    assert book.orders(DAY) == []


def _strip_starts(folder) -> None:
    """Rewrite a day's files as they were written before alternatives had a start of
    their own: three-element alternatives in orders.jsonl, no start in the record."""
    orders = folder / "orders.jsonl"
    lines = [json.loads(line) for line in orders.read_text().splitlines()]
    assert all(a[3] == d["hour"] for d in lines for a in d["alternatives"])  # nothing shifted
    orders.write_text("".join(json.dumps({**d, "alternatives": [a[:3] for a in d["alternatives"]]}) + "\n"
                              for d in lines))
    doc = json.loads((folder / CLEARING_FILE).read_text())
    assert all(len(alt) == 2 for b in doc["auction"]["blocks"] for alt in b[7])
    doc["result"]["blocks"] = [b[:6] for b in doc["result"]["blocks"]]
    (folder / CLEARING_FILE).write_text(json.dumps(doc))


def test_day_ahead_files_from_before_cross_period_blocks_still_load_and_audit(node):
    book = _market(node)
    outcome = run_day_ahead(node, book, DAY, time_limit=30)
    node.close()
    folder = node.data.dayahead / DAY.isoformat()
    _strip_starts(folder)
    again = DayAheadBook(node.data.dayahead, node.catalog).orders(DAY)
    assert again == book.orders(DAY)  # every alternative starts at its order's hour
    assert read_outcome(folder, DAY).result == outcome.result  # the accepted block's start from its alternative
    assert read_clearing(folder)[1].blocks[9].start == 10
    report = audit(node.data.root)
    assert report.ok and report.dayahead_days == [DAY], report.problem


def _window_hours(first: int, end: int) -> set[int]:
    """The hours of the day a window covers, by walking the clock from FROM to TO."""
    hours, hour = set(), first
    while True:
        hours.add(hour)
        hour = (hour + 1) % 24
        if hour == end % 24:
            return hours


@given(st.integers(0, 23), st.integers(0, 24), st.integers(1, 24))
def test_a_window_gives_every_run_inside_it_and_the_day(first, end, hours):
    if first == (end or 24):
        with pytest.raises(ValueError, match="empty"):
            parse_window(f"{first}-{end}")
        return
    window = parse_window(f"{first:02d}-{end:02d}")
    covered = _window_hours(*window)
    expected = [s for s in range(24) if s + hours <= 24 and all(h in covered for h in range(s, s + hours))]
    if not expected:
        with pytest.raises(ValueError, match="cannot cross midnight"):
            window_starts(window, hours)
        return
    assert window_starts(window, hours) == expected


def test_window_examples():
    assert window_starts(parse_window("20-08"), 6) == [0, 1, 2]
    assert window_starts(parse_window("20-08"), 3) == [0, 1, 2, 3, 4, 5, 20, 21]
    assert window_starts(parse_window("22-00"), 2) == [22]
    for text in ("20", "8-8", "25-3", "3-25", "a-b"):
        with pytest.raises(ValueError, match="window"):
            parse_window(text)
