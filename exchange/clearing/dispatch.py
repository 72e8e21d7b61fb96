"""The hourly orders' exact fills for fixed block decisions.

Without caps each instrument is its own merit order (:func:`~exchange.clearing.prices.
dispatch_merit`); with capacity or funds caps the accounts couple instruments, so the
fills come from a small integer program (one column per order, blocks fixed) solved to
optimality by HiGHS and read back as integers.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from exchange.clearing.formulation import build_mip
from exchange.clearing.highs import SolveClock, as_int, new_highs
from exchange.clearing.model import Auction, ClearingError, HourlyOrder, Side
from exchange.clearing.prices import Accepted, MeritOrder, block_net, dispatch_merit, merit_order, usage


@dataclass(frozen=True)
class HourlyBook:
    """An auction's hourly orders per instrument ``(product, hour)``: their indices into
    ``Auction.orders`` and their merit order (instruments without orders are absent)."""

    auction: Auction
    by_inst: dict[tuple[Hashable, int], list[int]]
    merit: dict[tuple[Hashable, int], MeritOrder]

    @classmethod
    def of(cls, auction: Auction) -> HourlyBook:
        by_inst: dict[tuple[Hashable, int], list[int]] = {}
        for ix, o in enumerate(auction.orders):
            by_inst.setdefault((o.product, o.hour), []).append(ix)
        merit = {key: merit_order(auction.orders, ixs) for key, ixs in by_inst.items()}
        return cls(auction, by_inst, merit)


def hourly_fills(book: HourlyBook, accepted: Accepted, clock: SolveClock) -> list[int]:
    """Exact hourly fills (per order, in ``Auction.orders`` order) that absorb the
    accepted blocks at the least cost: the merit orders, or with caps a MIP."""
    auction = book.auction
    net = block_net(auction, accepted)
    if not auction.capacity and not auction.funds:
        fills = [0] * len(auction.orders)
        for key, mo in book.merit.items():
            dispatch_merit(auction.orders, mo, net.get(key, 0), fills)
        _check_absorbed(net, book.merit)
        return fills
    return _capped_fills(auction, accepted, net, clock)


def _check_absorbed(net: dict, merit: dict) -> None:
    for key, d in net.items():
        if key not in merit and d != 0:
            raise ClearingError(f"instrument {key!r}: blocks unbalanced by {d} with no hourly orders")


def _capped_fills(auction: Auction, accepted: Accepted, net: dict, clock: SolveClock) -> list[int]:
    """One integer column per order, the blocks fixed (their net demand moved to the
    balance rows' right-hand side, their use of the caps taken off the cap rows)."""
    fills = [0] * len(auction.orders)
    fixed = Auction(auction.products, auction.hours, auction.orders, (), auction.capacity, auction.funds)
    form = build_mip(fixed, aggregate=False, integer_orders=True)
    lp = form.lp
    use = usage(auction, [0] * len(auction.orders), accepted)
    lower = np.array(lp.row_lower_)
    upper = np.array(lp.row_upper_)
    n_inst = len(auction.instruments)
    for i, key in enumerate(auction.instruments):
        d = net.get(key, 0)
        lower[i] += d  # the row holds -(block buys - block sells): moved to the right-hand side
        upper[i] += d
    for r, (kind, capped) in enumerate(_cap_rows(fixed), start=n_inst):
        upper[r] -= use.sold.get(capped, 0) if kind == "cap" else use.spent.get(capped, 0)
        if upper[r] < 0:
            raise ClearingError(f"blocks alone exceed {kind} of {capped!r}")
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    if lp.num_col_ == 0:  # no hourly orders (HiGHS reports an empty model, not optimal)
        _check_absorbed(net, {})
        return fills
    h = new_highs({"mip_rel_gap": 0.0, "mip_abs_gap": 0.5})
    h.passModel(lp)
    clock.run(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise ClearingError(f"capped dispatch: HiGHS status {h.modelStatusToString(h.getModelStatus())}")
    x = h.getSolution().col_value
    for ix, c in form.order_cols.items():
        fills[ix] = as_int(x[c], f"order {auction.orders[ix].order_id!r}")
    _by_the_tie_rules(auction, fills, accepted)
    return fills


def _by_the_tie_rules(auction: Auction, fills: list[int], accepted: Accepted) -> None:
    """The merit order's tie rules, which the MIP's optimum need not keep, restored
    without changing welfare, balance or any cap: at one limit in one instrument a bid
    and an ask that could both take more trade (asks fill before bids drop), and each
    price level's fill (orders of one instrument, side and limit) goes to its orders in
    input order, each up to what its account's cap leaves (time priority)."""
    use = usage(auction, fills, accepted)
    sold, spent = dict(use.sold), dict(use.spent)
    levels: dict[tuple, list[int]] = {}
    for ix, o in enumerate(auction.orders):
        levels.setdefault((o.product, o.hour, o.side, o.limit_fen), []).append(ix)
    for (product, hour, side, limit), bids in levels.items():
        if side is Side.BUY:
            for ix in bids:
                for jx in levels.get((product, hour, Side.SELL, limit), ()):
                    q = min(_room(auction, auction.orders[ix], fills[ix], sold, spent),
                            _room(auction, auction.orders[jx], fills[jx], sold, spent))
                    for kx in (ix, jx):
                        fills[kx] += q
                        _use(auction.orders[kx], q, sold, spent)
    for ixs in levels.values():
        if len(ixs) < 2:
            continue
        left = 0
        for ix in ixs:
            left += fills[ix]
            _use(auction.orders[ix], -fills[ix], sold, spent)
            fills[ix] = 0
        for ix in ixs:
            o = auction.orders[ix]
            fills[ix] = min(left, _room(auction, o, 0, sold, spent))
            left -= fills[ix]
            _use(o, fills[ix], sold, spent)
        if left:
            raise ClearingError(f"price level of order {auction.orders[ixs[0]].order_id!r}: {left} GPUs "
                                "left over after time priority")


def _use(o: HourlyOrder, qty: int, sold: dict, spent: dict) -> None:
    if o.side is Side.SELL:
        key = (o.account, o.product, o.hour)
        sold[key] = sold.get(key, 0) + qty
    else:
        spent[o.account] = spent.get(o.account, 0) + qty * o.limit_fen


def _room(auction: Auction, o: HourlyOrder, filled: int, sold: dict, spent: dict) -> int:
    """GPUs the order may take on top of ``filled``: what is left of its qty, less what
    its account's cap does not leave."""
    room = o.qty - filled
    if o.side is Side.SELL:
        key = (o.account, o.product, o.hour)
        cap = auction.capacity.get(key)
        return room if cap is None else min(room, cap - sold.get(key, 0))
    funds = auction.funds.get(o.account)
    if funds is None or o.limit_fen == 0:
        return room
    return min(room, (funds - spent.get(o.account, 0)) // o.limit_fen)


def _cap_rows(auction: Auction) -> list[tuple[str, Any]]:
    """Row order of the cap rows :func:`build_mip` creates for an auction without blocks
    (after the balance rows, in order of first use)."""
    seen: list[tuple[str, Any]] = []  # ("cap", (account, product, hour)) or ("funds", account)
    have: set = set()
    for o in auction.orders:
        if o.side is Side.SELL:
            key = (o.account, o.product, o.hour)
            if key in auction.capacity and ("cap", key) not in have:
                have.add(("cap", key))
                seen.append(("cap", key))
        elif o.account in auction.funds and ("funds", o.account) not in have:
            have.add(("funds", o.account))
            seen.append(("funds", o.account))
    return seen
