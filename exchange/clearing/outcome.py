"""The exact result of a clearing from its final decisions: volumes, every block's outcome
and every order's reason (:class:`~exchange.clearing.model.RejectReason`,
:class:`~exchange.clearing.model.OrderReason`)."""

from __future__ import annotations

from collections.abc import Hashable

from exchange.clearing.dispatch import HourlyBook
from exchange.clearing.model import (
    BlockOrder,
    BlockResult,
    HourlyOrder,
    OrderReason,
    RejectReason,
    Side,
)
from exchange.clearing.prices import Accepted, block_net, fill_gains, increasable, surplus, usage

Published = dict[tuple[Hashable, int], int | None]
"""Prices as published: ``None`` where nothing traded."""


def volumes(book: HourlyBook, fills: list[int], accepted: Accepted) -> dict[tuple[Hashable, int], int]:
    """GPUs bought (== sold) per instrument: hourly bids' fills plus buy blocks' fills."""
    auction = book.auction
    orders = auction.orders
    volume = {}
    for key in auction.instruments:
        volume[key] = sum(fills[ix] for ix in book.by_inst.get(key, ()) if orders[ix].side is Side.BUY)
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        if blk.side is Side.BUY:
            for hh in blk.hours_of(a):
                volume[(blk.alternatives[a].product, hh)] += k
    return volume


def final_surplus(book: HourlyBook, blk: BlockOrder, a: int, prices: Published,
                  offered: dict[tuple[Hashable, int, Side], int]) -> int | None:
    """Surplus per GPU of ``blk`` at alternative ``a`` (over its own hours) at the final prices, an hour without a price
    at the best hourly price on the other side there; ``None`` if an hour has too few
    GPUs on the other side for its minimum fill (``offered``: see :func:`offered`) or no
    price and no hourly order on the other side."""
    alt = blk.alternatives[a]
    total = 0
    for h in blk.hours_of(a):
        key = (alt.product, h)
        if offered.get((*key, blk.side), 0) < blk.min_fill:
            return None
        price = prices[key]
        if price is None:
            price = best_other_side(book, key, blk.side)
            if price is None:
                return None
        total += price
    return blk.side.sign * (alt.limit_fen * blk.length - total)


def best_other_side(book: HourlyBook, key: tuple[Hashable, int], side: Side) -> int | None:
    """The cheapest hourly ask (for a buyer) or dearest hourly bid (for a seller) there."""
    orders = book.auction.orders
    limits = [orders[ix].limit_fen for ix in book.by_inst.get(key, ()) if orders[ix].side is not side]
    if not limits:
        return None
    return min(limits) if side is Side.BUY else max(limits)


def offered(book: HourlyBook) -> dict[tuple[Hashable, int, Side], int]:
    """``(product, hour, side)`` -> GPUs the other side offers there: its hourly orders'
    quantity plus the quantity of its blocks with an alternative whose run covers it."""
    auction = book.auction
    out: dict[tuple[Hashable, int, Side], int] = {}
    against = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}
    for o in auction.orders:
        key = (o.product, o.hour, against[o.side])
        out[key] = out.get(key, 0) + o.qty
    for blk in auction.blocks:  # once per instrument, however many alternatives cover it
        covered = {(alt.product, h) for a, alt in enumerate(blk.alternatives) for h in blk.hours_of(a)}
        for product, h in covered:
            key = (product, h, against[blk.side])
            out[key] = out.get(key, 0) + blk.qty
    return out


def block_results(book: HourlyBook, accepted: Accepted, prices: Published,
                  removed: dict[int, tuple[int, ...]], forced: dict[int, tuple[int, ...]]
                  ) -> dict[Hashable, BlockResult]:
    """Every block's fill and alternative, or its rejection reason (``removed`` and
    ``forced``: the blocks the no-paradox rule keeps out, with the blocks they conflict
    with); surplus at the final prices."""
    auction = book.auction
    net = block_net(auction, accepted)
    positions = {key: net.get(key, 0) + mo.bids for key, mo in book.merit.items()}
    other_side = offered(book)
    out: dict[Hashable, BlockResult] = {}
    for b, blk in enumerate(auction.blocks):
        if b in accepted:
            a, k = accepted[b]
            out[blk.block_id] = BlockResult(blk.block_id, k, a, None, surplus(blk, a, prices), start=blk.start_of(a))
            continue
        found = [s for a in range(len(blk.alternatives))
                 if (s := final_surplus(book, blk, a, prices, other_side)) is not None]
        best = max(found) if found else None
        conflicts: tuple[int, ...] = ()
        if b in removed:
            reason, conflicts = RejectReason.REMOVED_PARADOXICAL, removed[b]
        elif best is None:
            reason = RejectReason.NO_COUNTERPARTY
        elif best <= 0:
            reason = RejectReason.OUT_OF_THE_MONEY
        elif b in forced:
            reason, conflicts = RejectReason.REMOVED_PARADOXICAL, forced[b]
        elif _only_below_minimum(blk, book, positions):
            reason = RejectReason.ALL_OR_NONE if blk.min_fill == blk.qty else RejectReason.MIN_RATIO
        else:
            reason = RejectReason.PARADOXICALLY_REJECTED
        out[blk.block_id] = BlockResult(blk.block_id, 0, None, reason, best,
                                        tuple(auction.blocks[c].block_id for c in conflicts))
    return out


def _only_below_minimum(blk: BlockOrder, book: HourlyBook, positions: dict[tuple[Hashable, int], int]) -> bool:
    """Whether the block alone, every other decision fixed, would add welfare at some
    positive fill below its minimum but at none from its minimum up (an hour without
    hourly orders absorbs nothing)."""
    below = False
    for a, alt in enumerate(blk.alternatives):
        if not all((alt.product, h) in book.merit for h in blk.hours_of(a)):
            continue
        gains = fill_gains(blk, a, book.merit, positions)
        if any(g > 0 for g in gains[blk.min_fill - 1:]):
            return False
        below = below or any(g > 0 for g in gains[:blk.min_fill - 1])
    return below


def order_reasons(book: HourlyBook, fills: list[int], accepted: Accepted,
                  prices: Published) -> dict[Hashable, OrderReason]:
    """Why each hourly order got its fill, at its instrument's price."""
    auction = book.auction
    use = usage(auction, fills, accepted)
    out = {}
    for o, f in zip(auction.orders, fills):
        price = prices[(o.product, o.hour)]
        capped = (OrderReason.CAPPED_BY_FUNDS if o.side is Side.BUY else OrderReason.CAPPED_BY_CAPACITY)
        if price is None:
            reason = _untraded_reason(book, o, capped, use)
        elif f == o.qty:
            reason = OrderReason.AT_THE_PRICE if o.limit_fen == price else OrderReason.IN_THE_MONEY
        elif o.side.sign * (o.limit_fen - price) < 0:
            reason = OrderReason.OUT_OF_THE_MONEY
        elif not increasable(auction, o, f, use):
            reason = capped
        else:
            reason = OrderReason.AT_THE_PRICE
        out[o.order_id] = reason
    return out


def _untraded_reason(book: HourlyBook, o: HourlyOrder, capped: OrderReason, use) -> OrderReason:
    """An order in an instrument-hour where nothing traded: held by its own cap if an
    order on the other side crosses it, else no counterparty (none there, or each one
    that crosses is capped), else out of the money."""
    auction = book.auction
    others = [auction.orders[ix] for ix in book.by_inst[(o.product, o.hour)] if auction.orders[ix].side is not o.side]
    crossing = [q for q in others if o.side.sign * (o.limit_fen - q.limit_fen) >= 0]
    if crossing and not increasable(auction, o, 0, use):
        return capped
    if crossing or not others:
        return OrderReason.NO_COUNTERPARTY
    return OrderReason.OUT_OF_THE_MONEY
