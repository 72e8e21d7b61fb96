"""Orders, auction input and clearing result of the day-ahead auction (integers only).

See :mod:`exchange.clearing` for the rules. Money is integer fen per GPU-hour, quantities
whole GPUs; identifiers (orders, blocks, accounts, products) are any hashable values
(small ints or tuples such as ``("H100-80G", "jiaxing")``), so this module does not
depend on the catalog or the engine.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field


class Side(enum.IntEnum):
    """Buy (bid) or sell (ask), with the engine's values (``exchange.schema.Side``:
    the day-ahead book and the engine pass them straight through). Arithmetic on money and
    quantities uses :attr:`sign`, never the value."""

    BUY = 1
    SELL = 2

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: a buy adds its value to welfare and its GPUs to
        the instrument's net demand, a sell subtracts them."""
        return 1 if self is Side.BUY else -1


class RejectReason(enum.Enum):
    """Why a block (its whole exclusive group) ended with no fill: the first that applies
    of a removal, no counterparty, out of the money, a conflict, the minimum fill, else
    paradoxically rejected. "At the final prices" counts an hour that did not trade (it
    has no price) at the best price on the other side there: the cheapest hourly ask for
    a buy, the dearest hourly bid for a sell."""

    REMOVED_PARADOXICAL = "REMOVED_PARADOXICAL"
    """Kept out by the no-paradox rule. Either it was removed to settle a conflict (it and
    the blocks in ``BlockResult.conflicts``, accepted together in a round, left no prices
    keeping them all in the money), or it is in the money at the final prices but
    accepting it, at any fill with everything else as cleared, would re-create such a
    conflict with the accepted blocks in ``conflicts``."""
    NO_COUNTERPARTY = "NO_COUNTERPARTY"
    """Could not trade: in every alternative, some hour has fewer GPUs on the other side
    (hourly orders and other blocks with an alternative there) than its minimum fill, or
    did not trade and has no hourly order on the other side (only blocks, rejected)."""
    OUT_OF_THE_MONEY = "OUT_OF_THE_MONEY"
    """Every alternative that has a counterparty is out of the money at the final prices
    (surplus <= 0)."""
    MIN_RATIO = "MIN_RATIO"
    """In the money, but with every other decision fixed (hourly orders re-dispatched)
    it would add welfare only at some positive fill below its minimum."""
    ALL_OR_NONE = "ALL_OR_NONE"
    """All or none and in the money, but with every other decision fixed (hourly orders
    re-dispatched) it would add welfare only with part of its quantity."""
    PARADOXICALLY_REJECTED = "PARADOXICALLY_REJECTED"
    """Strictly in the money at the final prices, yet rejected (accepting it would move
    the prices or lower welfare); allowed, and reported."""


class OrderReason(enum.Enum):
    """Why an hourly order got its fill, judged at its instrument's price."""

    IN_THE_MONEY = "IN_THE_MONEY"
    """Filled in full: its limit is better than the price (a bid above, an ask below)."""
    AT_THE_PRICE = "AT_THE_PRICE"
    """Its limit is the price. At one price, orders of a side are filled in time (input)
    order: it got what the earlier ones left -- all, part or none."""
    OUT_OF_THE_MONEY = "OUT_OF_THE_MONEY"
    """Not filled: its limit is beyond the price (a bid below, an ask above) or, where
    nothing traded, beyond every hourly order on the other side."""
    CAPPED_BY_FUNDS = "CAPPED_BY_FUNDS"
    """A bid at or above the price, not filled in full: its account's funds cannot pay
    one more GPU at its limit."""
    CAPPED_BY_CAPACITY = "CAPPED_BY_CAPACITY"
    """An ask at or below the price, not filled in full: its account's capacity in the
    instrument is used up."""
    NO_COUNTERPARTY = "NO_COUNTERPARTY"
    """Not filled: nothing traded in its instrument-hour, and no hourly order on the other
    side could trade with it (there is none whose limit crosses its own, or each such one
    is held by its account's cap)."""


class ClearingError(ValueError):
    """Invalid auction input, or the solver result failed an exact check."""


class VerifyError(AssertionError):
    """:func:`exchange.clearing.verify` found a broken rule; the message names the culprit."""


@dataclass(frozen=True)
class ProductSpec:
    """Price grid of one product (e.g. a GPU class in a region): tick and band, in fen.

    Every limit price in the product must lie on the tick inside the band, and so does
    every clearing price. ``reference_fen`` is informational (not used by the tie rule).
    """

    tick_fen: int = 1
    band_lo_fen: int = 1
    band_hi_fen: int = 2**31 - 1
    reference_fen: int | None = None


@dataclass(frozen=True)
class HourlyOrder:
    """A divisible limit order for one instrument ``(product, hour)``: any fill 0..qty."""

    order_id: Hashable
    account: Hashable
    side: Side
    product: Hashable
    hour: int
    limit_fen: int
    qty: int


@dataclass(frozen=True)
class BlockAlternative:
    """One way to fill a block: a product, the limit in fen per GPU-hour there and the
    first hour of the run (``None``: the block's own ``BlockOrder.start``)."""

    product: Hashable
    limit_fen: int
    start: int | None = None


@dataclass(frozen=True)
class BlockOrder:
    """``qty`` GPUs in each of ``length`` consecutive hours, the same fill ``k`` every hour.

    ``k`` is 0 or in ``[ceil(min_ratio * qty / 100), qty]`` (``min_ratio=100``: all or
    none). ``alternatives`` is an exclusive group over ``(product, start)`` pairs: at most
    one is accepted. Alternative ``i`` runs over :meth:`hours_of` ``(i)``, from its own
    start or, if that is ``None``, from ``start``.
    """

    block_id: Hashable
    account: Hashable
    side: Side
    start: int
    length: int
    qty: int
    alternatives: tuple[BlockAlternative, ...]
    min_ratio: int = 100

    @property
    def min_fill(self) -> int:
        """Smallest non-zero fill: ``ceil(min_ratio * qty / 100)``."""
        return -(-self.min_ratio * self.qty // 100)

    def start_of(self, i: int) -> int:
        """First hour of alternative ``i``'s run."""
        start = self.alternatives[i].start
        return self.start if start is None else start

    def hours_of(self, i: int) -> range:
        """The hours of alternative ``i``'s run: ``length`` hours from :meth:`start_of`."""
        start = self.start_of(i)
        return range(start, start + self.length)

    @property
    def hours(self) -> range:
        """The run of a block whose alternatives all start at ``start``;
        :class:`ClearingError` for one whose alternatives shift (use :meth:`hours_of`)."""
        if any(alt.start not in (None, self.start) for alt in self.alternatives):
            raise ClearingError(f"block {self.block_id!r}: alternatives start at different hours; "
                                "use hours_of(alternative)")
        return range(self.start, self.start + self.length)


@dataclass(frozen=True)
class Auction:
    """Everything the clearing needs: the products, hours ``0..hours-1`` and the orders.

    ``capacity[(account, product, hour)]``: at most this many GPUs sold by the account in
    that instrument (hourly asks plus block asks). ``funds[account]``: the account's
    accepted buy value *at its limit prices* (hourly bids and block bids) stays within
    this many fen -- a conservative linear stand-in for cost at clearing prices, which
    is never higher for an accepted bid.
    """

    products: Mapping[Hashable, ProductSpec]
    hours: int
    orders: tuple[HourlyOrder, ...]
    blocks: tuple[BlockOrder, ...] = ()
    capacity: Mapping[tuple[Hashable, Hashable, int], int] = field(default_factory=dict)
    funds: Mapping[Hashable, int] = field(default_factory=dict)

    @property
    def instruments(self) -> list[tuple[Hashable, int]]:
        """All ``(product, hour)`` pairs, products in mapping order, hours ascending."""
        return [(p, h) for p in self.products for h in range(self.hours)]


@dataclass(frozen=True)
class BlockResult:
    """Outcome of one block: fill ``qty`` in every hour, which alternative, or why none."""

    block_id: Hashable
    qty: int
    alternative: int | None
    """Index into ``BlockOrder.alternatives`` of the accepted one; ``None`` if rejected."""
    reason: RejectReason | None = None
    surplus_fen: int | None = 0
    """At the final prices (see :class:`RejectReason`), per GPU over the run:
    ``limit*length - sum(prices)`` for a buy, the opposite for a sell (accepted: its
    alternative; rejected: the best alternative that has one; ``None`` if none has)."""
    conflicts: tuple[Hashable, ...] = ()
    """For ``REMOVED_PARADOXICAL``: the blocks it conflicts with (see the reason)."""
    start: int | None = None
    """First hour of the accepted alternative's run (``BlockOrder.start_of``); ``None``
    if rejected."""


@dataclass(frozen=True)
class ClearingResult:
    """The clearing: fills, block outcomes, prices, welfare and solver figures."""

    fills: dict[Hashable, int]
    """Filled GPUs per hourly ``order_id``."""
    blocks: dict[Hashable, BlockResult]
    prices: dict[tuple[Hashable, int], int | None]
    """Uniform price per instrument ``(product, hour)``, fen per GPU-hour; ``None`` where
    nothing traded."""
    welfare_fen: int
    """Sum of accepted buy value minus accepted sell value at limit prices."""
    mip_gap: float
    """``(mip_bound - welfare) / max(1, |welfare|)`` with the exact welfare, at least 0
    (not money): how far the welfare may be below the best paradox-free welfare."""
    solve_seconds: float
    """Wall time of all HiGHS calls (MIP rounds, dispatch and price problems)."""
    total_seconds: float
    iterations: int
    """Rounds of the no-paradox search (1 if the first round had no paradox)."""
    removed: tuple[Hashable, ...] = ()
    """Block ids rejected ``REMOVED_PARADOXICAL``, in the order they first conflicted."""
    mip_objective: float = 0.0
    """HiGHS's objective for the last round's point (its exact welfare for a round decided
    without HiGHS); never above ``welfare_fen`` beyond float noise."""
    mip_bound: float = 0.0
    """An upper bound on the best paradox-free welfare: the least dual bound of the MIP
    solves before any removal (cuts only take out paradoxical selections)."""
    volume: dict[tuple[Hashable, int], int] = field(default_factory=dict)
    """GPUs traded per instrument (bought == sold)."""
    mip_solves: int = 0
    """HiGHS MIP solves among the ``iterations`` rounds (the others took the previous
    round's solution out of its conflicts: already within the gap of the bound)."""
    order_reasons: dict[Hashable, OrderReason] = field(default_factory=dict)
    """Why each hourly ``order_id`` got its fill."""
