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
from exchange.clearing.model import Auction, ClearingError, Side
from exchange.clearing.prices import MeritOrder, block_net, dispatch_merit, merit_order, usage

Accepted = dict[int, tuple[int, int]]
"""Accepted blocks: ``{block index: (alternative index, fill)}``."""


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
    return fills


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
