"""Independent exact re-check of a clearing result against its auction input."""

from __future__ import annotations

from collections.abc import Hashable
from typing import NoReturn

from exchange.clearing.dispatch import HourlyBook
from exchange.clearing.model import (
    Auction,
    ClearingResult,
    HourlyOrder,
    OrderReason,
    RejectReason,
    Side,
    VerifyError,
)
from exchange.clearing.outcome import final_surplus, offered
from exchange.clearing.prices import (
    Accepted,
    Usage,
    clamp_to_band,
    increasable,
    price_interval,
    surplus,
    usage,
    welfare,
)


def _fail(msg: str) -> NoReturn:
    raise VerifyError(msg)


def verify(auction: Auction, result: ClearingResult) -> None:
    """Re-check every rule from the inputs; raise :class:`VerifyError` naming the culprit.

    Checks: integer fills within 0..qty; block fills 0 or ``min_fill..qty`` with one
    valid alternative (exclusive group); bought == sold in every instrument; an integer
    price on the tick inside the band where something traded, none where nothing did
    (but a consistent price must exist there); hourly orders consistent with the prices
    (a filled bid's limit >= price, a filled ask's limit <= price, an order that could
    take one more GPU within its account's cap is not in the money: bid limit <= price,
    ask limit >= price -- so a partial fill is at its limit); capacity and funds caps;
    every accepted block in the money; every reason true of the result (blocks' against
    their surplus, orders' against their fill, price, caps and time priority at the
    price); reported surplus, volume and welfare recomputed; the welfare within the
    reported gap of the reported dual bound, and not below the objective the solver
    reported.
    """
    fills = _fills(auction, result)
    accepted = _accepted(auction, result)
    traded = _balance(auction, result, fills, accepted)
    _prices(auction, result, traded)
    use = usage(auction, fills, accepted)
    _caps(auction, use)
    _orders_at_prices(auction, result, fills, use)
    _blocks(auction, result, accepted)
    _order_reasons(auction, result, fills, use)
    recomputed = welfare(auction, fills, accepted)
    if recomputed != result.welfare_fen:
        _fail(f"welfare: reported {result.welfare_fen} fen, recomputed {recomputed} fen")
    _solver_figures(result)


def _fills(auction: Auction, result: ClearingResult) -> list[int]:
    fills: list[int] = []
    for o in auction.orders:
        if o.order_id not in result.fills:
            _fail(f"order {o.order_id!r}: no fill reported")
        f = result.fills[o.order_id]
        if type(f) is not int or not 0 <= f <= o.qty:
            _fail(f"order {o.order_id!r}: fill {f!r} outside 0..{o.qty}")
        fills.append(f)
    if len(result.fills) != len(auction.orders):
        _fail("fills name orders that are not in the auction")
    return fills


def _accepted(auction: Auction, result: ClearingResult) -> Accepted:
    accepted: Accepted = {}
    if len(result.blocks) != len(auction.blocks):
        _fail("block results do not match the auction's blocks")
    for b, blk in enumerate(auction.blocks):
        r = result.blocks.get(blk.block_id)
        if r is None:
            _fail(f"block {blk.block_id!r}: no result")
        if type(r.qty) is not int:
            _fail(f"block {blk.block_id!r}: fill {r.qty!r} is not an integer")
        if r.qty == 0:
            if r.alternative is not None or r.reason is None:
                _fail(f"block {blk.block_id!r}: rejected without a reason or with an alternative")
            continue
        if r.alternative is None or not 0 <= r.alternative < len(blk.alternatives):
            _fail(f"block {blk.block_id!r}: accepted without a valid alternative ({r.alternative!r})")
        if not blk.min_fill <= r.qty <= blk.qty:
            _fail(f"block {blk.block_id!r}: fill {r.qty} outside {blk.min_fill}..{blk.qty} "
                  f"(min ratio {blk.min_ratio} %)")
        if r.reason is not None or r.conflicts:
            _fail(f"block {blk.block_id!r}: accepted but has reason {r.reason} or conflicts {r.conflicts}")
        accepted[b] = (r.alternative, r.qty)
    return accepted


def _balance(auction: Auction, result: ClearingResult, fills: list[int],
             accepted: Accepted) -> dict[tuple[Hashable, int], int]:
    """GPUs traded per instrument, checked: bought == sold, and the reported volume."""
    bought = {key: 0 for key in auction.instruments}
    sold = {key: 0 for key in auction.instruments}
    for o, f in zip(auction.orders, fills):
        (bought if o.side is Side.BUY else sold)[(o.product, o.hour)] += f
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        for h in blk.hours_of(a):
            (bought if blk.side is Side.BUY else sold)[(blk.alternatives[a].product, h)] += k
    for key in auction.instruments:
        if bought[key] != sold[key]:
            _fail(f"instrument {key!r}: bought {bought[key]} != sold {sold[key]}")
        if result.volume and result.volume.get(key) != bought[key]:
            _fail(f"instrument {key!r}: volume {result.volume.get(key)} != traded {bought[key]}")
    return bought


def _prices(auction: Auction, result: ClearingResult, traded: dict[tuple[Hashable, int], int]) -> None:
    prices = result.prices
    for key in auction.instruments:
        p = prices.get(key)
        spec = auction.products[key[0]]
        if not traded[key]:
            if p is not None:
                _fail(f"instrument {key!r}: nothing traded but priced at {p!r}")
            continue
        if type(p) is not int:
            _fail(f"instrument {key!r}: price {p!r} is not an integer")
        if not spec.band_lo_fen <= p <= spec.band_hi_fen or p % spec.tick_fen:
            _fail(f"instrument {key!r}: price {p} off tick {spec.tick_fen} or outside the band")
    if len(prices) != len(auction.instruments):
        _fail("prices name instruments that are not in the auction")


def _caps(auction: Auction, use: Usage) -> None:
    for key, cap in auction.capacity.items():
        if use.sold.get(key, 0) > cap:
            _fail(f"capacity {key!r}: sold {use.sold[key]} > {cap}")
    for acct, funds in auction.funds.items():
        if use.spent.get(acct, 0) > funds:
            _fail(f"funds of {acct!r}: limit value {use.spent[acct]} > {funds}")


def _orders_at_prices(auction: Auction, result: ClearingResult, fills: list[int], use: Usage) -> None:
    """Each order against its price; then each instrument's price (or, unpriced, the
    band) against the interval its orders allow."""
    by_inst: dict[tuple[Hashable, int], list[int]] = {}
    for ix, (o, f) in enumerate(zip(auction.orders, fills)):
        key = (o.product, o.hour)
        by_inst.setdefault(key, []).append(ix)
        p = result.prices[key]
        if p is None:
            continue
        more = increasable(auction, o, f, use)
        what = "bid" if o.side is Side.BUY else "ask"
        if f > 0 and o.side.sign * (o.limit_fen - p) < 0:
            _fail(f"order {o.order_id!r}: {what} filled {f} at limit {o.limit_fen} beyond price {p}")
        if more and o.side.sign * (o.limit_fen - p) > 0:
            _fail(f"order {o.order_id!r}: {what} limit {o.limit_fen} better than price {p} but filled "
                  f"only {f}/{o.qty}")
    for key, ixs in by_inst.items():  # the same rule, as an interval
        lo, hi, lw, hw = price_interval(auction, ixs, fills, use)
        p = result.prices[key]
        if p is None:
            blo, bhi = clamp_to_band(auction.products[key[0]], lo, hi)
            if blo > bhi:
                _fail(f"instrument {key!r}: nothing traded, yet no price is consistent: {lw} needs >= {lo}, "
                      f"{hw} needs <= {hi}")
        elif not lo <= p <= hi:
            _fail(f"instrument {key!r}: price {p} outside [{lo}, {hi}] ({lw}, {hw})")


def _blocks(auction: Auction, result: ClearingResult, accepted: Accepted) -> None:
    """Accepted blocks in the money; rejected ones' reasons true of their surplus."""
    book = HourlyBook.of(auction)
    other_side = offered(book)
    removed = set(result.removed)
    ids = {blk.block_id for blk in auction.blocks}
    in_money = (RejectReason.PARADOXICALLY_REJECTED, RejectReason.MIN_RATIO, RejectReason.ALL_OR_NONE)
    for b, blk in enumerate(auction.blocks):
        r = result.blocks[blk.block_id]
        what = f"block {blk.block_id!r}"
        s: int | None
        if b in accepted:
            a = accepted[b][0]
            s = surplus(blk, a, result.prices)
            if r.start != blk.start_of(a):
                _fail(f"{what}: reported start {r.start!r}, alternative {a} starts at {blk.start_of(a)}")
            if s < 0:
                _fail(f"{what}: accepted out of the money (surplus {s} fen per GPU at alternative {a})")
        else:
            found = [v for j in range(len(blk.alternatives))
                     if (v := final_surplus(book, blk, j, result.prices, other_side)) is not None]
            if r.start is not None:
                _fail(f"{what}: rejected but reports start {r.start}")
            s = max(found) if found else None
            if (r.reason is RejectReason.REMOVED_PARADOXICAL) != (blk.block_id in removed):
                _fail(f"{what}: reason {r.reason} disagrees with the removed list")
            if (r.reason is RejectReason.NO_COUNTERPARTY and s is not None) or (
                    s is None and r.reason not in (RejectReason.NO_COUNTERPARTY, RejectReason.REMOVED_PARADOXICAL)):
                _fail(f"{what}: {r.reason} but surplus {s}")
            if r.reason is RejectReason.OUT_OF_THE_MONEY and s is not None and s > 0:
                _fail(f"{what}: OUT_OF_THE_MONEY but surplus {s} > 0")
            if r.reason in in_money and (s is None or s <= 0):
                _fail(f"{what}: {r.reason} but surplus {s} <= 0")
            if (r.reason is RejectReason.ALL_OR_NONE) != (r.reason in in_money[1:] and blk.min_fill == blk.qty):
                _fail(f"{what}: {r.reason} for a block of min ratio {blk.min_ratio} %")
            if r.conflicts and (r.reason is not RejectReason.REMOVED_PARADOXICAL
                                or not set(r.conflicts) <= ids - {blk.block_id}):
                _fail(f"{what}: {r.reason} names conflicts {r.conflicts}")
        if r.surplus_fen != s:
            _fail(f"{what}: reported surplus {r.surplus_fen} != {s}")


def _order_reasons(auction: Auction, result: ClearingResult, fills: list[int], use: Usage) -> None:
    """Every order's reason true of its fill, its price, its account's cap and, at the
    price, time priority: no order of a price level filled while an earlier one there
    could take one more GPU."""
    by_inst: dict[tuple[Hashable, int], list] = {}
    for o in auction.orders:
        by_inst.setdefault((o.product, o.hour), []).append(o)
    waiting: set[tuple] = set()  # levels at which an earlier order could take more
    for o, f in zip(auction.orders, fills):
        why = result.order_reasons.get(o.order_id)
        p = result.prices[(o.product, o.hour)]
        more = increasable(auction, o, f, use)
        level = (o.product, o.hour, o.side, o.limit_fen)
        if f and level in waiting:
            _fail(f"order {o.order_id!r}: filled {f} while an earlier order at {o.limit_fen} waits")
        if more:
            waiting.add(level)
        others = [] if p is not None else [q for q in by_inst[(o.product, o.hour)] if q.side is not o.side]
        if not _reason_holds(auction, o, f, p, more, others, use, why):
            _fail(f"order {o.order_id!r}: reason {why} but filled {f}/{o.qty} at limit {o.limit_fen}, "
                  f"price {p}")
    if len(result.order_reasons) != len(auction.orders):
        _fail("order reasons do not match the auction's orders")


def _reason_holds(auction: Auction, o: HourlyOrder, f: int, p: int | None, more: bool,
                  others: list[HourlyOrder], use: Usage, why: OrderReason | None) -> bool:
    """Whether ``why`` is true of the order (``others``: the other side's orders where it
    did not trade)."""
    better = None if p is None else o.side.sign * (o.limit_fen - p)  # > 0: in the money
    capped = OrderReason.CAPPED_BY_FUNDS if o.side is Side.BUY else OrderReason.CAPPED_BY_CAPACITY
    crossing = [q for q in others if o.side.sign * (o.limit_fen - q.limit_fen) >= 0]
    if why is OrderReason.IN_THE_MONEY:
        return f == o.qty and better is not None and better > 0
    if why is OrderReason.AT_THE_PRICE:
        return better == 0
    if why is capped:
        return f < o.qty and not more and (better is None or better >= 0)
    if why is OrderReason.OUT_OF_THE_MONEY:
        return f == 0 and (better < 0 if better is not None else bool(others) and not crossing)
    if why is OrderReason.NO_COUNTERPARTY:
        return p is None and f == 0 and not any(increasable(auction, q, 0, use) for q in crossing)
    return False


def _solver_figures(result: ClearingResult) -> None:
    """The welfare against the solver's claims: at most the dual bound, within the
    reported gap of it, and worth at least the objective HiGHS reported for the point
    (up to float noise: welfare is whole fen, so half a fen plus 1e-7 relative)."""
    w = result.welfare_fen
    noise = 0.5 + 1e-7 * abs(w)
    if w > result.mip_bound + noise:
        _fail(f"welfare {w} fen above the reported dual bound {result.mip_bound}")
    if result.mip_objective > w + noise:
        _fail(f"welfare {w} fen below the objective {result.mip_objective} the solver reported for it")
    gap = (result.mip_bound - w) / max(1.0, abs(w))
    if gap > result.mip_gap + 1e-9 + noise / max(1.0, abs(w)):
        _fail(f"welfare {w} fen is {gap:.3g} below the bound {result.mip_bound}, "
              f"more than the reported gap {result.mip_gap:.3g}")
