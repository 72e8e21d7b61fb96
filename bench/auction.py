"""Benchmark of the call-auction uncross: numba kernel against the plain-Python reference.

    python bench/auction.py [--orders N] [--runs R] [--quick]

Book (fixed seed): N orders (default 10,000) of one instrument collected in a call phase,
half buys and half sells, tick 5 fen, band 1,000..3,000 fen, reference 1,800 fen; limits
= reference + normal(0, 25 ticks) with buys leaning 3 ticks up and sells 3 ticks down so
the book crosses, clipped to the band; 2 % market orders at the band edge; qty 1..100;
priorities a random permutation (arrival order unrelated to index).

Figures printed (targets only reported, never asserted):

* ``uncross`` through the public wrapper (validation included), best of R runs, kernels
  already compiled; and the kernel alone (no validation);
* ``indicative`` (same price rule, no allocation), best of R runs;
* ``reference_uncross`` (sums every candidate over every order) on the same book, the
  in-process baseline (best of 3; ``--quick``: once), and the ratio;
* agreement of price, volume, surplus, fills and trades between the two;
* the same book entered into the numba engine during a call phase (one account per
  100 orders, limits as above, market orders as limits at the band edge) and ended by
  an ``UNCROSS`` command: its time (best of 5 engines; it includes expiring nothing,
  the price rule over the book's levels and booking every trade) and whether its
  price and volume equal the kernel's for the arrival-order priorities.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from exchange.auction import (  # noqa: E402
    _uncross as kernels,  # noqa: E402
    indicative,
    reference_uncross,
    uncross,
)
from exchange.engine import Engine, EngineConfig  # noqa: E402
from exchange.schema import CommandKind, EventKind, commands  # noqa: E402

SEED = 20240607
TICK = 5
BAND_LO, BAND_HI = 1_000, 3_000
REFERENCE = 1_800
TARGET_MS = 10.0


def book(n: int, seed: int = SEED):
    rng = np.random.default_rng(seed)
    side = rng.integers(1, 3, n).astype(np.int64)
    lean = np.where(side == 1, 3, -3)
    ticks = np.round(rng.normal(0, 25, n)).astype(np.int64) + lean
    price = np.clip(REFERENCE + TICK * ticks, BAND_LO, BAND_HI)
    market = rng.random(n) < 0.02
    price = np.where(market, np.where(side == 1, BAND_HI, BAND_LO), price).astype(np.int64)
    qty = rng.integers(1, 101, n).astype(np.int64)
    priority = rng.permutation(n).astype(np.int64)
    return side, price, qty, priority


def engine_in_call(side, price, qty) -> Engine:
    """A numba engine with the book entered into one instrument's call phase."""
    n = len(side)
    accounts = n // 100 + 1
    engine = Engine(EngineConfig(tick=(TICK,), band_lo=(BAND_LO,), band_hi=(BAND_HI,), min_qty=(1,),
                                 max_qty=(100,), reference=(REFERENCE,), max_accounts=accounts),
                    initial_orders=n + 16)
    setup = commands(1 + 2 * accounts + n)
    setup["ts"] = 1
    setup["seq"] = np.arange(1, len(setup) + 1)
    setup[0]["kind"], setup[0]["slot_ts"], setup[0]["expire_ts"] = int(CommandKind.LIST_INSTRUMENT), 10**15, 10**14
    funds, capacity, orders = setup[1:1 + accounts], setup[1 + accounts:1 + 2 * accounts], setup[1 + 2 * accounts:]
    funds["kind"], funds["account"], funds["amount"] = int(CommandKind.DEPOSIT_FUNDS), np.arange(accounts), 10**13
    capacity["kind"], capacity["account"] = int(CommandKind.DEPOSIT_CAPACITY), np.arange(accounts)
    capacity["qty"] = 10**9
    orders["kind"], orders["account"], orders["side"] = int(CommandKind.NEW_ORDER), np.arange(n) // 100, side
    orders["order_type"], orders["tif"], orders["stp"] = 1, 1, 1
    orders["price"], orders["qty"], orders["clord"] = price, qty, np.arange(1, n + 1)
    events = engine.process(setup)
    assert not (events["kind"] == EventKind.REJECTED).any(), "the benchmark book was refused"
    return engine


def time_engine_uncross(side, price, qty, engines: int = 5):
    """(best seconds of an UNCROSS command, its UNCROSSED event) over fresh engines."""
    best, head = float("inf"), None
    for _ in range(engines):
        engine = engine_in_call(side, price, qty)
        cmd = commands(1)
        cmd["kind"], cmd["seq"], cmd["ts"] = int(CommandKind.UNCROSS), 10**6, 2
        t0 = time.perf_counter()
        events = engine.process(cmd)
        best = min(best, time.perf_counter() - t0)
        head = events[events["kind"] == EventKind.UNCROSSED][0]
    return best, head


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=10_000, help="orders in the book (default 10,000)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs, best reported (default 50; --quick 10)")
    ap.add_argument("--quick", action="store_true", help="fewer runs, reference timed once")
    args = ap.parse_args()
    runs = args.runs or (10 if args.quick else 50)
    ref_runs = 1 if args.quick else 3

    side, price, qty, priority = book(args.orders)
    print(f"call auction uncross: {args.orders:,} orders, seed {SEED}, tick {TICK}, "
          f"reference {REFERENCE}, {len(np.unique(price))} price levels")
    print(f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}, "
          f"numpy {np.__version__}, numba {numba.__version__}")

    t0 = time.perf_counter()
    r = uncross(side, price, qty, priority, REFERENCE, TICK)
    indicative(side, price, qty, REFERENCE, TICK)
    first = time.perf_counter() - t0
    print(f"first call (compile or load cache): {first * 1e3:.1f} ms")
    print(f"result: price {r.price}, volume {r.volume:,}, surplus {r.surplus:,} "
          f"({ {1: 'BUY', 2: 'SELL'}.get(r.surplus_side, '-') } side), rule {r.rule.name}, "
          f"{np.count_nonzero(r.filled):,} orders filled, "
          f"{len(r.trades):,} trades")

    t_unc = best_of(runs, lambda: uncross(side, price, qty, priority, REFERENCE, TICK))
    t_ker = best_of(runs, lambda: kernels.uncross_kernel(side, price, qty, priority, REFERENCE, TICK))
    t_ind = best_of(runs, lambda: indicative(side, price, qty, REFERENCE, TICK))
    t_ref = best_of(ref_runs, lambda: reference_uncross(side, price, qty, priority, REFERENCE, TICK))
    want = reference_uncross(side, price, qty, priority, REFERENCE, TICK)
    same = (r.indicative == want.indicative and np.array_equal(r.filled, want.filled)
            and np.array_equal(r.trades, want.trades))

    t_eng, head = time_engine_uncross(side, price, qty)
    arrival = uncross(side, price, qty, np.arange(len(side)), REFERENCE, TICK)
    engine_same = (int(head["price"]), int(head["qty"])) == (arrival.price, arrival.volume)

    rows = [
        ("engine UNCROSS command (book in a call phase)", f"{t_eng * 1e3:.3f} ms", f"< {TARGET_MS:g} ms",
         "PASS" if t_eng * 1e3 < TARGET_MS else "MISS"),
        ("engine price and volume = kernel's", "yes" if engine_same else "NO", "identical",
         "PASS" if engine_same else "MISS"),
        ("uncross (wrapper, validation incl.)", f"{t_unc * 1e3:.3f} ms", f"< {TARGET_MS:g} ms",
         "PASS" if t_unc * 1e3 < TARGET_MS else "MISS"),
        ("uncross kernel only", f"{t_ker * 1e3:.3f} ms", "", ""),
        ("indicative (wrapper)", f"{t_ind * 1e3:.3f} ms", "", ""),
        ("reference_uncross (pure Python)", f"{t_ref * 1e3:.1f} ms", "baseline", ""),
        ("reference / uncross", f"{t_ref / t_unc:,.0f}x", "", ""),
        ("identical result numba / reference", "yes" if same else "NO", "identical",
         "PASS" if same else "MISS"),
    ]
    print(f"best of {runs} runs (reference: best of {ref_runs})")
    w = max(len(x[0]) for x in rows)
    for name, val, target, res in rows:
        print(f"  {name:<{w}}  {val:>12}  {target:<10} {res}")


if __name__ == "__main__":
    main()
