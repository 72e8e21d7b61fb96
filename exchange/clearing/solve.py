"""The no-paradox search: MIP rounds, conflict cuts, the result.

See :mod:`exchange.clearing` for the rules. Each round solves the welfare MIP
(:mod:`~exchange.clearing.formulation`) -- or reuses the previous round's solution --,
decodes the accepted blocks, dispatches the hourly orders exactly
(:mod:`~exchange.clearing.dispatch`) and prices the instruments
(:mod:`~exchange.clearing.pricing`). A round whose accepted blocks cannot all be priced
in the money has conflicts (:mod:`~exchange.clearing.conflicts`); each becomes a cut of
the MIP (:mod:`~exchange.clearing.cuts`) -- or, where no cut can be made or the cut
rounds are used up, one of its blocks is removed -- and the search goes on. The MIP
start passed between rounds is solver input (GPU counts as floats, whole numbers, so its
arithmetic is exact); the test whether a round can reuse it compares its exact integer
welfare with HiGHS's (float) dual bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from exchange.clearing.conflicts import Conflict, feasible_prices, find_conflicts
from exchange.clearing.cuts import CutPool
from exchange.clearing.dispatch import HourlyBook, hourly_fills
from exchange.clearing.formulation import Formulation, StartRepair, build_mip, decode_blocks
from exchange.clearing.highs import MIP_OPTIONS, SolveClock, new_highs
from exchange.clearing.model import Auction, ClearingError, ClearingResult, RejectReason
from exchange.clearing.outcome import block_results, order_reasons, volumes
from exchange.clearing.prices import (
    Accepted,
    Prices,
    capped_instruments,
    surplus,
    welfare,
    without_idle_caps,
)
from exchange.clearing.pricing import block_prices, price_intervals, tie_prices
from exchange.clearing.validate import validate

CUT_ROUNDS = 0
"""Default rounds that cut conflicts before conflicts are settled by removal: none, the
removal rule (see :mod:`exchange.clearing`; the search costs seconds a round on a
benchmark day)."""


def clear(
    auction: Auction,
    *,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-4,
    cut_rounds: int = CUT_ROUNDS,
    aggregate: bool = True,
    integer_orders: bool = False,
    threads: int | None = None,
    max_iterations: int | None = None,
    highs_options: dict | None = None,
) -> ClearingResult:
    """Clear the day-ahead auction (see :mod:`exchange.clearing` for the rules).

    ``time_limit`` (seconds) and ``mip_rel_gap`` apply to each MIP round. The first
    ``cut_rounds`` rounds turn each conflict into a cut (the search: if it ends within
    them, the result is within the gap of the best paradox-free welfare); later rounds,
    and conflicts no cut can express, remove one block of each conflict (the removal
    rule). ``max_iterations`` bounds the rounds (default: blocks + cut rounds + 1,
    always enough). ``aggregate=False`` uses the straightforward per-order formulation
    (same result up to the gap, much slower on large days). ``highs_options`` are passed
    to HiGHS for the MIP rounds on top of :data:`MIP_OPTIONS` (e.g. ``{"presolve":
    "off"}``, which is much faster on small days whose presolve keeps restarting).

    After a round, its solution without each conflict's cheapest block, with the hourly
    curves re-dispatched, satisfies every cut and removal. If its exact welfare is
    within the gap (``mip_rel_gap`` relative, HiGHS's ``mip_abs_gap`` absolute) of the
    last solve's dual bound -- still an upper bound, since the feasible set only shrank --
    it is taken as the round's solution without calling HiGHS; otherwise HiGHS re-solves
    from it as a start. Both are deterministic (no wall-clock test).
    """
    if not isinstance(cut_rounds, int) or cut_rounds < 0:
        raise ClearingError(f"cut_rounds must be an integer >= 0, got {cut_rounds!r}")
    t_start = time.perf_counter()
    validate(auction)
    work = without_idle_caps(auction)
    book = HourlyBook.of(work)
    form = build_mip(work, aggregate=aggregate, integer_orders=integer_orders)
    opts = {**MIP_OPTIONS, "time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)}
    if threads is not None:
        opts["threads"] = threads
    opts.update(highs_options or {})
    limit = max_iterations if max_iterations is not None else len(auction.blocks) + cut_rounds + 1
    search = _Search(book, form, opts, cut_rounds)
    final, prices = search.run(limit)
    traded = volumes(book, final.fills, final.accepted)
    published = {key: (p if traded[key] else None) for key, p in prices.items()}
    blocks = block_results(book, final.accepted, published, *search.kept_out(final.accepted))
    removed = sorted((b for b, blk in enumerate(auction.blocks)
                      if blocks[blk.block_id].reason is RejectReason.REMOVED_PARADOXICAL),
                     key=lambda b: (search.first_conflict[b], b))
    return ClearingResult(
        fills={o.order_id: f for o, f in zip(auction.orders, final.fills)},
        blocks=blocks,
        prices=published,
        welfare_fen=final.welfare,
        mip_gap=_gap(search.pf_bound, final.welfare),
        solve_seconds=search.clock.seconds,
        total_seconds=time.perf_counter() - t_start,
        iterations=search.iterations,
        mip_solves=search.solves,
        removed=tuple(auction.blocks[b].block_id for b in removed),
        mip_objective=final.objective,
        mip_bound=search.pf_bound,
        volume=traded,
        order_reasons=order_reasons(book, final.fills, final.accepted, published),
    )


@dataclass
class _Round:
    """One round's decisions: the MIP point, its accepted blocks and hourly fills, and the
    figures it was judged by."""

    x: np.ndarray
    accepted: Accepted
    fills: list[int]
    welfare: int
    """Exact, in fen: the accepted blocks and the hourly fills at their limits."""
    objective: float
    """HiGHS's objective for ``x`` (or ``welfare`` for a round decided without HiGHS)."""


def _gap(bound: float, welfare: int) -> float:
    return max(0.0, bound - welfare) / max(1.0, abs(welfare))


def _untrusted(rnd: _Round) -> bool:
    """Whether HiGHS's objective claims more than its point's exact welfare (by more
    than float noise: welfare is whole fen, so half a fen plus 1e-7 relative)."""
    return rnd.objective - rnd.welfare > 0.5 + 1e-7 * abs(rnd.welfare)


class _Search:
    """MIP rounds on one HiGHS model until a round's accepted blocks can all be priced in
    the money; conflicts become cuts (or removals) between rounds."""

    def __init__(self, book: HourlyBook, form: Formulation, opts: dict, cut_rounds: int) -> None:
        self.book = book
        self.auction = book.auction
        self.form = form
        self.cut_rounds = cut_rounds
        self.clock = SolveClock()
        self.h = new_highs(opts)
        if form.lp.num_col_:
            self.h.passModel(form.lp)
        self.rel_gap = float(opts.get("mip_rel_gap", 1e-4))
        self.abs_gap = float(opts.get("mip_abs_gap", 1e-6))
        self.is_mip = any(t != highspy.HighsVarType.kContinuous for t in form.lp.integrality_)
        self.repair = StartRepair(form, len(self.auction.instruments)) if form.lp.num_col_ else None
        self.cuts = CutPool(book, form, capped_instruments(self.auction))
        self.removed: dict[int, tuple[int, ...]] = {}
        """Blocks fixed to 0, with the blocks they conflicted with."""
        self.first_conflict: dict[int, int] = {}
        """Per block, the round in which it was first in a conflict (to order reports)."""
        self.iterations = 0
        self.solves = 0
        self.start: np.ndarray | None = None  # the previous solution out of its conflicts
        self.start_ok = False  # the start satisfies every row (repaired)
        self.bound: float | None = None  # of the last MIP solve: the feasible set only shrinks
        self.pf_bound = float("inf")
        """The least dual bound of the solves before any removal: a bound on the best
        paradox-free welfare (cuts remove only paradoxical selections)."""

    def run(self, limit: int) -> tuple[_Round, Prices]:
        """The last round and its prices (every accepted block in the money)."""
        while True:
            self.iterations += 1
            rnd = self._reuse() or self._solve()
            intervals = price_intervals(self.book, rnd.fills, rnd.accepted)
            default = tie_prices(self.book, intervals)
            if all(surplus(self.auction.blocks[b], a, default) >= 0
                   for b, (a, _k) in rnd.accepted.items()):
                return rnd, default
            conflicts = find_conflicts(self.auction, intervals, rnd.accepted)
            if not conflicts:
                prices = block_prices(self.book, intervals, default, rnd.accepted, self.clock)
                return rnd, prices or feasible_prices(self.auction, intervals, rnd.accepted, default)
            if self.iterations >= limit:
                raise ClearingError(f"no-paradox search did not converge in {self.iterations} rounds")
            self._settle(conflicts, rnd)

    def _settle(self, conflicts: list[Conflict], rnd: _Round) -> None:
        """Cut every conflict in a cut round; otherwise, and for a conflict no cut can
        express, remove its cheapest block -- one removal per round in each group of
        conflicts that share an instrument, since one removal may settle several. The next
        start is the round's solution without each conflict's cheapest block."""
        chosen = self.cuts.selection(rnd.accepted)
        cutting = self.iterations <= self.cut_rounds
        taken: set[int] = set()
        drop = []
        for conflict in conflicts:
            for b, _a in conflict.blocks:
                self.first_conflict.setdefault(b, self.iterations)
            cut = self.cuts.cut_for(conflict)
            way_out = self._cheapest_block(conflict, rnd.accepted, chosen.demand)
            if cutting and cut is not None:
                self.cuts.add(self.h, cut)
                drop.append(way_out)
                continue
            span = self.cuts.span(conflict)
            if span & taken:
                continue
            taken |= span
            self.removed[way_out] = self.cuts.partners(conflict, chosen, way_out)
            for zc, kc in self.form.block_cols[way_out]:
                self.h.changeColBounds(zc, 0.0, 0.0)
                if kc is not None:
                    self.h.changeColBounds(kc, 0.0, 0.0)
            drop.append(way_out)
        self._next_start(rnd, drop)

    def _cheapest_block(self, conflict: Conflict, accepted: Accepted, demand: list[int]) -> int:
        """The conflict's block whose removal costs least welfare; ties: the earliest."""
        return min(sorted(b for b, _a in conflict.blocks), key=lambda b: self._removal_cost(b, accepted, demand))

    def _removal_cost(self, b: int, accepted: Accepted, demand: list[int]) -> float:
        """Welfare lost by removing accepted block ``b``, everything else fixed (hourly
        orders re-dispatched on the merit orders, caps aside; infinite if the hourly
        orders could not take its place)."""
        blk = self.auction.blocks[b]
        a, k = accepted[b]
        alt = blk.alternatives[a]
        cost: float = blk.side.sign * alt.limit_fen * blk.length * k
        for h in blk.hours_of(a):
            mo = self.book.merit.get((alt.product, h))
            if mo is None:
                return float("inf")
            t = demand[self.cuts.inst_ix[(alt.product, h)]] + mo.bids
            after = t - blk.side.sign * k
            if not 0 <= after <= mo.total:
                return float("inf")
            cost += mo.cost(after) - mo.cost(t)
        return cost

    def _next_start(self, rnd: _Round, drop: list[int]) -> None:
        n_base = self.form.lp.num_col_
        start = rnd.x[:n_base].copy()
        for b in drop:
            for zc, kc in self.form.block_cols[b]:
                start[zc] = 0.0
                if kc is not None:
                    start[kc] = 0.0
        fixed = self.repair(start) if self.repair is not None else None  # None: no columns, no blocks
        self.start_ok = fixed is not None
        if fixed is not None:
            start = fixed
        accepted = decode_blocks(self.auction, self.form, start)
        chosen = self.cuts.selection(accepted)
        self.start_ok = self.start_ok and not self.cuts.violated(chosen)
        self.start = np.concatenate([start, self.cuts.escape_values(chosen)])

    def _reuse(self) -> _Round | None:
        """The start, if it is feasible and within the gap of the last solve's bound
        (still valid: the feasible set only shrank): a solution of this round as good as
        a re-solve would return. (Its welfare is exact integer fen; only HiGHS's bound
        and the gap are floats.)"""
        if not self.start_ok or self.start is None or self.bound is None:
            return None
        accepted = decode_blocks(self.auction, self.form, self.start)
        fills = hourly_fills(self.book, accepted, self.clock)
        w = welfare(self.auction, fills, accepted)
        if self.bound - w > max(self.rel_gap * max(1.0, abs(w)), self.abs_gap):
            return None
        return _Round(self.start, accepted, fills, w, float(w))

    def _solve(self) -> _Round:
        """A HiGHS solve of the round, from the start if any.

        The returned point is never taken on trust: its exact welfare (decoded blocks,
        hourly orders re-dispatched) must match HiGHS's objective. HiGHS 1.16 can report
        the optimum's objective yet return the start as the solution (a start plus
        presolve); then the round is solved again without the start and without presolve,
        and a second mismatch fails the clearing."""
        if self.form.lp.num_col_ == 0:  # nothing to decide: no blocks, no reachable segment
            offset = float(self.form.offset_fen)
            self._bounded(offset)
            fills = hourly_fills(self.book, {}, self.clock)
            return _Round(np.zeros(0), {}, fills, welfare(self.auction, fills, {}), offset)
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
        self._bounded(float(info.mip_dual_bound) if self.is_mip else objective)
        accepted = decode_blocks(self.auction, self.form, x)
        fills = hourly_fills(self.book, accepted, self.clock)
        return _Round(x, accepted, fills, welfare(self.auction, fills, accepted), objective)

    def _bounded(self, bound: float) -> None:
        self.bound = bound
        if not self.removed:
            self.pf_bound = min(self.pf_bound, bound)

    def kept_out(self, accepted: Accepted) -> tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]]]:
        """The blocks the no-paradox rule keeps out of the final selection, each with the
        blocks it conflicts with: the removed ones, and the rejected ones a cut forces out
        (:meth:`~exchange.clearing.cuts.CutPool.forcing`)."""
        forced = {}
        chosen = self.cuts.selection(accepted)
        for b in range(len(self.auction.blocks)):
            if b not in accepted and b not in self.removed:
                partners = self.cuts.forcing(chosen, b)
                if partners is not None:
                    forced[b] = partners
        return dict(self.removed), forced
