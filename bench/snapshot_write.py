"""How long writing a snapshot holds up the writer (issue 14): the streamed write against
the whole file encoded in memory, in one process, back to back.

    python bench/snapshot_write.py [--orders N] [--rounds N]

A market state takes the test workload's order flow (exchange.testing.workload, 4 slots,
10 accounts) until its order ledger holds ``--orders`` (default 1,000,000) orders; its
snapshot is copied (the writer's share, timed) and then written by a thread, the way the
sequencer's snapshot thread does, while this thread stands in for the writer: a loop of
small Python steps that records the longest time between two of its steps (a "gap": the
time it could not run, for the GIL or for a CPU) and how many gaps exceeded 20 ms. Three
cases per round: idle (the thread sleeps 1 s: what the machine's load alone does to the
loop), before (``encode`` the whole file in memory, then one ``write_atomically``: what
``SnapshotStore.write`` did before d089d96), streamed (``SnapshotStore.write`` now). Figures
are printed, never asserted; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from exchange.catalog import default_catalog
from exchange.journal import SnapshotStore, write_atomically
from exchange.journal.snapshots import Snapshot, encode
from exchange.sequencer import MarketState
from exchange.sequencer.node import _listing_commands
from exchange.testing.workload import funding, order_flow, symbols

DAY = dt.datetime.fromisoformat("2026-11-26T10:00:00+08:00")


def loaded_state(orders: int) -> MarketState:
    """A state whose ledger holds at least ``orders`` orders."""
    catalog = default_catalog()
    slots = symbols(catalog, DAY)
    state = MarketState(catalog)
    seq = 0

    def apply(batch: np.ndarray) -> None:
        nonlocal seq
        batch["seq"] = np.arange(seq + 1, seq + 1 + len(batch))
        seq += len(batch)
        state.apply(batch)

    apply(_listing_commands(state, [catalog.instrument(s) for s in slots]))
    apply(funding(len(slots), 10))
    i = 0
    while state.orders.count < orders:
        apply(order_flow(catalog, 50_000, len(slots), 10, seed=i, clord_base=100_000 * i))
        i += 1
    return state


def held_up(write, snapshot: Snapshot) -> tuple[float, float, int]:
    """(seconds of the write, longest gap of this thread meanwhile in ms, gaps over 20 ms)."""
    gaps: list[float] = []
    done = threading.Event()
    took: list[float] = []

    def background() -> None:
        started = time.perf_counter()
        write(snapshot)
        took.append(time.perf_counter() - started)
        done.set()

    thread = threading.Thread(target=background)
    last = time.perf_counter()
    thread.start()
    while not done.is_set():
        sum(range(200))
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    thread.join()
    ms = np.array(gaps + [0.0]) * 1e3
    return took[0], float(ms.max()), int(np.count_nonzero(ms > 20))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    state = loaded_state(args.orders)
    started = time.perf_counter()
    snapshot = state.snapshot()
    copy = time.perf_counter() - started
    size = sum(a.nbytes for a in snapshot.arrays.values())
    print(f"ledger {state.orders.count:,} orders; snapshot arrays {size / 2**20:,.0f} MB, copied by the writer "
          f"in {copy * 1e3:.0f} ms; {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    directory = Path(tempfile.mkdtemp(prefix="gpux-bench-snapshot-", dir="/tmp"))
    store = SnapshotStore(directory)
    cases = {
        "idle (sleep 1 s)": lambda _: time.sleep(1),
        "before: encoded in memory, one write": lambda s: write_atomically(store.ops, directory / "before", encode(s)),
        "streamed (SnapshotStore.write)": store.write,
    }
    try:
        for r in range(args.rounds):
            for label, write in cases.items():
                seconds, gap, long_gaps = held_up(write, snapshot)
                print(f"  round {r + 1}  {label:38s} {seconds * 1e3:6,.0f} ms; the writer's longest gap "
                      f"{gap:6,.0f} ms, gaps > 20 ms: {long_gaps}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
