"""Benchmark of a recovery's replay, paired in one process: the journal's batches through
``MarketState.replay`` against the path before it and against the floor.

    python bench/replay.py [--commands N] [--groups 1|1-4|1,000] [--rounds R]

Stream: ``bench/journal.py``'s (``order_flow``, 6 instruments, 200 accounts), written as
the sequencer writes it in groups of the given size (1-4: 1, 2, 3, 4, 1, ...), its trades
and execution records already logged (a restart). Per round, commands/s wall and CPU
(all threads) of:

* floor: the engine alone over every command in one batch;
* pieces: the engine alone over every command in pieces of ``REPLAY_PIECE`` (as the
  replay feeds it: faster than one batch, whose events outgrow the caches);
* before: ``MarketState.apply`` of each batch the journal read gives, one after the other,
  every execution record derived (the execution log skips those it holds);
* replay: ``MarketState.replay`` of the same read (the engine's thread up to
  ``REPLAY_AHEAD`` pieces ahead, held execution records not derived), as recovery runs it.

Medians over rounds, and the median of the paired ratios; for before and replay also the
CPU per command in the engine's calls, in the rest of the caller's thread (following the
events) and in the other threads (the journal's reader, the engine's helper that makes
its tables ahead), and CPU ÷ wall: the cores the replay had (at most 2 here; less when
the machine is shared); and the page faults per 1,000 commands split the same way
(Linux): each is mostly a fresh page of a growing array or buffer, a part of the CPU
above (1.5-2 µs a page on the VM of ``bench/RESULTS.md``'s recovery round 5).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from journal import ACCOUNTS, GROUPINGS, SEED, recover, setup, write_in_groups

from exchange.catalog import default_catalog
from exchange.engine import Engine
from exchange.executions import ExecLog
from exchange.journal import FileJournal
from exchange.sequencer import MarketState
from exchange.sequencer.pipeline import read_ahead
from exchange.sequencer.state import REPLAY_PIECE, WHOLE_GROUP_KINDS
from exchange.testing.workload import order_flow


def write(data: Path, n: int, sizes: list[int]) -> np.ndarray:
    """A data dir whose journal holds the stream in groups of ``sizes``; every command."""
    catalog = default_catalog()
    names, fund = setup(catalog)
    stream = order_flow(catalog, n, len(names), ACCOUNTS, SEED)
    write_in_groups(data, names, fund, stream, sizes)
    recover(data)  # logs the trades and execution records
    shutil.rmtree(data / "snapshots", ignore_errors=True)
    return np.concatenate(list(FileJournal(data / "journal", read_only=True).read()))


def faults(who: int = resource.RUSAGE_SELF) -> int:
    """Page faults so far (minor: no disk) of the process or (RUSAGE_THREAD) this thread."""
    return resource.getrusage(who).ru_minflt


THREAD = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)  # (Linux; elsewhere the faults split wrongly)


def timed(work) -> tuple[float, float, int]:
    wall, cpu, faulted = time.perf_counter(), time.process_time(), faults()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu, faults() - faulted


def replay(data: Path, fast: bool) -> tuple[float, ...]:
    """(wall, CPU of all threads, page faults of all threads, CPU and page faults in the
    engine's calls, CPU and page faults of the rest of this thread) of a replay of the
    data dir's journal."""
    catalog = default_catalog()
    log = ExecLog(data / "executions", 4096)
    state = MarketState(catalog)
    state.exec_sink = log.append
    in_engine = [0.0, 0]  # CPU, page faults
    process = state.engine.process

    def engine_process(*args, **kwargs):  # on whichever thread runs the engine
        start, faulted = time.thread_time(), faults(THREAD)
        try:
            return process(*args, **kwargs)
        finally:
            in_engine[0] += time.thread_time() - start
            in_engine[1] += faults(THREAD) - faulted

    state.engine.process = engine_process  # type: ignore[method-assign]

    def run() -> None:
        batches = read_ahead(FileJournal(data / "journal", read_only=True).read(0, WHOLE_GROUP_KINDS))
        if fast:
            state.exec_held = log.counts
            state.replay(batches)
        else:
            for batch in batches:
                state.apply(batch, copy=False)

    here, here_faulted = time.thread_time(), faults(THREAD)
    wall, cpu, faulted = timed(run)
    here = time.thread_time() - here - (0.0 if fast else in_engine[0])
    here_faulted = faults(THREAD) - here_faulted - (0 if fast else in_engine[1])
    if not np.array_equal(state.exec_counts, log.counts):
        raise AssertionError("the replay numbered the execution records differently from the log")
    log.close()
    return wall, cpu, faulted, in_engine[0], in_engine[1], here, here_faulted


def pieces(engine: Engine, every: np.ndarray) -> None:
    for start in range(0, len(every), REPLAY_PIECE):
        engine.process(every[start:start + REPLAY_PIECE], copy=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--groups", choices=list(GROUPINGS), default="1,000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gpux-replay-", dir=Path.cwd()))
    try:
        every = write(root / "data", args.commands, GROUPINGS[args.groups])
        config = default_catalog().engine_config(4096)
        runs: dict[str, list[tuple[float, ...]]] = {"floor": [], "pieces": [], "before": [], "replay": []}
        for _ in range(args.rounds):
            runs["floor"].append(timed(lambda: Engine(config).process(every, copy=False)))
            runs["pieces"].append(timed(lambda: pieces(Engine(config), every)))
            runs["before"].append(replay(root / "data", fast=False))
            runs["replay"].append(replay(root / "data", fast=True))
        n = len(every)
        print(f"replay of {n:,} commands written in groups of {args.groups}, {args.rounds} rounds (M cmd/s, medians; "
              f"load average {os.getloadavg()[0]:.1f})")
        for name, times in runs.items():
            print(f"  {name:>7}: wall {n / statistics.median(t[0] for t in times) / 1e6:5.2f}  "
                  f"cpu {n / statistics.median(t[1] for t in times) / 1e6:5.2f}")
        for name in ("before", "replay"):  # CPU ns a command: engine calls, the rest of the caller, other threads
            engine, rest, cpu = (statistics.median(t[i] for t in runs[name]) * 1e9 / n for i in (3, 5, 1))
            print(f"  {name:>7} CPU ns/command: {cpu:5.0f} = engine {engine:4.0f} + follow {rest:4.0f} "
                  f"+ read and the rest {cpu - engine - rest:4.0f}; CPU/wall "
                  f"{statistics.median(t[1] / t[0] for t in runs[name]):.2f} cores")
            engine, rest, every = (statistics.median(t[i] for t in runs[name]) * 1e3 / n for i in (4, 6, 2))
            print(f"  {name:>7} page faults/1,000 commands: {every:5.1f} = engine {engine:4.1f} + follow {rest:4.1f} "
                  f"+ read and the rest {every - engine - rest:4.1f}")
        for name in ("before", "floor", "pieces"):
            ratio = statistics.median(b[0] / r[0] for b, r in zip(runs[name], runs["replay"]))
            print(f"  replay ÷ {name} (wall rate, paired): {ratio:.2f}×")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
