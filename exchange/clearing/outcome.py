"""The exact result of a clearing from its final decisions: volumes, every block's outcome
and, for a rejected block, why (see :class:`~exchange.clearing.model.RejectReason`)."""

from __future__ import annotations

from collections.abc import Hashable

from exchange.clearing.dispatch import Accepted, HourlyBook
from exchange.clearing.model import BlockOrder, BlockResult, RejectReason, Side
from exchange.clearing.prices import MeritOrder, best_fill, block_net, surplus
from exchange.clearing.pricing import Prices


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
            for hh in blk.hours:
                volume[(blk.alternatives[a].product, hh)] += k
    return volume


def block_results(book: HourlyBook, accepted: Accepted, prices: Prices,
                  removed: set[int]) -> dict[Hashable, BlockResult]:
    """Every block's fill and alternative, or its rejection reason; surplus at ``prices``."""
    auction = book.auction
    net = block_net(auction, accepted)
    positions = {key: net.get(key, 0) + mo.bids for key, mo in book.merit.items()}
    out: dict[Hashable, BlockResult] = {}
    for b, blk in enumerate(auction.blocks):
        if b in accepted:
            a, k = accepted[b]
            out[blk.block_id] = BlockResult(blk.block_id, k, a, None, surplus(blk, blk.alternatives[a], prices))
            continue
        best = max(surplus(blk, alt, prices) for alt in blk.alternatives)
        if b in removed:
            reason = RejectReason.REMOVED_PARADOXICAL
        elif best <= 0:
            reason = RejectReason.OUT_OF_THE_MONEY
        elif _min_ratio_bound(blk, book.merit, positions):
            reason = RejectReason.MIN_RATIO
        else:
            reason = RejectReason.PARADOXICALLY_REJECTED
        out[blk.block_id] = BlockResult(blk.block_id, 0, None, reason, best)
    return out


def _min_ratio_bound(blk: BlockOrder, merit: dict[tuple[Hashable, int], MeritOrder],
                     positions: dict[tuple[Hashable, int], int]) -> bool:
    """True if, alone, the block could only gain with a fill below its minimum."""
    fills = []
    for alt in blk.alternatives:
        keys = [(alt.product, h) for h in blk.hours]
        if any(k not in merit for k in keys):
            fills.append(0)
            continue
        fills.append(best_fill(blk, alt, merit, positions))
    return max(fills) < blk.min_fill and max(fills) > 0
