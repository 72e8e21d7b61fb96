"""Call-auction uncrossing: the single price and the allocation of one instrument's
call phase (uniform-price auction, as at an equity exchange's open).

Input: the orders collected during the call phase, as integer arrays of one entry per
order -- ``side`` (1 BUY, 2 SELL), ``price`` (limit in fen, on the tick; a market order
is given at the band edge: BUY at band_hi, SELL at band_lo), ``qty`` (whole GPUs, > 0),
``priority`` (arrival sequence, smaller first) -- plus the ``reference`` price (last
trade or catalog reference, fen, on the tick) and the ``tick``. Money is integer fen
throughout, never a float.

Price rule
----------
At a price p, *bid qty* B(p) = qty of buys with limit >= p, *ask qty* S(p) = qty of sells
with limit <= p, *executable volume* V(p) = min(B, S), *surplus* B - S (buy side if
positive, sell side if negative). The candidates are the distinct limit prices of the
orders; the uncrossing price is the one left by these steps in turn:

1. maximum volume V;
2. among those, minimum |surplus|;
3. market pressure: if every remaining candidate has buy surplus, the highest of them;
   if every one has sell surplus, the lowest;
4. otherwise (mixed signs, or no surplus): the price nearest the reference; of two
   equally near (one below, one above), **the higher**.

If the maximum volume is 0 nothing crosses: no uncross (``rule`` NONE, price 0).
:class:`Rule` in the result says which step decided.

Allocation
----------
Everything trades at the one price. Each side allocates the volume V to its orders with
a limit at or better than the price in price priority (better limit first), then time
priority (smaller ``priority`` first; equal priorities by input index); the last order
reached may be filled in part, the rest not at all (the remainders rest in the book,
the engine's business). The side with less or equal qty is therefore filled completely.
On the other side every order strictly better than the price is filled completely too
whenever steps 1-3 decide; under step 4 with mixed surpluses it may not be (e.g. buys
12x5, 11x1, sells 10x5, 12x1, reference 10: price 10, the buy at 11 gets nothing).

Trades pair the filled buys in price-time priority with the filled sells in price-time
priority greedily: rows ``(buy index, sell index, qty)``.

API
---
* :func:`uncross` ``(side, price, qty, priority, reference, tick) -> UncrossResult``
  (price, volume, surplus, surplus_side, rule, filled, trades) -- one numba kernel,
  O(n log n): two stable argsorts, then linear passes.
* :func:`indicative` ``(side, price, qty, reference, tick) -> Indicative``
  (price, volume, surplus, surplus_side, rule) -- same price rule, no allocation,
  one sort: to publish during the call phase.
* :func:`reference_uncross` ``(side, price, qty, priority, reference)`` -- the plain
  Python oracle (scans all candidates over all orders), for tests and benchmarks.

Both validate their input and raise ``ValueError`` saying what to fix.
"""

from exchange.auction.uncross import (
    TRADE_BUY,
    TRADE_QTY,
    TRADE_SELL,
    Indicative,
    Rule,
    UncrossResult,
    indicative,
    uncross,
)
from exchange.auction.reference import reference_uncross

__all__ = [
    "TRADE_BUY",
    "TRADE_QTY",
    "TRADE_SELL",
    "Indicative",
    "Rule",
    "UncrossResult",
    "indicative",
    "reference_uncross",
    "uncross",
]
