"""Catalog records, loading and validation, and the instrument symbol grammar.

See :mod:`exchange.catalog` for the rules; this module implements them.
"""

from __future__ import annotations

import operator
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from exchange.schema import PRICE_LIMIT, EngineConfig

NS_PER_SECOND = 10**9
NS_PER_HOUR = 3600 * NS_PER_SECOND
NS_PER_DAY = 24 * NS_PER_HOUR
INT64_LIMIT = 1 << 63
"""Slot timestamps must lie in ``[0, INT64_LIMIT)`` ns to fit an engine record."""

CATALOG_ENV = "GPUX_CATALOG"
"""Environment variable naming a catalog TOML file that replaces the shipped default."""
DEFAULT_CATALOG = "default.toml"
"""File name of the shipped catalog inside this package."""

SYMBOL_FORMAT = "GPU.REGION.YYYYMMDDTHH"
CLASS_NAME_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
"""A GPU class name: letters and digits, optionally joined by single '-' (never '.')."""
REGION_NAME_RE = re.compile(r"[a-z0-9]+")
"""A region name: lowercase ASCII letters and digits."""
SLOT_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})")
_TFLOPS_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURRENCY_SIGNS = {"CNY": "¥"}


class CatalogError(ValueError):
    """A catalog file is unreadable or breaks a rule; the message names the file and key."""


class SymbolError(ValueError):
    """A symbol is malformed or names something the catalog does not know."""


# --------------------------------------------------------------------------- time


def slot_ts_ns(slot: datetime) -> int:
    """A timezone-aware datetime as integer ns since the Unix epoch (UTC), exactly."""
    if slot.tzinfo is None or slot.utcoffset() is None:
        raise ValueError(f"slot {slot!r} must be timezone-aware")
    delta = slot - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000


def slot_from_ts_ns(ts_ns: int, tz: tzinfo) -> datetime:
    """The inverse of :func:`slot_ts_ns` for a slot start: ``ts_ns`` must be on the hour."""
    ts_ns = operator.index(ts_ns)
    if ts_ns % NS_PER_HOUR:
        raise ValueError(f"slot timestamp {ts_ns} ns is not at the start of an hour")
    return (_EPOCH + timedelta(seconds=ts_ns // NS_PER_SECOND)).astimezone(tz)


def format_symbol(gpu_class: str, region: str, slot: datetime) -> str:
    """``GPU.REGION.YYYYMMDDTHH``, the slot written in its own timezone (market time)."""
    return f"{gpu_class}.{region}.{slot.year:04d}{slot.month:02d}{slot.day:02d}T{slot.hour:02d}"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Market:
    """Market-wide settings: market time, listing horizon, gate closure, currency."""

    utc_offset_hours: int
    listing_horizon_days: int
    gate_closure_minutes: int
    currency: str
    minor_unit: str
    minor_per_major: int

    @property
    def tz(self) -> timezone:
        """Market time as a fixed-offset timezone (e.g. ``UTC+08:00``)."""
        return timezone(timedelta(hours=self.utc_offset_hours))

    @property
    def gate_closure_ns(self) -> int:
        """How long before a slot starts its trading stops, in ns."""
        return self.gate_closure_minutes * 60 * NS_PER_SECOND

    @property
    def listing_horizon_ns(self) -> int:
        """How far ahead slots are listed, in ns."""
        return self.listing_horizon_days * NS_PER_DAY

    def format_money(self, minor: int, with_currency: bool = True) -> str:
        """An amount in minor units (fen) as major units, e.g. ``1805 -> '¥18.05'``; no floats.

        ``with_currency=False`` leaves out the currency sign or code (``'18.05'``).
        """
        return format_minor_units(minor, self.minor_per_major, self.currency if with_currency else None)


def format_minor_units(minor: int, minor_per_major: int, currency: str | None) -> str:
    """``minor`` units as major units with thousands separators, exactly (no floats):
    ``(-123456, 100, "CNY") -> '-¥1,234.56'``; a currency without a sign gets its code after
    the amount (``'1,234.56 USD'``), ``currency=None`` neither. ``minor_per_major`` is a
    power of ten (the catalog checks it)."""
    minor = operator.index(minor)
    minus = "-" if minor < 0 else ""
    major, rest = divmod(abs(minor), minor_per_major)
    digits = len(str(minor_per_major)) - 1
    text = f"{major:,}" + (f".{rest:0{digits}d}" if digits else "")
    if currency is None:
        return f"{minus}{text}"
    mark = _CURRENCY_SIGNS.get(currency)
    return f"{minus}{mark}{text}" if mark else f"{minus}{text} {currency}"


@dataclass(frozen=True)
class GpuClass:
    """A standard GPU spec and its trading parameters (fen per GPU-hour, whole GPUs)."""

    name: str
    memory_gb: int
    fp16_tflops_centi: int
    """FP16 dense TFLOPS in hundredths (204.9 TFLOPS -> 20490)."""
    interconnect: str
    tick_fen: int
    band_lo_fen: int
    band_hi_fen: int
    reference_fen: int
    min_qty: int
    max_qty: int
    maker_fee_bps: int
    taker_fee_bps: int

    @property
    def fp16_tflops(self) -> str:
        """FP16 TFLOPS as exact decimal text, e.g. ``'204.9'`` or ``'320'``."""
        whole, centi = divmod(self.fp16_tflops_centi, 100)
        return f"{whole}.{centi:02d}".rstrip("0").rstrip(".") if centi else str(whole)


@dataclass(frozen=True)
class Region:
    """A delivery region (hub): symbol name and display name."""

    name: str
    display_name: str


@dataclass(frozen=True)
class Instrument:
    """One contract: one GPU of ``gpu_class`` in ``region`` for the hour starting at ``slot``.

    ``slot`` is timezone-aware, in market time, on the hour, and fits int64 ns.
    Build instruments with :meth:`Catalog.instrument` / :meth:`Catalog.instrument_at`.
    """

    gpu_class: str
    region: str
    slot: datetime

    def __post_init__(self) -> None:
        ts = slot_ts_ns(self.slot)  # raises for a naive datetime
        if ts % NS_PER_HOUR:
            raise ValueError(f"slot {self.slot.isoformat()} is not at the start of an hour")
        if not 0 <= ts < INT64_LIMIT:
            raise ValueError(f"slot {self.slot.isoformat()} is outside 1970..2262 (int64 ns)")

    @property
    def symbol(self) -> str:
        """The canonical symbol, e.g. ``'H100-80G.jiaxing.20261125T14'``."""
        return format_symbol(self.gpu_class, self.region, self.slot)

    @property
    def slot_ts_ns(self) -> int:
        """Slot start in ns since the Unix epoch (UTC)."""
        return slot_ts_ns(self.slot)

    def __str__(self) -> str:
        return self.symbol


@dataclass(frozen=True)
class Catalog:
    """A validated catalog. Class and region order is the index the engine uses."""

    market: Market
    classes: tuple[GpuClass, ...]
    regions: tuple[Region, ...]
    source: str = "<memory>"
    """Where the catalog came from, used in error messages."""
    _class_ix: dict[str, int] = field(init=False, repr=False, compare=False)
    _region_ix: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_class_ix", {c.name: i for i, c in enumerate(self.classes)})
        object.__setattr__(self, "_region_ix", {r.name: i for i, r in enumerate(self.regions)})

    # lookups ---------------------------------------------------------------

    def class_index(self, name: str) -> int:
        """Engine index of a GPU class; ``KeyError`` if unknown."""
        try:
            return self._class_ix[name]
        except KeyError:
            known = ", ".join(self._class_ix)
            raise KeyError(f"unknown GPU class {name!r}; known: {known}") from None

    def region_index(self, name: str) -> int:
        """Engine index of a region; ``KeyError`` if unknown."""
        try:
            return self._region_ix[name]
        except KeyError:
            known = ", ".join(self._region_ix)
            raise KeyError(f"unknown region {name!r}; known: {known}") from None

    def gpu_class(self, name_or_index: str | int) -> GpuClass:
        """A GPU class by name or engine index."""
        if isinstance(name_or_index, str):
            return self.classes[self.class_index(name_or_index)]
        return self.classes[operator.index(name_or_index)]

    def region(self, name_or_index: str | int) -> Region:
        """A region by name or engine index."""
        if isinstance(name_or_index, str):
            return self.regions[self.region_index(name_or_index)]
        return self.regions[operator.index(name_or_index)]

    # instruments and time ----------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """Parse a symbol (see :func:`parse_symbol`)."""
        return parse_symbol(symbol, self)

    def instrument_at(self, gpu_class: str, region: str, slot_ts_ns: int) -> Instrument:
        """The instrument for a class, a region and a slot start in ns (UTC epoch)."""
        self.class_index(gpu_class)
        self.region_index(region)
        return Instrument(gpu_class, region, slot_from_ts_ns(slot_ts_ns, self.market.tz))

    def market_time(self, ts_ns: int) -> datetime:
        """Any ns timestamp as a datetime in market time (truncated to microseconds)."""
        micros = operator.index(ts_ns) // 1_000
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(self.market.tz)

    def gate_ts_ns(self, instrument: Instrument) -> int:
        """When trading in the instrument stops: slot start minus gate closure, in ns."""
        return instrument.slot_ts_ns - self.market.gate_closure_ns

    # engine and prices -----------------------------------------------------

    def engine_config(self, max_accounts: int = 4096) -> EngineConfig:
        """The engine's per-class parameters, in class order, and the gate closure."""
        return EngineConfig(
            tick=tuple(c.tick_fen for c in self.classes),
            band_lo=tuple(c.band_lo_fen for c in self.classes),
            band_hi=tuple(c.band_hi_fen for c in self.classes),
            min_qty=tuple(c.min_qty for c in self.classes),
            max_qty=tuple(c.max_qty for c in self.classes),
            gate_closure_ns=self.market.gate_closure_ns,
            reference=tuple(c.reference_fen for c in self.classes),
            max_accounts=max_accounts,
        )

    def price_per_pflop_hour(self, gpu_class: str | int, price_fen: int, gpu_hours: int = 1) -> int:
        """A price in fen per GPU-hour as fen per PFLOP-hour of FP16, for comparing classes
        (with ``gpu_hours``: an amount paid for that many GPU-hours, averaged exactly).

        ``price_fen * 1000 / (TFLOPS * gpu_hours)``, computed in integers from the stored
        hundredths of TFLOPS as ``price_fen * 100_000 / (fp16_tflops_centi * gpu_hours)``
        and rounded half up (an exact half goes to the larger integer): 4 fen/h on a
        320 TFLOPS 910B is 12.5 -> 13 fen per PFLOP-hour. ``price_fen`` must be a
        non-negative integer, ``gpu_hours`` a positive one.
        """
        price_fen, gpu_hours = operator.index(price_fen), operator.index(gpu_hours)
        if price_fen < 0 or gpu_hours < 1:
            raise ValueError(f"price_fen must be >= 0 and gpu_hours >= 1, got {price_fen} and {gpu_hours}")
        per = self.gpu_class(gpu_class).fp16_tflops_centi * gpu_hours
        return (price_fen * 200_000 + per) // (2 * per)


# --------------------------------------------------------------------------- symbols


def parse_symbol(text: str, catalog: Catalog) -> Instrument:
    """Parse ``GPU.REGION.YYYYMMDDTHH`` (slot start in market time) into an Instrument.

    Strict: exactly three '.'-separated parts, a known class, a known region, a real
    hour that fits int64 ns. Raises :class:`SymbolError` naming the bad part.
    """
    if not isinstance(text, str):
        raise SymbolError(f"expected {SYMBOL_FORMAT}, got {text!r}")
    parts = text.split(".")
    if len(parts) != 3:
        raise SymbolError(
            f"expected {SYMBOL_FORMAT} (three parts separated by '.'), got {text!r}"
        )
    cls, region, slot_text = parts
    if cls not in catalog._class_ix:
        known = ", ".join(catalog._class_ix)
        raise SymbolError(f"unknown GPU class {cls!r} in {text!r}; known: {known}")
    if region not in catalog._region_ix:
        known = ", ".join(catalog._region_ix)
        raise SymbolError(f"unknown region {region!r} in {text!r}; known: {known}")
    tz = catalog.market.tz
    m = SLOT_RE.fullmatch(slot_text)
    if not m:
        raise SymbolError(
            f"bad slot {slot_text!r} in {text!r}: expected YYYYMMDDTHH in market time ({tz})"
        )
    year, month, day, hour = (int(g) for g in m.groups())
    try:
        slot = datetime(year, month, day, hour, tzinfo=tz)
        ts = slot_ts_ns(slot)
    except (ValueError, OverflowError) as exc:
        raise SymbolError(f"bad slot {slot_text!r} in {text!r}: {exc}") from None
    if not 0 <= ts < INT64_LIMIT:
        raise SymbolError(
            f"bad slot {slot_text!r} in {text!r}: outside 1970..2262 (int64 ns since the epoch)"
        )
    return Instrument(cls, region, slot)


# --------------------------------------------------------------------------- loading


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Load and validate a catalog: ``path``, else ``$GPUX_CATALOG``, else the shipped default."""
    if path is None:
        env = os.environ.get(CATALOG_ENV)
        if not env:
            return default_catalog()
        path, source = env, f"{env} (from ${CATALOG_ENV})"
    else:
        source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"catalog {source}: cannot read: {exc}") from None
    return loads_catalog(text, source)


def default_catalog() -> Catalog:
    """The catalog shipped with the package (``exchange/catalog/default.toml``)."""
    text = resources.files(__package__).joinpath(DEFAULT_CATALOG).read_text(encoding="utf-8")
    return loads_catalog(text, DEFAULT_CATALOG)


def loads_catalog(text: str, source: str = "<string>") -> Catalog:
    """Parse and validate catalog TOML text; ``source`` names it in error messages.

    Decimal numbers are read as :class:`decimal.Decimal`, so none passes through float.
    """
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog {source}: invalid TOML: {exc}") from None
    return _Loader(source).catalog(data)


_MARKET_KEYS = (
    "utc_offset_hours", "listing_horizon_days", "gate_closure_minutes", "currency",
    "minor_unit", "minor_per_major",
)
_CLASS_KEYS = (
    "name", "memory_gb", "fp16_tflops", "interconnect", "tick_fen", "band_lo_fen",
    "band_hi_fen", "reference_fen", "min_qty", "max_qty", "maker_fee_bps", "taker_fee_bps",
)
_REGION_KEYS = ("name", "display_name")
_MAX_FEN = PRICE_LIMIT - 1  # the engine packs prices into 32 bits (¥21 M per GPU-hour)
_MAX_QTY = 10**6


def _show(value: Any) -> str:
    """A TOML value as the user wrote it (Decimals without their type)."""
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


class _Loader:
    """Validates parsed TOML into a :class:`Catalog`; errors name the file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, message: str) -> CatalogError:
        prefix = f"catalog {self.source}: " + (f"{where}: " if where else "")
        return CatalogError(prefix + message)

    def table(self, raw: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.error(where, f"expected a table, got {_show(raw)}")
        for key in keys:
            if key not in raw:
                raise self.error(where, f"missing key {key!r}")
        for key in raw:
            if key not in keys:
                raise self.error(where, f"unknown key {key!r} (expected: {', '.join(keys)})")
        return raw

    def integer(self, t: dict[str, Any], key: str, where: str, lo: int, hi: int) -> int:
        value = t[key]
        if type(value) is not int:
            raise self.error(where, f"{key} must be an integer, got {_show(value)}")
        if not lo <= value <= hi:
            raise self.error(where, f"{key} {value} is outside {lo}..{hi}")
        return value

    def text(self, t: dict[str, Any], key: str, where: str) -> str:
        value = t[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"{key} must be a non-empty string, got {_show(value)}")
        return value

    def centi(self, t: dict[str, Any], key: str, where: str) -> int:
        """A positive decimal with at most two places, as integer hundredths."""
        value = t[key]
        if type(value) is int:
            number = Decimal(value)
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, str) and _TFLOPS_RE.fullmatch(value):
            number = Decimal(value)
        else:
            raise self.error(where, f"{key} must be a decimal number like 204.9, got {_show(value)}")
        if not number.is_finite():
            raise self.error(where, f"{key} {_show(value)} must be a finite number")
        hundredths = number * 100
        if hundredths != hundredths.to_integral_value():
            raise self.error(where, f"{key} {_show(value)} needs at most 2 decimal places")
        if not 0 < hundredths <= 10**9:
            raise self.error(where, f"{key} {_show(value)} is outside 0.01..10000000")
        return int(hundredths)

    def name_of(self, raw: Any, where: str) -> Any:
        """The ``name`` of an entry, checked before anything else so errors can use it."""
        if not isinstance(raw, dict):
            raise self.error(where, f"expected a table, got {_show(raw)}")
        if "name" not in raw:
            raise self.error(where, "missing key 'name'")
        return raw["name"]

    def entries(self, data: dict[str, Any], key: str) -> list[Any]:
        raw = data[key]
        if not isinstance(raw, list) or not raw:
            raise self.error("", f"{key!r} must be a non-empty array of tables ([[{key}]])")
        return raw

    def catalog(self, data: dict[str, Any]) -> Catalog:
        self.table(data, "", ("market", "class", "region"))
        market = self.market(data["market"])
        classes: list[GpuClass] = []
        for i, raw in enumerate(self.entries(data, "class")):
            cls = self.gpu_class(raw, i)
            for j, other in enumerate(classes):
                if other.name == cls.name:
                    raise self.error(f"class {cls.name!r}", f"duplicate name (also class #{j + 1})")
            classes.append(cls)
        regions: list[Region] = []
        for i, raw in enumerate(self.entries(data, "region")):
            region = self.region(raw, i)
            for j, earlier in enumerate(regions):
                if earlier.name == region.name:
                    raise self.error(
                        f"region {region.name!r}", f"duplicate name (also region #{j + 1})"
                    )
            regions.append(region)
        return Catalog(market, tuple(classes), tuple(regions), self.source)

    def market(self, raw: Any) -> Market:
        w = "market"
        t = self.table(raw, w, _MARKET_KEYS)
        currency = self.text(t, "currency", w)
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.error(w, f"currency {currency!r} is not a 3-letter ISO code")
        minor_per_major = self.integer(t, "minor_per_major", w, 1, 1000)
        if minor_per_major not in (1, 10, 100, 1000):
            raise self.error(w, f"minor_per_major {minor_per_major} is not 1, 10, 100 or 1000")
        return Market(
            utc_offset_hours=self.integer(t, "utc_offset_hours", w, -12, 14),
            listing_horizon_days=self.integer(t, "listing_horizon_days", w, 1, 366),
            gate_closure_minutes=self.integer(t, "gate_closure_minutes", w, 0, 24 * 60),
            currency=currency,
            minor_unit=self.text(t, "minor_unit", w),
            minor_per_major=minor_per_major,
        )

    def gpu_class(self, raw: Any, i: int) -> GpuClass:
        w = f"class #{i + 1}"
        name = self.name_of(raw, w)
        if not isinstance(name, str) or not CLASS_NAME_RE.fullmatch(name):
            raise self.error(
                w, f"name {_show(name)} is not a class name (letters, digits, inner '-')"
            )
        w = f"class {name!r}"
        t = self.table(raw, w, _CLASS_KEYS)
        tick = self.integer(t, "tick_fen", w, 1, _MAX_FEN)
        lo = self.integer(t, "band_lo_fen", w, 1, _MAX_FEN)
        hi = self.integer(t, "band_hi_fen", w, 1, _MAX_FEN)
        ref = self.integer(t, "reference_fen", w, 1, _MAX_FEN)
        for key, value in (("band_lo_fen", lo), ("band_hi_fen", hi), ("reference_fen", ref)):
            if value % tick:
                raise self.error(w, f"{key} {value} is not on tick {tick}")
        if lo > hi:
            raise self.error(w, f"band_lo_fen {lo} is above band_hi_fen {hi}")
        if not lo <= ref <= hi:
            raise self.error(w, f"reference_fen {ref} is outside the band {lo}..{hi}")
        min_qty = self.integer(t, "min_qty", w, 1, _MAX_QTY)
        max_qty = self.integer(t, "max_qty", w, 1, _MAX_QTY)
        if min_qty > max_qty:
            raise self.error(w, f"min_qty {min_qty} is above max_qty {max_qty}")
        return GpuClass(
            name=name,
            memory_gb=self.integer(t, "memory_gb", w, 1, 1_000_000),
            fp16_tflops_centi=self.centi(t, "fp16_tflops", w),
            interconnect=self.text(t, "interconnect", w),
            tick_fen=tick,
            band_lo_fen=lo,
            band_hi_fen=hi,
            reference_fen=ref,
            min_qty=min_qty,
            max_qty=max_qty,
            maker_fee_bps=self.integer(t, "maker_fee_bps", w, 0, 10_000),
            taker_fee_bps=self.integer(t, "taker_fee_bps", w, 0, 10_000),
        )

    def region(self, raw: Any, i: int) -> Region:
        w = f"region #{i + 1}"
        name = self.name_of(raw, w)
        if not isinstance(name, str) or not REGION_NAME_RE.fullmatch(name):
            raise self.error(
                w, f"name {_show(name)} is not a region name (lowercase letters and digits)"
            )
        w = f"region {name!r}"
        t = self.table(raw, w, _REGION_KEYS)
        return Region(name=name, display_name=self.text(t, "display_name", w))
