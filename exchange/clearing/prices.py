"""Exact integer parts of the clearing: merit orders, hourly dispatch, price intervals.

Everything here is integer arithmetic on the validated input (see :mod:`exchange.clearing`
for the rules); no float ever reaches a fill, a price or a welfare figure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace

from exchange.clearing.model import (
    Auction,
    BlockOrder,
    ClearingError,
    HourlyOrder,
    ProductSpec,
    Side,
)

Accepted = dict[int, tuple[int, int]]
"""Accepted blocks: ``{block index: (alternative index, fill)}``."""
Prices = dict[tuple[Hashable, int], int]
"""A price per instrument ``(product, hour)``, fen per GPU-hour."""
Intervals = dict[tuple[Hashable, int], tuple[int, int]]
"""Per instrument, the interval ``(lo, hi)`` of consistent prices."""

UNBOUNDED = 1 << 62
"""An integer bound no price reaches: the open side of a price interval."""


@dataclass
class MeritOrder:
    """One instrument's hourly orders as a merit order of "net injection" units.

    Unit position ``t`` (1-based) runs over all hourly units sorted by price ascending:
    consuming a unit means filling an ask or dropping a bid, at the cost of its limit.
    With ``t`` units consumed the hourly orders absorb net block demand ``t - bids``
    (``D = hourly sold - hourly bought``). Ties at one price: asks are consumed before
    bids (more volume), earlier asks before later ones, later bids before earlier ones
    (input order stands for time priority).
    """

    orders: list[int]  # indices into Auction.orders, in consumption order
    prices: list[int]
    cum: list[int]  # cum[j] = units in orders[:j+1]
    bids: int  # total bid quantity B
    bid_value: int  # sum of bid limit * qty

    @property
    def total(self) -> int:
        return self.cum[-1] if self.cum else 0

    def price_at(self, t: int) -> int | None:
        """Limit price of unit ``t`` (1-based); ``None`` outside ``1..total``."""
        if t < 1 or t > self.total:
            return None
        return self.prices[bisect_left(self.cum, t)]

    def cost(self, t: int) -> int:
        """Sum of the limits of the first ``t`` units."""
        if t < 0 or t > self.total:
            raise ClearingError(f"merit order position {t} outside 0..{self.total}")
        cost = prev = 0
        for price, c in zip(self.prices, self.cum):
            if c >= t:
                return cost + price * (t - prev)
            cost += price * (c - prev)
            prev = c
        return cost


def merit_order(orders: Sequence[HourlyOrder], indices: Sequence[int]) -> MeritOrder:
    """The merit order of the given orders (all of one instrument)."""

    def key(ix: int) -> tuple[int, int, int]:
        o = orders[ix]
        if o.side is Side.SELL:
            return (o.limit_fen, 0, ix)
        return (o.limit_fen, 1, -ix)

    ordered = sorted(indices, key=key)
    cum: list[int] = []
    total = 0
    for ix in ordered:
        total += orders[ix].qty
        cum.append(total)
    bids = sum(orders[ix].qty for ix in ordered if orders[ix].side is Side.BUY)
    value = sum(orders[ix].qty * orders[ix].limit_fen for ix in ordered if orders[ix].side is Side.BUY)
    return MeritOrder(ordered, [orders[ix].limit_fen for ix in ordered], cum, bids, value)


def dispatch_merit(
    orders: Sequence[HourlyOrder], mo: MeritOrder, net_block_buy: int, fills: list[int]
) -> None:
    """Fill the instrument's hourly orders so they absorb ``net_block_buy`` at least cost."""
    t = net_block_buy + mo.bids
    if not 0 <= t <= mo.total:
        raise ClearingError(
            f"blocks need {net_block_buy} GPUs net from hourly orders that can absorb only "
            f"{-mo.bids}..{mo.total - mo.bids}"
        )
    prev = 0
    for ix, c in zip(mo.orders, mo.cum):
        consumed = max(0, min(c, t) - prev)
        o = orders[ix]
        fills[ix] = consumed if o.side is Side.SELL else o.qty - consumed
        prev = c


def block_net(auction: Auction, accepted: dict[int, tuple[int, int]]) -> dict[tuple[Hashable, int], int]:
    """Net block demand (bought minus sold) per instrument for ``{block: (alt, k)}``."""
    net: dict[tuple[Hashable, int], int] = {}
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        prod = blk.alternatives[a].product
        for h in blk.hours_of(a):
            net[(prod, h)] = net.get((prod, h), 0) + blk.side.sign * k
    return net


def welfare(auction: Auction, fills: Sequence[int], accepted: dict[int, tuple[int, int]]) -> int:
    """Accepted buy value minus accepted sell value at limit prices, in fen, for hourly
    ``fills`` (in ``Auction.orders`` order) and ``{block: (alt, k)}``."""
    total = sum(o.side.sign * o.limit_fen * f for o, f in zip(auction.orders, fills))
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        total += blk.side.sign * blk.alternatives[a].limit_fen * blk.length * k
    return total


@dataclass(frozen=True)
class Usage:
    """Per-account use of capacity (GPUs sold per instrument) and funds (limit value)."""

    sold: dict[tuple[Hashable, Hashable, int], int]
    spent: dict[Hashable, int]


def usage(auction: Auction, fills: Sequence[int], accepted: dict[int, tuple[int, int]]) -> Usage:
    sold: dict[tuple[Hashable, Hashable, int], int] = {}
    spent: dict[Hashable, int] = {}
    for o, f in zip(auction.orders, fills):
        if f == 0:
            continue
        if o.side is Side.SELL:
            key = (o.account, o.product, o.hour)
            sold[key] = sold.get(key, 0) + f
        else:
            spent[o.account] = spent.get(o.account, 0) + f * o.limit_fen
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        alt = blk.alternatives[a]
        if blk.side is Side.SELL:
            for h in blk.hours_of(a):
                key = (blk.account, alt.product, h)
                sold[key] = sold.get(key, 0) + k
        else:
            spent[blk.account] = spent.get(blk.account, 0) + k * alt.limit_fen * blk.length
    return Usage(sold, spent)


def without_idle_caps(auction: Auction) -> Auction:
    """The auction without the caps no decision can reach: a capacity at least what its
    account could sell in that instrument (hourly asks and every sell block with an
    alternative there), funds at least the limit value of all the account's bids (a
    block's at its dearest alternative). Such a cap constrains nothing, and an order
    that is not full is never held back by it, so the rules are unchanged -- but the
    account's orders join the merit-order curves and the conflicts' cuts
    (:mod:`~exchange.clearing.cuts`) can rely on their instruments."""
    can_sell: dict[tuple[Hashable, Hashable, int], int] = {}
    can_spend: dict[Hashable, int] = {}
    for o in auction.orders:
        if o.side is Side.SELL:
            key = (o.account, o.product, o.hour)
            can_sell[key] = can_sell.get(key, 0) + o.qty
        else:
            can_spend[o.account] = can_spend.get(o.account, 0) + o.limit_fen * o.qty
    for b in auction.blocks:
        if b.side is Side.SELL:
            for a, alt in enumerate(b.alternatives):
                for h in b.hours_of(a):
                    key = (b.account, alt.product, h)
                    can_sell[key] = can_sell.get(key, 0) + b.qty
        else:
            dearest = max(alt.limit_fen for alt in b.alternatives)
            can_spend[b.account] = can_spend.get(b.account, 0) + dearest * b.length * b.qty
    capacity = {k: c for k, c in auction.capacity.items() if c < can_sell.get(k, 0)}
    funds = {a: f for a, f in auction.funds.items() if f < can_spend.get(a, 0)}
    if len(capacity) == len(auction.capacity) and len(funds) == len(auction.funds):
        return auction
    return replace(auction, capacity=capacity, funds=funds)


def capped_instruments(auction: Auction) -> set[tuple[Hashable, int]]:
    """Instruments with an hourly order whose account has a cap on it (capacity for an
    ask, funds for a bid)."""
    return {(o.product, o.hour) for o in auction.orders
            if ((o.account, o.product, o.hour) in auction.capacity if o.side is Side.SELL
                else o.account in auction.funds)}


def increasable(auction: Auction, o: HourlyOrder, fill: int, use: Usage) -> bool:
    """Could one more GPU of this order be filled without breaking its account's cap?"""
    if fill >= o.qty:
        return False
    if o.side is Side.SELL:
        key = (o.account, o.product, o.hour)
        cap = auction.capacity.get(key)
        return cap is None or use.sold.get(key, 0) + 1 <= cap
    funds = auction.funds.get(o.account)
    return funds is None or use.spent.get(o.account, 0) + o.limit_fen <= funds


def price_interval(
    auction: Auction, indices: Sequence[int], fills: Sequence[int], use: Usage
) -> tuple[int, int, str, str]:
    """``(lo, hi, lo_why, hi_why)``: prices consistent with the instrument's hourly fills.

    A filled bid needs ``p <= limit``, a bid that could take one more GPU needs
    ``p >= limit``; a filled ask needs ``p >= limit``, an ask that could sell one more
    needs ``p <= limit``. Unbounded sides are -+UNBOUNDED.
    """
    lo, hi = -UNBOUNDED, UNBOUNDED
    lo_why = hi_why = "nothing"
    orders = auction.orders
    for ix in indices:
        o = orders[ix]
        f = fills[ix]
        more = increasable(auction, o, f, use)
        if o.side is Side.BUY:
            if f > 0 and o.limit_fen < hi:
                hi, hi_why = o.limit_fen, f"filled bid {o.order_id!r}"
            if more and o.limit_fen > lo:
                lo, lo_why = o.limit_fen, f"unfilled bid {o.order_id!r}"
        else:
            if f > 0 and o.limit_fen > lo:
                lo, lo_why = o.limit_fen, f"filled ask {o.order_id!r}"
            if more and o.limit_fen < hi:
                hi, hi_why = o.limit_fen, f"unfilled ask {o.order_id!r}"
    return lo, hi, lo_why, hi_why


def clamp_to_band(spec: ProductSpec, lo: int, hi: int) -> tuple[int, int]:
    """The order interval intersected with the product's band (integers, on the tick)."""
    return max(lo, spec.band_lo_fen), min(hi, spec.band_hi_fen)


def tie_price(spec: ProductSpec, lo: int, hi: int) -> int:
    """The tie rule: midpoint of ``[lo, hi]`` rounded down to the tick (``lo``,``hi`` on tick)."""
    if lo > hi:
        raise ClearingError(f"empty price interval [{lo}, {hi}]")
    t = spec.tick_fen
    return lo + (hi - lo) // (2 * t) * t


def surplus(block: BlockOrder, a: int, prices: Mapping[tuple[Hashable, int], int | None]) -> int:
    """Per-GPU surplus of alternative ``a`` over its run at ``prices``: buy ``limit*L -
    sum p``, sell the opposite; :class:`ClearingError` if an hour of the run has no price."""
    alt = block.alternatives[a]
    total = 0
    for h in block.hours_of(a):
        price = prices[(alt.product, h)]
        if price is None:
            raise ClearingError(f"block {block.block_id!r}: {alt.product!r} hour {h} has no price")
        total += price
    return block.side.sign * (alt.limit_fen * block.length - total)


def fill_gains(
    block: BlockOrder,
    a: int,
    merit: dict[tuple[Hashable, int], MeritOrder],
    positions: dict[tuple[Hashable, int], int],
) -> list[int]:
    """Welfare a rejected block would add alone at alternative ``a`` at fills 1, 2, ...
    (element ``k-1`` for fill ``k``), every other decision fixed: its ``j``-th GPU is worth ``limit*L`` against
    the next consumed unit in each hour (for a sell, the last consumed unit against
    ``limit*L``). Stops where the hourly orders can absorb no more."""
    alt = block.alternatives[a]
    gains: list[int] = []
    total = 0
    for j in range(1, block.qty + 1):
        cost = 0
        for h in block.hours_of(a):
            key = (alt.product, h)
            t = positions[key]
            price = merit[key].price_at(t + j) if block.side is Side.BUY else merit[key].price_at(t - j + 1)
            if price is None:
                return gains
            cost += price
        total += block.side.sign * (alt.limit_fen * block.length - cost)
        gains.append(total)
    return gains
