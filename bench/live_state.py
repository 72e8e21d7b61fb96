"""Snapshot size and order-ledger memory with and without retirement (issue 14).

Two market states take the same order flow (limit GTC and IOC orders, 30 % cancels) in
batches of 1,000; one retires its done orders to an order history (tmp dir) every
``--retire-every`` done orders, applying FORGET_DONE as the sequencer does. A third
holds only the orders resting at the end, placed afresh. Printed: orders resting, the
ledger's bytes (hot rows + index) and the snapshot's bytes of each, the history's bytes
on disk, and the ratios; then the CPU time (``time.thread_time``) of a retirement's
steps, mean and max over the retirements: gathering the rows to retire, writing the
history file, and applying FORGET_DONE (of which the ledger's part).

    .venv/bin/python bench/live_state.py --orders 300000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from exchange.catalog import default_catalog
from exchange.journal import FileOps
from exchange.journal.snapshots import encode
from exchange.schema import CommandKind, commands, concat_records
from exchange.sequencer import MarketState
from exchange.sequencer.history import OrderHistory
from exchange.sequencer.node import _listing_commands
from exchange.testing.workload import funding, order_flow

SYMBOLS = [f"H100-80G.{region}.20261126T{hour}" for region in ("jiaxing", "ningbo") for hour in (10, 11)]
T = 1_795_000_000 * 10**9


def ledger_bytes(state: MarketState) -> int:
    return state.orders.rows[: state.orders.count].nbytes + state.orders.index.nbytes


@contextlib.contextmanager
def _timed(owner: object, name: str, into: list[float]):
    """Within it, the CPU time of each call of ``owner.name`` goes to ``into``."""
    method = getattr(owner, name)

    def timed(*args, **kwargs):
        cpu = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            into.append(time.thread_time() - cpu)
    setattr(owner, name, timed)
    try:
        yield
    finally:
        delattr(owner, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--retire-every", type=int, default=100_000)
    args = parser.parse_args()
    catalog = default_catalog()
    plain, retiring = MarketState(catalog), MarketState(catalog)
    with tempfile.TemporaryDirectory() as tmp:
        history = retiring.orders.history = OrderHistory.open(Path(tmp), FileOps(), 0)
        setup = concat_records([_listing_commands(plain, [catalog.instrument(s) for s in SYMBOLS]),
                                funding(len(SYMBOLS), 40)])
        flow = order_flow(catalog, args.orders, len(SYMBOLS), 40, seed=14, cancel_share=0.3)
        seq, retire_seconds = 0, 0.0
        steps: dict[str, list[float]] = {"rows to retire (writer)": [], "history file write (its thread)": [],
                                         "FORGET_DONE applied (writer)": [], ". of it the ledger's forget": []}
        for batch in [setup, *np.array_split(flow, max(1, args.orders // 1000))]:
            batch = batch.copy()
            batch["seq"], batch["ts"] = np.arange(seq + 1, seq + 1 + len(batch)), T
            seq += len(batch)
            plain.apply(batch)
            retiring.mark(batch)
            retiring.apply(batch)
            if retiring.orders.done >= args.retire_every:
                started = time.perf_counter()
                cpu = time.thread_time()
                rows = retiring.orders.retiring(history.through, seq)
                steps["rows to retire (writer)"].append(time.thread_time() - cpu)
                cpu = time.thread_time()
                history.install(*history.write(rows, seq))
                steps["history file write (its thread)"].append(time.thread_time() - cpu)
                forget = commands(1)
                seq += 1
                forget["kind"], forget["amount"], forget["seq"], forget["ts"] = CommandKind.FORGET_DONE, seq - 1, seq, T
                plain_forget = forget.copy()
                plain_forget["amount"] = seq  # rejected (BAD_AMOUNT): the plain one keeps everything
                plain.apply(plain_forget)
                cpu = time.thread_time()
                with _timed(retiring.orders, "forget", steps[". of it the ledger's forget"]):
                    retiring.apply(forget)
                steps["FORGET_DONE applied (writer)"].append(time.thread_time() - cpu)
                retire_seconds += time.perf_counter() - started
        live = plain.engine.live_orders()
        resting = len(live)
        alone = MarketState(catalog)  # the resting orders alone, placed afresh (they do not cross)
        again = commands(len(live))
        again["kind"], again["order_type"], again["tif"], again["stp"] = CommandKind.NEW_ORDER, 1, 1, 1
        for name, values in (("account", [o.account for o in live]), ("instrument", [o.instrument for o in live]),
                             ("side", [o.side for o in live]), ("price", [o.price for o in live]),
                             ("qty", [o.leaves for o in live]), ("clord", [o.clord for o in live])):
            again[name] = values
        for part in (setup, again):
            part = part.copy()
            part["seq"], part["ts"] = np.arange(1, 1 + len(part)) + alone.last_seq, T
            alone.apply(part)
        assert len(alone.engine.live_orders()) == resting
        history_bytes = sum(os.path.getsize(s.path) for s in history.segments)
        rows = []
        for name, state in (("never retires", plain), (f"retires every {args.retire_every:,}", retiring),
                            ("resting orders alone", alone)):
            rows.append((name, state.orders.count, ledger_bytes(state), len(encode(state.snapshot()))))
        print(f"{args.orders:,} commands, {resting:,} orders resting at the end; "
              f"history: {len(history.segments)} files, {history_bytes / 1e6:.1f} MB; "
              f"retirements took {retire_seconds:.2f} s in all")
        print(f"{'':24} {'hot orders':>12} {'ledger MB':>10} {'snapshot MB':>12}")
        for name, count, ledger, snapshot in rows:
            print(f"{name:24} {count:>12,} {ledger / 1e6:>10.1f} {snapshot / 1e6:>12.1f}")
        print(f"ratio retiring/never: ledger {rows[1][2] / rows[0][2]:.2f}, snapshot {rows[1][3] / rows[0][3]:.2f}; "
              f"snapshot retiring/resting alone: {rows[1][3] / rows[2][3]:.2f}")
        print(f"CPU ms per retirement ({len(history.segments)}), mean / max:")
        for name, times in steps.items():
            print(f"  {name:34} {1e3 * np.mean(times or [0]):7.1f} / {1e3 * max(times or [0]):7.1f}")
        history.close()


if __name__ == "__main__":
    main()
