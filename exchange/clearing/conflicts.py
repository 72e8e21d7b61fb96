"""Why a round's accepted blocks cannot all be priced in the money: conflicts.

For fixed decisions the prices must lie in each instrument's interval ``[lo, hi]`` (band
clamped, on the tick: :func:`~exchange.clearing.pricing.price_intervals`) and keep every
accepted block in the money: a buy's ``sum of its hours' prices <= limit * length``, a
sell's ``>=``. Per product, in ticks and with prefix sums ``P_h = p_0 + ... + p_(h-1)``,
every one of these is a difference constraint ``P_v - P_u <= w``:

* an interval's top: ``P_(h+1) - P_h <= hi``; its bottom: ``P_h - P_(h+1) <= -lo``;
* a buy block over hours ``s .. e-1``: ``P_e - P_s <= floor(limit * L / tick)``;
  a sell block: ``P_s - P_e <= -ceil(limit * L / tick)``.

Such a system has an integer solution exactly when the graph with an edge ``u -> v`` of
weight ``w`` per constraint has no negative cycle (Bellman-Ford, all in integers). A
negative cycle is a :class:`Conflict`: accepted blocks and interval ends that cannot
hold together. Cycles of interval edges alone weigh ``hi - lo >= 0``, so every conflict
names at least one block.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from exchange.clearing.model import Auction, ClearingError, Side
from exchange.clearing.prices import Accepted, Intervals, Prices


@dataclass(frozen=True)
class IntervalEnd:
    """An end of an instrument's price interval that a conflict relies on."""

    instrument: tuple[Hashable, int]
    upper: bool
    """The top (``p <= price``) or the bottom (``p >= price``)."""
    price: int


@dataclass(frozen=True)
class Conflict:
    """Accepted blocks (at their alternatives) and interval ends with no prices between them."""

    blocks: tuple[tuple[int, int], ...]
    """``(block index, alternative index)`` pairs, in block order."""
    ends: tuple[IntervalEnd, ...]


def find_conflicts(auction: Auction, intervals: Intervals, accepted: Accepted) -> list[Conflict]:
    """Conflicts among the accepted blocks, no block in two of them: after each one is
    found its blocks' edges are taken out and the search goes on. Empty exactly when
    prices exist that keep every accepted block in the money."""
    found: list[Conflict] = []
    for product, spec in auction.products.items():
        edges = _edges(auction, product, spec.tick_fen, intervals, accepted)
        if not any(tag[0] == "block" for *_uvw, tag in edges):
            continue
        while (cycle := _negative_cycle(auction.hours + 1, edges)) is not None:
            blocks = sorted(tag[1:] for *_uvw, tag in cycle if tag[0] == "block")
            ends = tuple(IntervalEnd((product, tag[1]), tag[0] == "hi", tag[2])
                         for *_uvw, tag in sorted(cycle, key=lambda e: e[3]) if tag[0] != "block")
            found.append(Conflict(tuple(blocks), ends))
            taken = {e[3] for e in cycle if e[3][0] == "block"}
            edges = [e for e in edges if e[3] not in taken]
    return found


def feasible_prices(auction: Auction, intervals: Intervals, accepted: Accepted,
                    default: Prices) -> Prices:
    """Prices in the intervals keeping every accepted block in the money, when
    :func:`find_conflicts` finds none: ``default`` in products without accepted blocks,
    elsewhere the shortest-path potentials' differences (exact integers)."""
    prices = dict(default)
    for product, spec in auction.products.items():
        if not any(auction.blocks[b].alternatives[a].product == product for b, (a, _k) in accepted.items()):
            continue
        edges = _edges(auction, product, spec.tick_fen, intervals, accepted)
        dist, last, _pred = _relax(auction.hours + 1, edges)
        if last >= 0:
            raise ClearingError(f"product {product!r}: the accepted blocks conflict")
        for h in range(auction.hours):
            prices[(product, h)] = (dist[h + 1] - dist[h]) * spec.tick_fen
    return prices


def _edges(auction: Auction, product: Hashable, tick: int, intervals: Intervals,
           accepted: Accepted) -> list[tuple[int, int, int, tuple]]:
    """``(u, v, weight in ticks, tag)`` of the product's difference constraints."""
    edges: list[tuple[int, int, int, tuple]] = []
    for h in range(auction.hours):
        lo, hi = intervals[(product, h)]
        edges.append((h, h + 1, hi // tick, ("hi", h, hi)))
        edges.append((h + 1, h, -(lo // tick), ("lo", h, lo)))
    for b, (a, _k) in sorted(accepted.items()):
        blk = auction.blocks[b]
        if blk.alternatives[a].product != product:
            continue
        total = blk.alternatives[a].limit_fen * blk.length
        s = blk.start_of(a)
        e = s + blk.length
        if blk.side is Side.BUY:
            edges.append((s, e, total // tick, ("block", b, a)))
        else:
            edges.append((e, s, (-total) // tick, ("block", b, a)))
    return edges


def _relax(n: int, edges: Sequence[tuple[int, int, int, tuple]]) -> tuple[list[int], int, list]:
    """Bellman-Ford from a source tied to every node at weight 0: the distances, the last
    node still relaxed in the n-th pass (-1 if none: no negative cycle) and the
    predecessor edges."""
    dist = [0] * n
    pred: list[tuple | None] = [None] * n
    last = -1
    for _ in range(n):
        last = -1
        for edge in edges:
            u, v, w, _tag = edge
            if dist[u] + w < dist[v]:
                dist[v] = dist[u] + w
                pred[v] = edge
                last = v
        if last < 0:
            break
    return dist, last, pred


def _negative_cycle(n: int, edges: Sequence[tuple[int, int, int, tuple]]) -> list | None:
    """The edges of a negative cycle, or ``None``."""
    _dist, v, pred = _relax(n, edges)
    if v < 0:
        return None
    for _ in range(n):  # walk back into the cycle
        v = pred[v][0]
    cycle, u = [], v
    while True:
        edge = pred[u]
        cycle.append(edge)
        u = edge[0]
        if u == v:
            return cycle
