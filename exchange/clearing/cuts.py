"""No-paradox cuts: each conflict of a round becomes a row of the welfare MIP.

A conflict (:mod:`~exchange.clearing.conflicts`) holds in every selection that accepts
its blocks at the same alternatives while each interval end it relies on still holds.
Where an instrument's hourly orders have no cap that can bind, its interval is
``[price of the last consumed unit, price of the next one]`` of its merit order at
position ``D + bids`` (``D`` the net block demand), both non-decreasing in ``D``: a bottom
end at price ``P`` holds while ``D >= count(units < P) + 1 - bids``, a top end while
``D <= count(units <= P) - 1 - bids``, and the band's own ends always. So the cut

    sum over the conflict's blocks (1 - z[block, alternative]) + sum over its ends escape[end] >= 1

with a binary ``escape`` per end (1 only if ``D`` is past the end's threshold: a big-M
row on the blocks' columns) removes exactly selections with the same conflict and no
others: it is valid, and the MIP's dual bound stays a bound on the best paradox-free
welfare. An end in an instrument with a cap that can bind depends on the whole
selection; such a conflict cannot be cut this way (the loop removes one of its blocks).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from dataclasses import dataclass

import highspy
import numpy as np

from exchange.clearing.conflicts import Conflict, IntervalEnd
from exchange.clearing.dispatch import HourlyBook
from exchange.clearing.formulation import Formulation
from exchange.clearing.model import BlockOrder, Side
from exchange.clearing.prices import Accepted

_INF = highspy.kHighsInf


@dataclass(frozen=True)
class Escape:
    """Leaving a conflict by moving instrument ``inst``'s net block demand ``D`` to at
    most ``threshold`` (``below``: a bottom end) or at least ``threshold`` (a top end)."""

    inst: int
    threshold: int
    below: bool

    def holds(self, demand: int) -> bool:
        return demand <= self.threshold if self.below else demand >= self.threshold


@dataclass(frozen=True)
class Selection:
    """Accepted blocks as the cuts see them: net block demand per instrument index, and
    the accepted blocks whose run covers each."""

    accepted: Accepted
    demand: list[int]
    on: dict[int, list[int]]


@dataclass(frozen=True)
class Cut:
    """A conflict as a MIP row: its blocks, and the escapes of its ends (ends that hold
    for every selection have none)."""

    conflict: Conflict
    escapes: tuple[Escape, ...]


def _escapes_with(e: Escape, demand: int, blk: BlockOrder | None) -> bool:
    """Whether the escape holds at ``demand`` plus ``blk`` (if given) at the fill most in
    the escape's favour (the least demand below, the most above)."""
    if blk is None:
        return e.holds(demand)
    small, large = sorted((blk.side.sign * blk.min_fill, blk.side.sign * blk.qty))
    return e.holds(demand + (small if e.below else large))


class CutPool:
    """The cuts added to one HiGHS model, their escape columns, and exact evaluation of
    a selection against them."""

    def __init__(self, book: HourlyBook, form: Formulation, capped: set[tuple[Hashable, int]]) -> None:
        auction = book.auction
        self.book = book
        self.form = form
        self.capped = capped
        self.inst_ix = {key: i for i, key in enumerate(auction.instruments)}
        n_inst = len(self.inst_ix)
        self.demand_cols: list[list[tuple[int, float]]] = [[] for _ in range(n_inst)]
        self.lo = [0] * n_inst
        self.hi = [0] * n_inst
        for b, alts in enumerate(form.block_cols):
            blk = auction.blocks[b]
            for a, (zc, kc) in enumerate(alts):
                for h in blk.hours_of(a):
                    i = self.inst_ix[(blk.alternatives[a].product, h)]
                    if kc is None:
                        self.demand_cols[i].append((zc, float(blk.side.sign * blk.qty)))
                    else:
                        self.demand_cols[i].append((kc, float(blk.side.sign)))
                    if blk.side is Side.BUY:
                        self.hi[i] += blk.qty
                    else:
                        self.lo[i] -= blk.qty
        self.cuts: list[Cut] = []
        """Cuts added to the model."""
        self.known: list[Cut] = []
        """Every cut derived, added or not: each a conflict that holds wherever it applies."""
        self.escape_cols: dict[Escape, int] = {}
        self.n_base = form.lp.num_col_

    def cut_for(self, conflict: Conflict) -> Cut | None:
        """The cut of a conflict, or ``None`` if an end lies in a capped instrument."""
        escapes = []
        for end in conflict.ends:
            if end.instrument in self.capped:
                spec = self.book.auction.products[end.instrument[0]]
                if end.price not in (spec.band_lo_fen, spec.band_hi_fen):
                    return None
            escape = self._escape(end)
            if escape is not None:
                escapes.append(escape)
        cut = Cut(conflict, tuple(dict.fromkeys(escapes)))
        self.known.append(cut)
        return cut

    def _escape(self, end: IntervalEnd) -> Escape | None:
        """How the end gives way: the net block demand past which it no longer holds
        (``None`` if it holds for every reachable demand, e.g. an end of the band)."""
        auction = self.book.auction
        spec = auction.products[end.instrument[0]]
        mo = self.book.merit.get(end.instrument)
        i = self.inst_ix[end.instrument]
        if mo is None:
            return None  # the band: holds for every D
        if end.upper:
            if end.price >= spec.band_hi_fen:
                return None
            j = bisect_right(mo.prices, end.price)
            above = (mo.cum[j - 1] if j else 0) - mo.bids  # D >= phi + 1 escapes
            return Escape(i, above, below=False) if above <= self.hi[i] else None
        if end.price <= spec.band_lo_fen:
            return None
        j = bisect_left(mo.prices, end.price)
        below = (mo.cum[j - 1] if j else 0) - mo.bids  # D <= theta - 1 escapes
        return Escape(i, below, below=True) if below >= self.lo[i] else None

    def add(self, h: highspy.Highs, cut: Cut) -> None:
        """The cut's row (and any new escape column with its big-M row) into ``h``."""
        cols, vals = [], []
        for b, a in cut.conflict.blocks:
            cols.append(self.form.block_cols[b][a][0])
            vals.append(-1.0)
        for escape in cut.escapes:
            cols.append(self._escape_col(h, escape))
            vals.append(1.0)
        h.addRow(1.0 - len(cut.conflict.blocks), _INF, len(cols), np.array(cols, dtype=np.int32),
                 np.array(vals))
        self.cuts.append(cut)

    def _escape_col(self, h: highspy.Highs, escape: Escape) -> int:
        if escape in self.escape_cols:
            return self.escape_cols[escape]
        col = self.n_base + len(self.escape_cols)
        h.addVar(0.0, 1.0)
        h.changeColIntegrality(col, highspy.HighsVarType.kInteger)
        self.escape_cols[escape] = col
        entries = self.demand_cols[escape.inst]
        idx = np.array([c for c, _v in entries] + [col], dtype=np.int32)
        if escape.below:  # D + M e <= threshold + M
            m = float(self.hi[escape.inst] - escape.threshold)
            h.addRow(-_INF, escape.threshold + m, len(idx), idx, np.array([v for _c, v in entries] + [m]))
        else:  # D - M e >= threshold - M
            m = float(escape.threshold - self.lo[escape.inst])
            h.addRow(escape.threshold - m, _INF, len(idx), idx, np.array([v for _c, v in entries] + [-m]))
        return col

    def selection(self, accepted: Accepted) -> Selection:
        """The accepted blocks with their net demand and runs per instrument index."""
        auction = self.book.auction
        demand = [0] * len(self.inst_ix)
        on: dict[int, list[int]] = {}
        for b, (a, k) in accepted.items():
            blk = auction.blocks[b]
            signed = blk.side.sign * k
            for i in self._run(b, a):
                demand[i] += signed
                on.setdefault(i, []).append(b)
        return Selection(accepted, demand, on)

    def violated(self, chosen: Selection) -> list[Cut]:
        """The cuts a selection breaks (all its blocks at their alternatives, no escape)."""
        return [c for c in self.cuts
                if all(chosen.accepted.get(b, (None,))[0] == a for b, a in c.conflict.blocks)
                and not any(e.holds(chosen.demand[e.inst]) for e in c.escapes)]

    def escape_values(self, chosen: Selection) -> np.ndarray:
        """The escape columns' values for a selection (1 where its demand escapes)."""
        return np.array([1.0 if e.holds(chosen.demand[e.inst]) else 0.0 for e in self.escape_cols])

    def forcing(self, chosen: Selection, b: int) -> tuple[int, ...] | None:
        """If accepting rejected block ``b`` -- at any alternative of a cut and any fill,
        everything else as chosen -- re-creates a cut's conflict: the blocks it would
        conflict with (the cut's other blocks, and the accepted blocks whose volume holds
        the cut's ends: buys where a bottom end holds, sells where a top end does).
        ``None`` if no cut keeps it out."""
        blk = self.book.auction.blocks[b]
        for cut in self.known:
            mine = [a for bb, a in cut.conflict.blocks if bb == b]
            others = [(bb, a) for bb, a in cut.conflict.blocks if bb != b]
            if not mine or any(chosen.accepted.get(bb, (None,))[0] != a for bb, a in others):
                continue
            run = self._run(b, mine[0])
            if any(_escapes_with(e, chosen.demand[e.inst], blk if e.inst in run else None) for e in cut.escapes):
                continue
            return self.partners(cut.conflict, chosen, b)
        return None

    def span(self, conflict: Conflict) -> set[int]:
        """Instrument indices a conflict touches: its blocks' runs and its ends."""
        out = {self.inst_ix[e.instrument] for e in conflict.ends}
        for bb, a in conflict.blocks:
            out |= self._run(bb, a)
        return out

    def partners(self, conflict: Conflict, chosen: Selection, b: int) -> tuple[int, ...]:
        """The blocks the conflict's block ``b`` conflicts with: the conflict's other
        blocks and the accepted blocks whose volume holds one of its ends off the band
        (buys where it is a bottom: demand pushes the price up; sells where a top)."""
        auction = self.book.auction
        out = {bb for bb, _a in conflict.blocks}
        for end in conflict.ends:
            spec = auction.products[end.instrument[0]]
            if end.price in (spec.band_lo_fen, spec.band_hi_fen):
                continue
            side = Side.SELL if end.upper else Side.BUY
            out |= {bb for bb in chosen.on.get(self.inst_ix[end.instrument], ()) if auction.blocks[bb].side is side}
        return tuple(sorted(out - {b}))

    def _run(self, b: int, a: int) -> set[int]:
        """Instrument indices of block ``b``'s run at alternative ``a``."""
        blk = self.book.auction.blocks[b]
        return {self.inst_ix[(blk.alternatives[a].product, h)] for h in blk.hours_of(a)}
