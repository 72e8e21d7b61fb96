"""Benchmark of the audit: verify a 1 M-order delivery day against the engine time.

    python bench/audit.py [--commands N] [--quick]

Builds a data dir with the ``bench/journal.py`` stream (1 M orders on 6 instruments of
one delivery day), seals the day with a TIMER, settles it with two vouchers, closes,
and then times ``exchange.audit.audit`` on it (hash chains, journal replay from zero,
trade-by-trade comparison, settlement re-run) against a bare numba ``Engine``
processing the same command batches in this process. Target: audit ≤ 2× engine time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import journal as stream_def  # bench/journal.py: the same stream

from exchange.audit import audit
from exchange.catalog import default_catalog
from exchange.engine import Engine
from exchange.journal import FileJournal
from exchange.schema import CommandKind, commands
from exchange.sequencer import ExchangeNode, SyncPolicy
from exchange.settlement import VoucherBook, VoucherGrant, settle
from exchange.testing.workload import order_flow
from exchange.tradelog import day_closes_ns, days, read_day

DAY = date(2031, 1, 15)


def build(root: Path, n: int) -> Path:
    catalog = default_catalog()
    names, fund = stream_def.setup(catalog)
    stream = order_flow(catalog, n, len(names), stream_def.ACCOUNTS, stream_def.SEED)
    clock = [stream_def.NOW]
    node = ExchangeNode.open(root, sync=SyncPolicy.OS, clock=lambda: clock[0], snapshot_every=0)
    node.list_symbols(names)
    node.execute(fund)
    for f in [node.submit(stream[i:i + 10_000]) for i in range(0, n, 10_000)]:
        f.result()
    clock[0] = day_closes_ns(catalog, DAY)
    timer = commands(1)
    timer["kind"] = CommandKind.TIMER
    node.execute(timer)
    node.close()
    book = VoucherBook(root)
    buyer = stream_def.ACCOUNTS - 1
    book.grant(VoucherGrant("city-30", "city-fund", buyer, 3000, None, DAY, DAY))
    book.grant(VoucherGrant("province-50", "province", buyer - 1, 5000, 200_000_000, DAY, DAY))
    settle(root, DAY, lambda d: read_day(root / "trades", d), days(root / "trades"))
    return root


def engine_seconds(root: Path) -> float:
    """A bare engine over the journal's batches (decoded beforehand), best of 2."""
    batches = list(FileJournal(root / "journal", read_only=True).read(0))
    best = float("inf")
    for _ in range(2):
        engine = Engine(default_catalog().engine_config())
        t = time.perf_counter()
        for b in batches:
            engine.process(b)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=None, help="orders (default 1,000,000; --quick 200,000)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = args.commands or (200_000 if args.quick else 1_000_000)
    print(f"gpux audit benchmark  python {platform.python_version()}  cpus {os.cpu_count()}  {platform.machine()}")
    root = Path(tempfile.mkdtemp(prefix="gpux-bench-audit-", dir=Path.cwd()))
    try:
        t = time.perf_counter()
        build(root / "data", n)
        print(f"built the day in {time.perf_counter() - t:.1f} s")
        engine_dt = engine_seconds(root / "data")
        runs = [audit(root / "data") for _ in range(2)]
        report = min(runs, key=lambda r: r.seconds)
        assert report.ok, report.problem
        print(f"audit: {report.commands:,} commands, {report.trades:,} trades, {report.chained_files} files, "
              f"{len(report.settled_days)} day settled — {report.seconds:.2f} s (best of 2)")
        print(f"engine alone over the same batches: {engine_dt:.2f} s")
        ratio = report.seconds / engine_dt
        print(f"audit / engine = {ratio:.2f}×  (target ≤ 2×: {'PASS' if ratio <= 2 else 'MISS'})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
