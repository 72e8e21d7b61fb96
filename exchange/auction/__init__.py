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
positive, sell side if negative). Every tick is a candidate, not only the limit prices;
the uncrossing price is the one left by these steps in turn:

1. maximum volume V;
2. among those, minimum |surplus|;
3. market pressure: if every remaining price has buy surplus, the highest of them;
   if every one has sell surplus, the lowest;
4. otherwise (mixed signs, or no surplus) a range of prices remains: the reference price
   if it lies within the range, else the end of the range nearest to it.

Step 4 is the reference-price rule of the call auctions at Xetra and Euronext. The prices
left after steps 1 and 2 always form one range of consecutive ticks (B falls and S rises
with p, so V is at its maximum on a range and the surplus falls across it), so step 4 is
well defined. Examples: buy 10 @ 1900 against sell 10 @ 1700, reference 1800: every tick
1700..1900 trades 10 with no surplus, the price is 1800; with reference 2000 it is 1900.
The price need not be any order's limit: buys 5 @ 10 and 5 @ 20 against sell 5 @ 5,
reference 8 (tick 1): V is 5 from 5 to 20, the surplus 5 up to 10 and 0 from 11, so the
range is 11..20 and the price 11.

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
* :func:`reference_uncross` ``(side, price, qty, priority, reference, tick)`` -- the
  plain Python oracle (sums every candidate over all orders), for tests and benchmarks.

Both validate their input and raise ``ValueError`` saying what to fix.
"""

from exchange.auction.reference import reference_uncross
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
