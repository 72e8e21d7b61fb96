"""The removal rule against brute force on small paradox-prone days (issue 16).

    python bench/removal_rule.py [--days N] [--seed S] [--fixed-start]

Days are drawn like ``paradox_prone_days`` in tests/clearing/reference.py (with
``shifting=True`` unless ``--fixed-start``: blocks' alternatives differ in start hour as
well as product), from ``random.Random(seed)``. Each day is cleared at gap 0 with the
removal rule (``cut_rounds=0``) and re-checked by ``verify()``; on every day whose first
round had a conflict, the best paradox-free welfare is found by brute force and the
result compared with it: days below the best and welfare missing, in all. Asserts the
guarantee (welfare <= best <= ``mip_bound``) on every such day.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.clearing import (  # noqa: E402
    Auction,
    BlockAlternative,
    BlockOrder,
    HourlyOrder,
    ProductSpec,
    Side,
    clear,
    verify,
)
from tests.clearing.reference import brute_force  # noqa: E402


def paradox_prone_day(rng: random.Random, shifting: bool) -> Auction:
    """One day as ``paradox_prone_days(shifting=...)`` draws it: 1-2 products (band
    1..500), up to 3 hours (4 with shifting), 1-8 lumpy hourly orders (mostly asks,
    limits 20..80) and 2-4 blocks (mostly all-or-none buys, limits 25..110)."""
    n_prod = rng.randint(1, 2)
    hours = rng.randint(1, 3 + shifting)
    products = {p: ProductSpec(1, 1, 500) for p in range(n_prod)}
    orders = []
    for i in range(rng.randint(1, 8)):
        side = rng.choice([Side.SELL, Side.SELL, Side.BUY])
        orders.append(HourlyOrder(f"o{i}", rng.randint(0, 2), side, rng.randint(0, n_prod - 1),
                                  rng.randint(0, hours - 1), rng.randint(20, 80), rng.randint(1, 5)))
    blocks = []
    for b in range(rng.randint(2, 4)):
        length = rng.randint(1, hours)
        start = rng.randint(0, hours - length)
        if shifting:  # one to three distinct (product, start) pairs, the own start half the time as None
            pairs = [(p, s) for p in range(n_prod) for s in range(hours - length + 1)]
            rng.shuffle(pairs)
            alts = tuple(BlockAlternative(p, rng.randint(25, 110), None if s == start and rng.random() < 0.5 else s)
                         for p, s in pairs[:rng.randint(1, min(3, len(pairs)))])
        else:
            prods = list(range(n_prod))
            rng.shuffle(prods)
            alts = tuple(BlockAlternative(p, rng.randint(25, 110)) for p in prods[:rng.randint(1, n_prod)])
        blocks.append(BlockOrder(f"b{b}", rng.randint(0, 2), rng.choice([Side.BUY, Side.BUY, Side.BUY, Side.SELL]),
                                 start, length, rng.randint(1, 4), alts, rng.choice([100, 100, 100, 50])))
    return Auction(products, hours, tuple(orders), tuple(blocks))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--fixed-start", action="store_true", help="alternatives differ in product only")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    conflicting = below = missing = best_total = rounds = 0
    for _ in range(args.days):
        day = paradox_prone_day(rng, not args.fixed_start)
        r = clear(day, mip_rel_gap=0.0, highs_options={"presolve": "off"})
        verify(day, r)
        if r.iterations == 1:
            continue
        best = brute_force(day, paradox_free=True)
        assert r.welfare_fen <= best <= r.mip_bound + 1e-6, day
        conflicting += 1
        below += r.welfare_fen < best
        missing += best - r.welfare_fen
        best_total += best
        rounds += r.iterations
    print(f"{args.days} days, seed {args.seed}, {'fixed starts' if args.fixed_start else 'shifting blocks'}: "
          f"{conflicting} with a conflict ({rounds} rounds); removal below the best paradox-free welfare on "
          f"{below}, missing {missing:,} of {best_total:,} fen ({100 * missing / max(1, best_total):.1f} %); "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
