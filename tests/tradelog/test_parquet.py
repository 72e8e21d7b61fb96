"""Parquet for SQL tools: a sealed day's copy (checked by the audit), the trades a
settlement names, and ``gpux export``; read back with DuckDB SQL and Polars."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from exchange.audit import audit
from exchange.cli import app
from exchange.schema import CommandKind, command
from exchange.sequencer import ExchangeNode, SyncPolicy
from exchange.testing.workload import funding, order_flow, symbols
from exchange.tradelog import PARQUET_NAME, day_closes_ns, read_day, read_seal

NOW = int(datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9
FIRST_HOUR = datetime.fromisoformat("2026-11-26T22:00:00+08:00")  # two hours on the 26th, two on the 27th
DAY1, DAY2 = date(2026, 11, 26), date(2026, 11, 27)
ACCOUNTS = 6
runner = CliRunner(env={"GPUX_CATALOG": None, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    """A closed data dir: two delivery days traded, day 1 sealed and settled (``gpux settle``)."""
    path = tmp_path_factory.mktemp("market")
    now = [NOW]
    node = ExchangeNode.open(path, sync=SyncPolicy.OS, clock=lambda: now[0])
    names = symbols(node.catalog, FIRST_HOUR, hours=4, regions=2)
    node.list_symbols(names)
    node.execute(funding(len(names), ACCOUNTS))
    for i in range(3):
        node.execute(order_flow(node.catalog, 400, len(names), ACCOUNTS, seed=i, clord_base=10_000 * i))
    now[0] = day_closes_ns(node.catalog, DAY1)
    node.execute(command(CommandKind.TIMER))  # closes day 1's gates: the node seals it
    node.close()
    settled = runner.invoke(app, ["settle", DAY1.isoformat(), "--data-dir", str(path)])
    assert settled.exit_code == 0, settled.output
    return path


def _one(sql: str) -> tuple:
    """The one row a DuckDB query gives."""
    (row,) = duckdb.sql(sql).fetchall()
    return row


def _copy(market: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(market, tmp_path / "copy"))


def test_a_sealed_day_has_a_parquet_copy_that_sql_tools_read(market):
    arrow = read_day(market / "trades", DAY1)
    copy = market / "parquet" / f"date={DAY1}" / PARQUET_NAME
    seal = read_seal(market / "trades", DAY1)
    assert seal["parquet"]["path"] == f"date={DAY1}/{PARQUET_NAME}" and seal["parquet"]["rows"] == arrow.num_rows
    assert not (market / "parquet" / f"date={DAY2}").exists()  # day 2 is not sealed
    assert arrow.num_rows > 50
    glob = str(market / "parquet" / "*" / "trades.parquet")
    rows, qty, notional, first_day = _one(f"SELECT count(*), sum(qty), sum(notional), min(date) "
                                          f"FROM read_parquet('{glob}', hive_partitioning = true)")
    assert (rows, qty, notional) == (arrow.num_rows, pa.compute.sum(arrow["qty"]).as_py(),
                                     pa.compute.sum(arrow["notional"]).as_py())
    assert str(first_day) == DAY1.isoformat()
    by_region = duckdb.sql(f"SELECT region, sum(qty) AS q FROM '{copy}' GROUP BY region ORDER BY region").fetchall()
    frame = pl.read_parquet(copy)
    assert frame.schema["ts"] == pl.Datetime("ns", "UTC") and frame.schema["price"] == pl.Int64
    polars_by_region = frame.group_by("region").agg(pl.col("qty").sum()).sort("region").rows()
    assert by_region == polars_by_region
    assert frame["trade_id"].to_list() == arrow["trade_id"].to_pylist()


def test_the_settlement_names_the_trades_it_came_from(market):
    manifest = json.loads((market / "settlement" / f"date={DAY1}" / "_MANIFEST.json").read_text())
    seal = read_seal(market / "trades", DAY1)
    assert manifest["trades"] == {"head": seal["hash"], "trades": seal["trades"], "sealed": True,
                                  "parquet_sha256": seal["parquet"]["sha256"]}
    report = audit(market)
    assert report.ok, report.problem


def test_the_audit_fails_a_changed_or_missing_parquet_copy(market, tmp_path):
    broken = _copy(market, tmp_path)
    copy = broken / "parquet" / f"date={DAY1}" / PARQUET_NAME
    table = pq.read_table(copy)
    prices = table["price"].to_pylist()
    prices[0] += 1
    pq.write_table(table.set_column(table.schema.get_field_index("price"), "price", pa.array(prices)), copy)
    report = audit(broken)
    assert not report.ok and str(copy) in report.problem and "seal names" in report.problem
    # a consistent forgery (the seal rewritten too) is caught by comparing with the Arrow files
    seal_path = broken / "trades" / f"date={DAY1}" / "_SEALED.json"
    seal = json.loads(seal_path.read_text())
    seal["parquet"]["sha256"] = hashlib.sha256(copy.read_bytes()).hexdigest()
    seal_path.write_text(json.dumps(seal))
    report = audit(broken)
    assert not report.ok and "not the day's" in report.problem
    copy.unlink()
    report = audit(broken)
    assert not report.ok and str(copy) in report.problem and "names this Parquet copy" in report.problem


def test_the_audit_fails_a_settlement_of_other_trades(market, tmp_path):
    broken = _copy(market, tmp_path)
    manifest_path = broken / "settlement" / f"date={DAY1}" / "_MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["trades"]["head"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    report = audit(broken)
    assert not report.ok and f"settlement {DAY1} was computed from trade-log head {'0' * 64}" in report.problem


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_gpux_export_writes_any_day_for_sql_tools(market, tmp_path, fmt):
    out = tmp_path / f"day2.{fmt}"
    result = runner.invoke(app, ["export", DAY2.isoformat(), "--format", fmt, "--out", str(out),
                                 "--data-dir", str(market)])
    assert result.exit_code == 0, result.output
    arrow = read_day(market / "trades", DAY2)  # an unsealed day exports too
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    rows, notional, fees = _one(f"SELECT count(*), sum(notional), sum(buyer_fee + seller_fee) FROM {reader}('{out}')")
    assert (rows, notional) == (arrow.num_rows, pa.compute.sum(arrow["notional"]).as_py())
    assert fees == pa.compute.sum(arrow["buyer_fee"]).as_py() + pa.compute.sum(arrow["seller_fee"]).as_py()
    frame = pl.read_csv(out) if fmt == "csv" else pl.read_parquet(out)
    assert frame["trade_id"].to_list() == arrow["trade_id"].to_pylist() and frame["price"].dtype == pl.Int64


def test_gpux_export_of_a_settlement_table_and_its_errors(market, tmp_path):
    out = tmp_path / "statements.csv"
    result = runner.invoke(app, ["export", DAY1.isoformat(), "--table", "statements", "--format", "csv",
                                 "--out", str(out), "--data-dir", str(market)])
    assert result.exit_code == 0, result.output
    nets, fees, subsidies = _one(f"SELECT sum(net), sum(fees), sum(subsidy) FROM read_csv('{out}')")
    assert nets + fees - subsidies == 0  # money is conserved in the exported statements too
    missing = runner.invoke(app, ["export", DAY2.isoformat(), "--table", "statements", "--out", str(out),
                                  "--data-dir", str(market)])
    assert missing.exit_code == 2 and "gpux settle 2026-11-27 first" in missing.output
    broken = _copy(market, tmp_path)
    victim = next((broken / "trades" / f"date={DAY2}").glob("*.arrow"))
    victim.write_bytes(victim.read_bytes()[:-10])
    corrupt = runner.invoke(app, ["export", DAY2.isoformat(), "--out", str(out), "--data-dir", str(broken)])
    assert corrupt.exit_code == 2 and victim.name in corrupt.output
