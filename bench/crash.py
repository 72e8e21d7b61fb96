"""Crash drill at scale: SIGKILL a real writer process many times (default 1,000).

    python bench/crash.py [--cuts N] [--seed S]

Each cut starts ``python -m exchange.testing.drill`` on a data dir (a fresh one every
``--per-dir`` cuts, so recovery time does not grow without end; group commit,
snapshots every 2,000 commands), kills it with SIGKILL after a random number of acknowledged
batches plus a random sub-millisecond delay, recovers in this process and checks that
every acknowledged order is present, the state is the replay of the surviving journal,
and retried orders are never placed twice (see ``exchange.testing.drill``). At the end the
trade log must equal the trades of a replay from zero and every hash chain must verify.
Prints counts and the time per cut; any lost acknowledged order stops the run with the
order named.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from exchange.catalog import default_catalog
from exchange.cli.warm import warm
from exchange.journal import FileJournal
from exchange.sequencer import MarketState
from exchange.testing.drill import cut
from exchange.tradelog import read_all, trades_from_events, verify_all


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--per-dir", type=int, default=100, help="cuts per data dir (then a fresh one)")
    args = ap.parse_args()
    day = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0)
    rng = random.Random(args.seed)
    warm(recovery=True)  # the writers' kernels in the cache before the first is killed
    started = time.perf_counter()
    acked_orders = torn = durable_cuts = trades = files = 0
    points = set()
    for first in range(1, args.cuts + 1, args.per_dir):
        root = Path(tempfile.mkdtemp(prefix="gpux-crash-", dir=Path.cwd()))
        try:
            for run in range(first, min(first + args.per_dir, args.cuts + 1)):
                result = cut(root, run, day, rng)
                acked_orders += result.acked_orders
                torn += result.torn_tail
                durable_cuts += result.unacked_durable > 0
                points.add(result.acked_batches)
            n_trades, n_files = _final_check(root)
            trades, files = trades + n_trades, files + n_files
            print(f"  {run} cuts, {acked_orders:,} acknowledged orders checked, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(f"{args.cuts} SIGKILL cuts ({args.per_dir} per data dir): {acked_orders:,} acknowledged orders all "
          f"recovered; {len(points)} distinct cut points; {torn} recoveries cut a torn journal tail; "
          f"{durable_cuts} cuts fell between fsync and acknowledgement (retries were duplicates); "
          f"every trade log = its replay ({trades:,} trades, {files} files chained); "
          f"{elapsed:.0f} s ({elapsed / args.cuts:.2f} s per cut)")


def _final_check(root: Path) -> tuple[int, int]:
    """The trade log equals the trades of a replay from zero, and every chain verifies."""
    state = MarketState(default_catalog())
    events = [state.apply(b) for b in FileJournal(root / "journal", read_only=True).read(0)]
    logged = read_all(root / "trades")
    assert logged.equals(trades_from_events(np.concatenate(events), state.listing)), "trade log != replay"
    return logged.num_rows, sum(r.files for r in verify_all(root / "trades"))

if __name__ == "__main__":
    main()
