"""Independent exact re-check of a clearing result against its auction input."""

from __future__ import annotations

from typing import NoReturn

from exchange.clearing.model import Auction, ClearingResult, RejectReason, Side, VerifyError
from exchange.clearing.prices import increasable, price_interval, surplus, usage, welfare


def _fail(msg: str) -> NoReturn:
    raise VerifyError(msg)


def verify(auction: Auction, result: ClearingResult) -> None:
    """Re-check every rule from the inputs; raise :class:`VerifyError` naming the culprit.

    Checks: integer fills within 0..qty; block fills 0 or ``min_fill..qty`` with one
    valid alternative (exclusive group); integer prices on the tick inside the band for
    every instrument; bought == sold in every instrument; hourly orders consistent with
    the prices (a filled bid's limit >= price, a filled ask's limit <= price, an order
    that could take one more GPU within its account's cap is not in the money:
    bid limit <= price, ask limit >= price -- so a partial fill is at its limit);
    capacity and funds caps; every accepted block in the money; rejection reasons
    consistent with the prices; reported surplus, volume and welfare recomputed; the
    welfare within the reported gap of the reported dual bound, and not below the
    objective the solver reported.
    """
    fills = _check_fills(auction, result)
    accepted = _check_block_results(auction, result)
    _check_prices(auction, result)
    by_inst = _check_balance(auction, result, fills, accepted)
    use = usage(auction, fills, accepted)
    _check_caps(auction, use)
    _check_hourly_orders(auction, result.prices, fills, use, by_inst)
    _check_block_surplus(auction, result, accepted)
    recomputed = welfare(auction, fills, accepted)
    if recomputed != result.welfare_fen:
        _fail(f"welfare: reported {result.welfare_fen} fen, recomputed {recomputed} fen")
    _check_solver_figures(result)


def _check_fills(auction: Auction, result: ClearingResult) -> list[int]:
    """Every hourly order's fill, an integer in 0..qty; the fills in order of the orders."""
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


def _check_block_results(auction: Auction, result: ClearingResult) -> dict[int, tuple[int, int]]:
    """Every block's result: rejected with a reason, or accepted with a valid alternative
    and a fill in min_fill..qty; the accepted ones, block index -> (alternative, qty)."""
    accepted: dict[int, tuple[int, int]] = {}
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
        if r.reason is not None:
            _fail(f"block {blk.block_id!r}: accepted but has reason {r.reason}")
        accepted[b] = (r.alternative, r.qty)
    return accepted


def _check_prices(auction: Auction, result: ClearingResult) -> None:
    """A price for every instrument, an integer on the tick inside the band, and no other."""
    prices = result.prices
    for key in auction.instruments:
        p = prices.get(key)
        spec = auction.products[key[0]]
        if type(p) is not int:
            _fail(f"instrument {key!r}: price {p!r} is not an integer")
        if not spec.band_lo_fen <= p <= spec.band_hi_fen or p % spec.tick_fen:
            _fail(f"instrument {key!r}: price {p} off tick {spec.tick_fen} or outside the band")
    if len(prices) != len(auction.instruments):
        _fail("prices name instruments that are not in the auction")


def _check_balance(auction: Auction, result: ClearingResult, fills: list[int],
                   accepted: dict[int, tuple[int, int]]) -> dict:
    """Bought == sold, and the reported volume, in every instrument; the hourly orders'
    indexes by instrument."""
    bought = {key: 0 for key in auction.instruments}
    sold = {key: 0 for key in auction.instruments}
    by_inst: dict = {}
    for ix, (o, f) in enumerate(zip(auction.orders, fills)):
        key = (o.product, o.hour)
        by_inst.setdefault(key, []).append(ix)
        (bought if o.side is Side.BUY else sold)[key] += f
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        for h in blk.hours:
            key = (blk.alternatives[a].product, h)
            (bought if blk.side is Side.BUY else sold)[key] += k
    for key in auction.instruments:
        if bought[key] != sold[key]:
            _fail(f"instrument {key!r}: bought {bought[key]} != sold {sold[key]}")
        if result.volume and result.volume.get(key) != bought[key]:
            _fail(f"instrument {key!r}: volume {result.volume.get(key)} != traded {bought[key]}")
    return by_inst


def _check_caps(auction: Auction, use) -> None:
    """Capacity and funds caps, against what the fills ``use``."""
    for capped, cap in auction.capacity.items():
        if use.sold.get(capped, 0) > cap:
            _fail(f"capacity {capped!r}: sold {use.sold[capped]} > {cap}")
    for acct, funds in auction.funds.items():
        if use.spent.get(acct, 0) > funds:
            _fail(f"funds of {acct!r}: limit value {use.spent[acct]} > {funds}")


def _check_hourly_orders(auction: Auction, prices, fills: list[int], use, by_inst: dict) -> None:
    """Hourly orders consistent with the prices: filled ones at or inside their limits,
    one that could take one more GPU not in the money; per order, then per instrument."""
    for o, f in zip(auction.orders, fills):
        p = prices[(o.product, o.hour)]
        more = increasable(auction, o, f, use)
        if o.side is Side.BUY:
            if f > 0 and o.limit_fen < p:
                _fail(f"order {o.order_id!r}: bid filled {f} at limit {o.limit_fen} < price {p}")
            if more and o.limit_fen > p:
                _fail(f"order {o.order_id!r}: bid limit {o.limit_fen} > price {p} but filled "
                      f"only {f}/{o.qty}")
        else:
            if f > 0 and o.limit_fen > p:
                _fail(f"order {o.order_id!r}: ask filled {f} at limit {o.limit_fen} > price {p}")
            if more and o.limit_fen < p:
                _fail(f"order {o.order_id!r}: ask limit {o.limit_fen} < price {p} but filled "
                      f"only {f}/{o.qty}")
    for key, ixs in by_inst.items():  # the same rule, as an interval
        lo, hi, lw, hw = price_interval(auction, ixs, fills, use)
        if not lo <= prices[key] <= hi:
            _fail(f"instrument {key!r}: price {prices[key]} outside [{lo}, {hi}] ({lw}, {hw})")


def _check_block_surplus(auction: Auction, result: ClearingResult, accepted: dict[int, tuple[int, int]]) -> None:
    """Every accepted block in the money and not removed; rejection reasons consistent
    with the prices and the removed list; reported surpluses recomputed."""
    prices = result.prices
    removed = set(result.removed)
    for b, blk in enumerate(auction.blocks):
        r = result.blocks[blk.block_id]
        if b in accepted:
            s = surplus(blk, blk.alternatives[accepted[b][0]], prices)
            if s < 0:
                _fail(f"block {blk.block_id!r}: accepted out of the money (surplus {s} fen "
                      f"per GPU at alternative {r.alternative})")
            if blk.block_id in removed:
                _fail(f"block {blk.block_id!r}: accepted but listed as removed")
        else:
            s = max(surplus(blk, alt, prices) for alt in blk.alternatives)
            if (r.reason is RejectReason.REMOVED_PARADOXICAL) != (blk.block_id in removed):
                _fail(f"block {blk.block_id!r}: reason {r.reason} disagrees with the removed list")
            if r.reason is RejectReason.OUT_OF_THE_MONEY and s > 0:
                _fail(f"block {blk.block_id!r}: OUT_OF_THE_MONEY but surplus {s} > 0")
            if r.reason in (RejectReason.PARADOXICALLY_REJECTED, RejectReason.MIN_RATIO) and s <= 0:
                _fail(f"block {blk.block_id!r}: {r.reason.value} but surplus {s} <= 0")
        if r.surplus_fen != s:
            _fail(f"block {blk.block_id!r}: reported surplus {r.surplus_fen} != {s}")


def _check_solver_figures(result: ClearingResult) -> None:
    """The welfare against the solver's claims: at most the dual bound, within the
    reported gap of it, and worth at least the objective HiGHS reported for the point
    (up to float noise: 1 fen plus 1e-7 relative)."""
    w = result.welfare_fen
    noise = 1.0 + 1e-7 * abs(w)
    if w > result.mip_bound + noise:
        _fail(f"welfare {w} fen above the reported dual bound {result.mip_bound}")
    if result.mip_objective > w + noise:
        _fail(f"welfare {w} fen below the objective {result.mip_objective} the solver reported for it")
    gap = (result.mip_bound - w) / max(1.0, abs(w))
    if gap > result.mip_gap + 1e-9 + noise / max(1.0, abs(w)):
        _fail(f"welfare {w} fen is {gap:.3g} below the bound {result.mip_bound}, "
              f"more than the reported gap {result.mip_gap:.3g}")
