"""Day-ahead clearing: hourly limit orders and block orders, one uniform price per hour.

A pure function: :func:`clear` takes an :class:`Auction` and returns a
:class:`ClearingResult`; :func:`verify` re-checks a result from the inputs. Nothing
here depends on the engine or the catalog: products (e.g. ``(gpu_class, region)``),
orders, blocks and accounts are identified by any hashable values.

Rules
-----

* **Money and quantities are integers.** Limits and prices are integer fen per
  GPU-hour on the product's tick inside its band (:class:`ProductSpec`); quantities are
  whole GPUs. Floats exist only inside HiGHS; every value read back is rounded,
  checked to be within 1e-6 of an integer, and then all fills, prices and welfare are
  recomputed exactly in integers. Invalid input raises :class:`ClearingError`.
* **No solver result is taken on trust.** After every MIP solve the exact welfare of
  the returned point (its blocks, the hourly orders re-dispatched) is compared with
  HiGHS's objective; if the point is worth less, the round is solved again without its
  start and without presolve (HiGHS 1.16 once returned its start with the optimum's
  objective), and a second mismatch is an error. :func:`verify` checks the welfare
  against the reported objective, dual bound and gap.
* **Instruments** are ``(product, hour)`` for hours ``0 .. hours-1`` of the delivery day.
* **Sides** (:class:`Side`) have the engine's values, 1 buy and 2 sell, so the day-ahead
  book's sides pass through unchanged; arithmetic uses ``Side.sign`` (+1 buy, -1 sell).
* **Hourly orders** (:class:`HourlyOrder`): a bid or ask for one instrument, divisible
  (any integer fill ``0..qty``).
* **Block orders** (:class:`BlockOrder`): ``qty`` GPUs in each of the consecutive hours
  ``start .. start+length-1`` at one limit per GPU-hour; the fill ``k`` is the same in
  every hour and is 0 or in ``[ceil(min_ratio*qty/100), qty]`` (``min_ratio`` an
  integer percentage 1..100; 100 = all or none). ``alternatives`` lists one or more
  (product, limit) pairs -- e.g. another region or a slower class at a limit derived
  from a price per PFLOP-hour -- forming an exclusive group: at most one is accepted.
  Block bids and block asks follow the same rules.
* **Objective**: maximise welfare = accepted buy value - accepted sell value, both at
  limit prices, subject to bought == sold in every instrument.
* **Caps** (optional): ``capacity[(account, product, hour)]`` bounds the GPUs an
  account sells in an instrument (hourly and block asks); ``funds[account]`` bounds
  the account's accepted buy value *at its own limit prices* (hourly and block bids).
  Cost at the clearing prices is never above limit value for an accepted bid, so this
  linear constraint is conservative: an account never pays more than its funds.
* **Prices**: one integer price per instrument. With the block decisions fixed each
  instrument is a one-dimensional merit-order market; its hourly fills are computed
  exactly (:mod:`exchange.clearing.prices`; ties at one price: asks are filled before
  bids are dropped, then input order = time priority) and give the interval of
  consistent prices: every filled bid has limit >= p, every filled ask limit <= p,
  and every order that could take one more GPU (not full and, with caps, its
  account's cap not binding) is not in the money -- so a partially filled order's
  limit equals p. The interval is intersected with the band. **Tie rule**: the midpoint
  of the interval rounded down to the tick. If that leaves an accepted block out of the
  money, the prices are moved inside their intervals to the integer prices nearest
  (L1 distance in ticks) to the tie-rule prices that keep every accepted block in
  the money (a small integer program, totally unimodular, solved by HiGHS and
  re-checked exactly); if none exist the round fails (next point).
* **No paradoxically accepted block**: an accepted block is in the money, i.e. for a
  buy ``limit * length >= sum of its hours' prices`` (times ``k`` on both sides), for a
  sell ``<=``. If a MIP round's accepted blocks cannot all be in the money, the worst
  offender at the tie-rule prices (largest loss ``k * (sum p - limit*length)``; ties:
  the earliest block) is removed (its columns fixed to 0) and the MIP is solved again,
  warm-started, until none is left (as EUPHEMIA does). With ``removal="disjoint"``
  the worst offender and then, by loss, every offender whose instruments (accepted
  product x hours) overlap none already taken are removed in the same round; with
  ``removal="all"`` every offender. Removed blocks are never re-admitted. A round
  whose previous solution without the removed blocks (hourly orders re-dispatched) is
  already within the gap of the last solve's dual bound -- still an upper bound, as
  blocks were only fixed to 0 -- takes that solution without re-solving; so every
  round's solution is within ``mip_rel_gap`` of that round's optimum.
* **Rejected blocks' reasons** (:class:`RejectReason`), in this order:
  ``REMOVED_PARADOXICAL`` (removed by the loop); ``OUT_OF_THE_MONEY`` (no alternative
  strictly in the money at the final prices); ``MIN_RATIO`` (with everything else
  fixed the merit orders would absorb a positive fill of it, but only below its
  minimum; evaluated on the merit orders without caps); ``PARADOXICALLY_REJECTED``
  (strictly in the money but rejected -- allowed and reported).

Formulation (:mod:`exchange.clearing.formulation`)
--------------------------------------------------

Per instrument, all hourly orders of uncapped accounts are one concave piecewise-linear
curve: their units sorted by limit (a consumed unit is a filled ask or a dropped bid)
give the hourly welfare as a function of the net block demand ``D``. Blocks and
individually modelled orders can only move ``D`` inside ``[-(their sells), +(their
buys)]``, so only the curve segments in that range become (continuous) columns, one
per distinct price; the welfare at the low end is an exact integer objective offset.
Blocks: one binary per alternative (all-or-none: fill = qty * binary) or a binary plus
an integer fill with ``min_fill * z <= k <= qty * z``; ``sum z <= 1`` per exclusive
group; one balance row per instrument; capacity and funds rows for capped accounts,
whose orders keep one column each (integer when funds apply). ``aggregate=False`` gives
the straightforward one-column-per-order formulation, kept as a benchmark baseline.
The no-paradox loop reuses the HiGHS model, fixing removed blocks' columns to 0 and
passing the previous solution (without them, each curve's segments refilled cheapest
first so the balance rows hold again) as a feasible start. HiGHS options for the rounds:
:data:`MIP_OPTIONS` (no root reduced-cost sub-MIP heuristic; presolve's parallel
rows/columns rule off, which returned suboptimal points for parallel block columns).

Modules: :mod:`~exchange.clearing.model` (input and result types),
:mod:`~exchange.clearing.validate` (input rules), :mod:`~exchange.clearing.formulation`
(the MIP), :mod:`~exchange.clearing.highs` (solver options and read-back),
:mod:`~exchange.clearing.prices` (exact merit orders, intervals, welfare),
:mod:`~exchange.clearing.dispatch` (hourly fills for fixed blocks),
:mod:`~exchange.clearing.pricing` (clearing prices), :mod:`~exchange.clearing.solve`
(the no-paradox loop), :mod:`~exchange.clearing.outcome` (volumes, block outcomes and
reasons), :mod:`~exchange.clearing.verify` (the independent re-check).

Result: fills per hourly order, per block the fill, accepted alternative or rejection
reason and its surplus at the final prices, prices and volume per instrument, welfare
in integer fen, the last round's MIP gap, solver and total seconds, the number of MIP
rounds (and how many of them HiGHS solved), and the removed blocks.
"""

from exchange.clearing.formulation import build_mip
from exchange.clearing.highs import MIP_OPTIONS
from exchange.clearing.model import (
    Auction,
    BlockAlternative,
    BlockOrder,
    BlockResult,
    ClearingError,
    ClearingResult,
    HourlyOrder,
    ProductSpec,
    RejectReason,
    Side,
    VerifyError,
)
from exchange.clearing.solve import clear
from exchange.clearing.validate import validate
from exchange.clearing.verify import verify

__all__ = [
    "MIP_OPTIONS",
    "Auction",
    "BlockAlternative",
    "BlockOrder",
    "BlockResult",
    "ClearingError",
    "ClearingResult",
    "HourlyOrder",
    "ProductSpec",
    "RejectReason",
    "Side",
    "VerifyError",
    "build_mip",
    "clear",
    "validate",
    "verify",
]
