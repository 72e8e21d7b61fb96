"""The supermarket (算力超市): the cheapest ways to get a job's GPUs at the current asks.

A :class:`Need` is "N GPUs with at least M GB memory (or T FP16 TFLOPS) each, for H
consecutive hours, starting between two hours, in one region or any". Every class
that meets the spec, in every region allowed, at every start hour in the window, is a
way to get it, if each of its H slots is open for trading and its asks hold N GPUs:
buying N GPUs in a slot takes the asks best first (depth included), exactly as a
fill-or-kill buy at the worst price taken would. :func:`cheapest` prices every way and
returns them cheapest first. All money is integer fen:

* ``value_fen``: what the asks cost (price x GPUs over the levels taken, every hour);
* ``fees_fen``: the taker fee of the class on each hour's value, rounded half up (an
  estimate: the exchange rounds per trade);
* ``subsidy_fen``: a voucher of ``voucher_bps`` pays ``floor(value * bps / 10000)``, as
  settlement does (fees are not subsidised);
* ``payable_fen = value + fees - subsidy``; ``per_pflop_hour_fen``: the value per
  PFLOP-hour of FP16 (:meth:`~exchange.catalog.Catalog.price_per_pflop_hour`).

Ties go to the earlier start, then catalog class and region order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from exchange.catalog import NS_PER_HOUR, Catalog
from exchange.tradelog.schema import BPS_DENOMINATOR, fee

MAX_OPTIONS = 10
"""Ways returned, cheapest first."""


@dataclass(frozen=True)
class Need:
    """What a buyer wants (times are slot starts, ns; ``region`` None: any)."""

    gpus: int
    hours: int
    first_start_ns: int
    last_start_ns: int
    min_memory_gb: int = 0
    min_tflops: int = 0
    region: str | None = None
    voucher_bps: int = 0

    def __post_init__(self) -> None:
        if self.gpus < 1 or self.hours < 1:
            raise ValueError("gpus and hours must be at least 1")
        if self.last_start_ns < self.first_start_ns:
            raise ValueError("the latest start is before the earliest")
        if self.first_start_ns % NS_PER_HOUR or self.last_start_ns % NS_PER_HOUR:
            raise ValueError("starts must be whole hours")
        if not 0 <= self.voucher_bps <= BPS_DENOMINATOR:
            raise ValueError("the voucher rate must be 0 to 100 %")

    def starts(self) -> range:
        """Every start slot allowed, ns."""
        return range(self.first_start_ns, self.last_start_ns + 1, NS_PER_HOUR)


@dataclass(frozen=True)
class Way:
    """One class in one region from one start hour: its slots' symbols."""

    gpu_class: str
    region: str
    start_ns: int
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class Option:
    """A way priced at the current asks (see the module docstring for the fields)."""

    way: Way
    limits_fen: tuple[int, ...]
    """Per hour: the worst ask price taken (the limit of a fill-or-kill buy)."""
    value_fen: int
    fees_fen: int
    subsidy_fen: int
    payable_fen: int
    per_pflop_hour_fen: int


def ways(catalog: Catalog, need: Need) -> list[Way]:
    """Every class x region x start that meets the need's spec, in tie-break order."""
    classes = [c for c in catalog.classes
               if c.memory_gb >= need.min_memory_gb and c.fp16_tflops_centi >= need.min_tflops * 100]
    regions = [r.name for r in catalog.regions if need.region in (None, r.name)]
    out = []
    for start in need.starts():
        for cls in classes:
            for region in regions:
                symbols = tuple(catalog.instrument_at(cls.name, region, start + h * NS_PER_HOUR).symbol
                                for h in range(need.hours))
                out.append(Way(cls.name, region, start, symbols))
    return out


def take(asks: Sequence[tuple[int, int]], gpus: int) -> tuple[int, int] | None:
    """(value, worst price) of buying ``gpus`` from asks (price, qty) best first; None if
    they hold fewer."""
    value = worst = 0
    for price, qty in asks:
        taken = min(qty, gpus)
        value, worst, gpus = value + taken * price, price, gpus - taken
        if not gpus:
            return value, worst
    return None


def price(catalog: Catalog, need: Need, way: Way, asks: Mapping[str, Sequence[tuple[int, int]]]) -> Option | None:
    """A way at the asks given per symbol (absent: not tradable now); None if not possible."""
    taker_bps = catalog.gpu_class(way.gpu_class).taker_fee_bps
    value = fees = 0
    limits = []
    for symbol in way.symbols:
        taken = take(asks.get(symbol, ()), need.gpus)
        if taken is None:
            return None
        value, fees = value + taken[0], fees + fee(taken[0], taker_bps)
        limits.append(taken[1])
    subsidy = value * need.voucher_bps // BPS_DENOMINATOR
    per_pflop = catalog.price_per_pflop_hour(way.gpu_class, value, need.gpus * need.hours)
    return Option(way, tuple(limits), value, fees, subsidy, value + fees - subsidy, per_pflop)


def cheapest(catalog: Catalog, need: Need, candidates: Sequence[Way], asks: Mapping[str, Sequence[tuple[int, int]]],
             limit: int = MAX_OPTIONS) -> tuple[list[Option], int]:
    """The ``limit`` cheapest options among ``candidates`` (:func:`ways`), by payable
    then tie-break order, and how many were possible at all. ``asks``: the ladder of
    every symbol open for trading, best first."""
    priced = [o for o in (price(catalog, need, w, asks) for w in candidates) if o is not None]
    priced.sort(key=lambda o: o.payable_fen)  # stable: ties keep the tie-break order
    return priced[:limit], len(priced)


def commands(catalog: Catalog, need: Need, option: Option, today: date) -> list[str]:
    """Ready-to-run ``gpux`` commands that buy the option now (fill-or-kill per hour), and
    the day-ahead block that would ask for it instead, at the worst price taken (when its
    hours lie in one delivery day after ``today``, market time: day-ahead days start
    tomorrow). If the need may start at several hours and its whole window lies in that
    day, also the block that may run from any of them (``--window FROM-TO``, TO the
    latest start plus the hours), in the option's class and region at the same limit:
    the auction then picks the cheapest run."""
    way, limit = option.way, max(option.limits_fen)
    lines = [f"gpux order place {symbol} BUY {need.gpus} --price {price} --tif FOK"
             for symbol, price in zip(way.symbols, option.limits_fen)]
    start = catalog.market_time(way.start_ns)
    if start.date() > today and start.hour + need.hours <= 24:
        lines.append(f"gpux dayahead submit {start.date().isoformat()} BUY {start.hour} {need.gpus} "
                     f"{way.gpu_class}.{way.region}@{limit} --hours {need.hours}")
        first, last = catalog.market_time(need.first_start_ns), catalog.market_time(need.last_start_ns)
        if first < last and first.date() == last.date() == start.date() and last.hour + need.hours <= 24:
            lines.append(f"gpux dayahead submit {start.date().isoformat()} BUY {need.gpus} "
                         f"{way.gpu_class}.{way.region}@{limit} --window {first.hour}-{last.hour + need.hours} "
                         f"--hours {need.hours}")
    return lines
