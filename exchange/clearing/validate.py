"""Input validation of the day-ahead clearing: every rule of :mod:`exchange.clearing` that
the input itself must meet, checked before anything reaches the solver."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeGuard

from exchange.clearing.model import Auction, ClearingError, Side


def _is_int(v: object) -> TypeGuard[int]:
    return type(v) is int


def validate(auction: Auction) -> None:
    """Raise :class:`ClearingError` naming the first bad product, order, block or cap."""
    if not _is_int(auction.hours) or not 1 <= auction.hours <= 1000:
        raise ClearingError(f"hours must be an integer 1..1000, got {auction.hours!r}")
    _check_products(auction)
    _check_orders(auction)
    _check_blocks(auction)
    _check_caps(auction)


def _check_products(auction: Auction) -> None:
    if not auction.products:
        raise ClearingError("no products")
    for p, spec in auction.products.items():
        t, lo, hi = spec.tick_fen, spec.band_lo_fen, spec.band_hi_fen
        if not all(_is_int(v) for v in (t, lo, hi)) or t < 1 or lo < 0 or lo > hi:
            raise ClearingError(f"product {p!r}: bad tick/band {t!r} {lo!r}..{hi!r}")
        if lo % t or hi % t:
            raise ClearingError(f"product {p!r}: band {lo}..{hi} not on tick {t}")


def _check_limit(auction: Auction, what: str, product: Hashable, limit: object) -> None:
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


def _check_id_side_qty(what: str, ident: Hashable, side: object, qty: object, seen: set[Hashable]) -> None:
    if ident in seen:
        raise ClearingError(f"{what}: duplicate id")
    seen.add(ident)
    if not isinstance(side, Side):
        raise ClearingError(f"{what}: side must be a Side, got {side!r}")
    if not _is_int(qty) or qty < 1:
        raise ClearingError(f"{what}: qty must be a positive integer, got {qty!r}")


def _check_orders(auction: Auction) -> None:
    seen: set[Hashable] = set()
    for o in auction.orders:
        what = f"order {o.order_id!r}"
        if not _is_int(o.hour) or not 0 <= o.hour < auction.hours:
            raise ClearingError(f"{what}: hour {o.hour!r} outside 0..{auction.hours - 1}")
        _check_id_side_qty(what, o.order_id, o.side, o.qty, seen)
        _check_limit(auction, what, o.product, o.limit_fen)


def _check_blocks(auction: Auction) -> None:
    seen: set[Hashable] = set()
    for b in auction.blocks:
        what = f"block {b.block_id!r}"
        _check_id_side_qty(what, b.block_id, b.side, b.qty, seen)
        if not (_is_int(b.start) and _is_int(b.length)) or b.length < 1:
            raise ClearingError(f"{what}: start {b.start!r} and length {b.length!r} must be integers, length >= 1")
        if not _is_int(b.min_ratio) or not 1 <= b.min_ratio <= 100:
            raise ClearingError(f"{what}: min_ratio must be an integer 1..100, got {b.min_ratio!r}")
        if not b.alternatives:
            raise ClearingError(f"{what}: no alternatives")
        seen_alts: set[tuple[Hashable, int]] = set()
        for j, a in enumerate(b.alternatives):
            alt = f"{what} alternative {j}"
            _check_limit(auction, alt, a.product, a.limit_fen)
            if a.start is not None and not _is_int(a.start):
                raise ClearingError(f"{alt}: start must be an integer or None, got {a.start!r}")
            start = b.start_of(j)
            if start < 0 or start + b.length > auction.hours:
                raise ClearingError(f"{alt}: run {start}+{b.length} outside hours 0..{auction.hours - 1}")
            if (a.product, start) in seen_alts:
                raise ClearingError(f"{alt}: another alternative has product {a.product!r} and start {start}")
            seen_alts.add((a.product, start))


def _check_caps(auction: Auction) -> None:
    for key, cap in auction.capacity.items():
        if not (isinstance(key, tuple) and len(key) == 3) or not _is_int(cap) or cap < 0:
            raise ClearingError(f"capacity {key!r}: want (account, product, hour) -> int >= 0")
    for acct, funds in auction.funds.items():
        if not _is_int(funds) or funds < 0:
            raise ClearingError(f"funds of account {acct!r}: want an integer >= 0, got {funds!r}")
