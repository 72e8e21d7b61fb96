"""Private execution records: the per-account numbering against a plain reference, the
execution log's checks and rebuild from the journal, and the StreamExecutionReports
stream end to end (both sides of fills, resume, restart, a slow reader cut off)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.catalog import Listing, default_catalog
from exchange.client import GpuxClient, error_info
from exchange.executions import EXEC_DTYPE, ExecLog, ExecLogError, derive_executions, log as log_module
from exchange.executions.log import Mark, checksums
from exchange.executions.records import ACCOUNT_COMMANDS, ORDER_COMMANDS
from exchange.journal import writeback
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from exchange.schema import CommandKind, EventKind, commands, record_words
from exchange.sequencer import ExchangeNode, MarketState
from exchange.testing.workload import funding, order_flow, symbols
from tests.gateway_harness import NOW, SYMBOL, RunningServer


def reference_executions(batch: np.ndarray, events: np.ndarray, counts: dict[int, int], max_accounts: int
                         ) -> list[tuple[int, int, int]]:
    """(account, exec_seq, event index) of each record, the rules said plainly."""
    kinds = {int(row["seq"]): int(row["kind"]) for row in batch}
    out = []
    for i, e in enumerate(events.tolist()):
        seq, _, kind, _, account, *_ = e
        contra = e[14]
        command = kinds.get(seq, 0)
        touched = []
        if kind in (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.EXPIRED, EventKind.REPLACED):
            touched.append(account)
            if kind == EventKind.TRADE and contra != account:
                touched.append(contra)
        elif (kind == EventKind.REJECTED and command in ORDER_COMMANDS) or (
                kind == EventKind.ACK and command in ACCOUNT_COMMANDS):
            touched.append(account)
        for a in touched:
            if 0 <= a < max_accounts:
                counts[a] = counts.get(a, 0) + 1
                out.append((a, counts[a], i))
    return out


def _market(accounts: int = 6) -> tuple[MarketState, list[str]]:
    catalog = default_catalog()
    state = MarketState(catalog, max_accounts=accounts)
    listed = symbols(catalog, datetime.fromtimestamp(NOW / 1e9 + 86400 * 2, UTC))
    scratch = Listing(catalog)  # the commands; the state lists them once acknowledged
    batch = np.concatenate([scratch.add(symbol) for symbol in listed])
    batch["seq"] = np.arange(1, len(batch) + 1)
    batch["ts"] = NOW
    state.apply(batch)
    return state, listed


@pytest.mark.nojit
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(20, 300))
def test_records_follow_the_reference(seed, n):
    """Random order flow (with cancels, fills on both sides, deposits, a kill switch):
    the compiled derivation gives the reference's records, numbered densely per account."""
    state, listed = _market()
    seq = state.last_seq
    reference_counts: dict[int, int] = {}
    for batch in (funding(len(listed), 6), order_flow(state.catalog, n, len(listed), 6, seed),
                  np.concatenate([commands(1), commands(1)])):
        if batch["kind"][0] == 0:  # a kill switch and a release of holds
            batch["kind"] = (CommandKind.MASS_CANCEL, CommandKind.RELEASE_HOLDS)
            batch["account"], batch["instrument"] = (3, 0), (-1, 0)
        batch["seq"] = np.arange(seq + 1, seq + 1 + len(batch))
        batch["ts"] = NOW
        seq += len(batch)
        before = state.exec_counts.copy()
        events = state.apply(batch)
        records = derive_executions(batch, events, before.copy())
        want = reference_executions(batch, events, reference_counts, 6)
        assert [(int(r["exec_account"]), int(r["exec_seq"])) for r in records] == [(a, s) for a, s, _ in want]
        assert np.array_equal(state.exec_counts, [reference_counts.get(a, 0) for a in range(6)])
    assert state.exec_counts.sum() > n  # fills gave records to both sides


@pytest.mark.nojit
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar multiply:RuntimeWarning")  # as plain Python
@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), min_size=4, max_size=4), max_size=6))
def test_checksums_are_fnv1a_of_each_row_but_its_last_word(rows):
    """The compiled checksum is FNV-1a (64-bit) over a row's words as unsigned, the check column left out."""
    words = np.array(rows, np.int64).reshape(len(rows), 4)
    want = []
    for row in rows:
        h = 14695981039346656037
        for word in row[:-1]:
            h = ((h ^ (word % 2**64)) * 1099511628211) % 2**64
        want.append(h - 2**64 if h >= 2**63 else h)
    assert checksums(words).tolist() == want


def test_the_log_is_rebuilt_from_the_journal_when_damaged_or_behind(tmp_path):
    node = ExchangeNode.open(tmp_path)
    for amount in (1000, 2000, 3000):
        node.send(CommandKind.DEPOSIT_FUNDS, account=1, amount=amount)
    node.send(CommandKind.DEPOSIT_FUNDS, account=2, amount=5)
    node.close()
    path = tmp_path / "executions" / ExecLog.FILE
    whole = path.read_bytes()

    def reopen() -> ExchangeNode:
        node = ExchangeNode.open(tmp_path)
        log = node.executions
        assert list(log.counts[:3]) == [0, 3, 1]
        amounts = log.read(log.positions(1, 0, 3))["qty"]
        assert list(amounts) == [1000, 2000, 3000]
        return node

    os.truncate(path, len(whole) - 50)  # a torn last write: cut off, the journal tail refills it
    node = reopen()
    assert node.executions.torn_bytes and node.recovery.rebuilt_executions is None
    node.snapshot()
    node.close()
    path.write_bytes(whole[: len(whole) // 2])  # behind the snapshot: rebuilt from the whole journal
    node = reopen()
    assert "does not end where the journal does" in node.recovery.rebuilt_executions
    node.close()
    damaged = bytearray(whole)
    damaged[10] ^= 0xFF
    path.write_bytes(bytes(damaged))  # damaged in the middle: named, kept aside, rebuilt
    (path.parent / ExecLog.MARK).unlink()  # (without a checked mark, the open checks every record)
    node = reopen()
    assert "record 0" in node.recovery.rebuilt_executions
    assert [p.name for p in path.parent.glob("*.damaged-*")]
    node.close()


def _log_file(tmp_path, accounts: list[int], numbers: list[int] | None = None) -> ExecLog:
    """A closed log file of one record per account given, numbered 1, 2, ... per account
    (or as ``numbers`` say), checksums right; the log object to reopen it with."""
    records = np.zeros(len(accounts), EXEC_DTYPE)
    records["exec_account"] = accounts
    records["exec_seq"] = numbers or [accounts[:i + 1].count(a) for i, a in enumerate(accounts)]
    words = record_words(records)
    words[:, -1] = checksums(words)
    (tmp_path / ExecLog.FILE).write_bytes(records.tobytes())
    return ExecLog(tmp_path, 8)


def test_opening_a_log_counts_and_indexes_its_records(tmp_path):
    log = _log_file(tmp_path, [3, 1, 3, 3, 7, 1])
    assert log.damaged is None and log.torn_bytes == 0
    assert log.counts.tolist() == [0, 2, 0, 3, 0, 0, 0, 1]
    assert log.positions(3, 0, 3).tolist() == [0, 2, 3] and log.positions(1, 1, 2).tolist() == [5]
    assert log.read(log.positions(3, 1, 2))["exec_seq"].tolist() == [2]
    log.close()


def test_the_account_index_is_rewritten_where_it_is_short_wrong_or_too_long(tmp_path):
    accounts = [3, 1, 3, 3, 7, 1]
    _log_file(tmp_path, accounts).close()
    index = tmp_path / ExecLog.INDEX
    assert np.frombuffer(index.read_bytes(), np.int32).tolist() == accounts  # written on the first open
    for damage in (lambda b: b[:8], lambda b: b[:8] + (5).to_bytes(4, "little") + b[12:], lambda b: b + b[:8],
                   lambda b: b""):
        index.write_bytes(damage(index.read_bytes()))
        (tmp_path / ExecLog.MARK).unlink()  # (the open checks the index after the mark; see below for before)
        log = ExecLog(tmp_path, 8)
        assert log.damaged is None and log.counts.tolist() == [0, 2, 0, 3, 0, 0, 0, 1]
        assert log.positions(3, 0, 3).tolist() == [0, 2, 3] and log.positions(1, 1, 2).tolist() == [5]
        log.close()
        assert np.frombuffer(index.read_bytes(), np.int32).tolist() == accounts


def test_a_wrong_index_entry_before_the_mark_is_named_where_it_is_used(tmp_path):
    accounts = [3, 1, 3, 3, 7, 1]
    _log_file(tmp_path, accounts).close()
    index = tmp_path / ExecLog.INDEX
    for entry, account, problem in ((2, 1, "entry 2 says account 1, the record is account 3's"),
                                    (5, 3, "lists 1 records of account 1, the log 2")):
        whole = index.read_bytes()
        index.write_bytes(whole[:4 * entry] + account.to_bytes(4, "little") + whole[4 * entry + 4:])
        log = ExecLog(tmp_path, 8)
        assert log.damaged is None and log.checked_on_open == 0  # under the mark: not read on open
        with pytest.raises(ExecLogError, match=problem):
            log.read(log.positions(1, 0, 2), 1)
        assert not (tmp_path / ExecLog.MARK).exists()
        log.close()
        log = ExecLog(tmp_path, 8)  # a whole check: the entry rewritten
        assert log.checked_on_open == 6 and log.read(log.positions(1, 0, 2), 1)["exec_seq"].tolist() == [1, 2]
        log.close()
    assert np.frombuffer(index.read_bytes(), np.int32).tolist() == accounts


@pytest.mark.parametrize("accounts, numbers, problem", [
    ([1, 2, 1], [1, 1, 3], "does not run 1, 2, 3"),
    ([1, 2, 1], [1, 1, 1], "does not run 1, 2, 3"),
    ([1, 8, 1], None, "an account outside 0..7"),
    ([1, -1, 1], None, "an account outside 0..7"),
])
def test_a_log_whose_numbering_or_accounts_are_wrong_is_damaged(tmp_path, accounts, numbers, problem):
    log = _log_file(tmp_path, accounts, numbers)
    assert problem in log.damaged and log.counts.sum() == 0
    log.close()


def test_damage_is_a_torn_write_at_the_end_and_named_elsewhere(tmp_path):
    _log_file(tmp_path, [1, 2, 1, 2]).close()
    mark = tmp_path / ExecLog.MARK
    mark.unlink()  # (each open below checks every record: the damage is not under a checked mark)
    path = tmp_path / ExecLog.FILE
    whole = path.read_bytes()
    size = EXEC_DTYPE.itemsize
    path.write_bytes(whole[:3 * size] + bytes(size - 8) + whole[-8:])  # the last record zeroed: a torn write
    log = ExecLog(tmp_path, 8)
    assert log.damaged is None and log.torn_bytes == size and log.counts.tolist()[:3] == [0, 2, 1]
    assert path.stat().st_size == 3 * size
    log.close()
    mark.unlink()
    damaged = bytearray(whole)
    damaged[size + 20] ^= 1  # the second record: intact ones follow
    path.write_bytes(bytes(damaged))
    log = ExecLog(tmp_path, 8)
    assert log.damaged.endswith(f"record 1 (byte {size}) is damaged") and path.stat().st_size == 4 * size
    log.close()


def _records(accounts: list[int], counts: np.ndarray) -> np.ndarray:
    """Fresh records for ``accounts``, numbered on from ``counts`` (which they advance)."""
    records = np.zeros(len(accounts), EXEC_DTYPE)
    records["exec_account"] = accounts
    for i, account in enumerate(accounts):
        counts[account] += 1
        records["exec_seq"][i] = counts[account]
    return records


def _marked_log(tmp_path, marked: int, after: int) -> tuple[bytes, int]:
    """A log of ``marked`` records under its checked mark (written by a close) and
    ``after`` more appended by a run that was killed (never closed); the log's bytes and
    a record's size."""
    log = ExecLog(tmp_path, 8)
    counts = np.zeros(8, np.int64)
    log.append(_records([1 + i % 3 for i in range(marked)], counts))
    log.close()
    log = ExecLog(tmp_path, 8)
    assert log.checked_on_open == 0 and log.mark.records == marked
    log.append(_records([1 + i % 3 for i in range(after)], counts))
    os.close(log._fd)  # a kill -9: no close, no mark moved
    os.close(log._index_fd)
    return (tmp_path / ExecLog.FILE).read_bytes(), EXEC_DTYPE.itemsize


def test_an_open_checks_only_the_records_after_the_checked_mark(tmp_path):
    _marked_log(tmp_path, 5, 3)
    log = ExecLog(tmp_path, 8)
    assert log.damaged is None and log.checked_on_open == 3 and log.mark.records == 5
    assert log.counts.tolist() == [0, 3, 3, 2, 0, 0, 0, 0] and log.n == 8
    assert log.read(log.positions(1, 0, 3))["exec_seq"].tolist() == [1, 2, 3]
    log.close()  # the mark moves to the end
    assert Mark.decode((tmp_path / ExecLog.MARK).read_bytes(), 8).records == 8
    assert ExecLog(tmp_path, 8).checked_on_open == 0


def test_damage_after_the_checked_mark_is_named_on_open(tmp_path):
    whole, size = _marked_log(tmp_path, 5, 3)
    damaged = bytearray(whole)
    damaged[6 * size + 20] ^= 1  # record 6: after the mark, an intact one follows
    (tmp_path / ExecLog.FILE).write_bytes(bytes(damaged))
    log = ExecLog(tmp_path, 8)
    assert log.damaged.endswith(f"record 6 (byte {6 * size}) is damaged")
    log.close()


def test_damage_before_the_checked_mark_is_named_when_read_and_then_on_open(tmp_path):
    whole, size = _marked_log(tmp_path, 5, 3)
    damaged = bytearray(whole)
    damaged[size + 20] ^= 1  # record 1 (account 2's first), under the mark
    (tmp_path / ExecLog.FILE).write_bytes(bytes(damaged))
    log = ExecLog(tmp_path, 8)
    assert log.damaged is None and log.checked_on_open == 3  # not read on open ...
    assert log.read(log.positions(1, 0, 3))["exec_seq"].tolist() == [1, 2, 3]
    with pytest.raises(ExecLogError, match=f"record 1 \\(byte {size}\\) is damaged"):
        log.read(log.positions(2, 0, 2))  # ... but when read: named, and the mark is gone
    assert not (tmp_path / ExecLog.MARK).exists()
    log.close()
    log = ExecLog(tmp_path, 8)
    assert log.damaged.endswith(f"record 1 (byte {size}) is damaged")
    log.close()


@pytest.mark.parametrize("spoil, problem", [
    (lambda mark, log: mark.write_bytes(mark.read_bytes()[:-1]), "SHA-256 mismatch"),
    (lambda mark, log: mark.write_bytes(mark.read_bytes()[:20]), "torn"),
    (lambda mark, log: mark.write_bytes(b"x" + mark.read_bytes()[1:]), "not a checked mark"),
    (lambda mark, log: mark.write_bytes(Mark(5, 0, np.zeros(4, np.int64)).encode()), "made for 4 accounts"),
    (lambda mark, log: mark.write_bytes(Mark(9, 0, np.zeros(8, np.int64)).encode()), "says 9 records"),
    (lambda mark, log: mark.write_bytes(Mark(5, 12345, np.zeros(8, np.int64)).encode()), "another record 4"),
    (lambda mark, log: mark.unlink(), None),
])
def test_a_bad_or_missing_mark_means_a_full_check(tmp_path, caplog, spoil, problem):
    whole, size = _marked_log(tmp_path, 5, 3)
    damaged = bytearray(whole)
    damaged[size + 20] ^= 1  # under the mark: only a full check finds it
    (tmp_path / ExecLog.FILE).write_bytes(bytes(damaged))
    spoil(tmp_path / ExecLog.MARK, tmp_path / ExecLog.FILE)
    log = ExecLog(tmp_path, 8)
    assert log.checked_on_open == 8 and log.damaged.endswith(f"record 1 (byte {size}) is damaged")
    warned = [r.getMessage() for r in caplog.records if ExecLog.MARK in r.getMessage()]
    assert (problem in warned[0] and "checking the whole log" in warned[0]) if problem else not warned
    log.close()


@pytest.mark.parametrize("piece", [2, 1 << 16])
def test_the_mark_moves_in_the_background_every_mark_every_records(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(log_module, "_MARK_PIECE", piece)  # records read back at a time
    log = ExecLog(tmp_path, 8, mark_every=4)
    counts = np.zeros(8, np.int64)
    for accounts in ([1, 2, 3], [1, 2], [3]):  # the second append reaches 4 records since the mark
        log.append(_records(accounts, counts))
    log._marking.result()
    assert Mark.decode((tmp_path / ExecLog.MARK).read_bytes(), 8).records == 5 == log.mark.records
    assert log.mark.counts.tolist() == [0, 2, 2, 1, 0, 0, 0, 0]
    log.append(_records([1, 1, 1], counts))  # 9 - 5 >= 4
    log._marking.result()
    assert log.mark.records == 9 and log.mark.counts.tolist() == counts.tolist()
    log.append(_records([2, 3, 2], counts))
    os.close(log._fd)  # killed: 3 records after the mark
    os.close(log._index_fd)
    log = ExecLog(tmp_path, 8, mark_every=3)  # checks 3 records: they are marked without a second check
    assert log.checked_on_open == 3
    log._marking.result()
    assert Mark.decode((tmp_path / ExecLog.MARK).read_bytes(), 8).records == 12
    assert log.mark.counts.tolist() == counts.tolist() == log.counts.tolist()
    log.close()


def test_a_mark_whose_records_do_not_read_back_as_written_stays_where_it_was(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(log_module, "_MARK_PIECE", 2)
    log = ExecLog(tmp_path, 8, mark_every=100)
    log.append(_records([1, 2, 3, 1, 2, 3], np.zeros(8, np.int64)))
    size = EXEC_DTYPE.itemsize
    os.pwrite(log._fd, b"\xff", 4 * size + 20)  # record 4, in the third piece, spoilt on disk
    log._move_mark(6)
    assert log.mark.records == 0 and not (tmp_path / ExecLog.MARK).exists()
    assert any("records 0..5 do not check as written" in r.getMessage() and "at record 4.." in r.getMessage()
               for r in caplog.records)
    log.close()


def test_appends_start_the_write_back_of_the_log_and_its_index_behind_them(tmp_path, monkeypatch):
    steps: dict[int, list[tuple[int, int]]] = {}
    monkeypatch.setattr(writeback, "write_back", lambda fd, start, end: steps.setdefault(fd, []).append((start, end)))
    monkeypatch.setattr(log_module, "WriteBehind",
                        lambda fd, at, name: writeback.WriteBehind(fd, at, name, step=4 * EXEC_DTYPE.itemsize))
    log = ExecLog(tmp_path, 8)
    for account in (1, 2, 3):
        records = np.zeros(3, EXEC_DTYPE)
        records["exec_account"], records["exec_seq"] = account, [1, 2, 3]
        log.append(records)
    log.close()
    size = 9 * EXEC_DTYPE.itemsize
    assert (tmp_path / ExecLog.FILE).stat().st_size == size
    behind_log = max(steps.values(), key=lambda ranges: ranges[-1][1])
    assert behind_log[0][0] == 0 and behind_log[-1][1] <= size
    assert all(a[1] == b[0] for a, b in zip(behind_log, behind_log[1:]))
    reopened = ExecLog(tmp_path, 8)
    assert reopened.damaged is None and reopened.counts.tolist()[:4] == [0, 3, 3, 3]
    reopened.close()


@pytest.fixture()
def traders(tmp_path):
    server = RunningServer(tmp_path, exec_buffer=64)
    admin = GpuxClient(server.address, server.admin_token)
    provider = admin.create_account("maker", "PROVIDER")
    buyer = admin.create_account("taker", "BUYER")
    clients = {"ADMIN": admin, "PROVIDER": GpuxClient(server.address, provider.token),
               "BUYER": GpuxClient(server.address, buyer.token)}
    clients["PROVIDER"].deposit_capacity(SYMBOL, 500)
    clients["BUYER"].deposit_funds(50_000_000)
    yield server, clients, {"PROVIDER": provider.account, "BUYER": buyer.account}
    for c in clients.values():
        c.close()
    server.stop()


def _follow(client: GpuxClient, count: int, after: int = 0) -> list:
    """The first ``count`` events of the account after ``after`` (a thread reads them)."""
    got: list = []
    done = threading.Event()

    def read() -> None:
        for event in client.stream_executions(after):
            got.append(event)
            if len(got) == count:
                break
        done.set()
    threading.Thread(target=read, daemon=True).start()
    return got, done


def test_a_maker_is_told_of_its_fills_and_everything_else(traders):
    server, c, ids = traders
    provider, buyer, admin = c["PROVIDER"], c["BUYER"], c["ADMIN"]
    provider.place_order(SYMBOL, "SELL", 4, price_fen=1800, client_order_id=1)
    provider.place_order(SYMBOL, "SELL", 4, price_fen=1810, client_order_id=2)
    buyer.place_order(SYMBOL, "BUY", 6, price_fen=1810, client_order_id=10, time_in_force="IOC")
    assert admin.kill_switch(ids["PROVIDER"]) == 1
    events = provider.executions()
    kinds = [e.change.kind if e.WhichOneof("event") == "change" else e.report.exec_type for e in events]
    assert kinds == [trading_pb2.ACCOUNT_CHANGE_KIND_DEPOSIT_CAPACITY, types_pb2.EXEC_TYPE_NEW, types_pb2.EXEC_TYPE_NEW,
                     types_pb2.EXEC_TYPE_TRADE, types_pb2.EXEC_TYPE_TRADE, types_pb2.EXEC_TYPE_CANCELED,
                     trading_pb2.ACCOUNT_CHANGE_KIND_MASS_CANCEL]
    assert [e.exec_seq for e in events] == list(range(1, 8))
    assert len({e.exec_id for e in events}) == 7 and events[0].exec_id == f"{ids['PROVIDER']}-1"
    fills = [e.report for e in events if e.report.exec_type == types_pb2.EXEC_TYPE_TRADE]
    assert [(f.side, f.last_qty, f.last_price_fen, f.leaves_qty, f.client_order_id) for f in fills] == [
        (types_pb2.SIDE_SELL, 4, 1800, 0, 1), (types_pb2.SIDE_SELL, 2, 1810, 2, 2)]
    assert events[5].report.reason == types_pb2.REASON_MASS_CANCEL
    assert events[0].change.qty == 500 and events[0].change.symbol == SYMBOL
    taker = buyer.executions()
    assert taker[0].change.kind == trading_pb2.ACCOUNT_CHANGE_KIND_DEPOSIT_FUNDS and taker[0].change.symbol == ""
    assert [e.report.exec_type for e in taker[1:]] == [types_pb2.EXEC_TYPE_NEW, types_pb2.EXEC_TYPE_TRADE,
                                                       types_pb2.EXEC_TYPE_TRADE]
    assert {f.report.trade_id for f in taker[2:]} == {f.trade_id for f in fills}
    # resume from any point: the rest, once
    assert [e.exec_seq for e in provider.executions(after=4)] == [5, 6, 7]
    assert provider.executions(after=7) == []
    with pytest.raises(grpc.RpcError) as error:
        provider.executions(after=99)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_live_events_arrive_and_resume_across_a_restart(traders, tmp_path):
    server, c, ids = traders
    provider, buyer = c["PROVIDER"], c["BUYER"]
    got, done = _follow(provider, 5)
    provider.place_order(SYMBOL, "SELL", 2, price_fen=1800, client_order_id=1)
    buyer.place_order(SYMBOL, "BUY", 1, price_fen=1800, client_order_id=10)
    buyer.place_order(SYMBOL, "BUY", 1, price_fen=1800, client_order_id=11)
    provider.withdraw_capacity(SYMBOL, 10)
    assert done.wait(20)
    assert [e.exec_seq for e in got] == [1, 2, 3, 4, 5]
    server.stop()
    again = RunningServer(tmp_path)
    try:
        with GpuxClient(again.address, provider.metadata[0][1][7:]) as same:
            events = same.executions(after=2)
        assert [e.exec_seq for e in events] == [3, 4, 5]
        assert [e.exec_id for e in events] == [e.exec_id for e in got[2:]]
    finally:
        again.stop()


def test_a_slow_reader_is_cut_with_its_resume_point_and_the_writer_never_waits(traders):
    server, c, ids = traders
    provider, buyer = c["PROVIDER"], c["BUYER"]
    provider.place_order(SYMBOL, "SELL", 400, price_fen=1800, client_order_id=1)
    stream = provider.trading.StreamExecutionReports(trading_pb2.StreamExecutionReportsRequest(),
                                                     metadata=provider.metadata)
    first = next(stream)  # subscribed and caught up: the deposit and the ask
    assert [e.exec_seq for e in first.events] == [1, 2]
    many = [trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
        symbol=SYMBOL, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT, qty=1, price_fen=1800,
        time_in_force=types_pb2.TIME_IN_FORCE_IOC, client_order_id=100 + i)) for i in range(200)]
    answers = list(buyer.stream_orders([many]))  # 200 fills for the maker in one group: over the bound of 64
    assert sum(r.exec_type == types_pb2.EXEC_TYPE_TRADE for r in answers[0].reports) == 200
    with pytest.raises(grpc.RpcError) as error:
        for _ in stream:
            pass
    info = error_info(error.value)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and info.reason == "REASON_SLOW_CONSUMER"
    assert info.metadata["resume_after"] == "2" and "after_exec_seq=2" in error.value.details()
    rest = provider.executions(after=2)
    assert [e.exec_seq for e in rest] == list(range(3, 203))
    assert server.server.node is not None and next(iter(rest)).report.exec_type == types_pb2.EXEC_TYPE_TRADE
