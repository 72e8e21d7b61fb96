"""The typed wrapper of the uncrossing kernels: validation in, dataclasses out.

The rules are in :mod:`exchange.auction`; the kernels in :mod:`exchange.auction._uncross`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from exchange.auction import _uncross as _k
from exchange.schema import CAPACITY_LIMIT, MONEY_LIMIT, Side

TRADE_BUY, TRADE_SELL, TRADE_QTY = _k.T_BUY, _k.T_SELL, _k.T_QTY
"""Columns of :attr:`UncrossResult.trades`: buy order index, sell order index, qty."""


class Rule(IntEnum):
    """The step of the price rule that left a single candidate."""

    NONE = _k.R_NONE  # nothing crosses: no uncross
    VOLUME = _k.R_VOLUME  # (1) the only price with the maximum executable volume
    SURPLUS = _k.R_SURPLUS  # (2) ... and the least surplus
    PRESSURE = _k.R_PRESSURE  # (3) surplus all on one side: highest (buy) / lowest (sell)
    REFERENCE = _k.R_REFERENCE  # (4) a range is left: the reference, or the range's end nearest it


@dataclass(frozen=True)
class Indicative:
    """The uncross the book would give now (:func:`indicative`); all zero (``rule`` NONE)
    when nothing crosses.

    ``surplus`` is ``|bid qty - ask qty|`` at ``price`` (bid qty: buys with limit >= price,
    ask qty: sells with limit <= price), ``surplus_side`` the side with more
    (``Side.BUY``/``Side.SELL``) or 0 when they are equal."""

    price: int
    volume: int
    surplus: int
    surplus_side: int
    rule: Rule

    @property
    def crossed(self) -> bool:
        return self.volume > 0


@dataclass(frozen=True, eq=False)
class UncrossResult(Indicative):
    """:class:`Indicative` plus the allocation (:func:`uncross`).

    * ``filled`` int64 (n,): executed qty of each input order (0 for most);
    * ``trades`` int64 (t, 3): rows (buy index, sell index, qty), all at ``price``, in
      the order of the greedy pairing of the filled buys and sells, each side in
      price-time priority. ``filled`` of a side sums to ``volume``, so do the trades."""

    filled: np.ndarray
    trades: np.ndarray

    @property
    def indicative(self) -> Indicative:
        return Indicative(self.price, self.volume, self.surplus, self.surplus_side, self.rule)


def _surplus(signed: int) -> tuple[int, int]:
    if signed > 0:
        return signed, int(Side.BUY)
    if signed < 0:
        return -signed, int(Side.SELL)
    return 0, 0


def _int(name: str, x) -> int:
    if isinstance(x, bool):
        raise ValueError(f"{name} must be an integer (fen), got a bool")
    try:
        return operator.index(x)
    except TypeError:
        raise ValueError(f"{name} must be an integer (fen), got {type(x).__name__} {x!r}") from None


def _column(name: str, x) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one entry per order), got shape {a.shape}")
    if a.size == 0:
        return np.zeros(0, np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers (money in fen, whole GPUs), got dtype {a.dtype}")
    if a.dtype.kind == "u" and int(a.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} has values above the int64 range")
    return np.ascontiguousarray(a, dtype=np.int64)


def _first(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def _check_price(name: str, p: int, tick: int) -> None:
    if not 0 < p <= MONEY_LIMIT:
        raise ValueError(f"{name} = {p} fen is out of range: must be 1..{MONEY_LIMIT}")
    if p % tick:
        raise ValueError(f"{name} = {p} fen is not on the tick {tick}: use a multiple of the tick")


def _validate(side, price, qty, priority, reference,
              tick) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int, int]:
    tick = _int("tick", tick)
    if tick <= 0:
        raise ValueError(f"tick = {tick} must be a positive number of fen")
    reference = _int("reference", reference)
    _check_price("reference", reference, tick)
    named = [("side", side), ("price", price), ("qty", qty)]
    if priority is not None:
        named.append(("priority", priority))
    cols = [_column(name, x) for name, x in named]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        lens = ", ".join(f"{nm} {len(c)}" for (nm, _), c in zip(named, cols))
        raise ValueError(f"{', '.join(nm for nm, _ in named)} must have one entry per order: lengths {lens}")
    side, price, qty = cols[:3]
    priority = cols[3] if priority is not None else None
    if n == 0:
        return side, price, qty, priority, reference, tick
    bad = (side != Side.BUY) & (side != Side.SELL)
    if bad.any():
        i = _first(bad)
        raise ValueError(f"side[{i}] = {side[i]}: must be {int(Side.BUY)} (BUY) or {int(Side.SELL)} (SELL)")
    bad = (price <= 0) | (price > MONEY_LIMIT)
    if bad.any():
        i = _first(bad)
        raise ValueError(f"price[{i}] = {price[i]} fen is out of range: must be 1..{MONEY_LIMIT} "
                         "(give market orders the band edge: BUY band_hi, SELL band_lo)")
    bad = price % tick != 0
    if bad.any():
        i = _first(bad)
        raise ValueError(f"price[{i}] = {price[i]} fen is not on the tick {tick}: use a multiple of the tick")
    bad = (qty <= 0) | (qty > CAPACITY_LIMIT)
    if bad.any():
        i = _first(bad)
        raise ValueError(f"qty[{i}] = {qty[i]} must be a positive number of GPUs, at most {CAPACITY_LIMIT}")
    if n * CAPACITY_LIMIT >= 2**62 and sum(qty.tolist()) >= 2**62:  # exact; only for n > 4.6 M
        raise ValueError("total qty too large for int64 sums: split the book")
    return side, price, qty, priority, reference, tick


def indicative(side, price, qty, reference: int, tick: int) -> Indicative:
    """The indicative uncross of a call-phase book: what :func:`uncross` would give now,
    without the allocation (one sort by price, then O(n)).

    ``side``, ``price`` (fen; market orders at the band edge) and ``qty`` (GPUs) are
    integer arrays of one entry per order; ``reference`` is the last trade or catalog
    reference price (fen, on the tick). Raises ValueError on malformed input."""
    side, price, qty, _, reference, tick = _validate(side, price, qty, None, reference, tick)
    p, v, s, rule = _k.indicative_kernel(side, price, qty, reference, tick)
    surplus, surplus_side = _surplus(int(s))
    return Indicative(int(p), int(v), surplus, surplus_side, Rule(int(rule)))


def uncross(side, price, qty, priority, reference: int, tick: int) -> UncrossResult:
    """Uncross a call auction: the one price of the rules in :mod:`exchange.auction`
    and the allocation at it.

    ``side`` (1 BUY, 2 SELL), ``price`` (limit in fen, on the tick; market orders at the
    band edge), ``qty`` (GPUs, > 0) and ``priority`` (arrival sequence, smaller first;
    equal values are ordered by index) are integer arrays of one entry per order;
    ``reference`` is the last trade or catalog reference price (fen, on the tick).
    Nothing crosses: ``rule`` NONE, price/volume/surplus 0, no fills, no trades.
    Raises ValueError on malformed input, saying what to fix."""
    side, price, qty, priority, reference, tick = _validate(side, price, qty, priority, reference, tick)
    p, v, s, rule, filled, trades = _k.uncross_kernel(side, price, qty, priority, reference, tick)
    surplus, surplus_side = _surplus(int(s))
    return UncrossResult(int(p), int(v), surplus, surplus_side, Rule(int(rule)), filled, trades)
