"""The welfare MIP of a day-ahead clearing, built for HiGHS (see :mod:`exchange.clearing`).

Columns: individually modelled orders, then blocks, then curve segments. Rows: one
balance row per instrument (index = position in ``Auction.instruments``), then the
capacity and funds rows of capped accounts (in order of first use), then the blocks'
fill and exclusive-group rows. Balance row ``i`` reads ``sum(curve segments) -
individual buys + individual sells - block buys + block sells = B - t_lo``, where ``B``
is the instrument's aggregated bid volume and ``t_lo`` the first reachable curve position.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from exchange.clearing.highs import as_int
from exchange.clearing.model import Auction, BlockOrder, ClearingError, HourlyOrder, Side
from exchange.clearing.prices import Accepted, merit_order

_INF = highspy.kHighsInf


@dataclass
class Formulation:
    """The welfare MIP and the map from its columns back to orders and blocks."""

    lp: highspy.HighsLp
    block_cols: list[list[tuple[int, int | None]]]
    """Per block, per alternative: ``(z column, k column or None for all-or-none)``."""
    order_cols: dict[int, int]
    """Hourly orders with a column of their own (capped accounts, or no aggregation)."""
    n_segments: int
    offset_fen: int
    """Exact integer welfare of the aggregated hourly orders at their base positions."""
    segments: dict[int, list[int]] = field(default_factory=dict)
    """Per balance row (instrument index), its curve segment columns, cheapest first."""


def build_mip(auction: Auction, aggregate: bool = True, integer_orders: bool = False) -> Formulation:
    """Build the welfare MIP.

    ``aggregate=True`` (the default): each instrument's hourly orders (except those of
    capped accounts) become one concave piecewise-linear merit-order curve, restricted to
    the net positions blocks and capped orders can reach. ``aggregate=False`` is the
    straightforward one-column-per-order formulation (kept as a benchmark baseline).
    ``integer_orders``: every individually modelled order's fill is an integer column
    (else only those of accounts with funds).
    """
    mip = _MipBuilder(auction)
    aggregated = mip.add_orders(aggregate, integer_orders)
    block_cols = [mip.add_block(blk) for blk in auction.blocks]
    offset, n_seg, segments = mip.add_curves(aggregated)
    mip.add_block_rows()
    return Formulation(mip.lp(offset), block_cols, mip.order_cols, n_seg, offset, segments)


class _MipBuilder:
    """Columns (with their matrix entries as triplets) and rows, added step by step."""

    def __init__(self, auction: Auction) -> None:
        self.auction = auction
        self.inst_ix = {key: i for i, key in enumerate(auction.instruments)}
        n_inst = len(self.inst_ix)
        self.row_lo: list[float] = [0.0] * n_inst
        self.row_hi: list[float] = [0.0] * n_inst
        self.col_lo: list[float] = []
        self.col_hi: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        # net demand the blocks and individual orders can move each instrument by
        self.reach_lo = [0] * n_inst
        self.reach_hi = [0] * n_inst
        self.order_cols: dict[int, int] = {}
        self._block_rows: list[tuple[float, float, list[tuple[int, float]]]] = []
        self._cap_rows: dict[tuple, int] = {}
        self._fund_rows: dict[Hashable, int] = {}

    def column(self, lo: float, hi: float, cost: float, integer: bool,
               entries: list[tuple[int, float]]) -> int:
        j = len(self.col_lo)
        self.col_lo.append(lo)
        self.col_hi.append(hi)
        self.cost.append(cost)
        self.integer.append(integer)
        self._entries((r, j, v) for r, v in entries)
        return j

    def row(self, lo: float, hi: float, entries: Iterable[tuple[int, float]] = ()) -> int:
        r = len(self.row_lo)
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        self._entries((r, c, v) for c, v in entries)
        return r

    def _entries(self, triplets: Iterable[tuple[int, int, float]]) -> None:
        for r, c, v in triplets:
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(v)

    def cap_row(self, key: tuple) -> int | None:
        """The capacity row of ``(account, product, hour)``, if it is capped."""
        return self._cap_row(self._cap_rows, key, self.auction.capacity)

    def fund_row(self, account: Hashable) -> int | None:
        """The funds row of ``account``, if it has funds."""
        return self._cap_row(self._fund_rows, account, self.auction.funds)

    def _cap_row(self, rows: dict, key: Hashable, caps: Mapping[Any, int]) -> int | None:
        """The ``<= caps[key]`` row, made at first use; ``None`` if ``key`` is not capped."""
        if key not in caps:
            return None
        if key not in rows:
            rows[key] = self.row(-_INF, float(caps[key]))
        return rows[key]

    def _individual(self, o: HourlyOrder, aggregate: bool) -> bool:
        if not aggregate:
            return True
        if o.side is Side.SELL:
            return (o.account, o.product, o.hour) in self.auction.capacity
        return o.account in self.auction.funds

    def add_orders(self, aggregate: bool, integer_orders: bool) -> list[list[int]]:
        """A column per individually modelled order; returns, per instrument, the indices
        of the orders left for its aggregated curve."""
        auction = self.auction
        aggregated: list[list[int]] = [[] for _ in self.inst_ix]
        for ix, o in enumerate(auction.orders):
            i = self.inst_ix[(o.product, o.hour)]
            if not self._individual(o, aggregate):
                aggregated[i].append(ix)
                continue
            entries: list[tuple[int, float]] = [(i, -float(o.side.sign))]
            if o.side is Side.SELL:
                self.reach_lo[i] -= o.qty
                r = self.cap_row((o.account, o.product, o.hour))
                if r is not None:
                    entries.append((r, 1.0))
            else:
                self.reach_hi[i] += o.qty
                r = self.fund_row(o.account)
                if r is not None:
                    entries.append((r, float(o.limit_fen)))
            self.order_cols[ix] = self.column(0.0, float(o.qty), float(o.side.sign * o.limit_fen),
                                              integer_orders or o.account in auction.funds, entries)
        return aggregated

    def add_block(self, blk: BlockOrder) -> list[tuple[int, int | None]]:
        """Per alternative a binary ``z`` (and an integer fill ``k`` unless all or none)
        touching the balance rows of its own product and hours; its fill rows and
        exclusive-group row wait for :meth:`add_block_rows`."""
        alts: list[tuple[int, int | None]] = []
        for a, alt in enumerate(blk.alternatives):
            entries: list[tuple[int, float]] = []
            for h in blk.hours_of(a):
                i = self.inst_ix[(alt.product, h)]
                entries.append((i, -float(blk.side.sign)))
                if blk.side is Side.BUY:
                    self.reach_hi[i] += blk.qty
                else:
                    self.reach_lo[i] -= blk.qty
                    r = self.cap_row((blk.account, alt.product, h))
                    if r is not None:
                        entries.append((r, 1.0))
            if blk.side is Side.BUY:
                r = self.fund_row(blk.account)
                if r is not None:
                    entries.append((r, float(alt.limit_fen * blk.length)))
            value = float(blk.side.sign * alt.limit_fen * blk.length)
            if blk.min_fill == blk.qty:  # all or none: the fill is qty * z
                z = self.column(0.0, 1.0, value * blk.qty, True, [(r, v * blk.qty) for r, v in entries])
                alts.append((z, None))
            else:
                z = self.column(0.0, 1.0, 0.0, True, [])
                k = self.column(0.0, float(blk.qty), value, True, entries)
                self._block_rows.append((-_INF, 0.0, [(k, 1.0), (z, -float(blk.qty))]))  # k <= qty z
                self._block_rows.append((0.0, _INF, [(k, 1.0), (z, -float(blk.min_fill))]))  # k >= min z
                alts.append((z, k))
        if len(alts) > 1:
            self._block_rows.append((-_INF, 1.0, [(z, 1.0) for z, _k in alts]))
        return alts

    def add_block_rows(self) -> None:
        """The blocks' fill and exclusive-group rows, after every other row."""
        for lo, hi, entries in self._block_rows:
            self.row(lo, hi, entries)

    def add_curves(self, aggregated: list[list[int]]) -> tuple[int, int, dict[int, list[int]]]:
        """Each instrument's aggregated orders as curve segments (one continuous column per
        distinct price) over the positions the blocks and individual orders can reach.
        Returns the exact welfare offset, the number of segments and the segments per row."""
        offset = 0
        n_seg = 0
        segments: dict[int, list[int]] = {}
        for i, ixs in enumerate(aggregated):
            if not ixs:
                continue
            mo = merit_order(self.auction.orders, ixs)
            t_lo = max(0, self.reach_lo[i] + mo.bids)
            t_hi = min(mo.total, self.reach_hi[i] + mo.bids)
            offset += mo.bid_value - mo.cost(t_lo)
            self.row_lo[i] += mo.bids - t_lo
            self.row_hi[i] += mo.bids - t_lo
            for price, width in _price_runs(mo.prices, mo.cum, t_lo, t_hi):
                segments.setdefault(i, []).append(self.column(0.0, float(width), -float(price), False, [(i, 1.0)]))
                n_seg += 1
        return offset, n_seg, segments

    def lp(self, offset: int) -> highspy.HighsLp:
        """The HiGHS model (column-wise matrix), maximising welfare with ``offset`` added."""
        lp = highspy.HighsLp()
        n = len(self.col_lo)
        lp.num_col_ = n
        lp.num_row_ = len(self.row_lo)
        lp.col_cost_ = np.array(self.cost, dtype=np.float64)
        lp.col_lower_ = np.array(self.col_lo, dtype=np.float64)
        lp.col_upper_ = np.array(self.col_hi, dtype=np.float64)
        lp.row_lower_ = np.array(self.row_lo, dtype=np.float64)
        lp.row_upper_ = np.array(self.row_hi, dtype=np.float64)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.offset_ = float(offset)
        c_arr = np.array(self.cols, dtype=np.int64)
        r_arr = np.array(self.rows, dtype=np.int32)
        v_arr = np.array(self.vals, dtype=np.float64)
        order = np.lexsort((r_arr, c_arr))
        start = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(c_arr, minlength=n), out=start[1:])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = lp.num_row_
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = r_arr[order]
        lp.a_matrix_.value_ = v_arr[order]
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
                           for f in self.integer]
        return lp


def _price_runs(prices: list[int], cum: list[int], t_lo: int, t_hi: int) -> list[tuple[int, int]]:
    """``(price, units)`` of the merit-order positions ``t_lo+1 .. t_hi``, one entry per
    run of equal prices."""
    runs: list[tuple[int, int]] = []
    prev = 0
    for price, c in zip(prices, cum):
        a, z = max(prev, t_lo), min(c, t_hi)
        prev = c
        if z <= a:
            continue
        if runs and runs[-1][0] == price:
            runs[-1] = (price, runs[-1][1] + z - a)
        else:
            runs.append((price, z - a))
    return runs


class StartRepair:
    """Turns the previous round's solution, with removed blocks fixed to 0, into a
    feasible MIP start: every curve segment is refilled cheapest first so each balance
    row holds again (exactly what the optimal hourly dispatch does for fixed blocks).
    Integer columns are rounded first (HiGHS returns them within 1e-6); without capped
    accounts every value is then a whole number and the float arithmetic here is exact."""

    def __init__(self, form: Formulation, n_inst: int):
        a = form.lp.a_matrix_
        start = np.asarray(a.start_, dtype=np.int64)
        self.index = np.asarray(a.index_, dtype=np.int64)
        self.value = np.asarray(a.value_, dtype=np.float64)
        self.col_of = np.repeat(np.arange(form.lp.num_col_), np.diff(start))
        self.n_row = form.lp.num_row_
        self.row_lo = np.asarray(form.lp.row_lower_, dtype=np.float64)
        self.row_hi = np.asarray(form.lp.row_upper_, dtype=np.float64)
        self.col_hi = np.asarray(form.lp.col_upper_, dtype=np.float64)
        self.n_inst = n_inst
        self.segments = form.segments
        self.seg_all = np.array([c for cs in form.segments.values() for c in cs], dtype=np.int64)
        self.ints = np.array([j for j, t in enumerate(form.lp.integrality_)
                              if t != highspy.HighsVarType.kContinuous], dtype=np.int64)

    def activity(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.index, weights=self.value * x[self.col_of], minlength=self.n_row)

    def __call__(self, x: np.ndarray) -> np.ndarray | None:
        """The repaired start, or ``None`` if some row cannot be balanced this way."""
        y = x.copy()
        y[self.ints] = np.round(y[self.ints])
        y[self.seg_all] = 0.0
        act = self.activity(y)
        for i in range(self.n_inst):
            need = self.row_lo[i] - act[i]
            for c in self.segments.get(i, ()):
                if need <= 0:
                    break
                take = min(need, self.col_hi[c])
                y[c] = take
                need -= take
            if abs(need) > 1e-9:
                return None
        act = self.activity(y)
        if np.any(act < self.row_lo - 1e-9) or np.any(act > self.row_hi + 1e-9):
            return None
        return y


def decode_blocks(auction: Auction, form: Formulation, x) -> Accepted:
    """``{block: (alternative, fill)}`` of the accepted blocks in a MIP solution."""
    accepted: Accepted = {}
    for b, alts in enumerate(form.block_cols):
        blk = auction.blocks[b]
        for a, (zc, kc) in enumerate(alts):
            z = as_int(x[zc], f"block {blk.block_id!r} acceptance")
            k = blk.qty * z if kc is None else as_int(x[kc], f"block {blk.block_id!r} fill")
            if k == 0 and z == 0:
                continue
            if not (z == 1 and blk.min_fill <= k <= blk.qty):
                raise ClearingError(f"block {blk.block_id!r}: solver fill {k} (z={z}) breaks its rules")
            if b in accepted:
                raise ClearingError(f"block {blk.block_id!r}: two alternatives accepted")
            accepted[b] = (a, k)
    return accepted
