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
* **Block orders** (:class:`BlockOrder`): ``qty`` GPUs in each of ``length``
  consecutive hours at one limit per GPU-hour; the fill ``k`` is the same in every hour
  and is 0 or in ``[ceil(min_ratio*qty/100), qty]`` (``min_ratio`` an integer percentage
  1..100; 100 = all or none). ``alternatives`` lists one or more (product, limit, start)
  triples -- another region or a slower class at a limit derived from a price per
  PFLOP-hour, another start hour (a job that may run anywhere in a window: one
  alternative per start) -- forming an exclusive group: at most one is accepted.
  Alternative ``i`` runs over ``BlockOrder.hours_of(i)``, from its own ``start`` (``None``:
  the block's ``start``); no two alternatives share (product, start), and every run lies
  in ``0 .. hours-1``. Every rule below judges an alternative on its own product and
  hours. Block bids and block asks follow the same rules.
* **Objective**: maximise welfare = accepted buy value - accepted sell value, both at
  limit prices, subject to bought == sold in every instrument.
* **Caps** (optional): ``capacity[(account, product, hour)]`` bounds the GPUs an
  account sells in an instrument (hourly and block asks); ``funds[account]`` bounds
  the account's accepted buy value *at its own limit prices* (hourly and block bids).
  Cost at the clearing prices is never above limit value for an accepted bid, so this
  linear constraint is conservative: an account never pays more than its funds.
* **Prices**: one integer price per instrument where something traded, none (``None``)
  where nothing did. With the block decisions fixed each instrument is a
  one-dimensional merit-order market; its hourly fills are computed exactly
  (:mod:`exchange.clearing.prices`; ties at one price: asks are filled before bids are
  dropped, then input order = time priority, kept under caps too) and give the interval
  of consistent prices: every filled bid has limit >= p, every filled ask limit <= p,
  and every order that could take one more GPU (not full and, with caps, its account's
  cap not binding) is not in the money -- so a partially filled order's limit equals p.
  The interval is intersected with the band. **Tie rule**: the midpoint of the interval
  rounded down to the tick. If that leaves an accepted block out of the money, the
  prices are moved inside their intervals to the integer prices nearest (L1 distance
  in ticks) to the tie-rule prices that keep every accepted block in the money (a small
  integer program, totally unimodular, solved by HiGHS and re-checked exactly).
* **No paradoxically accepted block**: an accepted block is in the money, i.e. for a
  buy ``limit * length >= sum of its hours' prices`` (times ``k`` on both sides), for a
  sell ``<=``. Whether prices exist that keep a round's accepted blocks in the money is
  decided exactly (:mod:`~exchange.clearing.conflicts`: difference constraints on the
  prices' prefix sums, Bellman-Ford in integers); when none exist, the negative cycles
  are *conflicts*: accepted blocks and interval ends that cannot hold together, found
  no block in two. No midpoint price judges anything, so the band matters only where
  it truly bounds a price.

  **Removal rule** (the default): each conflict loses its block whose removal costs
  least welfare with everything else fixed (hourly orders re-dispatched exactly on the
  merit orders; ties: the earliest block), one removal per round in each group of
  conflicts sharing an instrument (one removal may settle several); removed blocks'
  columns are fixed to 0 and the MIP is solved again, until a round has no conflict.
  **Guarantee**: the result is paradox-free and ``mip_bound`` (the first round's dual
  bound) is an upper bound on the best paradox-free welfare, so the welfare is at most
  ``mip_gap`` below the best (tests/clearing/test_paradox.py checks the bound against
  brute force). Both issue-16 reproducers reach the best; of 127 random paradox-prone
  small days with a conflict, 16 ended below it, by 4 % of the best welfare in all
  (the earlier rule, judging losses at midpoint prices: 28 days, 16 %); with blocks
  that shift in start hour too, 14 of 143 such days with a conflict ended below the best, by 7 % in all (the search:
  none; bench/RESULTS.md). A removal takes out the
  whole block, every start and product of it (tests/clearing/test_shifting.py shows a
  block the search shifts out of its conflict instead).

  **Search** (``clear(cut_rounds=N)``): for the first ``N`` rounds every conflict
  becomes a cut of the MIP instead (:mod:`~exchange.clearing.cuts`): "reject one of its
  blocks, or move the net block demand of an instrument past the threshold where one of
  its interval ends gives way". A cut removes only selections that contain the
  conflict, so the MIP's dual bound stays a bound on the best paradox-free welfare.
  **Guarantee**: if a cut round ends the search, the result is within ``mip_rel_gap``
  of the best paradox-free welfare (exact at gap 0; checked against brute force). A
  conflict whose ends lie in an instrument with a cap that can bind cannot be cut (its
  interval depends on the whole selection) and is settled by removal, as are all after
  round ``N``; ``mip_bound`` then stays the last bound from before the first removal.
  Each cut round re-solves a harder MIP (binary escapes with big-M rows): on the
  5,000-order benchmark day the exact search takes about 20 rounds of seconds each,
  against a few rounds of a fraction of a second for removal -- hence removal is the
  default.

  A round whose start (its predecessor without each conflict's cheapest block, hourly
  orders re-dispatched) is already within the gap of the last solve's dual bound --
  still an upper bound, as the feasible set only shrank -- takes it without re-solving.
* **Rejected blocks' reasons** (:class:`RejectReason`, each re-checked by
  :func:`verify`): ``REMOVED_PARADOXICAL`` (removed, or in the money but re-creating a
  known conflict if accepted; ``BlockResult.conflicts`` names the blocks),
  ``NO_COUNTERPARTY``, ``OUT_OF_THE_MONEY``, ``MIN_RATIO`` / ``ALL_OR_NONE``,
  ``PARADOXICALLY_REJECTED`` (strictly in the money but rejected -- allowed, reported).
  Hours without a price count at the best hourly price on the other side.
* **Hourly orders' reasons** (:class:`OrderReason`): in the money, at the price (time
  priority), out of the money, capped by funds or capacity, no counterparty.

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
The no-paradox search reuses the HiGHS model, adding cuts or fixing removed blocks'
columns to 0, and passes the previous solution (without each conflict's cheapest block,
each curve's segments refilled cheapest first so the balance rows hold again) as a
feasible start. Caps that no decision can reach (e.g. day-ahead holds granted in full)
are dropped first (:func:`~exchange.clearing.prices.without_idle_caps`). HiGHS options for the rounds:
:data:`MIP_OPTIONS` (no root reduced-cost sub-MIP heuristic; presolve's parallel
rows/columns rule off, which returned suboptimal points for parallel block columns).

Modules: :mod:`~exchange.clearing.model` (input and result types),
:mod:`~exchange.clearing.validate` (input rules), :mod:`~exchange.clearing.formulation`
(the MIP), :mod:`~exchange.clearing.highs` (solver options and read-back),
:mod:`~exchange.clearing.prices` (exact merit orders, intervals, welfare),
:mod:`~exchange.clearing.dispatch` (hourly fills for fixed blocks),
:mod:`~exchange.clearing.pricing` (clearing prices), :mod:`~exchange.clearing.conflicts`
(why blocks cannot all be in the money), :mod:`~exchange.clearing.cuts` (conflicts as
MIP rows), :mod:`~exchange.clearing.solve` (the no-paradox search),
:mod:`~exchange.clearing.outcome` (volumes, outcomes and reasons),
:mod:`~exchange.clearing.verify` (the independent re-check).

Result: fills and reasons per hourly order, per block the fill, accepted alternative
(and the start of its run) or rejection reason (with the blocks it conflicts with) and its surplus at the final
prices, prices (or none) and volume per instrument, welfare in integer fen, the bound
on the best paradox-free welfare and the gap to it, solver and total seconds, the
number of rounds (and how many of them HiGHS solved), and the blocks kept out as
paradoxical.
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
    OrderReason,
    ProductSpec,
    RejectReason,
    Side,
    VerifyError,
)
from exchange.clearing.solve import CUT_ROUNDS, clear
from exchange.clearing.validate import validate
from exchange.clearing.verify import verify

__all__ = [
    "CUT_ROUNDS",
    "MIP_OPTIONS",
    "Auction",
    "BlockAlternative",
    "BlockOrder",
    "BlockResult",
    "ClearingError",
    "ClearingResult",
    "HourlyOrder",
    "OrderReason",
    "ProductSpec",
    "RejectReason",
    "Side",
    "VerifyError",
    "build_mip",
    "clear",
    "validate",
    "verify",
]
