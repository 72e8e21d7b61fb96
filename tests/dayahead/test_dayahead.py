"""The day-ahead auction end to end on a real node: intake, escrow, clearing, booking,
trade log, audit; crash between record and booking; tampering found by the audit."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from exchange.audit import audit
from exchange.dayahead import (
    APPLIED_FILE,
    CLEARING_FILE,
    DayAheadBook,
    DayAheadClosed,
    DayAheadCorruptError,
    DayAheadError,
    DuplicateDayAheadOrder,
    InvalidDayAheadOrder,
    instrument_symbol,
    run_day_ahead,
)
from exchange.schema import CommandKind, Reason, command
from exchange.sequencer import ExchangeNode
from exchange.settlement import settle
from exchange.tradelog import days, read_all, read_day
from tests.dayahead.conftest import NOW

DAY = dt.date(2026, 11, 26)
JX, NB = ("H100-80G", "jiaxing"), ("H100-80G", "ningbo")
BUY, SELL = 1, 2


def _instrument(node, product, hour) -> int:
    return node.state.listing.id_of(instrument_symbol(node.catalog, DAY, product, hour))


def _market(node) -> DayAheadBook:
    """Buyers 1, 2 funded; providers 3 (jiaxing) and 4 (ningbo) with 8 GPUs in hours
    10-13; a whole-job block bid of buyer 1 that accepts either region."""
    for account, amount in ((1, 1_000_000), (2, 1_000_000)):
        node.send(CommandKind.DEPOSIT_FUNDS, account=account, amount=amount)
    for hour in range(10, 14):
        node.send(CommandKind.DEPOSIT_CAPACITY, account=3, instrument=_instrument(node, JX, hour), qty=8)
        node.send(CommandKind.DEPOSIT_CAPACITY, account=4, instrument=_instrument(node, NB, hour), qty=8)
    book = DayAheadBook(node.data.dayahead, node.catalog)
    for hour in range(10, 14):
        book.submit(DAY, 3, 100 + hour, SELL, hour, 8, [(*JX, 1700)])
        book.submit(DAY, 4, 100 + hour, SELL, hour, 8, [(*NB, 1600)])
    book.submit(DAY, 1, 1, BUY, 10, 8, [(*JX, 1900), (*NB, 1850)], length=4, block=True)  # ref 9
    book.submit(DAY, 2, 1, BUY, 10, 4, [(*JX, 1800)])  # ref 10
    return book


def test_a_substitutable_block_clears_in_the_cheaper_region_and_is_booked(node):
    book = _market(node)
    outcome = run_day_ahead(node, book, DAY, time_limit=30)
    block = outcome.result.blocks[9]
    assert (block.qty, block.alternative) == (8, 1)  # ningbo, the cheaper region
    assert outcome.result.fills[10] == 4  # the hourly bid fills in jiaxing
    assert outcome.trades == 4 + 1  # one pair per ningbo hour, one in jiaxing hour 10
    for hour in range(10, 14):
        assert node.state.engine.position(1, _instrument(node, NB, hour)).bought == 8
        assert node.state.engine.position(4, _instrument(node, NB, hour)).sold == 8
    price = outcome.result.prices[(NB, 10)]
    assert 1600 <= price <= 1850
    # everything the holds did not use is free again
    assert node.state.engine.account(1).held == 0 and node.state.engine.account(2).held == 0
    assert node.state.engine.position(3, _instrument(node, JX, 11)).held == 0
    spent = sum(outcome.result.prices[(NB, h)] for h in range(10, 14)) * 8
    assert node.state.engine.account(1).cash == 1_000_000 - spent
    # idempotent: a second run books nothing more
    last = node.state.last_seq
    again = run_day_ahead(node, book, DAY)
    assert (again.first_seq, again.last_seq, node.state.last_seq) == (outcome.first_seq, outcome.last_seq, last)
    with pytest.raises(DayAheadClosed):
        book.submit(DAY, 2, 2, BUY, 10, 1, [(*JX, 1800)])
    node.trades.drain()
    logged = read_all(node.data.trades)
    assert set(logged["aggressor_side"].to_pylist()) == {"DAY_AHEAD"} and logged.num_rows == 5
    assert sum(logged["qty"].to_pylist()) == 4 * 8 + 4


def test_the_audit_checks_the_clearing_and_finds_tampering(node, tmp_path):
    book = _market(node)
    run_day_ahead(node, book, DAY, time_limit=30)
    node.close()
    trades = node.data.trades
    settled = settle(node.data.root, DAY, lambda d: read_day(trades, d), days(trades))
    rows = {r["account"]: r for r in settled.statements.to_pylist()}
    assert rows[1]["bought_qty"] == 32 and rows[4]["sold_qty"] == 32  # the job, in ningbo
    report = audit(node.data.root)
    assert report.ok, report.problem
    assert report.dayahead_days == [DAY] and report.settled_days == [DAY]
    record = node.data.dayahead / DAY.isoformat() / CLEARING_FILE
    original = record.read_text()
    doc = json.loads(original)
    doc["result"]["fills"] = [[ref, q - 1 if ref == 10 else q, why] for ref, q, why in doc["result"]["fills"]]
    record.write_text(json.dumps(doc))  # a fill that breaks the balance of its hour
    report = audit(node.data.root)
    assert not report.ok and "day-ahead 2026-11-26: the recorded clearing breaks a rule" in report.problem
    record.write_text(original)
    applied = node.data.dayahead / DAY.isoformat() / APPLIED_FILE
    booked = json.loads(applied.read_text())
    applied.write_text(json.dumps({**booked, "trades": booked["trades"] - 1}))  # a trade goes missing
    report = audit(node.data.root)
    assert not report.ok and "applied.json says" in report.problem, report.problem


def test_a_crash_between_record_and_booking_books_from_the_record(node, monkeypatch):
    book = _market(node)
    real = node.execute
    calls = []

    def crash_on_booking(batch, *a, **kw):
        calls.append(int(batch["kind"][0]))
        if batch["kind"][0] == CommandKind.DA_TRADE:
            raise RuntimeError("power cut")
        return real(batch, *a, **kw)

    monkeypatch.setattr(node, "execute", crash_on_booking)
    with pytest.raises(RuntimeError):
        run_day_ahead(node, book, DAY, time_limit=30)
    folder = node.data.dayahead / DAY.isoformat()
    assert (folder / CLEARING_FILE).exists() and not (folder / APPLIED_FILE).exists()
    assert node.state.engine.account(1).held > 0  # the holds wait for the booking
    monkeypatch.setattr(node, "execute", real)
    outcome = run_day_ahead(node, book, DAY)
    assert outcome.trades == 5 and (folder / APPLIED_FILE).exists()
    assert node.state.engine.account(1).held == 0


def test_holds_cap_the_clearing_to_what_accounts_have(node):
    """Buyer 2 can pay for only 2 GPUs: the clearing fills no more than that."""
    node.send(CommandKind.DEPOSIT_FUNDS, account=2, amount=3_600)
    node.send(CommandKind.DEPOSIT_CAPACITY, account=3, instrument=_instrument(node, JX, 10), qty=8)
    book = DayAheadBook(node.data.dayahead, node.catalog)
    book.submit(DAY, 3, 1, SELL, 10, 8, [(*JX, 1500)])
    book.submit(DAY, 2, 1, BUY, 10, 5, [(*JX, 1800)])
    outcome = run_day_ahead(node, book, DAY, time_limit=30)
    assert outcome.auction.funds == {2: 3_600}
    assert outcome.result.fills[2] == 2
    assert node.state.engine.position(2, _instrument(node, JX, 10)).bought == 2


def test_intake_refuses_bad_orders_and_recovers_a_torn_append(node):
    book = DayAheadBook(node.data.dayahead, node.catalog)
    with pytest.raises(InvalidDayAheadOrder, match="tick"):
        book.submit(DAY, 1, 1, BUY, 10, 1, [(*JX, 10**8)])  # outside the band
    with pytest.raises(InvalidDayAheadOrder, match="hours"):
        book.submit(DAY, 1, 1, BUY, 22, 1, [(*JX, 1800)], length=4, block=True)
    with pytest.raises(InvalidDayAheadOrder, match="unknown product"):
        book.submit(DAY, 1, 1, BUY, 10, 1, [("H100-80G", "atlantis", 1800)])
    with pytest.raises(InvalidDayAheadOrder, match="exactly one"):
        book.submit(DAY, 1, 1, BUY, 10, 1, [(*JX, 1800), (*NB, 1800)])
    first = book.submit(DAY, 1, 1, BUY, 10, 1, [(*JX, 1800)])
    with pytest.raises(DuplicateDayAheadOrder):
        book.submit(DAY, 1, 1, BUY, 11, 1, [(*JX, 1800)])
    path = node.data.dayahead / DAY.isoformat() / "orders.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"ref":2,"acc')  # a crash mid-append: never acknowledged
    reopened = DayAheadBook(node.data.dayahead, node.catalog)
    assert reopened.orders(DAY) == [first]
    assert reopened.submit(DAY, 1, 2, BUY, 11, 1, [(*JX, 1800)]).ref == 2
    path.write_bytes(b"not json\n" + path.read_bytes())
    with pytest.raises(DayAheadCorruptError, match="line 1"):
        DayAheadBook(node.data.dayahead, node.catalog).orders(DAY)


def test_a_stray_day_ahead_trade_fails_the_audit(node):
    """A DA_TRADE that no recorded clearing explains is named by the audit."""
    _market(node)
    i = _instrument(node, JX, 10)
    node.execute(np.concatenate([command(CommandKind.HOLD_FUNDS, account=1, amount=1_000),
                                 command(CommandKind.HOLD_CAPACITY, account=3, instrument=i, qty=1)]))
    events = node.execute(command(CommandKind.DA_TRADE, account=1, contra_account=3, instrument=i,
                                  price=1000, qty=1))
    assert int(events["reason"][0]) == Reason.DAY_AHEAD
    node.close()
    report = audit(node.data.root)
    assert not report.ok and "belongs to no recorded day-ahead clearing" in report.problem


def test_a_crash_after_booking_before_its_record_does_not_book_twice(node, monkeypatch):
    """The journal booked the day but applied.json was never written: the next run finds
    the booking in the state and only records it."""
    from exchange.dayahead import run as run_module

    book = _market(node)
    real = run_module._write_json

    def crash_on_applied(path, doc):
        if path.name == APPLIED_FILE:
            raise RuntimeError("power cut")
        real(path, doc)

    monkeypatch.setattr(run_module, "_write_json", crash_on_applied)
    with pytest.raises(RuntimeError):
        run_day_ahead(node, book, DAY, time_limit=30)
    monkeypatch.setattr(run_module, "_write_json", real)
    node.close()
    report = audit(node.data.root)  # the auditor is told what is missing, and how to mend it
    assert not report.ok and "booked in the journal" in report.problem and "run the day again" in report.problem
    node = ExchangeNode.open(node.data.root, clock=lambda: NOW)
    try:
        last = node.state.last_seq
        outcome = run_day_ahead(node, DayAheadBook(node.data.dayahead, node.catalog), DAY)
        assert outcome.trades == 5 and node.state.last_seq == last  # nothing journaled again
        assert node.state.engine.position(1, _instrument(node, NB, 10)).bought == 8
    finally:
        node.close()
    assert audit(node.data.root).ok


def test_another_day_waits_for_a_cleared_day_to_be_booked(node, monkeypatch):
    book = _market(node)
    later = DAY + dt.timedelta(days=1)
    node.send(CommandKind.DEPOSIT_CAPACITY, account=3, instrument=node.state.listing.id_of(
        instrument_symbol(node.catalog, later, JX, 10)), qty=4)
    book.submit(later, 3, 1, SELL, 10, 4, [(*JX, 1700)])
    book.submit(later, 2, 1, BUY, 10, 4, [(*JX, 1800)])
    real = node.execute
    monkeypatch.setattr(node, "execute", lambda batch, *a, **kw: (_ for _ in ()).throw(RuntimeError("power cut"))
                        if batch["kind"][0] == CommandKind.DA_TRADE else real(batch, *a, **kw))
    with pytest.raises(RuntimeError):
        run_day_ahead(node, book, DAY, time_limit=30)
    monkeypatch.setattr(node, "execute", real)
    with pytest.raises(DayAheadError, match="2026-11-26 is cleared but not booked"):
        run_day_ahead(node, book, later, time_limit=30)
    assert run_day_ahead(node, book, DAY).trades == 5
    assert run_day_ahead(node, book, later, time_limit=30).trades == 1
    node.close()
    report = audit(node.data.root)
    assert report.ok and report.dayahead_days == [DAY, later]


def _clock_jumps_while_solving(tmp_path, monkeypatch, product, hour, after_gate_ns):
    """A node on a movable clock with :func:`_market`'s orders, whose clock jumps to the
    gate of ``product``'s ``hour`` plus ``after_gate_ns`` while the auction solves."""
    from exchange.dayahead import run as run_module

    now = [NOW]
    node = ExchangeNode.open(tmp_path / "data", clock=lambda: now[0])
    node.list_due(NOW)
    book = _market(node)
    gate = node.catalog.gate_ts_ns(node.catalog.instrument(instrument_symbol(node.catalog, DAY, product, hour)))
    real = run_module.clear

    def jump(*a, **kw):
        result = real(*a, **kw)
        now[0] = gate + after_gate_ns
        return result

    monkeypatch.setattr(run_module, "clear", jump)
    return node, book


def test_a_gate_that_closes_before_the_booking_fails_the_day_whole(tmp_path, monkeypatch):
    """Never book part of a day: the holds go back, the day is recorded as failed."""
    node, book = _clock_jumps_while_solving(tmp_path, monkeypatch, JX, 10, -10**9)  # a second before hour 10's gate
    try:
        with pytest.raises(DayAheadError, match="cannot be booked"):
            run_day_ahead(node, book, DAY, time_limit=30)
        assert node.state.engine.account(1).held == 0 and node.state.engine.next_trade_id() == 1
        with pytest.raises(DayAheadError, match="failed"):
            run_day_ahead(node, book, DAY)
    finally:
        node.close()
    report = audit(node.data.root)
    assert report.ok and report.dayahead_days == [DAY]


def test_a_run_that_cannot_start_leaves_the_book_open(node):
    book = DayAheadBook(node.data.dayahead, node.catalog)
    with pytest.raises(DayAheadError, match="no orders"):
        run_day_ahead(node, book, DAY)
    far = DAY + dt.timedelta(days=30)  # beyond the listing horizon
    book.submit(far, 1, 1, BUY, 10, 1, [(*JX, 1800)])
    with pytest.raises(DayAheadError, match="not listed"):
        run_day_ahead(node, book, far)
    assert book.submit(far, 1, 2, BUY, 11, 1, [(*JX, 1800)]).ref == 2  # still taking orders
    assert node.state.engine.account(1).held == 0


def test_the_audit_ties_the_clearing_to_the_book(node):
    book = _market(node)
    run_day_ahead(node, book, DAY, time_limit=30)
    node.close()
    record = node.data.dayahead / DAY.isoformat() / CLEARING_FILE
    doc = json.loads(record.read_text())
    doc["auction"]["orders"] = [o for o in doc["auction"]["orders"] if o[0] != 10]  # buyer 2's bid vanishes
    record.write_text(json.dumps(doc))
    report = audit(node.data.root)
    assert not report.ok and "not the day's book" in report.problem


def test_a_failed_append_leaves_nothing_behind(node, monkeypatch):
    import os as os_module

    book = DayAheadBook(node.data.dayahead, node.catalog)
    book.submit(DAY, 1, 1, BUY, 10, 1, [(*JX, 1800)])
    real = os_module.fsync
    calls = []

    def eio(fd):
        calls.append(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os_module, "fsync", eio)
    with pytest.raises(OSError):
        book.submit(DAY, 1, 2, BUY, 11, 1, [(*JX, 1800)])
    monkeypatch.setattr(os_module, "fsync", real)
    assert book.submit(DAY, 1, 3, BUY, 12, 1, [(*JX, 1800)]).ref == 2
    assert [o.client_order_id for o in DayAheadBook(node.data.dayahead, node.catalog).orders(DAY)] == [1, 3]


def test_a_booking_stamped_after_a_gate_is_named_booked_in_part(tmp_path, monkeypatch):
    """If the writer stalls past a gate between the check and the stamp, the engine
    refuses those hours' trades: the day is recorded as failed, booked in part, and the
    audit names it (the market broke an all-or-none promise; an operator must act)."""
    from exchange.dayahead import run as run_module

    node, book = _clock_jumps_while_solving(tmp_path, monkeypatch, NB, 10, 1)  # hour 10 closes, 11-13 stay open
    monkeypatch.setattr(run_module, "_open_long_enough", lambda node, symbols, seconds: None)  # the stall
    try:
        with pytest.raises(DayAheadError, match="booked in part: 3 of 5"):
            run_day_ahead(node, book, DAY, time_limit=30)
        assert node.state.engine.account(1).held == 0  # the holds went back all the same
        with pytest.raises(DayAheadError, match="booked in part"):
            run_day_ahead(node, book, DAY)
    finally:
        node.close()
    report = audit(node.data.root)
    assert not report.ok and "booked in part" in report.problem


def test_the_audit_from_a_snapshot_taken_during_the_solve(node, monkeypatch):
    """Holds before the snapshot, booking after it: the replay from the snapshot still
    compares the booking with the record and the record with the journal's state."""
    from exchange.dayahead import run as run_module

    book = _market(node)
    real = run_module.clear

    def snapshot_while_solving(*a, **kw):
        result = real(*a, **kw)
        node.snapshot()
        return result

    monkeypatch.setattr(run_module, "clear", snapshot_while_solving)
    run_day_ahead(node, book, DAY, time_limit=30)
    node.close()
    report = audit(node.data.root, from_snapshot=True)
    assert report.ok and report.from_seq > 0 and report.dayahead_days == [DAY], report.problem
    applied = node.data.dayahead / DAY.isoformat() / APPLIED_FILE
    applied.write_text(json.dumps({**json.loads(applied.read_text()), "trades": 99}))
    report = audit(node.data.root, from_snapshot=True)
    assert not report.ok and "applied.json says" in report.problem
