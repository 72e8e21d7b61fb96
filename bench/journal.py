"""Benchmark of the durable core: journal group commit, the sequencer, and recovery replay.

    python bench/journal.py [--commands N] [--quick]

Stream (fixed seed): ``exchange.testing.workload.order_flow`` on 6 H100 instruments (3 regions ×
2 hours), 200 accounts (half providers with capacity, half funded buyers), limit orders
around the reference price (20 % IOC) and ~10 % cancels.

Figures, each against a baseline measured in the same process:

* journal records, for a journal written in groups of 1, of 1–4 (1, 2, 3, 4, 1, ...)
  and of 1,000 commands, as the sequencer writes them (one record per group, ts
  advancing 20 µs per group): bytes per command (exact; targets ≤ 128 at group size 1,
  ≤ 100 at 1,000), the journal read alone (open + read, commands/s), and a restart's
  recovery from zero (``ExchangeNode.open`` once its trades are logged: replay rate,
  targets ≥ 2 M/s at 1,000, ≥ 1 M/s at 1–4) against a bare ``MarketState`` applying
  the same commands in batches of 65,536 and against the floor, the engine alone over
  them in one batch (also printed: the engine alone in the replay's pieces, faster);
  the replay time is ``RecoveryReport.replay_seconds``: opening and reading the
  journal, decoding and replaying it, as ``bench/replay.py``'s replay;
* raw disk: the same bytes written with ``os.write`` and one ``fsync`` per group;
* journal append + fsync per group, for groups of 1 k, 10 k and 64 k commands
  (commands/s; target ≥ 1 M/s in batches) and its share of the raw-disk rate;
* the sequencer end to end (submit → journal → fsync → engine → events), groups of
  10 k commands, against the same commands applied to a bare ``MarketState``;
* small groups, as the gateway makes them from unary calls: one-order submissions
  through an event loop's ``LoopSequencer`` (``SyncPolicy.OS``, so no fsync), gathered
  1, 2 and 8 to a group; µs per group and per order, against a bare ``MarketState``
  applying the same orders one per batch;
* recovery (replay rate, target ≥ 2 M commands/s), against a bare ``MarketState``
  applying the same batches: (A) from zero, no snapshot; (B) from a snapshot taken
  at half the stream plus the journal tail (the normal restart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from exchange.catalog import default_catalog
from exchange.engine import Engine
from exchange.journal import FileJournal, records
from exchange.sequencer import ExchangeNode, MarketState, SyncPolicy
from exchange.sequencer.state import REPLAY_PIECE
from exchange.testing.workload import funding, order_flow, symbols

SEED = 20261125
ACCOUNTS = 200
DAY = datetime.fromisoformat("2031-01-15T10:00:00+08:00")  # far ahead: no gate closes
NOW = int(datetime.fromisoformat("2031-01-14T09:00:00+08:00").timestamp()) * 10**9


def stamped(batch: np.ndarray, first_seq: int) -> np.ndarray:
    out = batch.copy()
    out["seq"] = np.arange(first_seq, first_seq + len(out))
    out["ts"] = NOW
    return out


def write_in_groups(data: Path, names: list[str], fund: np.ndarray, stream: np.ndarray, sizes: list[int]) -> int:
    """A data dir with the symbols listed and funded, then ``stream`` appended to its
    journal as the sequencer would write it, in groups of ``sizes`` (cycled), 20 µs
    apart; the bytes the stream's records took."""
    node = ExchangeNode.open(data, sync=SyncPolicy.OS, clock=lambda: NOW, snapshot_every=0)
    node.list_symbols(names)
    node.execute(fund)
    node.close()
    journal = FileJournal(data / "journal")
    before = sum(p.stat().st_size for p in journal.segments())
    at, group, ts = 0, 0, NOW
    while at < len(stream):
        size = sizes[group % len(sizes)]
        batch = stamped(stream[at:at + size], journal.last_seq + 1)
        batch["ts"] = ts
        journal.append(batch)
        at, group, ts = at + size, group + 1, ts + 20_000
    journal.close()
    return sum(p.stat().st_size for p in journal.segments()) - before


def raw_disk(path: Path, chunks: list[bytes]) -> float:
    """Seconds to write the chunks with os.write and fsync each (the floor for a journal)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    t = time.perf_counter()
    for chunk in chunks:
        os.write(fd, chunk)
        os.fsync(fd)
    dt = time.perf_counter() - t
    os.close(fd)
    return dt


def journal_rate(root: Path, stream: np.ndarray, group: int) -> tuple[float, float]:
    """(commands/s through FileJournal append+sync, same bytes on the raw disk)."""
    batches = [stamped(stream[i:i + group], 1 + i) for i in range(0, len(stream), group)]
    chunks, chain = [], 0
    for b in batches:
        chunk, chain = records.encode(b, chain)
        chunks.append(chunk)
    raw = raw_disk(root / f"raw-{group}", chunks)
    journal = FileJournal(root / f"journal-{group}")
    t = time.perf_counter()
    for b in batches:
        journal.append(b)
        journal.sync()
    dt = time.perf_counter() - t
    journal.close()
    return len(stream) / dt, len(stream) / raw


def setup(catalog) -> tuple[list[str], np.ndarray]:
    names = symbols(catalog, DAY)
    return names, funding(len(names), ACCOUNTS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=None, help="stream length (default 1,000,000; --quick 200,000)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir on the working disk)")
    args = ap.parse_args()
    n = args.commands or (200_000 if args.quick else 1_000_000)
    catalog = default_catalog()
    root = Path(tempfile.mkdtemp(prefix="gpux-bench-", dir=args.dir or Path.cwd()))
    print(f"gpux journal benchmark  python {platform.python_version()}  cpus {os.cpu_count()}  "
          f"{platform.machine()}  dir {root}")
    names, fund = setup(catalog)
    stream = order_flow(catalog, n, len(names), ACCOUNTS, SEED)
    try:
        # warm the kernels
        warm = MarketState(catalog)
        warm.apply(stamped(np.concatenate([_listing(warm, names), fund]), 1))
        warm.apply(stamped(stream[:5000], 10_000))

        record_sizes(root / "records", names, fund, stream, catalog)

        print("\njournal append + fsync per group")
        print(f"  {'group':>7} {'journal cmd/s':>14} {'raw disk cmd/s':>15} {'share':>6}")
        for group in (1_000, 10_000, 65_536):
            j, raw = journal_rate(root, stream, group)
            print(f"  {group:>7,} {j / 1e6:>12.2f} M {raw / 1e6:>13.2f} M {j / raw:>6.0%}")

        print("\nsequencer end to end (groups of 10 k, fsync per group)")
        data = root / "node"
        node = ExchangeNode.open(data, sync=SyncPolicy.GROUP, clock=lambda: NOW, snapshot_every=0)
        node.list_symbols(names)
        node.execute(fund)
        half = n // 2 // 10_000 * 10_000
        t = time.perf_counter()
        futures = [node.submit(stream[i:i + 10_000]) for i in range(0, half, 10_000)]
        for f in futures:
            f.result()
        seq_dt = time.perf_counter() - t
        node.snapshot()  # recovery B starts here
        t = time.perf_counter()
        futures = [node.submit(stream[i:i + 10_000]) for i in range(half, n, 10_000)]
        for f in futures:
            f.result()
        seq_dt += time.perf_counter() - t
        node.close()
        bare = MarketState(catalog)
        pre = stamped(np.concatenate([_listing(bare, names), fund]), 1)
        bare.apply(pre)
        t = time.perf_counter()
        for i in range(0, n, 10_000):
            bare.apply(stamped(stream[i:i + 10_000], len(pre) + 1 + i))
        bare_dt = time.perf_counter() - t
        print(f"  sequencer {n / seq_dt / 1e6:.2f} M cmd/s; bare MarketState {n / bare_dt / 1e6:.2f} M cmd/s; "
              f"ratio {seq_dt / bare_dt:.2f}×")

        small_groups(root / "small", names, fund, stream[:40_000])

        print("\nrecovery (bare MarketState applying the same batches: "
              f"{n / bare_dt / 1e6:.2f} M cmd/s)")
        (data / "snapshots").rename(root / "snapshots-aside")
        for label in ("A from zero (no snapshot)", "B newest snapshot at half + journal tail"):
            rep, open_dt = recover(data)
            print(f"  {label}: snapshot load {rep.snapshot_seconds:.2f} s, {rep.replayed_commands:,} commands "
                  f"replayed in {rep.replay_seconds:.2f} s = {rep.replayed_commands / rep.replay_seconds / 1e6:.2f} "
                  f"M cmd/s (open total {open_dt:.2f} s)")
            if label.startswith("A"):
                shutil.rmtree(data / "snapshots")
                (root / "snapshots-aside").rename(data / "snapshots")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def recover(data: Path):
    """(recovery report, seconds) of opening an exchange node on a data dir."""
    t = time.perf_counter()
    node = ExchangeNode.open(data, sync=SyncPolicy.OS, clock=lambda: NOW)
    seconds = time.perf_counter() - t
    node.close()
    return node.recovery, seconds


GROUPINGS = {"1": [1], "1-4": [1, 2, 3, 4], "1,000": [1000]}


def record_sizes(root: Path, names: list[str], fund: np.ndarray, stream: np.ndarray, catalog) -> None:
    """Per grouping: journal bytes per command, the journal read alone, recovery from zero."""
    bare = MarketState(catalog)
    pre = stamped(np.concatenate([_listing(bare, names), fund]), 1)
    bare.apply(pre)
    t = time.perf_counter()
    for i in range(0, len(stream), 65_536):
        bare.apply(stamped(stream[i:i + 65_536], len(pre) + 1 + i))
    bare_rate = len(stream) / (time.perf_counter() - t)
    floor = Engine(bare.engine.config)
    floor.process(pre)
    t = time.perf_counter()
    floor.process(stamped(stream, len(pre) + 1), copy=False)
    floor_rate = len(stream) / (time.perf_counter() - t)
    pieces = Engine(bare.engine.config)
    pieces.process(pre)
    every = stamped(stream, len(pre) + 1)
    t = time.perf_counter()
    for start in range(0, len(every), REPLAY_PIECE):
        pieces.process(every[start:start + REPLAY_PIECE], copy=False)
    pieces_rate = len(stream) / (time.perf_counter() - t)
    print(f"\njournal records by group size (bare MarketState, batches of 65,536: {bare_rate / 1e6:.2f} M cmd/s; "
          f"the engine alone, one batch (the floor): {floor_rate / 1e6:.2f} M cmd/s, in the replay's pieces of "
          f"{REPLAY_PIECE:,}: {pieces_rate / 1e6:.2f} M cmd/s)")
    print(f"  {'groups of':>9} {'bytes/cmd':>10} {'journal read':>14} {'recovery replay':>16} {'× bare':>7} "
          f"{'× floor':>8} {'× pieces':>9} {'open total':>11}")
    for label, sizes in GROUPINGS.items():
        data = root / label
        per_command = write_in_groups(data, names, fund, stream, sizes) / len(stream)
        recover(data)  # logs the trades, as the live run would have: a restart does not convert them again
        shutil.rmtree(data / "snapshots", ignore_errors=True)  # recovery from zero
        t = time.perf_counter()
        read = sum(len(batch) for batch in FileJournal(data / "journal", read_only=True).read())
        read_rate = read / (time.perf_counter() - t)
        rep, total = recover(data)
        replay_rate = rep.replayed_commands / rep.replay_seconds
        print(f"  {label:>9} {per_command:>10.1f} {read_rate / 1e6:>12.2f} M {replay_rate / 1e6:>14.2f} M "
              f"{replay_rate / bare_rate:>6.2f}× {replay_rate / floor_rate:>7.2f}× "
              f"{replay_rate / pieces_rate:>8.2f}× {total:>9.2f} s")


def small_groups(data: Path, names: list[str], fund: np.ndarray, orders: np.ndarray) -> None:
    """Groups of 1, 2 and 8 one-order submissions through a LoopSequencer, against a bare
    MarketState applying the same orders one per batch (in the same process)."""
    catalog = default_catalog()
    bare = MarketState(catalog)
    pre = stamped(np.concatenate([_listing(bare, names), fund]), 1)
    bare.apply(pre)
    t = time.perf_counter()
    for i in range(10_000):
        bare.apply(stamped(orders[i:i + 1], len(pre) + 1 + i))
    bare_us = (time.perf_counter() - t) / 10_000 * 1e6

    async def run() -> list[tuple[int, float]]:
        node = await asyncio.to_thread(ExchangeNode.open, data, sync=SyncPolicy.OS, clock=lambda: NOW,
                                       snapshot_every=0, loop=asyncio.get_running_loop())
        try:
            await asyncio.to_thread(node.list_symbols, names)
            await node.sequencer.submit_async(fund)
            at, out = 10_000, []
            for size in (1, 2, 8):
                t = time.perf_counter()
                for _ in range(8_000 // size):
                    submitted = [node.sequencer.submit_async(orders[at + j:at + j + 1]) for j in range(size)]
                    at += size
                    for future in submitted:
                        await future
                out.append((size, (time.perf_counter() - t) / (8_000 // size) * 1e6))
            return out
        finally:
            await asyncio.to_thread(node.close)

    print(f"\nsmall groups through a LoopSequencer (SyncPolicy.OS; bare MarketState, one order per batch: "
          f"{bare_us:.1f} µs/order)")
    for size, per_group in asyncio.run(run()):
        print(f"  groups of {size}: {per_group:6.1f} µs/group {per_group / size:6.1f} µs/order "
              f"= {per_group / size / bare_us:.2f}× the bare apply")


def _listing(state: MarketState, names: list[str]) -> np.ndarray:
    from exchange.sequencer.node import _listing_commands

    return _listing_commands(state, [state.catalog.instrument(s) for s in names])


if __name__ == "__main__":
    main()
