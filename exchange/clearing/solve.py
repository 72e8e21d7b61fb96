"""The no-paradox loop: MIP rounds, removals of paradoxically accepted blocks, the result.

See :mod:`exchange.clearing` for the rules. Each round solves the welfare MIP
(:mod:`~exchange.clearing.formulation`) -- or reuses the previous round's solution --,
decodes the accepted blocks, dispatches the hourly orders exactly
(:mod:`~exchange.clearing.dispatch`) and prices the instruments
(:mod:`~exchange.clearing.pricing`); a round whose accepted blocks cannot all be in the
money removes offenders and the loop goes on. The MIP start passed between rounds is
solver input (GPU counts as floats, whole numbers, so its arithmetic is exact); the test
whether a round can reuse it compares its exact integer welfare with HiGHS's (float)
dual bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from exchange.clearing.dispatch import Accepted, HourlyBook, hourly_fills
from exchange.clearing.formulation import Formulation, build_mip
from exchange.clearing.highs import MIP_OPTIONS, SolveClock, as_int, new_highs
from exchange.clearing.model import Auction, ClearingError, ClearingResult
from exchange.clearing.outcome import block_results, volumes
from exchange.clearing.prices import surplus, welfare
from exchange.clearing.pricing import Prices, block_prices, price_intervals, tie_prices
from exchange.clearing.validate import validate

REMOVALS = ("worst", "disjoint", "all")


def clear(
    auction: Auction,
    *,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-4,
    removal: str = "worst",
    aggregate: bool = True,
    integer_orders: bool = False,
    threads: int | None = None,
    max_iterations: int | None = None,
    highs_options: dict | None = None,
) -> ClearingResult:
    """Clear the day-ahead auction (see :mod:`exchange.clearing` for the rules).

    ``time_limit`` (seconds) and ``mip_rel_gap`` apply to each MIP round. ``removal``:
    ``"worst"`` drops the one accepted block with the largest loss per round;
    ``"disjoint"`` the worst one and then, by loss, every offender that shares no
    instrument (product, hour) with one already dropped in that round (offenders on
    disjoint instruments do not set each other's prices, so a round settles them all;
    far fewer rounds on large days); ``"all"`` every out-of-the-money block.
    ``aggregate=False`` uses the straightforward per-order formulation (same result up
    to the gap, much slower on large days). ``highs_options`` are passed to HiGHS for the
    MIP rounds on top of :data:`MIP_OPTIONS` (e.g. ``{"presolve": "off"}``, which is much
    faster on small days whose presolve keeps restarting).

    After a removal the previous round's solution without the removed blocks, with the
    hourly curves re-dispatched, is feasible. If its exact welfare is within the gap
    (``mip_rel_gap`` relative, HiGHS's ``mip_abs_gap`` absolute) of the last solve's dual
    bound -- still an upper bound, since blocks were only fixed to 0 -- it is taken as
    the round's solution without calling HiGHS; otherwise HiGHS re-solves from it as a
    start. Both are deterministic (no wall-clock test), and the answer of every round is
    within the gap of that round's optimum either way.
    """
    if removal not in REMOVALS:
        raise ClearingError(f"removal must be 'worst', 'disjoint' or 'all', got {removal!r}")
    t_start = time.perf_counter()
    validate(auction)
    book = HourlyBook.of(auction)
    form = build_mip(auction, aggregate=aggregate, integer_orders=integer_orders)
    opts = {**MIP_OPTIONS, "time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)}
    if threads is not None:
        opts["threads"] = threads
    opts.update(highs_options or {})
    limit = max_iterations if max_iterations is not None else len(auction.blocks) + 1
    loop = _NoParadoxLoop(book, form, opts, removal)
    final, prices = loop.run(limit)
    return ClearingResult(
        fills={o.order_id: f for o, f in zip(auction.orders, final.fills)},
        blocks=block_results(book, final.accepted, prices, set(loop.removed)),
        prices=prices,
        welfare_fen=final.welfare,
        mip_gap=final.gap,
        solve_seconds=loop.clock.seconds,
        total_seconds=time.perf_counter() - t_start,
        iterations=loop.iterations,
        mip_solves=loop.solves,
        removed=tuple(auction.blocks[b].block_id for b in loop.removed),
        mip_objective=final.objective,
        mip_bound=final.bound,
        volume=volumes(book, final.fills, final.accepted),
    )


@dataclass
class _Round:
    """One round's decisions: the MIP point, its accepted blocks and hourly fills, and the
    figures it was judged by (gap, objective, the bound it was measured against)."""

    x: np.ndarray
    accepted: Accepted
    fills: list[int]
    welfare: int
    """Exact, in fen: the accepted blocks and the hourly fills at their limits."""
    gap: float
    """``(bound - welfare) / max(1, |welfare|)``, at least 0."""
    objective: float
    """HiGHS's objective for ``x`` (or ``welfare`` for a round decided without HiGHS)."""
    bound: float


def _gap(bound: float, welfare: int) -> float:
    return max(0.0, bound - welfare) / max(1.0, abs(welfare))


def _untrusted(rnd: _Round) -> bool:
    """Whether HiGHS's objective claims more than its point's exact welfare (by more
    than float noise: welfare is whole fen, so half a fen plus 1e-7 relative)."""
    return rnd.objective - rnd.welfare > 0.5 + 1e-7 * abs(rnd.welfare)


class _NoParadoxLoop:
    """MIP rounds on one HiGHS model until a round's accepted blocks can all be priced in
    the money; removed blocks' columns are fixed to 0 between rounds."""

    def __init__(self, book: HourlyBook, form: Formulation, opts: dict, removal: str) -> None:
        self.book = book
        self.auction = book.auction
        self.form = form
        self.removal = removal
        self.clock = SolveClock()
        self.h = new_highs(opts)
        if form.lp.num_col_:
            self.h.passModel(form.lp)
        self.rel_gap = float(opts.get("mip_rel_gap", 1e-4))
        self.abs_gap = float(opts.get("mip_abs_gap", 1e-6))
        self.is_mip = any(t != highspy.HighsVarType.kContinuous for t in form.lp.integrality_)
        self.repair = _StartRepair(form, len(self.auction.instruments)) if form.lp.num_col_ else None
        self.removed: list[int] = []
        self.iterations = 0
        self.solves = 0
        self.start: np.ndarray | None = None  # the previous solution minus removed blocks
        self.start_ok = False  # the start is feasible (repaired)
        self.bound: float | None = None  # of the last MIP solve: the feasible set only shrinks

    def run(self, limit: int) -> tuple[_Round, Prices]:
        """The last round and its prices (every accepted block in the money)."""
        while True:
            self.iterations += 1
            rnd = self._reuse() or self._solve()
            intervals = price_intervals(self.book, rnd.fills, rnd.accepted)
            default = tie_prices(self.book, intervals)
            bad = [b for b, (a, _k) in rnd.accepted.items()
                   if surplus(self.auction.blocks[b], self.auction.blocks[b].alternatives[a], default) < 0]
            prices = default if not bad else block_prices(self.book, intervals, default, rnd.accepted, self.clock)
            if prices is not None:
                return rnd, prices
            if self.iterations >= limit:
                raise ClearingError(f"no-paradox loop did not converge in {self.iterations} rounds")
            self._remove(self._offenders_to_drop(rnd.accepted, default, bad), rnd.x)

    def _reuse(self) -> _Round | None:
        """The previous solution without the removed blocks, if it is feasible and within
        the gap of the last solve's bound (still valid: blocks were only fixed to 0): a
        solution of this round as good as a re-solve would return. (Its welfare is exact
        integer fen; only HiGHS's bound and the gap are floats.)"""
        if not self.start_ok or self.start is None or self.bound is None:
            return None
        accepted = _decode(self.auction, self.form, self.start)
        fills = hourly_fills(self.book, accepted, self.clock)
        w = welfare(self.auction, fills, accepted)
        if self.bound - w > max(self.rel_gap * max(1.0, abs(w)), self.abs_gap):
            return None
        return _Round(self.start, accepted, fills, w, _gap(self.bound, w), float(w), self.bound)

    def _solve(self) -> _Round:
        """A HiGHS solve of the round, from the previous solution as a start if any.

        The returned point is never taken on trust: its exact welfare (decoded blocks,
        hourly orders re-dispatched) must match HiGHS's objective. HiGHS 1.16 can report
        the optimum's objective yet return the start as the solution (a start plus
        presolve); then the round is solved again without the start and without presolve,
        and a second mismatch fails the clearing."""
        if self.form.lp.num_col_ == 0:  # nothing to decide: no blocks, no reachable segment
            self.bound = float(self.form.offset_fen)
            fills = hourly_fills(self.book, {}, self.clock)
            return _Round(np.zeros(0), {}, fills, welfare(self.auction, fills, {}), 0.0, self.bound, self.bound)
        if self.start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = self.start
            sol.value_valid = True
            self.h.setSolution(sol)
        rnd = self._run()
        if _untrusted(rnd):
            self.h.clearSolver()
            _status, presolve = self.h.getOptionValue("presolve")
            self.h.setOptionValue("presolve", "off")
            try:
                rnd = self._run()
            finally:
                self.h.setOptionValue("presolve", presolve)
            if _untrusted(rnd):
                raise ClearingError(f"MIP round {self.iterations}: HiGHS reports objective {rnd.objective} "
                                    f"but its point is worth {rnd.welfare} fen")
        return rnd

    def _run(self) -> _Round:
        """Run HiGHS on the round's model; its point decoded and re-dispatched exactly."""
        h = self.h
        self.clock.run(h)
        self.solves += 1
        status = h.getModelStatus()
        info = h.getInfo()
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            raise ClearingError(f"MIP round {self.iterations}: no feasible solution "
                                f"(HiGHS status {h.modelStatusToString(status)})")
        if not self.is_mip and status != highspy.HighsModelStatus.kOptimal:
            raise ClearingError(f"LP: HiGHS status {h.modelStatusToString(status)}")
        x = np.array(h.getSolution().col_value)
        objective = float(info.objective_function_value)
        self.bound = float(info.mip_dual_bound) if self.is_mip else objective
        accepted = _decode(self.auction, self.form, x)
        fills = hourly_fills(self.book, accepted, self.clock)
        w = welfare(self.auction, fills, accepted)
        return _Round(x, accepted, fills, w, _gap(self.bound, w), objective, self.bound)

    def _offenders_to_drop(self, accepted: Accepted, default: Prices, bad: list[int]) -> list[int]:
        """The removal rule: offenders by loss ``k * (sum p - limit*L)`` at the tie-rule
        prices, largest first (ties: the earliest block)."""
        blocks = self.auction.blocks
        losses = sorted(((-surplus(blocks[b], blocks[b].alternatives[accepted[b][0]], default)
                          * accepted[b][1], -b) for b in bad), reverse=True)
        if self.removal == "worst":
            return [-losses[0][1]]
        if self.removal == "all":
            return [-nb for _l, nb in losses]
        drop: list[int] = []
        taken: set[tuple] = set()  # "disjoint": worst first, then each sharing no instrument with those taken
        for _l, nb in losses:
            blk = blocks[-nb]
            prod = blk.alternatives[accepted[-nb][0]].product
            insts = {(prod, hh) for hh in blk.hours}
            if not insts & taken:
                drop.append(-nb)
                taken |= insts
        return drop

    def _remove(self, drop: list[int], x: np.ndarray) -> None:
        """Fix the dropped blocks' columns to 0 and make the next start from ``x``."""
        start = x.copy()
        for b in drop:
            self.removed.append(b)
            for zc, kc in self.form.block_cols[b]:
                self.h.changeColBounds(zc, 0.0, 0.0)
                start[zc] = 0.0
                if kc is not None:
                    self.h.changeColBounds(kc, 0.0, 0.0)
                    start[kc] = 0.0
        fixed = self.repair(start) if self.repair is not None else None  # None: no columns, no blocks
        self.start_ok = fixed is not None
        self.start = fixed if self.start_ok else start


class _StartRepair:
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


def _decode(auction: Auction, form: Formulation, x) -> Accepted:
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
