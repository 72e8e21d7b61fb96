"""Settlement: vouchers, a hand-checked three-day example, delivery netting, conservation
properties over random trades and grants, tamper detection, and Parquet round trips."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from exchange.settlement import (
    DaySettlement,
    SettlementError,
    VoucherBook,
    VoucherGrant,
    read_settlement,
    settle,
    settle_day,
    verify,
)
from exchange.tradelog.schema import BPS_DENOMINATOR, TRADE_SCHEMA

CST = timezone(timedelta(hours=8))
D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
CITY = VoucherGrant("city-30", "city fund", 7, 3000, None, *YEAR)
PROVINCE = VoucherGrant("prov-50", "province", 8, 5000, 15_000, *YEAR)


def make_trades(day: date, rows: list[tuple]) -> pa.Table:
    """rows: (hour, seller, buyer, qty, price, buyer_fee, seller_fee); class H100-80G in jiaxing."""
    cols: dict[str, list] = {n: [] for n in TRADE_SCHEMA.names}
    for i, (hour, seller, buyer, qty, price, bfee, sfee) in enumerate(rows, 1):
        slot = datetime(day.year, day.month, day.day, hour, tzinfo=CST)
        values = {
            "trade_id": i, "seq": i, "ts": slot - timedelta(hours=1),
            "symbol": f"H100-80G.jiaxing.{slot:%Y%m%dT%H}", "gpu_class": "H100-80G", "region": "jiaxing",
            "slot_start": slot.astimezone(UTC), "price": price, "qty": qty, "notional": price * qty,
            "buyer_account": buyer, "buyer_order_id": 2 * i, "seller_account": seller,
            "seller_order_id": 2 * i + 1, "aggressor_side": "BUY", "buyer_fee": bfee, "seller_fee": sfee,
        }
        for name, value in values.items():
            cols[name].append(value)
    return pa.table(cols, schema=TRADE_SCHEMA)


# Providers 1 and 2, buyers 7 (30 % uncapped) and 8 (50 % capped at 150 yuan), reseller 5.
TRADES = {
    D1: make_trades(D1, [(10, 1, 5, 10, 2000, 10, 6), (10, 5, 7, 6, 2100, 6, 4),
                         (10, 2, 8, 8, 2000, 8, 5), (10, 5, 8, 3, 2050, 3, 2)]),
    D2: make_trades(D2, [(10, 1, 8, 5, 2000, 5, 3), (10, 2, 7, 3, 1999, 3, 2)]),
    D3: make_trades(D3, [(10, 2, 8, 1, 2000, 1, 1)]),
}
# account, bought_qty, bought_value, sold_qty, sold_value, buyer_fees, seller_fees, fees, subsidy, net
STATEMENTS = {
    D1: [(1, 0, 0, 10, 20000, 0, 6, 6, 0, 19994), (2, 0, 0, 8, 16000, 0, 5, 5, 0, 15995),
         (5, 10, 20000, 9, 18750, 10, 6, 16, 0, -1266), (7, 6, 12600, 0, 0, 6, 0, 6, 3780, -8826),
         (8, 11, 22150, 0, 0, 11, 0, 11, 11075, -11086)],
    D2: [(1, 0, 0, 5, 10000, 0, 3, 3, 0, 9997), (2, 0, 0, 3, 5997, 0, 2, 2, 0, 5995),
         (7, 3, 5997, 0, 0, 3, 0, 3, 1799, -4201), (8, 5, 10000, 0, 0, 5, 0, 5, 3925, -6080)],
    D3: [(2, 0, 0, 1, 2000, 0, 1, 1, 0, 1999), (8, 1, 2000, 0, 0, 1, 0, 1, 0, -2001)],
}
SUBSIDIES = {  # grant_id, issuer, account, amount, used_after
    D1: [("city-30", "city fund", 7, 3780, 3780), ("prov-50", "province", 8, 11075, 11075)],
    D2: [("city-30", "city fund", 7, 1799, 5579), ("prov-50", "province", 8, 3925, 15000)],
    D3: [],
}
DELIVERY = {  # provider, buyer, qty: greedy in account order, not the trades' counterparties
    D1: [(1, 5, 1), (1, 7, 6), (1, 8, 3), (2, 8, 8)], D2: [(1, 7, 3), (1, 8, 2), (2, 8, 3)], D3: [(2, 8, 1)]
}


def rows(table: pa.Table, columns: list[str] | None = None) -> list[tuple]:
    return [tuple(r.values()) for r in table.select(columns or table.column_names).to_pylist()]


def settle_in_memory(trades: dict[date, pa.Table], grants: list[VoucherGrant]) -> dict[date, DaySettlement]:
    used: dict[str, int] = {}
    out = {}
    for day in sorted(trades):
        out[day] = settle_day(day, trades[day], grants, used)
        used.update((r["grant_id"], r["used_after"]) for r in out[day].subsidies.to_pylist())
    return out


def with_book(tmp_path, grants):
    book = VoucherBook(tmp_path)
    for g in grants:
        book.grant(g)
    return tmp_path


# --------------------------------------------------------------------------- vouchers


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rate_bps": 0}, "rate_bps must be an integer 1..10000"),
        ({"rate_bps": 10_001}, "rate_bps"),
        ({"rate_bps": 0.3}, "rate_bps"),
        ({"rate_bps": True}, "rate_bps"),
        ({"cap_fen": 0}, "cap_fen must be None"),
        ({"cap_fen": 1.5}, "cap_fen"),
        ({"account": -1}, "account"),
        ({"issuer": " "}, "issuer must be a non-empty string"),
        ({"grant_id": ""}, "grant_id"),
        ({"valid_from": date(2027, 1, 1)}, "valid_from 2027-01-01 is after valid_to"),
        ({"valid_to": datetime(2026, 12, 31)}, "valid_to must be a datetime.date"),
    ],
)
def test_grant_validation(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PROVINCE, **change)


def test_voucher_book_persists_sorted_and_rejects_duplicates(tmp_path):
    book = VoucherBook(tmp_path)
    assert book.grants() == []
    book.grant(PROVINCE)
    book.grant(CITY)
    assert VoucherBook(tmp_path).grants() == [CITY, PROVINCE]
    assert [p.name for p in (tmp_path / "settlement").iterdir()] == ["vouchers.json"]  # no temp file left
    with pytest.raises(ValueError, match="prov-50.*already exists"):
        book.grant(dataclasses.replace(PROVINCE, account=9))
    assert VoucherBook(tmp_path).grants() == [CITY, PROVINCE]


@pytest.mark.parametrize("text", ["{not json", '{"grants": [{"grant_id": "x"}]}', "[]"])
def test_voucher_book_corrupt_file_names_it(tmp_path, text):
    path = tmp_path / "settlement" / "vouchers.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(SettlementError, match="vouchers.json"):
        VoucherBook(tmp_path)


def test_voucher_book_invalid_grant_in_file(tmp_path):
    with_book(tmp_path, [CITY])
    path = tmp_path / "settlement" / "vouchers.json"
    doc = json.loads(path.read_text())
    doc["grants"][0]["rate_bps"] = 20_000
    path.write_text(json.dumps(doc))
    with pytest.raises(SettlementError, match=f"{path}.*rate_bps"):
        VoucherBook(tmp_path)


# --------------------------------------------------------------------------- hand example


def test_hand_example_three_days():
    result = settle_in_memory(TRADES, [PROVINCE, CITY])
    for day, s in result.items():
        assert rows(s.statements) == STATEMENTS[day], day
        assert rows(s.subsidies) == SUBSIDIES[day], day
        assert rows(s.delivery, ["provider_account", "buyer_account", "qty"]) == DELIVERY[day], day
        bills = defaultdict(int)
        for _, issuer, _, amount, _ in SUBSIDIES[day]:
            bills[issuer] += amount
        assert rows(s.issuers) == sorted(bills.items())
    assert rows(result[D1].delivery)[0][:4] == (
        "H100-80G.jiaxing.20260301T10", "H100-80G", "jiaxing", datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert result[D1].summary_rows()[-1] == {
        "account": "total", "bought_qty": 27, "bought_value": 54750, "sold_qty": 27, "sold_value": 54750,
        "fees": 44, "subsidy": 14855, "net": 14811}


def test_settle_carries_cap_across_days_and_round_trips(tmp_path):
    with_book(tmp_path, [CITY, PROVINCE])
    s3 = settle(tmp_path, D3, TRADES.__getitem__, TRADES)  # settling out of order changes nothing
    s2 = settle(tmp_path, D2, TRADES.__getitem__, TRADES)
    assert rows(s2.statements) == STATEMENTS[D2] and rows(s2.subsidies) == SUBSIDIES[D2]
    assert rows(s3.statements) == STATEMENTS[D3] and s3.subsidies.num_rows == 0
    assert read_settlement(tmp_path, D2) == s2 and read_settlement(tmp_path, D3) == s3
    assert read_settlement(tmp_path, D2) != s3
    assert sorted(p.name for p in (tmp_path / "settlement" / "date=2026-03-02").iterdir()) == [
        "_MANIFEST.json", "delivery.parquet", "issuers.parquet", "statements.parquet", "subsidies.parquet"]
    # Without day 1 in the log the cap is untouched: 50 % of 10000, and 30 % of 5997 floored.
    alone = settle(tmp_path, D2, TRADES.__getitem__, [D2])
    assert rows(alone.subsidies, ["grant_id", "amount"]) == [("city-30", 1799), ("prov-50", 5000)]
    # A day without trades settles to empty tables.
    empty = settle(tmp_path, date(2026, 3, 4), TRADES.__getitem__, TRADES)
    assert all(getattr(empty, n).num_rows == 0 for n in ("statements", "subsidies", "delivery", "issuers"))


def test_grants_stack_in_id_order_up_to_value_and_respect_validity():
    trades = make_trades(D2, [(9, 1, 4, 1, 1000, 0, 0)])
    grants = [
        VoucherGrant("b", "B", 4, 7000, None, D1, D2),  # second: only 400 of 700 left
        VoucherGrant("a", "A", 4, 6000, None, D2, D2),
        VoucherGrant("c", "C", 4, 10000, None, D1, D1),  # expired: valid_to is inclusive of D1 only
        VoucherGrant("0", "Z", 4, 10000, None, D3, D3),  # not yet valid
    ]
    s = settle_day(D2, trades, grants, {})
    assert rows(s.subsidies) == [("a", "A", 4, 600, 600), ("b", "B", 4, 400, 400)]
    assert rows(s.statements, ["account", "subsidy", "net"]) == [(1, 0, 1000), (4, 1000, 0)]
    assert settle_day(D2, trades, grants[:1], {"b": 1}).subsidies["amount"].to_pylist() == [700]


def test_delivery_nets_out_a_reseller_across_instruments():
    trades = make_trades(D1, [
        (10, 3, 6, 5, 100, 0, 0), (10, 6, 4, 5, 110, 0, 0),  # 6 bought and resold everything
        (10, 1, 6, 2, 100, 0, 0), (10, 6, 2, 1, 100, 0, 0),  # 6 keeps 1; 2 is a net buyer of 1
        (11, 6, 4, 7, 100, 0, 0), (11, 4, 5, 3, 100, 0, 0),  # another hour: 6 provides 7
    ])
    s = settle_day(D1, trades, [], {})
    columns = ["symbol", "provider_account", "buyer_account", "qty"]
    got = [(symbol[-3:], *rest) for symbol, *rest in rows(s.delivery, columns)]
    assert got == [("T10", 1, 2, 1), ("T10", 1, 4, 1), ("T10", 3, 4, 4), ("T10", 3, 6, 1),
                   ("T11", 6, 4, 4), ("T11", 6, 5, 3)]


# --------------------------------------------------------------------------- tampering and files


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = value(values[row])
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.field(i), pa.array(values, table.field(i).type))


@pytest.mark.parametrize(
    "name, column, row, value, message",
    [
        ("statements", "net", 3, lambda v: v + 1, r"sum of nets 14812 \+ fees 44 - subsidies 14855 = 1"),
        ("statements", "subsidy", 3, lambda v: v + 1, "subsidy"),
        ("statements", "bought_value", 2, lambda v: v - 1, "bought_value total 54749 != 54750"),
        ("statements", "account", 4, lambda v: 9, "statements|account"),
        ("subsidies", "amount", 0, lambda v: v + 1, "buyer payments"),
        ("issuers", "amount", 1, lambda v: v - 1, "issuer subsidies"),
        ("delivery", "qty", 1, lambda v: v - 1, "delivers 17 != net volume 18"),
        ("delivery", "buyer_account", 0, lambda v: 7, "deliveries per account"),
    ],
)
def test_verify_detects_tampering(name, column, row, value, message):
    s = settle_day(D1, TRADES[D1], [CITY, PROVINCE], {})
    verify(s, TRADES[D1])
    tampered = dataclasses.replace(s, **{name: _set(getattr(s, name), column, row, value)})
    assert tampered != s
    with pytest.raises(SettlementError, match=message):
        verify(tampered, TRADES[D1])


def test_verify_detects_compensating_changes():
    """Changes that keep every total: one fen of value or of net moved between two accounts."""
    s = settle_day(D1, TRADES[D1], [], {})
    moved = _set(_set(s.statements, "bought_value", 2, lambda v: v - 1), "net", 2, lambda v: v + 1)
    moved = _set(_set(moved, "bought_value", 3, lambda v: v + 1), "net", 3, lambda v: v - 1)
    with pytest.raises(SettlementError, match=r"do not match trades for accounts \[5, 7\]"):
        verify(dataclasses.replace(s, statements=moved), TRADES[D1])
    nets = _set(_set(s.statements, "net", 0, lambda v: v - 1), "net", 1, lambda v: v + 1)
    with pytest.raises(SettlementError, match="account 1 net 19993 != 19994"):
        verify(dataclasses.replace(s, statements=nets), TRADES[D1])


def test_bad_trades_and_files(tmp_path):
    with pytest.raises(SettlementError, match="TRADE_SCHEMA"):
        settle_day(D1, TRADES[D1].drop_columns(["seller_fee"]), [], {})
    with pytest.raises(SettlementError, match="_MANIFEST.json: missing"):
        read_settlement(tmp_path, D1)
    settle(tmp_path, D1, TRADES.__getitem__, TRADES)
    path = tmp_path / "settlement" / "date=2026-03-01" / "issuers.parquet"
    path.write_bytes(b"garbage")
    with pytest.raises(SettlementError, match="issuers.parquet: not the file its manifest names"):
        read_settlement(tmp_path, D1)


def test_a_settle_run_that_stops_mid_way_never_mixes_two_runs(tmp_path, monkeypatch):
    """Files of an interrupted run and of the run before are never read as one result."""
    from exchange.settlement import statements

    with_book(tmp_path, [CITY, PROVINCE])
    settle(tmp_path, D1, TRADES.__getitem__, TRADES)
    written = []

    def crash_after_two(ops, path, data):
        if len(written) == 2:
            raise OSError("power cut")
        written.append(path.name)
        real(ops, path, data)

    real = statements.write_atomically
    monkeypatch.setattr(statements, "write_atomically", crash_after_two)
    with pytest.raises(OSError):
        settle(tmp_path, D1, TRADES.__getitem__, [D1])  # another run: different subsidies
    monkeypatch.setattr(statements, "write_atomically", real)
    with pytest.raises(SettlementError, match="incomplete"):
        read_settlement(tmp_path, D1)
    again = settle(tmp_path, D1, TRADES.__getitem__, [D1])
    assert read_settlement(tmp_path, D1) == again


# --------------------------------------------------------------------------- properties

DAYS = [D1, D2, D3]
trade_rows = st.lists(
    st.tuples(
        st.sampled_from(DAYS), st.integers(0, 2), st.integers(0, 4), st.integers(0, 4),
        st.integers(1, 10**6), st.integers(1, 2**31 - 1), st.integers(0, 10**9), st.integers(0, 10**9),
    ).filter(lambda r: r[2] != r[3]),
    max_size=30,
)
grant_specs = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(1, BPS_DENOMINATOR), st.none() | st.integers(1, 10**13),
        st.integers(0, 2), st.integers(0, 2), st.sampled_from(["city", "province"]),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(trade_rows, grant_specs)
def test_conservation_and_subsidy_bounds(raw_trades, specs):
    grants = [
        VoucherGrant(f"g{i}", issuer, account, rate, cap, DAYS[min(a, b)], DAYS[max(a, b)])
        for i, (account, rate, cap, a, b, issuer) in enumerate(specs)
    ]
    trades = {d: make_trades(d, [r[1:] for r in raw_trades if r[0] == d]) for d in DAYS}
    result = settle_in_memory(trades, grants)
    paid: dict[str, int] = defaultdict(int)
    for day, s in result.items():
        verify(s, trades[day])
        bought: dict[int, int] = defaultdict(int)
        net_qty: dict[tuple, int] = defaultdict(int)
        fees = 0
        for _, hour, seller, buyer, qty, price, bfee, sfee in (r for r in raw_trades if r[0] == day):
            bought[buyer] += price * qty
            net_qty[hour, seller] += qty
            net_qty[hour, buyer] -= qty
            fees += bfee + sfee
        statements = {r["account"]: r for r in s.statements.to_pylist()}
        subsidy = sum(r["subsidy"] for r in statements.values())
        assert sum(r["net"] for r in statements.values()) + fees - subsidy == 0  # no fen created or destroyed
        assert subsidy == sum(s.issuers["amount"].to_pylist())
        assert {a: r["bought_value"] for a, r in statements.items() if r["bought_value"]} == dict(bought)
        for r in statements.values():
            assert 0 <= r["subsidy"] <= r["bought_value"]
        by_id = {r["grant_id"]: r for r in s.subsidies.to_pylist()}
        for g in grants:
            amount = by_id.get(g.grant_id, {}).get("amount", 0)
            assert g.valid_on(day) or amount == 0
            assert amount <= bought[g.account] * g.rate_bps // BPS_DENOMINATOR
            paid[g.grant_id] += amount
            assert g.cap_fen is None or paid[g.grant_id] <= g.cap_fen
            if amount:
                assert by_id[g.grant_id]["used_after"] == paid[g.grant_id]
            if g.valid_on(day) and amount < bought[g.account] * g.rate_bps // BPS_DENOMINATOR:
                # paid less than the rate only when the cap or the account's value is exhausted
                assert paid[g.grant_id] == g.cap_fen or statements[g.account]["subsidy"] == bought[g.account]
        delivered: dict[tuple, int] = defaultdict(int)
        for r in s.delivery.to_pylist():
            hour = r["slot_start"].astimezone(CST).hour
            assert r["qty"] > 0
            delivered[hour, r["provider_account"]] += r["qty"]
            delivered[hour, r["buyer_account"]] -= r["qty"]
        assert {k: v for k, v in delivered.items() if v} == {k: v for k, v in net_qty.items() if v}
        assert sum(s.delivery["qty"].to_pylist()) == sum(v for v in net_qty.values() if v > 0)
