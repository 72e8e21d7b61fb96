"""Snapshot size and order-ledger memory with and without retirement (issue 14).

Two market states take the same order flow (limit GTC and IOC orders, 30 % cancels) in
batches of 1,000; one retires its done orders to an order history (tmp dir) every
``--retire-every`` done orders, applying FORGET_DONE as the sequencer does. A third
holds only the orders resting at the end, placed afresh. Printed: orders resting, the
ledger's bytes (hot rows + index) and the snapshot's bytes of each, the history's bytes
on disk, and the ratios.

    .venv/bin/python bench/live_state.py --orders 300000
"""

from __future__ import annotations

import argparse
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
        for batch in [setup, *np.array_split(flow, max(1, args.orders // 1000))]:
            batch = batch.copy()
            batch["seq"], batch["ts"] = np.arange(seq + 1, seq + 1 + len(batch)), T
            seq += len(batch)
            plain.apply(batch)
            retiring.mark(batch)
            retiring.apply(batch)
            if retiring.orders.done >= args.retire_every:
                started = time.perf_counter()
                history.install(*history.write(retiring.orders.retiring(history.through, seq), seq))
                forget = commands(1)
                seq += 1
                forget["kind"], forget["amount"], forget["seq"], forget["ts"] = CommandKind.FORGET_DONE, seq - 1, seq, T
                plain_forget = forget.copy()
                plain_forget["amount"] = seq  # rejected (BAD_AMOUNT): the plain one keeps everything
                plain.apply(plain_forget)
                retiring.apply(forget)
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
        history.close()


if __name__ == "__main__":
    main()
