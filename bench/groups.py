"""Group commit under unary load: the gateway's group sizes, read back from its journal.

    python bench/groups.py [--callers N] [--calls N] [--rounds N] [--baseline DIR]

A real gateway (``bench/gateway.py``'s child: fsync per group, its clock and market)
takes PlaceOrder from ``--callers`` closed-loop callers (``--calls`` each, the bench's
orders); then its journal is read and the groups holding orders are counted by size.
Each run prints calls/s, the server's CPU per call, p50 and p99 latency and the group
sizes: how many syncs and groups' fixed work (apply, answer) the calls cost. With
``--baseline DIR`` (a source tree, e.g. ``git archive main | tar -x -C DIR``) the
gateway of that tree runs too, the two alternated, each run in a fresh data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:
        sys.path.insert(0, path)

import gateway as bench  # noqa: E402  (bench/gateway.py: the server child, market set-up, orders, load)

from exchange.journal import FileJournal  # noqa: E402
from exchange.schema import CommandKind  # noqa: E402


def run(kind: str, tree: str | None, callers: int, calls: int) -> str:
    """One run of ``kind`` (gateway or baseline) in a fresh data dir: its figures as a line."""
    data_dir = tempfile.mkdtemp(prefix="gpux-bench-groups-", dir="/tmp")
    try:
        child = bench.Child(kind, data_dir, None, "group", tree)
        try:
            traders = min(callers, 8)
            tokens = bench.setup_market(child.address, (Path(data_dir) / "admin.token").read_text().strip(), traders)
            orders = bench.Orders(traders)
            load = [orders.unary_requests(c % traders, calls) for c in range(callers)]
            cpu = child.cpu()
            seconds, _, latencies = asyncio.run(bench.run_unary(child.address, [tokens[c % traders]
                                                                               for c in range(callers)], load))
            cpu = child.cpu() - cpu
        finally:
            child.stop()
        sizes: collections.Counter[int] = collections.Counter()
        for group in FileJournal(Path(data_dir) / "journal", read_only=True).groups():
            placed = int((group["kind"] == CommandKind.NEW_ORDER).sum())
            if placed:
                sizes[placed] += 1
        groups, placed = sum(sizes.values()), sum(k * v for k, v in sizes.items())
        n = callers * calls
        p50, p99 = (1e3 * float(v) for v in np.percentile(latencies, [50, 99]))
        return (f"{n / seconds:,.0f} calls/s, server CPU {1e6 * cpu / n:.0f} us/call, p50 {p50:.2f} ms, "
                f"p99 {p99:.2f} ms; {groups:,} groups with orders ({placed:,} orders, mean {placed / groups:.2f}): "
                f"{', '.join(f'{size} x{count}' for size, count in sorted(sizes.items()))}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--calls", type=int, default=300, help="PlaceOrder calls per caller")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", metavar="DIR", help="a source tree whose gateway runs alternated with this one")
    args = parser.parse_args()
    trees = [("gateway", None)] + ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else [])
    for r in range(args.rounds):
        for kind, tree in trees if r % 2 == 0 else trees[::-1]:
            print(f"round {r + 1} {kind:8s} {run(kind, tree, args.callers, args.calls)}", flush=True)


if __name__ == "__main__":
    main()
