"""Trade log: events to rows (parties, fees), files (round trip, dedup, crash replay),
hash-chain verification against tampering, seals, and outside readers (pyarrow, DuckDB)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from hypothesis import given, settings, strategies as st

from exchange.catalog import Catalog, Listing, default_catalog
from exchange.schema import EVENT_DTYPE, EventKind, Reason, Side
from exchange.tradelog import (
    TRADE_SCHEMA,
    TradeLogCorruptError,
    TradeLogError,
    TradeLogSealedError,
    TradeLogWriter,
    canonical_bytes,
    chain_hash,
    day_files,
    days,
    delivery_day,
    fee,
    fees,
    genesis_hash,
    read_all,
    read_day,
    read_seal,
    trades_from_events,
    verify_all,
    verify_chain,
)

# H100 fees are changed from the shipped 5/10 bps so the per-class lookup is tested.
_BASE = default_catalog()
CATALOG = Catalog(
    _BASE.market,
    (dataclasses.replace(_BASE.classes[0], maker_fee_bps=3, taker_fee_bps=25), *_BASE.classes[1:]),
    _BASE.regions,
)
TZ = CATALOG.market.tz
SYMBOLS = (
    "H100-80G.jiaxing.20261125T22",
    "H100-80G.jiaxing.20261125T23",  # delivery day 2026-11-25
    "H100-80G.jiaxing.20261126T00",  # delivery day 2026-11-26
    "A800-80G.gansu.20261126T01",
    "910B.ningxia.20261127T09",
)
NOV25, NOV26, NOV27 = date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)


def make_listing() -> Listing:
    listing = Listing(CATALOG)
    for symbol in SYMBOLS:
        listing.add(symbol)
    return listing


LISTING = make_listing()


def trade_events(rows: list[tuple[int, int, int, int]], first_id: int = 1) -> np.ndarray:
    """TRADE events from (instrument, side, price, qty), trade ids from ``first_id``, with
    an ACCEPTED before and a DONE after each (to be ignored). Taker account 100 + i, order
    1000 + i; maker account 200 + i, order 2000 + i."""
    ev = np.zeros(3 * len(rows), dtype=EVENT_DTYPE)
    ev["kind"] = [EventKind.ACCEPTED, EventKind.TRADE, EventKind.DONE] * len(rows)
    t = ev[1::3]
    i = np.arange(len(rows))
    if rows:
        t["instrument"], t["side"], t["price"], t["qty"] = np.array(rows).T
    t["trade_id"] = first_id + i
    t["seq"], t["ts"] = 10 + i, 1_700_000_000_000_000_000 + i
    t["account"], t["order_id"] = 100 + i, 1000 + i
    t["contra_account"], t["contra_order_id"] = 200 + i, 2000 + i
    ev[0::3]["account"] = 999  # noise in the ignored rows
    ev[1::3] = t
    return ev


def trades(rows: list[tuple[int, int, int, int]], first_id: int = 1) -> pa.Table:
    return trades_from_events(trade_events(rows, first_id), LISTING)


MIXED = [(0, 1, 1800, 3), (2, 2, 1750, 5), (1, 1, 1801, 2), (3, 2, 800, 7), (4, 1, 990, 1),
         (2, 1, 1760, 4), (1, 2, 1799, 6), (0, 2, 1700, 2)]


# --------------------------------------------------------------------------- events


def test_fees_round_half_up_and_match_scalar_fee():
    notional = np.array([0, 1, 499, 500, 501, 1999, 2000, 2001, 10**15, 2**62], np.int64)
    for bps in (0, 1, 3, 10, 25, 9999, 10_000):
        got = fees(notional, np.full(notional.shape, bps, np.int64))
        assert got.tolist() == [fee(int(n), bps) for n in notional.tolist()]
    # 500 fen at 10 bps is exactly 0.5 fen: up to 1; 499 fen is 0.499: down to 0
    assert fees(np.array([499, 500]), np.array([10, 10])).tolist() == [0, 1]


def test_trades_from_events_parties_fees_and_instrument_fields():
    ev = trade_events([(0, Side.BUY, 200, 1), (0, Side.SELL, 1000, 2), (3, Side.SELL, 1000, 1)], 7)
    table = trades_from_events(ev, LISTING)
    assert table.schema == TRADE_SCHEMA
    r = table.drop_columns(["ts", "slot_start"]).to_pylist()
    assert [x["trade_id"] for x in r] == [7, 8, 9] and [x["seq"] for x in r] == [10, 11, 12]
    buy, sell, a800 = r
    # taker BUY: buyer is the taker (account 100, order 1000), seller the maker
    assert (buy["buyer_account"], buy["buyer_order_id"]) == (100, 1000)
    assert (buy["seller_account"], buy["seller_order_id"]) == (200, 2000)
    assert buy["aggressor_side"] == "BUY" and buy["notional"] == 200
    # H100 taker 25 bps of 200 = 0.5 -> 1 (half up); maker 3 bps of 200 = 0.06 -> 0
    assert (buy["buyer_fee"], buy["seller_fee"]) == (1, 0)
    # taker SELL: seller is the taker (account 101), buyer the maker (201)
    assert (sell["seller_account"], sell["seller_order_id"]) == (101, 1001)
    assert (sell["buyer_account"], sell["buyer_order_id"]) == (201, 2001)
    assert sell["aggressor_side"] == "SELL" and sell["notional"] == 2000
    assert (sell["seller_fee"], sell["buyer_fee"]) == (5, 1)  # 25 bps: 5.0; 3 bps: 0.6 -> 1
    # A800 keeps the shipped 10/5 bps: 1000 fen -> taker 1.0, maker 0.5 -> 1
    assert (a800["seller_fee"], a800["buyer_fee"]) == (1, 1)
    assert (a800["symbol"], a800["gpu_class"], a800["region"]) == (SYMBOLS[3], "A800-80G", "gansu")
    assert table["slot_start"].cast(pa.int64()).to_pylist() == [
        LISTING.instrument(i).slot_ts_ns for i in (0, 0, 3)
    ]
    assert table["ts"].cast(pa.int64()).to_pylist() == [ev["ts"][k] for k in (1, 4, 7)]


def test_trades_from_events_empty_and_errors():
    assert trades_from_events(np.zeros(3, EVENT_DTYPE), LISTING).equals(TRADE_SCHEMA.empty_table())
    bad = trade_events([(0, 3, 100, 1)])
    with pytest.raises(ValueError, match="side"):
        trades_from_events(bad, LISTING)
    with pytest.raises(KeyError):
        trades_from_events(trade_events([(len(SYMBOLS), 1, 100, 1)]), LISTING)


def test_delivery_day_splits_at_market_midnight(tmp_path):
    slot23, slot00 = (LISTING.instrument(i).slot_ts_ns for i in (1, 2))
    assert slot00 - slot23 == 3600 * 10**9
    assert (delivery_day(slot23, TZ), delivery_day(slot00, TZ)) == (NOV25, NOV26)
    w = TradeLogWriter(tmp_path, CATALOG)
    w.append(trades([(1, 1, 1800, 1), (2, 1, 1800, 1)]))
    paths = w.flush()
    assert [p.parent.name for p in paths] == ["date=2026-11-25", "date=2026-11-26"]
    assert read_day(tmp_path, NOV25)["symbol"].to_pylist() == [SYMBOLS[1]]
    assert read_day(tmp_path, NOV26)["symbol"].to_pylist() == [SYMBOLS[2]]


# --------------------------------------------------------------------------- files


def write_log(root: Path, batches: list[list[tuple[int, int, int, int]]]) -> pa.Table:
    """Append and flush each batch in turn (consecutive trade ids); all the trades."""
    w = TradeLogWriter(root, CATALOG)
    tables, next_id = [], 1
    for rows in batches:
        tables.append(trades(rows, next_id))
        next_id += len(rows)
        w.append(tables[-1])
        w.flush()
    return pa.concat_tables(tables).combine_chunks()


def test_round_trip(tmp_path):
    root = tmp_path / "data" / "trades"
    expected = write_log(root, [MIXED[:3], MIXED[3:], MIXED])
    assert days(root) == [NOV25, NOV26, NOV27]
    assert read_all(root).equals(expected)
    for day in days(root):
        got = read_day(root, day)
        assert got.schema == TRADE_SCHEMA and got.schema.metadata is None
        assert got["trade_id"].to_pylist() == sorted(got["trade_id"].to_pylist())
    assert [p.name for p in day_files(root, NOV26)] == [
        "000000000002-000000000002.arrow", "000000000004-000000000006.arrow",
        "000000000010-000000000014.arrow",
    ]
    assert read_day(root, date(2030, 1, 1)).equals(TRADE_SCHEMA.empty_table())
    for path in day_files(root, NOV26):  # streamed to the file: the bytes of the file built in memory
        table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        built = pa.BufferOutputStream()
        with pa.ipc.new_file(built, table.schema) as writer:
            writer.write_table(table)
        assert path.read_bytes() == built.getvalue().to_pybytes()
    reports = verify_all(root)
    assert [(r.day, r.files, r.trades, r.sealed) for r in reports] == [
        (NOV25, 3, 8, False), (NOV26, 3, 6, False), (NOV27, 2, 2, False)
    ]
    assert reports[0].head != genesis_hash(NOV25)


def test_duplicates_skipped_after_reopen(tmp_path):
    all_trades = trades(MIXED)
    w = TradeLogWriter(tmp_path, CATALOG)
    assert w.append(all_trades.slice(0, 5)) == 5 and w.buffered == 5 and w.last_trade_id == 5
    w.flush()
    assert w.buffered == 0
    w = TradeLogWriter(tmp_path, CATALOG)
    assert w.last_trade_id == 5
    assert w.append(all_trades) == 3  # replay from the start: only 6, 7, 8 are new
    assert w.append(all_trades) == 0
    w.flush()
    assert read_all(tmp_path).equals(all_trades)
    verify_all(tmp_path, TZ)


def test_crash_between_days_of_one_flush_loses_nothing_on_replay(tmp_path):
    all_trades = trades(MIXED)
    w = TradeLogWriter(tmp_path, CATALOG)
    w.append(all_trades)
    written = w.flush()
    written[-1].unlink()  # the last day's rename never happened
    w = TradeLogWriter(tmp_path, CATALOG)
    assert w.append(all_trades) == 1  # the lost trade (id 5, day 27) comes back
    w.flush()
    assert read_all(tmp_path).equals(all_trades)
    verify_all(tmp_path, TZ)


def test_append_rejects_bad_input(tmp_path):
    w = TradeLogWriter(tmp_path, CATALOG)
    t = trades(MIXED[:3])
    with pytest.raises(TradeLogError, match="increase"):
        w.append(pa.concat_tables([t.slice(1), t.slice(0, 1)]))
    with pytest.raises(TradeLogError, match="schema"):
        w.append(t.drop_columns(["seller_fee"]))
    assert w.buffered == 0 and w.last_trade_id == 0


def test_open_removes_leftover_temp_files(tmp_path):
    write_log(tmp_path, [MIXED])
    tmp = tmp_path / "date=2026-11-25" / ".000000000009-000000000009.arrow.tmp"
    tmp.write_bytes(b"half a file")
    TradeLogWriter(tmp_path, CATALOG)
    assert not tmp.exists()


def test_canonical_bytes_follow_the_documented_spec():
    table = trades(MIXED)
    symbols = ["", "é€😀", *table["symbol"].to_pylist()[2:]]
    table = table.set_column(3, "symbol", pa.array(symbols))
    table = pa.concat_tables([table.slice(0, 3), table.slice(3)])  # chunked, with offsets
    parts = []
    for field in TRADE_SCHEMA:
        values = table[field.name]
        if field.type == pa.string():
            for s in values.to_pylist():
                b = s.encode("utf-8")
                parts.append(len(b).to_bytes(4, "little") + b)
        else:
            for v in values.cast(pa.int64()).to_pylist():
                parts.append(v.to_bytes(8, "little", signed=True))
    assert canonical_bytes(table) == b"".join(parts)
    assert canonical_bytes(TRADE_SCHEMA.empty_table()) == b""
    prev = genesis_hash(NOV26)  # hashed a column at a time, the same digest as of the joined bytes
    assert chain_hash(prev, table) == hashlib.sha256(bytes.fromhex(prev) + b"".join(parts)).hexdigest()
    assert chain_hash(prev, TRADE_SCHEMA.empty_table()) == hashlib.sha256(bytes.fromhex(prev)).hexdigest()


# --------------------------------------------------------------------------- tampering


@pytest.fixture
def log(tmp_path) -> tuple[Path, list[Path]]:
    """A log whose day 2026-11-26 has four files; returns root and those files."""
    write_log(tmp_path, [MIXED[:2], MIXED[2:5], MIXED[5:], MIXED])
    files = day_files(tmp_path, NOV26)
    assert len(files) == 4
    verify_chain(tmp_path, NOV26, TZ)
    return tmp_path, files


def raises_naming(path: Path, reason: str = ""):
    return pytest.raises(TradeLogCorruptError, match=re.escape(str(path)) + ".*" + reason)


def test_flipped_byte_detected(log):
    root, files = log
    data = bytearray(files[1].read_bytes())
    data[len(data) // 2] ^= 0x01
    files[1].write_bytes(bytes(data))
    with raises_naming(files[1]):
        verify_chain(root, NOV26, TZ)


def test_every_flipped_byte_detected_or_harmless(log):
    """A flip anywhere either fails verification or leaves every value (and hash) intact."""
    root, files = log
    original, before = files[2].read_bytes(), read_day(root, NOV26)
    detected = 0
    for i in range(0, len(original), 3):
        data = bytearray(original)
        data[i] ^= 0x10
        files[2].write_bytes(bytes(data))
        try:
            verify_chain(root, NOV26, TZ)
        except TradeLogCorruptError as exc:
            assert str(files[2]) in str(exc)
            detected += 1
        else:
            assert read_day(root, NOV26).equals(before)
    assert detected > len(original) // 6


def test_deleted_middle_file_detected(log):
    root, files = log
    files[1].unlink()
    with raises_naming(files[2], "does not link"):
        verify_chain(root, NOV26, TZ)


def test_changed_row_rewritten_with_old_metadata_detected(log):
    root, files = log
    with pa.OSFile(str(files[1])) as f:
        table = pa.ipc.open_file(f).read_all()
    price = table["price"].to_pylist()
    price[0] += 1
    forged = table.set_column(table.schema.get_field_index("price"), "price", pa.array(price))
    forged = forged.replace_schema_metadata(table.schema.metadata)
    with pa.ipc.new_file(str(files[1]), forged.schema) as w:
        w.write_table(forged)
    with raises_naming(files[1], "content hash"):
        verify_chain(root, NOV26, TZ)


def test_files_renamed_out_of_order_detected(log):
    root, files = log
    tmp = files[1].with_name("x")
    files[1].rename(tmp)
    files[2].rename(files[1])
    tmp.rename(files[2])
    with raises_naming(files[1]):
        verify_chain(root, NOV26, TZ)


def test_truncated_file_detected(log):
    root, files = log
    files[3].write_bytes(files[3].read_bytes()[:-20])
    with raises_naming(files[3], "not a readable Arrow IPC file"):
        verify_chain(root, NOV26, TZ)
    with raises_naming(files[3]):
        read_day(root, NOV26)


def test_slot_on_wrong_day_detected(log):
    """A file of day 26 moved (with a consistent chain) into day 25 is still caught."""
    root, _ = log
    bad = root / "date=2026-11-24"
    bad.mkdir()
    table = trades([(2, 1, 1800, 1)], 99)
    digest = chain_hash(genesis_hash(date(2026, 11, 24)), table)
    table = table.replace_schema_metadata({
        "gpux.prev_hash": genesis_hash(date(2026, 11, 24)), "gpux.hash": digest,
        "gpux.first_trade_id": "99", "gpux.last_trade_id": "99", "gpux.rows": "1",
    })
    path = bad / "000000000099-000000000099.arrow"
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    with raises_naming(path, "not on delivery day"):
        verify_all(root, TZ)


# --------------------------------------------------------------------------- seals


def test_seal_then_append_raises(tmp_path):
    all_trades = trades(MIXED)
    w = TradeLogWriter(tmp_path, CATALOG)
    w.append(all_trades.slice(0, 4))
    report = w.seal(NOV26)  # flushes first
    assert w.buffered == 0 and w.sealed(NOV26) and not w.sealed(NOV25)
    assert (report.files, report.trades) == (1, 2)
    assert (report.first_trade_id, report.last_trade_id) == (2, 4)
    seal = read_seal(tmp_path, NOV26)
    assert seal["hash"] == report.head == verify_chain(tmp_path, NOV26, TZ).head
    assert verify_chain(tmp_path, NOV26, TZ).sealed
    w.append(all_trades.slice(0, 4))  # replayed trades of the sealed day: skipped, no error
    with pytest.raises(TradeLogSealedError, match="2026-11-26"):
        w.append(all_trades.slice(4))  # trade 6 is on day 26
    assert w.buffered == 0
    with pytest.raises(TradeLogSealedError):
        TradeLogWriter(tmp_path, CATALOG).append(all_trades.slice(5, 1))
    with pytest.raises(TradeLogSealedError):
        w.seal(NOV26)
    w.append(all_trades.slice(4, 1))  # day 27 is open
    assert w.buffered == 1


def test_seal_disagreeing_with_files_detected(tmp_path):
    write_log(tmp_path, [MIXED])
    w = TradeLogWriter(tmp_path, CATALOG)
    w.seal(NOV25)
    seal_path = tmp_path / "date=2026-11-25" / "_SEALED.json"
    seal = json.loads(seal_path.read_text())
    seal_path.write_text(json.dumps({**seal, "trades": seal["trades"] - 1}))
    with raises_naming(seal_path, "trades"):
        verify_chain(tmp_path, NOV25, TZ)


# --------------------------------------------------------------------------- outside readers


def test_pyarrow_dataset_and_duckdb_read_the_directory(tmp_path):
    expected = write_log(tmp_path, [MIXED[:3], MIXED[3:], MIXED])
    TradeLogWriter(tmp_path, CATALOG).seal(NOV25)  # '_SEALED.json' must be skipped
    (tmp_path / "date=2026-11-26" / ".000000000099-000000000099.arrow.tmp").write_bytes(b"junk")
    rows, notional = len(expected), sum(expected["notional"].to_pylist())
    ds = pads.dataset(tmp_path, format="ipc", partitioning="hive")
    table = ds.to_table()
    assert table.num_rows == rows
    assert sum(table["notional"].to_pylist()) == notional
    assert sorted(set(table["date"].to_pylist())) == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert duckdb.sql("select count(*), sum(notional) from ds").fetchall() == [(rows, notional)]
    by_day = duckdb.from_arrow(ds).aggregate("date, sum(qty) as q", "date").order("date").fetchall()
    assert by_day == [
        (str(d), sum(read_day(tmp_path, d)["qty"].to_pylist())) for d in (NOV25, NOV26, NOV27)
    ]


# --------------------------------------------------------------------------- property

trade_rows = st.tuples(
    st.integers(0, len(SYMBOLS) - 1), st.sampled_from([1, 2]),
    st.integers(1, 6000), st.integers(1, 1024),
)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(trade_rows, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=5),
       replay=st.integers(0, 40))
def test_random_batches_across_flushes_read_back_and_verify(rows, cuts, replay):
    expected = trades(rows)
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "trades"
        w = TradeLogWriter(root, CATALOG)
        for lo, hi in zip(bounds, bounds[1:]):
            w.append(expected.slice(lo, hi - lo))
            w.flush()
        # a reopened writer skips a replay of any prefix
        w = TradeLogWriter(root, CATALOG)
        assert w.append(expected.slice(0, replay)) == 0
        assert read_all(root).equals(expected)
        reports = verify_all(root, TZ)
        assert sum(r.trades for r in reports) == len(rows)
        slots = {LISTING.instrument(r[0]).slot_ts_ns for r in rows}
        assert [r.day for r in reports] == sorted({delivery_day(s, TZ) for s in slots})


def test_auction_trades_have_no_aggressor_and_both_pay_the_maker_fee():
    ev = trade_events([(0, Side.SELL, 10_000, 3), (0, Side.BUY, 10_000, 3), (0, Side.BUY, 10_000, 3)], 1)
    ev["reason"][4] = Reason.AUCTION  # the second TRADE (an ACCEPTED and a DONE around each)
    ev["reason"][7] = Reason.DAY_AHEAD
    ev["order_id"][7] = ev["contra_order_id"][7] = 0
    continuous, auction, day_ahead = trades_from_events(ev, LISTING).drop_columns(["ts", "slot_start"]).to_pylist()
    assert continuous["aggressor_side"] == "SELL"
    assert (continuous["seller_fee"], continuous["buyer_fee"]) == (75, 9)  # taker 25, maker 3 bps
    assert auction["aggressor_side"] == "AUCTION"
    assert (auction["buyer_fee"], auction["seller_fee"]) == (9, 9)  # maker 3 bps each
    assert day_ahead["aggressor_side"] == "DAY_AHEAD"
    assert (day_ahead["buyer_fee"], day_ahead["seller_fee"]) == (9, 9)
    assert (day_ahead["buyer_order_id"], day_ahead["seller_order_id"]) == (0, 0)
