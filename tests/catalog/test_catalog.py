"""The catalog: default file, symbols, validation, prices per PFLOP-hour, listing."""

from __future__ import annotations

import calendar
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from exchange.catalog import (
    NS_PER_DAY,
    NS_PER_HOUR,
    Catalog,
    CatalogError,
    Instrument,
    Listing,
    SymbolError,
    default_catalog,
    format_symbol,
    load_catalog,
    loads_catalog,
    parse_symbol,
    slot_from_ts_ns,
    slot_ts_ns,
)
from exchange.catalog.model import format_minor_units
from exchange.cli.tables import yuan
from exchange.schema import CommandKind, EngineConfig, command

CLASSES = ("H100-80G", "H800-80G", "A800-80G", "A100-80G", "910B", "MLU370", "BI-V100")
REGIONS = (
    "hangzhou", "jiaxing", "ningbo", "huzhou", "jinhua", "guizhou", "neimenggu", "gansu",
    "ningxia",
)
MAX_HOUR = ((1 << 63) - 1) // NS_PER_HOUR  # last slot start that fits int64 ns
DEFAULT_TEXT = resources.files("exchange.catalog").joinpath("default.toml").read_text("utf-8")


def utc_ns(*fields: int) -> int:
    """ns since the epoch of a UTC (year, month, day, hour[, minute])."""
    fields = fields + (0,) * (6 - len(fields))
    return calendar.timegm(fields) * 10**9


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return default_catalog()


# --------------------------------------------------------------------------- default


def test_default_catalog_loads(cat: Catalog) -> None:
    assert [c.name for c in cat.classes] == list(CLASSES)
    assert [r.name for r in cat.regions] == list(REGIONS)
    assert cat.source == "default.toml"
    m = cat.market
    assert (m.utc_offset_hours, m.listing_horizon_days, m.gate_closure_minutes) == (8, 7, 15)
    assert (m.currency, m.minor_unit, m.minor_per_major) == ("CNY", "fen", 100)
    assert m.gate_closure_ns == 15 * 60 * 10**9
    assert cat.region("hangzhou").display_name == "杭州"
    tflops = {c.name: c.fp16_tflops_centi for c in cat.classes}
    assert tflops == {
        "H100-80G": 20490, "H800-80G": 20490, "A800-80G": 7797, "A100-80G": 7797,
        "910B": 32000, "MLU370": 9600, "BI-V100": 14700,
    }
    assert [c.fp16_tflops for c in cat.classes] == [
        "204.9", "204.9", "77.97", "77.97", "320", "96", "147",
    ]
    for c in cat.classes:
        for value in (c.band_lo_fen, c.band_hi_fen, c.reference_fen, c.tick_fen):
            assert type(value) is int
        assert c.band_lo_fen <= c.reference_fen <= c.band_hi_fen
        assert c.band_lo_fen % c.tick_fen == c.band_hi_fen % c.tick_fen == 0
    assert cat.class_index("910B") == 4 and cat.region_index("ningxia") == 8
    assert cat.gpu_class(0) is cat.gpu_class("H100-80G")


def test_load_catalog_without_path_uses_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUX_CATALOG", raising=False)
    assert load_catalog() == default_catalog()


def test_env_var_overrides_default(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(DEFAULT_TEXT.replace("listing_horizon_days = 7", "listing_horizon_days = 2"))
    monkeypatch.setenv("GPUX_CATALOG", str(path))
    assert load_catalog().market.listing_horizon_days == 2
    assert load_catalog(path).market.listing_horizon_days == 2
    path.write_text("not toml [")
    with pytest.raises(CatalogError, match=r"mine\.toml \(from \$GPUX_CATALOG\): invalid TOML"):
        load_catalog()


def test_engine_config_matches_file(cat: Catalog) -> None:
    raw = tomllib.loads(DEFAULT_TEXT)
    classes = raw["class"]
    config = cat.engine_config()
    assert isinstance(config, EngineConfig)
    assert config.tick == tuple(c["tick_fen"] for c in classes)
    assert config.band_lo == tuple(c["band_lo_fen"] for c in classes)
    assert config.band_hi == tuple(c["band_hi_fen"] for c in classes)
    assert config.min_qty == tuple(c["min_qty"] for c in classes)
    assert config.max_qty == tuple(c["max_qty"] for c in classes)
    assert config.gate_closure_ns == raw["market"]["gate_closure_minutes"] * 60 * 10**9
    assert config.max_accounts == 4096
    assert cat.engine_config(max_accounts=7).max_accounts == 7
    assert config.n_classes == len(CLASSES)


# --------------------------------------------------------------------------- symbols


def test_timezone_midnight_market_time_is_previous_day_utc(cat: Catalog) -> None:
    inst = cat.instrument("H100-80G.jiaxing.20261125T00")
    assert inst.slot_ts_ns == utc_ns(2026, 11, 24, 16)
    assert inst.slot.astimezone(UTC) == datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert cat.instrument_at("H100-80G", "jiaxing", utc_ns(2026, 11, 24, 16)) == inst
    assert cat.gate_ts_ns(inst) == utc_ns(2026, 11, 24, 15, 45)
    assert cat.market_time(cat.gate_ts_ns(inst)).strftime("%Y-%m-%d %H:%M") == "2026-11-24 23:45"


def test_symbol_example(cat: Catalog) -> None:
    inst = parse_symbol("H100-80G.jiaxing.20261125T14", cat)
    assert inst == Instrument("H100-80G", "jiaxing", datetime(2026, 11, 25, 14, tzinfo=cat.market.tz))
    assert inst.symbol == str(inst) == "H100-80G.jiaxing.20261125T14"
    assert inst.slot_ts_ns == utc_ns(2026, 11, 25, 6)


@given(
    cls=st.sampled_from(CLASSES),
    region=st.sampled_from(REGIONS),
    hour=st.integers(min_value=0, max_value=MAX_HOUR),
)
@example(cls="910B", region="ningxia", hour=0)
@example(cls="BI-V100", region="gansu", hour=MAX_HOUR)
def test_symbol_round_trip(cls: str, region: str, hour: int) -> None:
    cat = default_catalog()
    ts = hour * NS_PER_HOUR
    inst = cat.instrument_at(cls, region, ts)
    assert inst.slot_ts_ns == ts
    assert cat.instrument(inst.symbol) == inst
    assert cat.instrument(inst.symbol).symbol == inst.symbol
    assert slot_from_ts_ns(ts, cat.market.tz) == inst.slot
    assert slot_ts_ns(inst.slot) == ts
    # the symbol's slot is the UTC instant shifted by +8 hours
    shifted = datetime(1970, 1, 1) + timedelta(hours=hour + 8)
    assert inst.symbol.split(".")[2] == shifted.strftime("%Y%m%dT%H").zfill(11)


@pytest.mark.parametrize(
    ("slot", "next_slot"),
    [
        ("20261125T23", "20261126T00"),  # day
        ("20261130T23", "20261201T00"),  # month
        ("20261231T23", "20270101T00"),  # year
        ("20270228T23", "20270301T00"),  # February, common year
        ("20280228T23", "20280229T00"),  # leap day
        ("20280229T23", "20280301T00"),
        ("19700101T08", "19700101T09"),  # the epoch, in market time
        ("22620412T06", "22620412T07"),  # the last hour that fits int64 ns
    ],
)
def test_symbol_boundaries(cat: Catalog, slot: str, next_slot: str) -> None:
    inst = cat.instrument(f"A100-80G.ningbo.{slot}")
    following = cat.instrument_at("A100-80G", "ningbo", inst.slot_ts_ns + NS_PER_HOUR)
    assert following.symbol == f"A100-80G.ningbo.{next_slot}"
    assert cat.instrument(following.symbol) == following


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("H100-80G", ["expected GPU.REGION.YYYYMMDDTHH", "'H100-80G'"]),
        ("H100-80G.jiaxing", ["expected GPU.REGION.YYYYMMDDTHH"]),
        ("H100-80G.jiaxing.20261125.T14", ["expected GPU.REGION.YYYYMMDDTHH"]),
        ("", ["expected GPU.REGION.YYYYMMDDTHH"]),
        ("H100.jiaxing.20261125T14", ["unknown GPU class 'H100'", "known: H100-80G, H800-80G"]),
        ("h100-80g.jiaxing.20261125T14", ["unknown GPU class 'h100-80g'"]),
        (
            "H100-80G.shenzhen.20261125T14",
            ["unknown region 'shenzhen' in 'H100-80G.shenzhen.20261125T14'", "known: hangzhou,"],
        ),
        ("H100-80G.Jiaxing.20261125T14", ["unknown region 'Jiaxing'"]),
        ("H100-80G.jiaxing.20261325T14", ["bad slot '20261325T14'", "month"]),
        ("H100-80G.jiaxing.20261131T14", ["bad slot '20261131T14'", "day"]),
        ("H100-80G.jiaxing.20270229T00", ["bad slot '20270229T00'", "day"]),
        ("H100-80G.jiaxing.20261125T24", ["bad slot '20261125T24'", "hour"]),
        ("H100-80G.jiaxing.2026112T14", ["bad slot '2026112T14'", "YYYYMMDDTHH"]),
        ("H100-80G.jiaxing.20261125 14", ["bad slot '20261125 14'"]),
        ("H100-80G.jiaxing.20261125t14", ["bad slot '20261125t14'"]),
        ("H100-80G.jiaxing.20261125T14 ", ["bad slot '20261125T14 '"]),
        ("H100-80G.jiaxing.２０２６1125T14", ["bad slot"]),  # non-ASCII digits
        ("H100-80G.jiaxing.19700101T07", ["bad slot '19700101T07'", "1970..2262"]),
        ("H100-80G.jiaxing.22700101T00", ["bad slot '22700101T00'", "1970..2262"]),
    ],
)
def test_malformed_symbol_names_the_bad_part(cat: Catalog, text: str, fragments: list[str]) -> None:
    with pytest.raises(SymbolError) as info:
        cat.instrument(text)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_instrument_checks_its_slot(cat: Catalog) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Instrument("910B", "gansu", datetime(2026, 11, 25, 14))
    with pytest.raises(ValueError, match="start of an hour"):
        Instrument("910B", "gansu", datetime(2026, 11, 25, 14, 30, tzinfo=cat.market.tz))
    with pytest.raises(ValueError, match="start of an hour"):
        slot_from_ts_ns(NS_PER_HOUR + 1, cat.market.tz)
    with pytest.raises(KeyError, match="unknown region 'mars'"):
        cat.instrument_at("910B", "mars", 0)
    with pytest.raises(KeyError, match="unknown GPU class 'B200'"):
        cat.instrument_at("B200", "gansu", 0)
    # the symbol is written in the slot's own timezone: market time for catalog instruments
    slot = datetime(2026, 11, 25, 14, tzinfo=cat.market.tz)
    assert format_symbol("910B", "gansu", slot) == "910B.gansu.20261125T14"


# --------------------------------------------------------------------------- validation


def write_variant(tmp_path, old: str, new: str, name: str = "bad.toml"):
    assert old in DEFAULT_TEXT, old
    path = tmp_path / name
    path.write_text(DEFAULT_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


H100_BAND = "tick_fen = 1\nband_lo_fen = 100\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (H100_BAND, "tick_fen = 7\nband_lo_fen = 100\n",
         "class 'H100-80G': band_lo_fen 100 is not on tick 7"),
        ("band_lo_fen = 100\nband_hi_fen = 6000", "band_lo_fen = 100\nband_hi_fen = 6001\ntick_fen_x = 1",
         "class 'H100-80G': unknown key 'tick_fen_x'"),
        ("reference_fen = 1800", "reference_fen = 7000",
         "class 'H100-80G': reference_fen 7000 is outside the band 100..6000"),
        ("band_hi_fen = 6000", "band_hi_fen = 60", "class 'H100-80G': band_lo_fen 100 is above band_hi_fen 60"),
        ("band_lo_fen = 100", "band_lo_fen = 100.5", "class 'H100-80G': band_lo_fen must be an integer, got 100.5"),
        ("band_lo_fen = 100", 'band_lo_fen = "100"', "class 'H100-80G': band_lo_fen must be an integer, got '100'"),
        ("band_lo_fen = 100", "band_lo_fen = true", "class 'H100-80G': band_lo_fen must be an integer, got True"),
        ("band_lo_fen = 100", "band_lo_fen = 0", "class 'H100-80G': band_lo_fen 0 is outside"),
        ("max_qty = 1024\nmaker_fee_bps = 5\ntaker_fee_bps = 10\n\n[[class]]\nname = \"H800-80G\"",
         "max_qty = 1024\nmaker_fee_bps = 5\n\n[[class]]\nname = \"H800-80G\"",
         "class 'H100-80G': missing key 'taker_fee_bps'"),
        ("min_qty = 1", "min_qty = 2000", "class 'H100-80G': min_qty 2000 is above max_qty 1024"),
        ("taker_fee_bps = 10", "taker_fee_bps = -1", "class 'H100-80G': taker_fee_bps -1 is outside 0..10000"),
        ('name = "H100-80G"', 'name = "H100.80G"', "class #1: name 'H100.80G' is not a class name"),
        ('name = "H100-80G"', 'name = "H100 80G"', "class #1: name 'H100 80G' is not a class name"),
        ('name = "H100-80G"', 'name = "-H100"', "class #1: name '-H100' is not a class name"),
        ('name = "H100-80G"', "name = 100", "class #1: name 100 is not a class name"),
        ('name = "H800-80G"', 'name = "H100-80G"', "class 'H100-80G': duplicate name (also class #1)"),
        ('name = "jiaxing"', 'name = "hangzhou"', "region 'hangzhou': duplicate name (also region #1)"),
        ('name = "jiaxing"', 'name = "Jiaxing"', "region #2: name 'Jiaxing' is not a region name"),
        ('name = "jiaxing"', 'name = "jia-xing"', "region #2: name 'jia-xing' is not a region name"),
        ('display_name = "嘉兴"', 'display_name = ""', "region 'jiaxing': display_name must be a non-empty string"),
        ('display_name = "嘉兴"', "", "region 'jiaxing': missing key 'display_name'"),
        ("fp16_tflops = 204.9", "fp16_tflops = 204.905",
         "class 'H100-80G': fp16_tflops 204.905 needs at most 2 decimal places"),
        ("fp16_tflops = 204.9", "fp16_tflops = -1", "class 'H100-80G': fp16_tflops -1 is outside"),
        ("fp16_tflops = 204.9", "fp16_tflops = nan", "class 'H100-80G': fp16_tflops NaN must be a finite number"),
        ("fp16_tflops = 204.9", 'fp16_tflops = "lots"', "class 'H100-80G': fp16_tflops must be a decimal number"),
        ("utc_offset_hours = 8", "utc_offset_hours = 15", "market: utc_offset_hours 15 is outside -12..14"),
        ("utc_offset_hours = 8", "utc_offset_hours = 8.5", "market: utc_offset_hours must be an integer, got 8.5"),
        ('currency = "CNY"', 'currency = "yuan"', "market: currency 'yuan' is not a 3-letter ISO code"),
        ("listing_horizon_days = 7", "", "market: missing key 'listing_horizon_days'"),
        ("minor_per_major = 100", "minor_per_major = 50", "market: minor_per_major 50 is not 1, 10, 100 or 1000"),
        ("[market]", "[market]\nholidays = []", "market: unknown key 'holidays'"),
        ("[market]", "colour = 'red'\n[market]", "unknown key 'colour'"),
        ("\n[[region]]\n", "\n[[regions]]\n", "unknown key 'regions'"),
        ("band_lo_fen = 100", "band_lo_fen = [", "invalid TOML"),
    ],
)
def test_bad_catalog_names_file_and_key(tmp_path, old: str, new: str, message: str) -> None:
    path = write_variant(tmp_path, old, new)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    text = str(info.value)
    assert text.startswith(f"catalog {path}: "), text
    assert message in text


def test_catalog_structure_errors() -> None:
    with pytest.raises(CatalogError, match="catalog x.toml: missing key 'region'"):
        loads_catalog(DEFAULT_TEXT.split("\n[[region]]\n")[0], "x.toml")
    market = DEFAULT_TEXT.split("\n[[class]]\n")[0]
    region = "[[region]]\nname = 'a'\ndisplay_name = 'A'\n"
    with pytest.raises(CatalogError, match=r"'class' must be a non-empty array of tables"):
        loads_catalog("class = []\n" + market + region, "x.toml")
    with pytest.raises(CatalogError, match="class #1: expected a table, got 3"):
        loads_catalog("class = [3]\n" + market + region, "x.toml")
    with pytest.raises(CatalogError, match="market: expected a table, got 'utc'"):
        loads_catalog("market = 'utc'\n[[class]]\n" + DEFAULT_TEXT.split("\n[[class]]\n", 1)[1], "x.toml")
    with pytest.raises(CatalogError, match="catalog nowhere.toml: cannot read"):
        load_catalog("nowhere.toml")


def test_tflops_as_string_and_no_float(tmp_path) -> None:
    path = write_variant(tmp_path, "fp16_tflops = 77.97", 'fp16_tflops = "77.97"')
    assert load_catalog(path).gpu_class("A800-80G").fp16_tflops_centi == 7797
    # 0.29 * 100 is 28.999999999999996 in binary floating point; hundredths stay exact
    path = write_variant(tmp_path, "fp16_tflops = 77.97", "fp16_tflops = 0.29")
    assert load_catalog(path).gpu_class("A800-80G").fp16_tflops_centi == 29


def test_custom_market_time_and_gate(tmp_path) -> None:
    text = DEFAULT_TEXT.replace("utc_offset_hours = 8", "utc_offset_hours = 0").replace(
        "gate_closure_minutes = 15", "gate_closure_minutes = 60"
    )
    cat = loads_catalog(text)
    inst = cat.instrument("910B.gansu.20261125T00")
    assert inst.slot_ts_ns == utc_ns(2026, 11, 25, 0)
    assert cat.gate_ts_ns(inst) == utc_ns(2026, 11, 24, 23)
    assert cat.engine_config().gate_closure_ns == 3600 * 10**9


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("cls", "price", "expected"),
    [
        ("H100-80G", 1000, 4880),  # 100_000_000 / 20490 = 4880.43
        ("H100-80G", 0, 0),
        ("910B", 2, 6),  # 6.25 rounds down
        ("910B", 4, 13),  # 12.5: the exact half rounds up
        ("910B", 6, 19),  # 18.75 rounds up
        ("910B", 100, 313),  # 312.5 -> 313
        ("MLU370", 12, 125),  # exact
        ("A100-80G", 1, 13),  # 12.825...
        ("BI-V100", 147, 1000),  # exact: 147 fen/h on 147 TFLOPS
        ("A800-80G", 7797, 100000),
    ],
)
def test_price_per_pflop_hour(cat: Catalog, cls: str, price: int, expected: int) -> None:
    assert cat.price_per_pflop_hour(cls, price) == expected
    assert cat.price_per_pflop_hour(cat.class_index(cls), np.int64(price)) == expected


@given(cls=st.sampled_from(CLASSES), price=st.integers(min_value=0, max_value=10**12),
       gpu_hours=st.integers(min_value=1, max_value=10**6))
def test_price_per_pflop_hour_is_rounded_half_up(cls: str, price: int, gpu_hours: int) -> None:
    cat = default_catalog()
    tflops = Decimal(cat.gpu_class(cls).fp16_tflops)
    exact = Fraction(price * 1000) / Fraction(tflops)
    assert cat.price_per_pflop_hour(cls, price) == int(exact + Fraction(1, 2))  # floor(x + 1/2)
    assert cat.price_per_pflop_hour(cls, price, gpu_hours) == int(exact / gpu_hours + Fraction(1, 2))


def test_price_per_pflop_hour_rejects_bad_prices(cat: Catalog) -> None:
    with pytest.raises(ValueError):
        cat.price_per_pflop_hour("910B", -1)
    with pytest.raises(ValueError):
        cat.price_per_pflop_hour("910B", 4, 0)
    with pytest.raises(TypeError):
        cat.price_per_pflop_hour("910B", 4.0)
    with pytest.raises(KeyError):
        cat.price_per_pflop_hour("B200", 4)


def test_format_money(cat: Catalog) -> None:
    m = cat.market
    assert m.format_money(6000) == "¥60.00"
    assert m.format_money(5) == "¥0.05"
    assert m.format_money(-105) == "-¥1.05"
    assert m.format_money(123456789) == "¥1,234,567.89"
    assert m.format_money(1800, with_currency=False) == "18.00"


def test_format_minor_units_other_currencies_and_the_cli_yuan() -> None:
    assert format_minor_units(-123456, 100, "USD") == "-1,234.56 USD"
    assert format_minor_units(1234, 1, "JPY") == "1,234 JPY"
    assert format_minor_units(1234, 1000, None) == "1.234"
    assert [yuan(f) for f in (0, 5, -5, 10**12)] == ["¥0.00", "¥0.05", "-¥0.05", "¥10,000,000,000.00"]


# --------------------------------------------------------------------------- listing


def small_catalog(horizon_days: int = 1) -> Catalog:
    """Two classes, two regions, a short horizon: easy to count by hand."""
    head, _, rest = DEFAULT_TEXT.partition("\n[[class]]\n")
    blocks = ("[[class]]\n" + rest).split("\n\n")
    classes = [b for b in blocks if b.startswith("[[class]]")][:2]
    regions = [b for b in blocks if b.startswith("[[region]]")][:2]
    head = head.replace("listing_horizon_days = 7", f"listing_horizon_days = {horizon_days}")
    return loads_catalog("\n\n".join([head, *classes, *regions]), "small.toml")


def test_listing_due_respects_horizon_and_order() -> None:
    cat = small_catalog(horizon_days=1)
    listing = Listing(cat)
    now = utc_ns(2026, 11, 25, 2, 30)  # 10:30 market time
    due = listing.due(now)
    assert len(due) == 24 * 2 * 2
    assert due[0].symbol == "H100-80G.hangzhou.20261125T11"
    assert [i.symbol for i in due[:5]] == [
        "H100-80G.hangzhou.20261125T11",
        "H100-80G.jiaxing.20261125T11",
        "H800-80G.hangzhou.20261125T11",
        "H800-80G.jiaxing.20261125T11",
        "H100-80G.hangzhou.20261125T12",
    ]
    assert due[-1].symbol == "H800-80G.jiaxing.20261126T10"  # now + 1 day, floored to the hour
    keys = [(i.slot_ts_ns, cat.class_index(i.gpu_class), cat.region_index(i.region)) for i in due]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(now < i.slot_ts_ns <= now + NS_PER_DAY for i in due)
    assert listing.due(now) == due and len(listing) == 0  # due() changes nothing


def test_listing_on_the_hour_includes_horizon_end() -> None:
    cat = small_catalog(horizon_days=1)
    now = utc_ns(2026, 11, 25, 2)  # exactly 10:00 market time
    due = Listing(cat).due(now)
    assert due[0].slot_ts_ns == now + NS_PER_HOUR  # the current slot has started: not listed
    assert due[-1].slot_ts_ns == now + NS_PER_DAY
    assert len(due) == 24 * 4


def test_listing_assigns_dense_ids_and_skips_listed() -> None:
    cat = small_catalog(horizon_days=1)
    listing = Listing(cat)
    now = utc_ns(2026, 11, 25, 2, 30)
    first = listing.add("H800-80G.jiaxing.20261125T12")  # listed ahead of time
    assert first["instrument"][0] == 0
    batch = listing.list_due(now)
    assert len(batch) == 24 * 4 - 1 and len(listing) == 24 * 4
    assert batch["instrument"].tolist() == list(range(1, 24 * 4))
    assert (batch["kind"] == CommandKind.LIST_INSTRUMENT).all()
    assert (batch["seq"] == 0).all() and (batch["ts"] == 0).all()
    for row in batch:
        inst = listing.instrument(int(row["instrument"]))
        expected = command(
            CommandKind.LIST_INSTRUMENT,
            instrument=int(row["instrument"]),
            gpu_class=cat.class_index(inst.gpu_class),
            region=cat.region_index(inst.region),
            slot_ts=inst.slot_ts_ns,
        )
        assert row.tobytes() == expected[0].tobytes()
        assert listing.id_of(inst.symbol) == listing.id_of(inst) == int(row["instrument"])
        assert listing.symbol(int(row["instrument"])) == inst.symbol
    assert "H800-80G.jiaxing.20261125T12" in listing
    assert listing.id_of("H800-80G.jiaxing.20261125T12") == 0

    # nothing new within the same hour; one new slot (2 classes x 2 regions) an hour later
    assert len(listing.list_due(now + 10 * 60 * 10**9)) == 0
    later = listing.list_due(now + NS_PER_HOUR)
    assert later["instrument"].tolist() == [96, 97, 98, 99]
    assert listing.symbol(99) == "H800-80G.jiaxing.20261126T11"
    assert [i.symbol for i in listing][:2] == ["H800-80G.jiaxing.20261125T12", "H100-80G.hangzhou.20261125T11"]
    assert listing.next_id == 100


def test_listing_errors() -> None:
    cat = small_catalog()
    listing = Listing(cat)
    listing.add("H100-80G.hangzhou.20261125T11")
    with pytest.raises(ValueError, match="already listed as id 0"):
        listing.add("H100-80G.hangzhou.20261125T11")
    # the same slot written in UTC is the same instrument
    utc_slot = datetime(2026, 11, 25, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="already listed"):
        listing.add(Instrument("H100-80G", "hangzhou", utc_slot))
    assert Instrument("H100-80G", "hangzhou", utc_slot) in listing
    with pytest.raises(SymbolError):
        listing.add("H100-80G.ningxia.20261125T11")  # not in the small catalog
    with pytest.raises(KeyError, match="not listed"):
        listing.id_of("H100-80G.hangzhou.20261125T12")
    with pytest.raises(KeyError, match="no instrument listed with id"):
        listing.instrument(1)
    with pytest.raises(KeyError):
        listing.instrument(-1)
    assert listing.list_due(utc_ns(2026, 11, 25, 2, 30)).dtype == command(CommandKind.TIMER).dtype


def test_listing_rolls_an_hour_on_by_the_slot_it_has_not_listed() -> None:
    cat = small_catalog(horizon_days=1)
    now = utc_ns(2026, 11, 25, 2, 30)
    listed = Listing(cat)
    listed.list_due(now)
    restored = Listing(cat)
    restored.extend(listed.rows())  # counts its slots as add does: both pass over the slots listed whole
    later = now + NS_PER_HOUR
    for listing in (listed, restored):
        assert listing.due(now) == []
        assert [i.symbol for i in listing.due(later)] == [
            "H100-80G.hangzhou.20261126T11", "H100-80G.jiaxing.20261126T11",
            "H800-80G.hangzhou.20261126T11", "H800-80G.jiaxing.20261126T11"]
        listing.add("H800-80G.hangzhou.20261126T11")  # a slot listed in part still gives the rest
        assert [i.symbol for i in listing.due(later)] == [
            "H100-80G.hangzhou.20261126T11", "H100-80G.jiaxing.20261126T11", "H800-80G.jiaxing.20261126T11"]


def test_extend_refuses_an_index_the_catalog_does_not_have() -> None:
    listing = Listing(small_catalog())
    slot = utc_ns(2026, 11, 25, 3)
    for gpu_class, region in ((2, 0), (0, 2), (-1, 0), (0, -1)):
        with pytest.raises(ValueError, match=f"no GPU class {gpu_class} or region {region}"):
            listing.extend([(gpu_class, region, slot)])
    assert len(listing) == 0 and listing.due(slot - NS_PER_HOUR // 2)[0].slot_ts_ns == slot


def test_a_restored_listing_is_the_listing_that_was_added() -> None:
    cat = small_catalog()
    added = Listing(cat)
    batch = added.list_due(utc_ns(2026, 11, 25, 2, 30))
    restored = Listing(cat)
    restored.extend(batch[["gpu_class", "region", "slot_ts"]].tolist())
    assert list(restored) == list(added) and len(restored) == len(batch) > 1
    assert [restored.id_of(i) for i in added] == list(range(len(batch)))
    added.add(added.due(utc_ns(2026, 11, 26, 2, 30))[0])  # one more, by add
    assert added.rows()[: len(restored)] == restored.rows() == [
        list(row) for row in batch[["gpu_class", "region", "slot_ts"]].tolist()]
    assert added.rows() == [[cat.class_index(i.gpu_class), cat.region_index(i.region), i.slot_ts_ns] for i in added]
    with pytest.raises(ValueError, match="already listed as id 0"):
        restored.extend(batch[["gpu_class", "region", "slot_ts"]][:1].tolist())


def test_default_listing_size(cat: Catalog) -> None:
    batch = Listing(cat).list_due(utc_ns(2026, 11, 25, 2, 30))
    assert len(batch) == 7 * 24 * len(CLASSES) * len(REGIONS)
    assert batch["instrument"].tolist() == list(range(len(batch)))


def test_band_above_the_engine_price_limit_is_rejected_naming_the_key(tmp_path):
    from exchange.schema import PRICE_LIMIT

    text = DEFAULT_TEXT.replace("band_hi_fen = 6000", f"band_hi_fen = {PRICE_LIMIT}", 1)
    assert text != DEFAULT_TEXT
    path = tmp_path / "big.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="band_hi_fen"):
        load_catalog(path)
