"""The gpux command line, run in-process with typer's CliRunner."""

from __future__ import annotations

from typer.testing import CliRunner

from exchange.cli import app

runner = CliRunner(env={"GPUX_CATALOG": None, "COLUMNS": "80"})


def test_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("catalog", "symbol", "demo"):
        assert command in result.output


def test_catalog_lists_classes_and_regions() -> None:
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0, result.output
    out = result.output
    for name in ("H100-80G", "H800-80G", "A800-80G", "A100-80G", "910B", "MLU370", "BI-V100"):
        assert name in out
    for name in ("hangzhou", "杭州", "neimenggu", "内蒙古", "ningxia"):
        assert name in out
    assert "204.9" in out and "77.97" in out  # FP16 TFLOPS
    assert "1.00–60.00" in out  # H100-80G band, ¥ from fen
    assert "5/10" in out  # maker/taker fees in bps
    assert "UTC+08:00" in out


def test_symbol_good() -> None:
    result = runner.invoke(app, ["symbol", "H100-80G.jiaxing.20261125T14"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "H100-80G" in out and "jiaxing" in out and "嘉兴" in out
    assert "2026-11-25 14:00 UTC+08:00" in out
    assert "1795586400000000000" in out  # 2026-11-25T06:00Z in ns
    assert "2026-11-25 13:45 UTC+08:00" in out  # gate closure
    assert "1795585500000000000" in out


def test_symbol_bad_exits_2_with_the_message() -> None:
    result = runner.invoke(app, ["symbol", "H100-80G.shenzhen.20261125T14"])
    assert result.exit_code == 2
    assert "unknown region 'shenzhen' in 'H100-80G.shenzhen.20261125T14'" in result.stderr
    assert result.stdout == ""

    result = runner.invoke(app, ["symbol", "H100-80G.jiaxing.20261325T14"])
    assert result.exit_code == 2
    assert "bad slot '20261325T14'" in result.output

    result = runner.invoke(app, ["symbol", "nonsense"])
    assert result.exit_code == 2
    assert "expected GPU.REGION.YYYYMMDDTHH" in result.output


def test_bad_catalog_file_exits_2(tmp_path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[market]\n")
    result = runner.invoke(app, ["--catalog", str(path), "catalog"])
    assert result.exit_code == 2
    assert f"catalog {path}: " in result.output
    result = runner.invoke(app, ["catalog"], env={"GPUX_CATALOG": str(path)})
    assert result.exit_code == 2
    assert "from $GPUX_CATALOG" in result.output


def test_settle_and_voucher_need_a_data_dir(tmp_path) -> None:
    for args in (["settle", "2026-11-26"], ["voucher", "list"]):
        result = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "none")])
        assert result.exit_code == 2 and "not a gpux data dir" in result.output


def test_voucher_grant_list_and_bad_input(tmp_path) -> None:
    from exchange.sequencer import ExchangeNode

    ExchangeNode.open(tmp_path).close()
    grant = ["voucher", "grant", "city-30", "--issuer", "hangzhou-city-fund", "--account", "7",
             "--rate-bps", "3000", "--valid-from", "2026-01-01", "--valid-to", "2026-12-31",
             "--data-dir", str(tmp_path)]
    assert runner.invoke(app, grant).exit_code == 0
    again = runner.invoke(app, grant)
    assert again.exit_code == 2 and "already exists" in again.output
    bad_rate = runner.invoke(app, [*grant[:7], "--rate-bps", "20000", *grant[9:]])
    assert bad_rate.exit_code == 2 and "rate_bps" in bad_rate.output
    bad_day = runner.invoke(app, [*grant[:9], "--valid-from", "tomorrow", *grant[11:]])
    assert bad_day.exit_code == 2 and "not a date" in bad_day.output
    listed = runner.invoke(app, ["voucher", "list", "--data-dir", str(tmp_path)])
    assert "city-30" in listed.output and "3000 bps" in listed.output and "none" in listed.output


def test_audit_of_a_missing_dir_fails(tmp_path) -> None:
    result = runner.invoke(app, ["audit", str(tmp_path / "none")])
    assert result.exit_code == 1 and "not a gpux data dir" in result.output
