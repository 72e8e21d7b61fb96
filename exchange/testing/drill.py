"""Crash drill: a real writer process is killed with SIGKILL at random points.

The writer (``python -m exchange.testing.drill DATA_DIR RUN DAY``) opens an exchange node with a
group-committed journal, submits a deterministic order flow and prints one line
``ACK <run> <batch>`` for every batch acknowledged, the moment it is. The driver
(:func:`cut`) reads those lines, kills the writer with SIGKILL at a random moment,
recovers the data directory in its own process and checks the promise: every
acknowledged order is there, what was recovered is whole (the state is exactly the
replay of the surviving journal), and a client retrying the last acknowledged batch and
the one after it gets duplicates or acceptances, never a second order. The writer
retires its done orders to the order history every :data:`RETIRE_EVERY`, so cuts also
land between a history write and its FORGET_DONE, and retried ids may be old ones
answered from the history. Used by the test suite (some tens of cuts) and by
``bench/crash.py`` (a thousand).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from exchange.catalog import Catalog
from exchange.schema import CommandKind, EventKind, Reason
from exchange.sequencer import ExchangeNode, SyncPolicy
from exchange.testing.workload import funding, order_flow, symbols

ACCOUNTS = 12
BATCHES = 400  # per run: more than a cut ever waits for
IN_FLIGHT = 4
CLORDS_PER_RUN = 10**7
RETIRE_EVERY = 200


def batch(catalog: Catalog, run: int, index: int, instruments: int) -> np.ndarray:
    """The ``index``-th command batch of writer run ``run`` (same on both sides)."""
    size = 1 + (run * 7919 + index * 104729) % 60
    base = run * CLORDS_PER_RUN + index * 100
    return order_flow(catalog, size, instruments, ACCOUNTS, seed=run * 100_003 + index, clord_base=base)


def write(data_dir: Path, run: int, day: datetime) -> None:
    """The writer process: submit batches, announce each acknowledgement on stdout."""
    node = ExchangeNode.open(data_dir, sync=SyncPolicy.GROUP, snapshot_every=2_000, max_batch=256,
                             retire_every=RETIRE_EVERY)
    names = symbols(node.catalog, day)
    if node.list_symbols(names):
        node.execute(funding(len(names), ACCOUNTS))
    os.write(1, b"READY\n")
    pending = []
    for index in range(BATCHES):
        future = node.submit(batch(node.catalog, run, index, len(names)))
        future.add_done_callback(functools.partial(_report_ack, run, index))
        pending.append(future)
        if len(pending) >= IN_FLIGHT:
            pending.pop(0).result()
    node.close()


@dataclass
class CutResult:
    """What one cut killed and what recovery found."""

    acked_batches: int
    acked_orders: int
    recovered_seq: int
    torn_tail: bool
    unacked_durable: int = 0
    """Orders of the batch after the last acknowledged one found journaled all the same
    (the cut fell between the fsync and the acknowledgement); their retry is a duplicate."""


def _report_ack(run: int, index: int, future: Future) -> None:
    if future.exception() is None:
        os.write(1, f"ACK {run} {index}\n".encode())


def cut(data_dir: Path, run: int, day: datetime, rng: random.Random, timeout: float = 60.0) -> CutResult:
    """Start a writer, SIGKILL it after a random number of acknowledgements (plus a random
    sub-millisecond delay), recover in this process and check every acknowledged order."""
    proc = subprocess.Popen([sys.executable, "-m", "exchange.testing.drill", str(data_dir), str(run), day.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None and proc.stderr is not None  # both piped
    deadline = time.monotonic() + timeout
    target = rng.randint(0, 40)
    seen = 0
    acked: list[int] = []
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"writer run {run} ended early: {proc.stderr.read().decode()[-2000:]}")
            if line.startswith(b"ACK"):
                acked.append(int(line.split()[2]))
                seen += 1
            if line.startswith(b"READY") and target == 0 or seen >= target > 0:
                time.sleep(rng.random() * 0.002)
                break
        else:
            raise TimeoutError(f"writer run {run} acknowledged only {seen} batches in {timeout} s")
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=timeout)
    acked += [int(line.split()[2]) for line in rest.splitlines() if line.startswith(b"ACK")]
    return _check(data_dir, run, acked)


def _check(data_dir: Path, run: int, acked: list[int]) -> CutResult:
    node = ExchangeNode.open(data_dir, sync=SyncPolicy.OS)
    try:
        state = node.state
        instruments = len(state.listing)
        orders = 0
        for index in acked:
            commands = batch(node.catalog, run, index, instruments)
            for row in commands[commands["kind"] == CommandKind.NEW_ORDER]:
                if node.order(int(row["account"]), int(row["clord"])) is None:
                    raise AssertionError(f"run {run}: acknowledged order {int(row['clord'])} of batch {index} is lost")
                orders += 1
        if state.last_seq != node.sequencer.journal.last_seq:
            raise AssertionError("recovered state and journal disagree")
        result = CutResult(len(acked), orders, state.last_seq, node.recovery.torn_tail is not None)
        result.unacked_durable = _retry(node, run, max(acked, default=-1), instruments)
        return result
    finally:
        node.close()


def _retry(node: ExchangeNode, run: int, last_acked: int, instruments: int) -> int:
    """Clients retry the orders of the last acknowledged batch and of the next one
    (journaled or not): each is accepted or answered as a duplicate, never placed twice.
    Returns how many orders of the unacknowledged batch were duplicates."""
    durable = 0
    for index in (last_acked, last_acked + 1):
        if index < 0:
            continue
        commands = batch(node.catalog, run, index, instruments)
        orders = commands[commands["kind"] == CommandKind.NEW_ORDER]
        events = node.execute(orders)
        first = events[np.isin(events["kind"], (EventKind.ACCEPTED, EventKind.REJECTED))]  # one per order
        duplicate = (first["kind"] == EventKind.REJECTED) & (first["reason"] == Reason.DUPLICATE_CLIENT_ORDER_ID)
        if index == last_acked and not duplicate.all():
            raise AssertionError(f"run {run}: a retry of acknowledged batch {index} was not a duplicate")
        if index > last_acked:
            durable = int(duplicate.sum())
        for row in orders:
            if node.read(lambda s, row=row: s.orders.placed(int(row["account"]), int(row["clord"]))) != 1:
                raise AssertionError(f"run {run}: order {int(row['clord'])} exists twice after a retry")
    return durable


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
