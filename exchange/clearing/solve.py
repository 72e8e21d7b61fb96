"""The HiGHS formulation, the exact post-processing and the no-paradox loop.

See :mod:`exchange.clearing` for the rules and the formulation. HiGHS takes and gives
doubles: integer fen and GPU counts become floats only as solver input (exact below
2**53), and every solver value is rounded back and checked before it is used; fills,
prices and welfare are recomputed in integers. The MIP start passed between rounds is
solver input too (GPU counts as floats, whole numbers, so its arithmetic is exact); the
test whether a round can reuse it compares its exact integer welfare with HiGHS's
(float) dual bound.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field

import highspy
import numpy as np

from exchange.clearing.model import (
    Auction,
    BlockOrder,
    BlockResult,
    ClearingError,
    ClearingResult,
    RejectReason,
    Side,
)
from exchange.clearing.prices import (
    MeritOrder,
    Usage,
    best_fill,
    block_net,
    clamp_to_band,
    dispatch_merit,
    merit_order,
    price_interval,
    surplus,
    tie_price,
    usage,
)

INTEGRALITY_TOL = 1e-6
"""How far from an integer a HiGHS value may be before the result is refused."""

MIP_OPTIONS: dict = {"mip_heuristic_run_root_reduced_cost": False, "presolve_rule_off": 1 << 13}
"""HiGHS options for the MIP rounds, before ``clear(highs_options=...)`` (which win).

* The root reduced-cost heuristic runs sub-MIPs that took about two thirds of every
  round on the 50,000-order benchmark day (first round 12 s -> 4 s at the same gap).
* Presolve rule 13 (parallel rows and columns) is off: in HiGHS 1.16 it returns a
  suboptimal point as optimal when two all-or-none blocks cover the same hours of one
  product (parallel binary columns, e.g. a buy of 2 and a sell of 1: objective 6
  instead of 12; tests/test_clearing.py::test_parallel_blocks_presolve_bug)."""


# --------------------------------------------------------------------------- validation


def _is_int(v: object) -> bool:
    return type(v) is int


def validate(auction: Auction) -> None:
    """Raise :class:`ClearingError` naming the first bad product, order, block or cap."""
    if not _is_int(auction.hours) or not 1 <= auction.hours <= 1000:
        raise ClearingError(f"hours must be an integer 1..1000, got {auction.hours!r}")
    if not auction.products:
        raise ClearingError("no products")
    for p, spec in auction.products.items():
        t, lo, hi = spec.tick_fen, spec.band_lo_fen, spec.band_hi_fen
        if not all(_is_int(v) for v in (t, lo, hi)) or t < 1 or lo < 0 or lo > hi:
            raise ClearingError(f"product {p!r}: bad tick/band {t!r} {lo!r}..{hi!r}")
        if lo % t or hi % t:
            raise ClearingError(f"product {p!r}: band {lo}..{hi} not on tick {t}")

    def check_price(what: str, product: Hashable, limit: object) -> None:
        spec = auction.products.get(product)
        if spec is None:
            raise ClearingError(f"{what}: unknown product {product!r}")
        if not _is_int(limit):
            raise ClearingError(f"{what}: limit must be integer fen, got {limit!r}")
        if not spec.band_lo_fen <= limit <= spec.band_hi_fen or limit % spec.tick_fen:
            raise ClearingError(
                f"{what}: limit {limit} outside band {spec.band_lo_fen}..{spec.band_hi_fen} "
                f"or off tick {spec.tick_fen} of product {product!r}"
            )

    seen: set[Hashable] = set()
    for o in auction.orders:
        what = f"order {o.order_id!r}"
        if o.order_id in seen:
            raise ClearingError(f"{what}: duplicate order id")
        seen.add(o.order_id)
        if not isinstance(o.side, Side):
            raise ClearingError(f"{what}: side must be a Side, got {o.side!r}")
        check_price(what, o.product, o.limit_fen)
        if not _is_int(o.hour) or not 0 <= o.hour < auction.hours:
            raise ClearingError(f"{what}: hour {o.hour!r} outside 0..{auction.hours - 1}")
        if not _is_int(o.qty) or o.qty < 1:
            raise ClearingError(f"{what}: qty must be a positive integer, got {o.qty!r}")
    seen = set()
    for b in auction.blocks:
        what = f"block {b.block_id!r}"
        if b.block_id in seen:
            raise ClearingError(f"{what}: duplicate block id")
        seen.add(b.block_id)
        if not isinstance(b.side, Side):
            raise ClearingError(f"{what}: side must be a Side, got {b.side!r}")
        if not (_is_int(b.start) and _is_int(b.length)) or b.length < 1 or b.start < 0 \
                or b.start + b.length > auction.hours:
            raise ClearingError(f"{what}: run {b.start!r}+{b.length!r} outside 0..{auction.hours}")
        if not _is_int(b.qty) or b.qty < 1:
            raise ClearingError(f"{what}: qty must be a positive integer, got {b.qty!r}")
        if not _is_int(b.min_ratio) or not 1 <= b.min_ratio <= 100:
            raise ClearingError(f"{what}: min_ratio must be an integer 1..100, got {b.min_ratio!r}")
        if not b.alternatives:
            raise ClearingError(f"{what}: no alternatives")
        prods = [a.product for a in b.alternatives]
        if len(set(prods)) != len(prods):
            raise ClearingError(f"{what}: two alternatives in the same product")
        for j, a in enumerate(b.alternatives):
            check_price(f"{what} alternative {j}", a.product, a.limit_fen)
    for key, cap in auction.capacity.items():
        if not (isinstance(key, tuple) and len(key) == 3) or not _is_int(cap) or cap < 0:
            raise ClearingError(f"capacity {key!r}: want (account, product, hour) -> int >= 0")
    for acct, funds in auction.funds.items():
        if not _is_int(funds) or funds < 0:
            raise ClearingError(f"funds of account {acct!r}: want an integer >= 0, got {funds!r}")


# --------------------------------------------------------------------------- MIP


@dataclass
class _Cols:
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # triplets
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)

    def add(self, lo: float, hi: float, cost: float, integer: bool,
            entries: list[tuple[int, float]]) -> int:
        j = len(self.lower)
        self.lower.append(lo)
        self.upper.append(hi)
        self.cost.append(cost)
        self.integer.append(integer)
        for r, v in entries:
            self.rows.append(r)
            self.cols.append(j)
            self.vals.append(v)
        return j


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


def build_mip(auction: Auction, merit: dict, aggregate: bool = True,
              integer_orders: bool = False) -> Formulation:
    """Build the welfare MIP.

    ``aggregate=True`` (the default): each instrument's hourly orders (except those of
    capped accounts) become one concave piecewise-linear merit-order curve, restricted to
    the net positions blocks and capped orders can reach. ``aggregate=False`` is the
    straightforward one-column-per-order formulation (kept as a benchmark baseline).
    """
    insts = auction.instruments
    inst_ix = {key: i for i, key in enumerate(insts)}
    n_inst = len(insts)
    cols = _Cols()
    row_lo: list[float] = [0.0] * n_inst
    row_hi: list[float] = [0.0] * n_inst
    orders = auction.orders

    def individual(o) -> bool:
        if not aggregate:
            return True
        if o.side is Side.SELL:
            return (o.account, o.product, o.hour) in auction.capacity
        return o.account in auction.funds

    # reachable net demand from blocks and individual orders, per instrument
    reach_hi = [0] * n_inst
    reach_lo = [0] * n_inst
    by_inst: list[list[int]] = [[] for _ in range(n_inst)]
    order_cols: dict[int, int] = {}
    cap_rows: dict[tuple, int] = {}
    fund_rows: dict[Hashable, int] = {}

    def cap_row(key) -> int | None:
        if key not in auction.capacity:
            return None
        if key not in cap_rows:
            cap_rows[key] = len(row_lo)
            row_lo.append(-highspy.kHighsInf)
            row_hi.append(float(auction.capacity[key]))
        return cap_rows[key]

    def fund_row(acct) -> int | None:
        if acct not in auction.funds:
            return None
        if acct not in fund_rows:
            fund_rows[acct] = len(row_lo)
            row_lo.append(-highspy.kHighsInf)
            row_hi.append(float(auction.funds[acct]))
        return fund_rows[acct]

    for ix, o in enumerate(orders):
        i = inst_ix[(o.product, o.hour)]
        if not individual(o):
            by_inst[i].append(ix)
            continue
        # balance: sum s - buys + sells - block buys + block sells = B - t_lo
        entries: list[tuple[int, float]] = [(i, -float(o.side))]
        if o.side is Side.SELL:
            reach_lo[i] -= o.qty
            r = cap_row((o.account, o.product, o.hour))
        else:
            reach_hi[i] += o.qty
            r = fund_row(o.account)
            if r is not None:
                entries.append((r, float(o.limit_fen)))
        if o.side is Side.SELL and r is not None:
            entries.append((r, 1.0))
        order_cols[ix] = cols.add(0.0, float(o.qty), float(o.side) * o.limit_fen,
                                  integer_orders or o.account in auction.funds, entries)

    block_cols: list[list[tuple[int, int | None]]] = []
    extra_rows: list[tuple[float, float, list[tuple[int, float]]]] = []
    for b, blk in enumerate(auction.blocks):
        alts = []
        zs = []
        aon = blk.min_fill == blk.qty
        for alt in blk.alternatives:
            entries: list[tuple[int, float]] = []
            for h in blk.hours:
                i = inst_ix[(alt.product, h)]
                entries.append((i, -float(blk.side)))
                if blk.side is Side.BUY:
                    reach_hi[i] += blk.qty
                else:
                    reach_lo[i] -= blk.qty
                    r = cap_row((blk.account, alt.product, h))
                    if r is not None:
                        entries.append((r, 1.0))
            if blk.side is Side.BUY:
                r = fund_row(blk.account)
                if r is not None:
                    entries.append((r, float(alt.limit_fen * blk.length)))
            value = float(blk.side) * alt.limit_fen * blk.length
            if aon:
                z = cols.add(0.0, 1.0, value * blk.qty, True,
                             [(r, v * blk.qty) for r, v in entries])
                alts.append((z, None))
            else:
                z = cols.add(0.0, 1.0, 0.0, True, [])
                k = cols.add(0.0, float(blk.qty), value, True, entries)
                # k - qty z <= 0 ; k - min_fill z >= 0
                extra_rows.append((-highspy.kHighsInf, 0.0, [(k, 1.0), (z, -float(blk.qty))]))
                extra_rows.append((0.0, highspy.kHighsInf, [(k, 1.0), (z, -float(blk.min_fill))]))
                alts.append((z, k))
            zs.append(z)
        if len(zs) > 1:
            extra_rows.append((-highspy.kHighsInf, 1.0, [(z, 1.0) for z in zs]))
        block_cols.append(alts)

    # aggregated merit-order curves, restricted to the reachable positions
    offset = 0
    n_seg = 0
    segments: dict[int, list[int]] = {}
    for i, key in enumerate(insts):
        if not by_inst[i]:
            continue
        mo = merit_order(orders, by_inst[i])
        merit[("agg", key)] = mo
        B = mo.bids
        t_lo = max(0, reach_lo[i] + B)
        t_hi = min(mo.total, reach_hi[i] + B)
        offset += mo.bid_value - mo.cost(t_lo)
        row_lo[i] += B - t_lo
        row_hi[i] += B - t_lo
        prev = 0
        # merge runs of one price into one segment
        seg_price = None
        seg_w = 0
        for price, c in zip(mo.prices, mo.cum):
            a, z = max(prev, t_lo), min(c, t_hi)
            prev = c
            if z <= a:
                continue
            if price == seg_price:
                seg_w += z - a
                continue
            if seg_price is not None:
                segments.setdefault(i, []).append(
                    cols.add(0.0, float(seg_w), -float(seg_price), False, [(i, 1.0)]))
                n_seg += 1
            seg_price, seg_w = price, z - a
        if seg_price is not None:
            segments.setdefault(i, []).append(
                cols.add(0.0, float(seg_w), -float(seg_price), False, [(i, 1.0)]))
            n_seg += 1

    for lo, hi, entries in extra_rows:
        r = len(row_lo)
        row_lo.append(lo)
        row_hi.append(hi)
        for c, v in entries:
            cols.rows.append(r)
            cols.cols.append(c)
            cols.vals.append(v)

    lp = highspy.HighsLp()
    n = len(cols.lower)
    lp.num_col_ = n
    lp.num_row_ = len(row_lo)
    lp.col_cost_ = np.array(cols.cost, dtype=np.float64)
    lp.col_lower_ = np.array(cols.lower, dtype=np.float64)
    lp.col_upper_ = np.array(cols.upper, dtype=np.float64)
    lp.row_lower_ = np.array(row_lo, dtype=np.float64)
    lp.row_upper_ = np.array(row_hi, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.offset_ = float(offset)
    c_arr = np.array(cols.cols, dtype=np.int64)
    r_arr = np.array(cols.rows, dtype=np.int32)
    v_arr = np.array(cols.vals, dtype=np.float64)
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
                       for f in cols.integer]
    return Formulation(lp, block_cols, order_cols, n_seg, offset, segments)


def _highs(options: dict) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve_rule_off", MIP_OPTIONS["presolve_rule_off"])  # see MIP_OPTIONS
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


def _as_int(value: float, what: str) -> int:
    k = round(value)
    if abs(value - k) > INTEGRALITY_TOL:
        raise ClearingError(f"{what}: solver value {value!r} is not integral")
    return int(k)


# --------------------------------------------------------------------------- clearing


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


@dataclass
class _State:
    auction: Auction
    merit: dict  # (product, hour) -> MeritOrder of all hourly orders there
    by_inst: dict  # (product, hour) -> [order index]
    solve_seconds: float = 0.0


def _dispatch(st: _State, accepted: dict[int, tuple[int, int]]) -> list[int]:
    """Exact hourly fills for fixed block decisions (merit order, or a MIP with caps)."""
    auction = st.auction
    fills = [0] * len(auction.orders)
    net = block_net(auction, accepted)
    if not auction.capacity and not auction.funds:
        for key, mo in st.merit.items():
            dispatch_merit(auction.orders, mo, net.get(key, 0), fills)
        for key, d in net.items():
            if key not in st.merit and d != 0:
                raise ClearingError(f"instrument {key!r}: blocks unbalanced by {d} with no hourly orders")
        return fills
    # caps: one integer column per order, blocks fixed, solved to optimality
    fixed = Auction(auction.products, auction.hours, auction.orders, (), auction.capacity,
                    auction.funds)
    form = build_mip(fixed, {}, aggregate=False, integer_orders=True)
    lp = form.lp
    insts = auction.instruments
    use = usage(auction, [0] * len(auction.orders), accepted)
    lower = np.array(lp.row_lower_)
    upper = np.array(lp.row_upper_)
    for i, key in enumerate(insts):
        d = net.get(key, 0)
        lower[i] += d  # the row holds -(block buys - block sells): moved to the right-hand side
        upper[i] += d
    # caps already used by the fixed blocks
    n_inst = len(insts)
    cap_keys = [k for k in _cap_order(fixed)]
    for r, key in enumerate(cap_keys, start=n_inst):
        if key[0] == "cap":
            upper[r] -= use.sold.get(key[1], 0)
        else:
            upper[r] -= use.spent.get(key[1], 0)
        if upper[r] < 0:
            raise ClearingError(f"blocks alone exceed {key[0]} of {key[1]!r}")
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    if lp.num_col_ == 0:  # no hourly orders (HiGHS reports an empty model, not optimal)
        for key, d in net.items():
            if d != 0:
                raise ClearingError(
                    f"instrument {key!r}: blocks unbalanced by {d} with no hourly orders")
        return fills
    h = _highs({"mip_rel_gap": 0.0, "mip_abs_gap": 0.5})
    h.passModel(lp)
    t0 = time.perf_counter()
    h.run()
    st.solve_seconds += time.perf_counter() - t0
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise ClearingError(f"capped dispatch: HiGHS status {h.modelStatusToString(h.getModelStatus())}")
    x = h.getSolution().col_value
    for ix, c in form.order_cols.items():
        fills[ix] = _as_int(x[c], f"order {auction.orders[ix].order_id!r}")
    return fills


def _cap_order(auction: Auction) -> list[tuple[str, Hashable]]:
    """Row order of the cap rows build_mip creates for an auction without blocks."""
    seen: list[tuple[str, Hashable]] = []
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


def _intervals(st: _State, fills: list[int], accepted) -> tuple[dict, Usage]:
    auction = st.auction
    use = usage(auction, fills, accepted)
    out = {}
    for key in auction.instruments:
        lo, hi, lw, hw = price_interval(auction, st.by_inst.get(key, ()), fills, use)
        spec = auction.products[key[0]]
        blo, bhi = clamp_to_band(spec, lo, hi)
        if blo > bhi:
            raise ClearingError(
                f"instrument {key!r}: no consistent price: {lw} needs >= {lo}, {hw} needs <= {hi}"
            )
        out[key] = (blo, bhi)
    return out, use


def _adjust_prices(st: _State, intervals: dict, default: dict, accepted) -> dict | None:
    """Prices inside the intervals keeping every accepted block in the money, nearest
    (in ticks, L1) to the tie-rule prices; ``None`` if there are none."""
    auction = st.auction
    keys: dict = {}
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        for h in blk.hours:
            keys.setdefault((blk.alternatives[a].product, h), len(keys))
    if not keys:
        return dict(default)
    klist = list(keys)
    n = len(klist)
    # columns: q_i (price in ticks, integer), e+_i, e-_i ; q_i - e+_i + e-_i = default_i/tick
    h = _highs({"mip_rel_gap": 0.0})
    inf = highspy.kHighsInf
    ticks = [auction.products[k[0]].tick_fen for k in klist]
    lower = [intervals[k][0] // t for k, t in zip(klist, ticks)] + [0.0] * (2 * n)
    upper = [intervals[k][1] // t for k, t in zip(klist, ticks)] + [inf] * (2 * n)
    cost = [0.0] * n + [1.0] * (2 * n)
    h.addVars(3 * n, np.array(lower, dtype=float), np.array(upper, dtype=float))
    h.changeColsCost(3 * n, np.arange(3 * n, dtype=np.int32), np.array(cost))
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                            np.array([highspy.HighsVarType.kInteger] * n))
    for i, k in enumerate(klist):
        target = default[k] // ticks[i]
        h.addRow(float(target), float(target), 3, np.array([i, n + i, 2 * n + i], dtype=np.int32),
                 np.array([1.0, -1.0, 1.0]))
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        alt = blk.alternatives[a]
        t = auction.products[alt.product].tick_fen
        idx = np.array([keys[(alt.product, hh)] for hh in blk.hours], dtype=np.int32)
        total = alt.limit_fen * blk.length
        if blk.side is Side.BUY:  # sum p <= limit * L
            h.addRow(-inf, float(total // t), len(idx), idx, np.ones(len(idx)))
        else:  # sum p >= limit * L
            h.addRow(float(-(-total // t)), inf, len(idx), idx, np.ones(len(idx)))
    t0 = time.perf_counter()
    h.run()
    st.solve_seconds += time.perf_counter() - t0
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = h.getSolution().col_value
    prices = dict(default)
    for i, k in enumerate(klist):
        q = round(x[i])
        if abs(x[i] - q) > INTEGRALITY_TOL:
            return None
        prices[k] = int(q) * ticks[i]
        lo, hi = intervals[k]
        if not lo <= prices[k] <= hi:
            return None
    # exact re-check; fall back to removal if float rounding broke anything
    for b, (a, _k) in accepted.items():
        blk = auction.blocks[b]
        if surplus(blk, blk.alternatives[a], prices) < 0:
            return None
    return prices


def _decode(auction: Auction, form: Formulation, x) -> dict[int, tuple[int, int]]:
    """``{block: (alternative, fill)}`` of the accepted blocks in a MIP solution."""
    accepted: dict[int, tuple[int, int]] = {}
    for b, alts in enumerate(form.block_cols):
        blk = auction.blocks[b]
        for a, (zc, kc) in enumerate(alts):
            z = _as_int(x[zc], f"block {blk.block_id!r} acceptance")
            k = blk.qty * z if kc is None else _as_int(x[kc], f"block {blk.block_id!r} fill")
            if k == 0 and z == 0:
                continue
            if not (z == 1 and blk.min_fill <= k <= blk.qty):
                raise ClearingError(f"block {blk.block_id!r}: solver fill {k} (z={z}) breaks its rules")
            if b in accepted:
                raise ClearingError(f"block {blk.block_id!r}: two alternatives accepted")
            accepted[b] = (a, k)
    return accepted


def _welfare(auction: Auction, fills: list[int], accepted: dict[int, tuple[int, int]]) -> int:
    """Accepted buy value minus accepted sell value at limit prices, in fen."""
    welfare = sum(int(o.side) * o.limit_fen * f for o, f in zip(auction.orders, fills))
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        welfare += int(blk.side) * blk.alternatives[a].limit_fen * blk.length * k
    return welfare


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
    if removal not in ("worst", "disjoint", "all"):
        raise ClearingError(f"removal must be 'worst', 'disjoint' or 'all', got {removal!r}")
    t_start = time.perf_counter()
    validate(auction)
    by_inst: dict = {}
    for ix, o in enumerate(auction.orders):
        by_inst.setdefault((o.product, o.hour), []).append(ix)
    merit = {key: merit_order(auction.orders, ixs) for key, ixs in by_inst.items()}
    st = _State(auction, merit, by_inst)

    form = build_mip(auction, {}, aggregate=aggregate, integer_orders=integer_orders)
    opts = {**MIP_OPTIONS, "time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)}
    if threads is not None:
        opts["threads"] = threads
    opts.update(highs_options or {})
    h = _highs(opts)
    if form.lp.num_col_:
        h.passModel(form.lp)
    removed: list[int] = []
    reasons_removed: set[int] = set()
    iterations = 0
    solves = 0
    rel_gap = float(opts.get("mip_rel_gap", 1e-4))
    abs_gap = float(opts.get("mip_abs_gap", 1e-6))
    is_mip = any(t != highspy.HighsVarType.kContinuous for t in form.lp.integrality_)
    repair = _StartRepair(form, len(auction.instruments)) if form.lp.num_col_ else None
    x = np.zeros(form.lp.num_col_)
    start: np.ndarray | None = None  # the previous solution minus removed blocks
    start_ok = False  # start is feasible (repaired)
    bound: float | None = None  # dual bound of the last MIP solve: the feasible set only shrinks
    limit = max_iterations if max_iterations is not None else len(auction.blocks) + 1
    while True:
        iterations += 1
        accepted: dict[int, tuple[int, int]] | None = None
        if start_ok and bound is not None:
            # The previous solution without the removed blocks is feasible; if it is within
            # the gap of the last solve's bound (still valid: blocks were only fixed to 0) it
            # is a solution of this round as good as a re-solve would return.
            # (w is exact integer fen; only HiGHS's bound and the gap are floats)
            candidate = _decode(auction, form, start)
            fills = _dispatch(st, candidate)
            w = _welfare(auction, fills, candidate)
            if bound - w <= max(rel_gap * max(1.0, abs(w)), abs_gap):
                accepted, x = candidate, start
                objective = float(w)
                gap = max(0.0, bound - w) / max(1.0, abs(w))
        if accepted is None:
            if start is not None:
                sol = highspy.HighsSolution()
                sol.col_value = start
                sol.value_valid = True
                h.setSolution(sol)
            if form.lp.num_col_ == 0:  # nothing to decide: no blocks, no reachable segment
                x = np.zeros(0)
                gap, objective, bound = 0.0, float(form.offset_fen), float(form.offset_fen)
            else:
                t0 = time.perf_counter()
                h.run()
                st.solve_seconds += time.perf_counter() - t0
                solves += 1
                status = h.getModelStatus()
                info = h.getInfo()
                if info.primal_solution_status != 2:  # kSolutionStatusFeasible
                    raise ClearingError(f"MIP round {iterations}: no feasible solution "
                                        f"(HiGHS status {h.modelStatusToString(status)})")
                x = np.array(h.getSolution().col_value)
                if not is_mip and status != highspy.HighsModelStatus.kOptimal:
                    raise ClearingError(f"LP: HiGHS status {h.modelStatusToString(status)}")
                gap = float(info.mip_gap) if is_mip else 0.0  # an LP solved to optimality
                objective = float(info.objective_function_value)
                bound = float(info.mip_dual_bound) if is_mip else objective
            accepted = _decode(auction, form, x)
            fills = _dispatch(st, accepted)
        intervals, use = _intervals(st, fills, accepted)
        default = {key: tie_price(auction.products[key[0]], lo, hi)
                   for key, (lo, hi) in intervals.items()}
        bad = [b for b, (a, _k) in accepted.items()
               if surplus(auction.blocks[b], auction.blocks[b].alternatives[a], default) < 0]
        prices = default if not bad else _adjust_prices(st, intervals, default, accepted)
        if prices is not None:
            break
        if iterations >= limit:
            raise ClearingError(f"no-paradox loop did not converge in {iterations} rounds")
        losses = sorted(
            ((-surplus(auction.blocks[b], auction.blocks[b].alternatives[accepted[b][0]], default)
              * accepted[b][1], -b) for b in bad), reverse=True)
        if removal == "worst":
            drop = [-losses[0][1]]
        elif removal == "all":
            drop = [-nb for _l, nb in losses]
        else:  # "disjoint": worst first, then each offender sharing no instrument with those taken
            drop, taken = [], set()
            for _l, nb in losses:
                blk = auction.blocks[-nb]
                prod = blk.alternatives[accepted[-nb][0]].product
                insts = {(prod, hh) for hh in blk.hours}
                if not insts & taken:
                    drop.append(-nb)
                    taken |= insts
        start = x.copy()
        for b in drop:
            removed.append(b)
            reasons_removed.add(b)
            for zc, kc in form.block_cols[b]:
                h.changeColBounds(zc, 0.0, 0.0)
                start[zc] = 0.0
                if kc is not None:
                    h.changeColBounds(kc, 0.0, 0.0)
                    start[kc] = 0.0
        fixed = repair(start)
        start_ok = fixed is not None
        if start_ok:
            start = fixed

    welfare = _welfare(auction, fills, accepted)
    # ---- exact result
    orders = auction.orders
    net = block_net(auction, accepted)
    positions = {key: net.get(key, 0) + mo.bids for key, mo in merit.items()}
    volume = {}
    for key in auction.instruments:
        volume[key] = sum(fills[ix] for ix in by_inst.get(key, ()) if orders[ix].side is Side.BUY)
    for b, (a, k) in accepted.items():
        blk = auction.blocks[b]
        if blk.side is Side.BUY:
            for hh in blk.hours:
                volume[(blk.alternatives[a].product, hh)] += k
    blocks_out: dict[Hashable, BlockResult] = {}
    for b, blk in enumerate(auction.blocks):
        if b in accepted:
            a, k = accepted[b]
            blocks_out[blk.block_id] = BlockResult(
                blk.block_id, k, a, None, surplus(blk, blk.alternatives[a], prices))
            continue
        best = max(surplus(blk, alt, prices) for alt in blk.alternatives)
        if b in reasons_removed:
            reason = RejectReason.REMOVED_PARADOXICAL
        elif best <= 0:
            reason = RejectReason.OUT_OF_THE_MONEY
        elif _min_ratio_bound(blk, merit, positions):
            reason = RejectReason.MIN_RATIO
        else:
            reason = RejectReason.PARADOXICALLY_REJECTED
        blocks_out[blk.block_id] = BlockResult(blk.block_id, 0, None, reason, best)
    return ClearingResult(
        fills={o.order_id: f for o, f in zip(orders, fills)},
        blocks=blocks_out,
        prices=prices,
        welfare_fen=welfare,
        mip_gap=gap,
        solve_seconds=st.solve_seconds,
        total_seconds=time.perf_counter() - t_start,
        iterations=iterations,
        mip_solves=solves,
        removed=tuple(auction.blocks[b].block_id for b in removed),
        mip_objective=objective,
        mip_bound=bound,
        volume=volume,
    )


def _min_ratio_bound(blk: BlockOrder, merit: dict, positions: dict) -> bool:
    """True if, alone, the block could only gain with a fill below its minimum."""
    fills = []
    for alt in blk.alternatives:
        keys = [(alt.product, h) for h in blk.hours]
        if any(k not in merit for k in keys):
            fills.append(0)
            continue
        fills.append(best_fill(blk, alt, merit, positions))
    return max(fills) < blk.min_fill and max(fills) > 0
