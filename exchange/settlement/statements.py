"""Settling a delivery day: statements, subsidies, delivery schedule, issuer bills.

See :mod:`exchange.settlement` for the rules; this module implements them.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.journal import FileOps, write_atomically
from exchange.settlement.vouchers import (
    SETTLEMENT_DIR,
    SettlementError,
    VoucherBook,
    VoucherGrant,
)
from exchange.tradelog.schema import BPS_DENOMINATOR, TRADE_SCHEMA

_I64 = pa.int64()
_INSTRUMENT = ["symbol", "gpu_class", "region", "slot_start"]

STATEMENT_SCHEMA = pa.schema(
    [("account", _I64)]
    + [
        (name, _I64)
        for name in (
            "bought_qty", "bought_value", "sold_qty", "sold_value",
            "buyer_fees", "seller_fees", "fees", "subsidy", "net",
        )
    ]
)
"""One row per account that traded, sorted by account; quantities in GPU-hours, money in fen."""
SUBSIDY_SCHEMA = pa.schema(
    [("grant_id", pa.string()), ("issuer", pa.string())]
    + [(c, _I64) for c in ("account", "amount", "used_after")]
)
"""One row per grant that paid a positive amount today, sorted by grant_id."""
DELIVERY_SCHEMA = pa.schema(
    [(c, TRADE_SCHEMA.field(c).type) for c in _INSTRUMENT]
    + [("provider_account", _I64), ("buyer_account", _I64), ("qty", _I64)]
)
"""Who delivers how many GPU-hours to whom, per instrument."""
ISSUER_SCHEMA = pa.schema([("issuer", pa.string()), ("amount", _I64)])
"""What each voucher issuer owes for the day, sorted by issuer."""
TABLES = {
    "statements": STATEMENT_SCHEMA,
    "subsidies": SUBSIDY_SCHEMA,
    "delivery": DELIVERY_SCHEMA,
    "issuers": ISSUER_SCHEMA,
}
"""The tables of a :class:`DaySettlement`, each stored as ``<name>.parquet``."""
_SUMMARY = ["bought_qty", "bought_value", "sold_qty", "sold_value", "fees", "subsidy", "net"]


@dataclass(frozen=True, eq=False)
class DaySettlement:
    """The settlement of one delivery day; equal when the day and every table are equal."""

    day: date
    statements: pa.Table
    subsidies: pa.Table
    delivery: pa.Table
    issuers: pa.Table

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DaySettlement):
            return NotImplemented
        return self.day == other.day and all(getattr(self, n).equals(getattr(other, n)) for n in TABLES)

    def summary_rows(self) -> list[dict[str, str | int]]:
        """Per-account rows plus a ``total`` row: account, bought/sold GPU-hours, and fen
        amounts (bought_value, sold_value, fees, subsidy, net) for the caller to format."""
        rows = [
            {"account": str(r["account"])} | {c: r[c] for c in _SUMMARY} for r in self.statements.to_pylist()
        ]
        return rows + [{"account": "total", **{c: sum(r[c] for r in rows) for c in _SUMMARY}}]


def _check_trades(trades: pa.Table) -> None:
    if not trades.schema.equals(TRADE_SCHEMA):
        raise SettlementError(f"trades do not have TRADE_SCHEMA, got:\n{trades.schema}")
    nulls = [c for c in TRADE_SCHEMA.names if trades[c].null_count]
    if nulls:
        raise SettlementError(f"trades have nulls in columns {nulls}")


def _by_account(trades: pa.Table) -> dict[int, tuple[int, ...]]:
    """account -> (bought_qty, bought_value, sold_qty, sold_value, buyer_fees, seller_fees)."""
    sides = {}
    for side in ("buyer", "seller"):
        key, fee = f"{side}_account", f"{side}_fee"
        t = trades.group_by(key).aggregate([("qty", "sum"), ("notional", "sum"), (fee, "sum")])
        cols = (t[c].to_pylist() for c in (key, "qty_sum", "notional_sum", f"{fee}_sum"))
        sides[side] = {a: (q, v, f) for a, q, v, f in zip(*cols)}
    out: dict[int, tuple[int, ...]] = {}
    for a in sides["buyer"].keys() | sides["seller"].keys():
        (bq, bv, bf), (sq, sv, sf) = sides["buyer"].get(a, (0, 0, 0)), sides["seller"].get(a, (0, 0, 0))
        out[a] = (bq, bv, sq, sv, bf, sf)
    return out


def _nets(trades: pa.Table) -> dict[tuple, dict[int, int]]:
    """instrument (symbol, gpu_class, region, slot ns) -> account -> sold - bought GPU-hours."""
    nets: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    base = {c: trades[c] for c in _INSTRUMENT[:3]} | {"slot_start": trades["slot_start"].cast(_I64)}
    for side, sign in (("seller", 1), ("buyer", -1)):
        t = pa.table({**base, "account": trades[f"{side}_account"], "qty": trades["qty"]})
        t = t.group_by(_INSTRUMENT + ["account"]).aggregate([("qty", "sum")])
        for *inst, account, qty in zip(*(t[c].to_pylist() for c in _INSTRUMENT + ["account", "qty_sum"])):
            nets[tuple(inst)][account] += sign * qty
    return nets


def _allocate(providers: list[tuple[int, int]], buyers: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Greedy (provider, buyer, qty): both sides in ascending account order, each filled in turn."""
    rows: list[tuple[int, ...]] = []
    left, k = [q for _, q in buyers], 0
    for provider, qty in providers:
        while qty:
            take = min(qty, left[k])
            rows.append((provider, buyers[k][0], take))
            qty, left[k] = qty - take, left[k] - take
            k += left[k] == 0
    return rows


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows)) or [()] * len(schema)
    return pa.Table.from_arrays([pa.array(list(c), f.type) for c, f in zip(columns, schema)], schema=schema)


def _delivery(trades: pa.Table) -> pa.Table:
    rows = []
    for inst, by_account in sorted(_nets(trades).items()):
        providers = sorted((a, n) for a, n in by_account.items() if n > 0)
        buyers = sorted((a, -n) for a, n in by_account.items() if n < 0)
        rows += [(*inst, *row) for row in _allocate(providers, buyers)]
    return _table(rows, DELIVERY_SCHEMA)


def settle_day(
    day: date, trades: pa.Table, grants: Iterable[VoucherGrant], used_before: Mapping[str, int]
) -> DaySettlement:
    """Settle delivery day ``day`` from its trades (TRADE_SCHEMA), the voucher grants and
    each grant's subsidy paid on earlier days (``used_before``, absent = 0). Pure; the
    result is :func:`verify`-ed, so a conservation failure raises :class:`SettlementError`."""
    _check_trades(trades)
    grants = sorted(grants, key=lambda g: g.grant_id)
    if len({g.grant_id for g in grants}) != len(grants):
        raise ValueError("grants must have distinct grant_id")
    traded = _by_account(trades)
    given: dict[int, int] = defaultdict(int)
    subsidies = []
    for g in (g for g in grants if g.valid_on(day) and g.account in traded):
        value, used = traded[g.account][1], used_before.get(g.grant_id, 0)
        amount = min(value * g.rate_bps // BPS_DENOMINATOR, value - given[g.account])
        if g.cap_fen is not None:
            amount = min(amount, g.cap_fen - used)
        if amount > 0:
            given[g.account] += amount
            subsidies.append((g.grant_id, g.issuer, g.account, amount, used + amount))
    statements = []
    for a in sorted(traded):
        bq, bv, sq, sv, bf, sf = traded[a]
        statements.append((a, bq, bv, sq, sv, bf, sf, bf + sf, given[a], sv - bv - bf - sf + given[a]))
    bills: dict[str, int] = defaultdict(int)
    for _, issuer, _, amount, _ in subsidies:
        bills[issuer] += amount
    result = DaySettlement(
        day,
        _table(statements, STATEMENT_SCHEMA),
        _table(subsidies, SUBSIDY_SCHEMA),
        _delivery(trades),
        _table(sorted(bills.items()), ISSUER_SCHEMA),
    )
    verify(result, trades)
    return result


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise SettlementError(message)


def verify(settlement: DaySettlement, trades: pa.Table) -> None:
    """Re-check ``settlement`` against the day's ``trades``: conservation of money from
    per-trade totals, statement totals and rows, subsidies and issuer bills, and delivery
    against net traded volume. Raises :class:`SettlementError` with the numbers."""
    _check_trades(trades)
    day = settlement.day
    for name, schema in TABLES.items():
        _require(getattr(settlement, name).schema.equals(schema), f"{day}: {name} table has the wrong schema")
    t = {c: sum(trades[c].to_pylist()) for c in ("qty", "notional", "buyer_fee", "seller_fee")}
    s = {c: settlement.statements[c].to_pylist() for c in STATEMENT_SCHEMA.names}
    subsidy = sum(settlement.subsidies["amount"].to_pylist())
    issued = sum(settlement.issuers["amount"].to_pylist())
    fees = t["buyer_fee"] + t["seller_fee"]
    paid, received = t["notional"] + t["buyer_fee"] - subsidy, t["notional"] - t["seller_fee"]
    _require(
        paid + issued == received + fees,
        f"{day}: buyer payments {paid} + issuer subsidies {issued} "
        f"!= provider receipts {received} + exchange fees {fees}",
    )
    nets = sum(s["net"])
    _require(
        nets + fees - issued == 0,
        f"{day}: sum of nets {nets} + fees {fees} - subsidies {issued} = {nets + fees - issued}, not 0",
    )
    expected = {
        "bought_qty": t["qty"], "sold_qty": t["qty"], "bought_value": t["notional"],
        "sold_value": t["notional"], "buyer_fees": t["buyer_fee"], "seller_fees": t["seller_fee"],
        "fees": fees, "subsidy": subsidy,
    }
    for column, total in expected.items():
        got = sum(s[column])
        _require(got == total, f"{day}: statements {column} total {got} != {total} from trades")
    _require(s["account"] == sorted(set(s["account"])), f"{day}: statement accounts not unique and ascending")
    stated = {r[0]: r[1:] for r in zip(*(s[c] for c in STATEMENT_SCHEMA.names[:7]))}
    traded = _by_account(trades)
    wrong = sorted(a for a in stated.keys() | traded.keys() if stated.get(a) != traded.get(a))[:3]
    _require(
        not wrong,
        f"{day}: statements do not match trades for accounts {wrong}: "
        f"{[stated.get(a) for a in wrong]} != {[traded.get(a) for a in wrong]}",
    )
    for r in settlement.statements.to_pylist():
        _require(r["fees"] == r["buyer_fees"] + r["seller_fees"], f"{day}: account {r['account']} fees {r}")
        _require(0 <= r["subsidy"] <= r["bought_value"], f"{day}: account {r['account']} subsidy {r}")
        net = r["sold_value"] - r["bought_value"] - r["fees"] + r["subsidy"]
        _require(r["net"] == net, f"{day}: account {r['account']} net {r['net']} != {net}")
    per_account: dict[int, int] = defaultdict(int)
    bills: dict[str, int] = defaultdict(int)
    for r in settlement.subsidies.to_pylist():
        _require(0 < r["amount"] <= r["used_after"], f"{day}: subsidy row {r}")
        per_account[r["account"]] += r["amount"]
        bills[r["issuer"]] += r["amount"]
    _require(
        per_account == {a: v for a, v in zip(s["account"], s["subsidy"]) if v},
        f"{day}: subsidies per account {dict(per_account)} do not match statements",
    )
    _require(
        settlement.issuers.to_pylist() == [{"issuer": i, "amount": v} for i, v in sorted(bills.items())],
        f"{day}: issuer bills {settlement.issuers.to_pylist()} != subsidies by issuer {dict(bills)}",
    )
    flows: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    delivered: dict[tuple, int] = defaultdict(int)
    d = settlement.delivery
    d = d.set_column(d.schema.get_field_index("slot_start"), "slot_start", d["slot_start"].cast(_I64))
    for *fields, provider, buyer, qty in zip(*(d[c].to_pylist() for c in DELIVERY_SCHEMA.names)):
        row_inst = tuple(fields)
        _require(qty > 0 and provider != buyer, f"{day}: delivery row {row_inst} {provider}->{buyer} qty {qty}")
        flows[row_inst][provider] += qty
        flows[row_inst][buyer] -= qty
        delivered[row_inst] += qty
    traded_nets = _nets(trades)
    for inst in traded_nets.keys() | flows.keys():
        volume = sum(n for n in traded_nets.get(inst, {}).values() if n > 0)
        total = delivered.get(inst, 0)
        _require(total == volume, f"{day}: {inst} delivers {total} != net volume {volume}")
        want = {a: n for a, n in traded_nets.get(inst, {}).items() if n}
        got = {a: n for a, n in flows.get(inst, {}).items() if n}
        _require(got == want, f"{day}: {inst} deliveries per account {got} != net traded {want}")


def _day_dir(data_dir: Path, day: date) -> Path:
    return Path(data_dir) / SETTLEMENT_DIR / f"date={day.isoformat()}"


def compute_settlement(
    data_dir: Path, day: date, read_trades: Callable[[date], pa.Table], trade_days: Iterable[date]
) -> DaySettlement:
    """Settle ``day`` with the grants of ``data_dir``'s voucher book, writing nothing.

    Grant usage before ``day`` is recomputed by settling, in date order, every earlier
    day of ``trade_days`` inside some grant's validity, so the result depends only on
    the trades and the grants (the audit calls this with replayed trades)."""
    grants = VoucherBook(data_dir).grants()
    days = set(trade_days)
    used: dict[str, int] = {}
    for earlier in sorted(d for d in days if d < day and any(g.valid_on(d) for g in grants)):
        sub = settle_day(earlier, read_trades(earlier), grants, used).subsidies
        used.update(zip(sub["grant_id"].to_pylist(), sub["used_after"].to_pylist()))
    trades = read_trades(day) if day in days else TRADE_SCHEMA.empty_table()
    return settle_day(day, trades, grants, used)


MANIFEST = "_MANIFEST.json"
"""Written last by :func:`settle`: the SHA-256 of each table file of the run."""


def settle(
    data_dir: Path, day: date, read_trades: Callable[[date], pa.Table], trade_days: Iterable[date],
    trades_source: Mapping[str, object] | None = None,
) -> DaySettlement:
    """:func:`compute_settlement`, then write its tables to
    ``<data_dir>/settlement/date=YYYY-MM-DD/*.parquet``, as a set: the old manifest is
    removed first, each file is written atomically, and the manifest of their hashes
    last -- so a crash mid-way leaves a day that reads as incomplete, never one that
    mixes two runs. ``trades_source`` (the trade log's
    :func:`~exchange.tradelog.trades_source` of the day) is kept in the manifest as
    ``trades``: the chain head and Parquet copy the statements were computed from,
    which the audit checks against the log."""
    result = compute_settlement(data_dir, day, read_trades, trade_days)
    folder = _day_dir(data_dir, day)
    folder.mkdir(parents=True, exist_ok=True)
    ops = FileOps()
    if (folder / MANIFEST).exists():
        (folder / MANIFEST).unlink()
        ops.fsync_dir(folder)
    digests = {}
    for name in TABLES:
        buf = pa.BufferOutputStream()
        pq.write_table(getattr(result, name), buf)
        data = buf.getvalue().to_pybytes()
        write_atomically(ops, folder / f"{name}.parquet", data)
        digests[name] = hashlib.sha256(data).hexdigest()
    manifest = {"day": day.isoformat(), "sha256": digests}
    if trades_source is not None:
        manifest["trades"] = dict(trades_source)
    write_atomically(ops, folder / MANIFEST, json.dumps(manifest).encode())
    return result


def settled_from(data_dir: Path, day: date) -> dict | None:
    """The ``trades`` source a day's settlement manifest names (None if it names none)."""
    path = _day_dir(data_dir, day) / MANIFEST
    try:
        return json.loads(path.read_text()).get("trades")
    except (OSError, ValueError, AttributeError) as exc:
        raise SettlementError(f"{path}: unreadable: {exc}") from None


def settled_days(data_dir: Path) -> list[date]:
    """Delivery days with a settlement on disk, in date order."""
    root = Path(data_dir) / SETTLEMENT_DIR
    return sorted(date.fromisoformat(p.name[5:]) for p in root.glob("date=*") if p.is_dir())


def read_settlement(data_dir: Path, day: date) -> DaySettlement:
    """Read the settlement of ``day`` written by :func:`settle`; a missing, corrupt or
    incomplete set of files is a :class:`SettlementError` naming the file."""
    folder = _day_dir(data_dir, day)
    try:
        digests = json.loads((folder / MANIFEST).read_text())["sha256"]
    except FileNotFoundError:
        raise SettlementError(f"{folder / MANIFEST}: missing, the settlement of {day} is incomplete "
                              f"(a settle run stopped mid-way?): settle {day} again") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SettlementError(f"{folder / MANIFEST}: corrupt: {exc}") from None
    tables = {}
    for name, schema in TABLES.items():
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise SettlementError(f"{path}: missing; settle {day} first")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digests.get(name):
            raise SettlementError(f"{path}: not the file its manifest names (changed, or from another "
                                  f"settle run): settle {day} again")
        try:
            table = pq.ParquetFile(pa.BufferReader(data)).read()
        except (pa.ArrowException, OSError) as exc:
            raise SettlementError(f"{path}: corrupt: {exc}") from exc
        if not table.schema.equals(schema):
            raise SettlementError(f"{path}: schema is\n{table.schema}\nexpected\n{schema}")
        tables[name] = table
    return DaySettlement(day, **tables)
