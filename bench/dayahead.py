"""Benchmark of the day-ahead auction's path on a real node (not the solver alone:
``bench/clearing.py`` measures that).

    python bench/dayahead.py [--hourly N] [--blocks M] [--seed S]

A fresh data dir under a temp dir, the default catalog, a fixed clock; 5 regions x 24
hours of H100-80G for the day after the clock's day. 10 providers deposit capacity and
offer hourly asks; 20 buyers are funded and bid hourly orders and block orders (1-16
GPUs for 2-8 hours, 80 % all-or-none, 30 % with a second region as an alternative);
limits within about +-5 % of the class reference. Figures printed (never asserted):

* intake: orders/s through :meth:`DayAheadBook.submit` (one fsync per order);
* the run, split: escrow batch, clearing (HiGHS), booking batch, and the whole
  :func:`run_day_ahead`;
* the audit of the data dir (replay, trade log, day-ahead check) against a replay of
  the same journal without the day-ahead check (the in-process baseline), and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from exchange.audit import audit
from exchange.audit.replay import replay
from exchange.dayahead import DayAheadBook, instrument_symbol, run_day_ahead
from exchange.schema import CommandKind, commands
from exchange.sequencer import ExchangeNode

NOW = int(dt.datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9
DAY = dt.date(2026, 11, 26)
REGIONS = ("jiaxing", "ningbo", "hangzhou", "huzhou", "guizhou")
PROVIDERS, BUYERS = range(1, 11), range(11, 31)


def market(node: ExchangeNode, rng: np.random.Generator, hourly: int, blocks: int) -> tuple[DayAheadBook, float]:
    """Funds, capacity and the day's orders; (book, intake seconds)."""
    k = node.catalog.gpu_class("H100-80G")
    ref, tick = k.reference_fen, k.tick_fen
    setup = []
    for b in BUYERS:
        setup.append((int(CommandKind.DEPOSIT_FUNDS), b, 0, 0, 10**10))
    for p in PROVIDERS:
        for region in REGIONS:
            for hour in range(24):
                i = node.state.listing.id_of(instrument_symbol(node.catalog, DAY, ("H100-80G", region), hour))
                setup.append((int(CommandKind.DEPOSIT_CAPACITY), p, i, 400, 0))
    batch = commands(len(setup))
    for name, col in zip(("kind", "account", "instrument", "qty", "amount"), np.array(setup, np.int64).T):
        batch[name] = col
    node.execute(batch)

    def limit(side: int) -> int:
        drift = 1 if side == 1 else -1
        price = round(ref * (1 + drift * 0.01 + rng.normal(0, 0.03)) / tick) * tick
        return int(np.clip(price, k.band_lo_fen, k.band_hi_fen))

    book = DayAheadBook(node.data.dayahead, node.catalog)
    started = time.perf_counter()
    for n in range(hourly):
        side = 2 if n % 2 else 1
        account = int(rng.choice(PROVIDERS if side == 2 else BUYERS))
        book.submit(DAY, account, n + 1, side, int(rng.integers(24)), int(rng.integers(1, 33)),
                    [("H100-80G", str(rng.choice(REGIONS)), limit(side))])
    for n in range(blocks):
        length = int(rng.integers(2, 9))
        regions = rng.choice(REGIONS, 2 if rng.random() < 0.3 else 1, replace=False)
        book.submit(DAY, int(rng.choice(BUYERS)), hourly + n + 1, 1, int(rng.integers(0, 25 - length)),
                    int(rng.integers(1, 17)), [("H100-80G", str(r), limit(1)) for r in regions],
                    length=length, min_ratio=100 if rng.random() < 0.8 else 50, block=True)
    return book, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hourly", type=int, default=5000)
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        node = ExchangeNode.open(root, clock=lambda: NOW)
        node.list_due(NOW)
        book, intake = market(node, rng, args.hourly, args.blocks)
        timings = {}
        execute = node.execute

        def timed(batch, *a, **kw):  # split the run: escrow batch, then booking batch
            t = time.perf_counter()
            events = execute(batch, *a, **kw)
            timings["booking" if batch["kind"][0] == CommandKind.DA_TRADE else "escrow"] = time.perf_counter() - t
            return events

        node.execute = timed
        started = time.perf_counter()
        outcome = run_day_ahead(node, book, DAY, time_limit=60)
        whole = time.perf_counter() - started
        node.close()
        t = time.perf_counter()
        report = audit(root)
        audit_s = time.perf_counter() - t
        t = time.perf_counter()
        replay(root)
        replay_s = time.perf_counter() - t
    r = outcome.result
    orders = args.hourly + args.blocks
    print(f"day-ahead on a node: {args.hourly:,} hourly + {args.blocks} block orders, 5 regions x 24 h, "
          f"seed {args.seed}")
    print(f"  intake            {orders / intake:10,.0f} orders/s  ({intake:.2f} s, one fsync per order)")
    print(f"  escrow batch      {timings['escrow'] * 1e3:10.1f} ms")
    print(f"  clearing (HiGHS)  {r.total_seconds * 1e3:10.1f} ms  ({r.iterations} rounds, gap {r.mip_gap:.2e}, "
          f"welfare {r.welfare_fen:,} fen)")
    print(f"  booking batch     {timings['booking'] * 1e3:10.1f} ms  ({outcome.trades:,} DA_TRADE commands)")
    print(f"  whole run         {whole * 1e3:10.1f} ms")
    print(f"  audit {audit_s:.2f} s (ok={report.ok}, days {report.dayahead_days}) vs replay alone "
          f"{replay_s:.2f} s: {audit_s / replay_s:.2f}x")


if __name__ == "__main__":
    main()
