"""Snapshot policy and writing: by journal bytes, by time under load, at a clean stop;
the journal tail a restart replayed counted toward the next snapshot (and snapshotted by
a clean stop right after); a snapshot durable only once the trade log holds its trades;
orders acknowledged while a snapshot is written, which restores the state at its seq; a
write failing midway leaves the previous snapshot (both sequencers)."""

from __future__ import annotations

import errno
import threading
import time

import numpy as np
import pytest

from exchange.catalog import default_catalog
from exchange.journal import FileJournal, FileOps, SnapshotStore
from exchange.journal.snapshots import decode
from exchange.sequencer import MarketState
from tests.sequencer.test_sequencer import (  # noqa: F401 - driver: every test on both sequencers
    assert_same_state,
    driver,
    flow,
    open_node,
    start_market,
    state_of,
)


def test_a_clean_stop_takes_a_snapshot_of_everything(tmp_path):
    node = open_node(tmp_path, snapshot_every=0, snapshot_on_stop=True)
    start_market(node)
    for i in range(3):
        node.execute(flow(300, seed=i, base=1000 * i))
    hot = node.read(lambda state: state.orders.count)
    node.close()  # every done order retired to the order history, then the snapshot
    assert node.state.orders.count < hot and node.state.orders.forgotten_through
    before = {name: a.copy() for name, a in node.state.snapshot().arrays.items()}
    again = open_node(tmp_path, snapshot_every=0, snapshot_on_stop=True)
    assert again.recovery.snapshot is not None and again.recovery.replayed_commands == 0
    assert_same_state(before, state_of(again))
    files = sorted(p.name for p in again.data.snapshots.iterdir())
    again.close()  # nothing changed since: no new snapshot
    assert sorted(p.name for p in again.data.snapshots.iterdir()) == files


def test_a_clean_stop_right_after_a_recovery_snapshots_the_tail_it_replayed(tmp_path):
    node = open_node(tmp_path, snapshot_every=0)  # no snapshot policy: the journal is all tail
    start_market(node)
    node.execute(flow(300, seed=1))
    node.close()
    again = open_node(tmp_path, snapshot_every=0, snapshot_on_stop=True)
    assert again.recovery.snapshot is None and again.recovery.replayed_commands > 300
    again.close()  # no command since the start, but the replayed tail is newer than any snapshot
    before = {name: a.copy() for name, a in again.state.snapshot().arrays.items()}  # done orders retired
    third = open_node(tmp_path)
    assert third.recovery.snapshot is not None and third.recovery.replayed_commands == 0
    assert_same_state(before, state_of(third))
    third.close()


@pytest.mark.parametrize("policy", [dict(snapshot_every=200), dict(snapshot_every=0, snapshot_bytes=2048)])
def test_the_tail_a_restart_replayed_counts_toward_the_next_snapshot(tmp_path, policy):
    node = open_node(tmp_path, snapshot_every=0)
    start_market(node)
    node.execute(flow(300, seed=1))
    node.close()
    again = open_node(tmp_path, **policy)
    assert again.recovery.replayed_commands > 300 and again.recovery.replayed_bytes > 2048
    assert not list(again.data.snapshots.iterdir())
    again.execute(flow(1, seed=2, base=10**6))  # one group more: the tail and it are past the policy's bound
    deadline = time.monotonic() + 30
    while not list(again.data.snapshots.glob("*.snapshot")) and time.monotonic() < deadline:
        time.sleep(0.01)
    again.close()  # waits for the write
    third = open_node(tmp_path)
    assert third.recovery.snapshot is not None and third.recovery.replayed_commands == 0
    third.close()


def test_a_snapshot_is_durable_only_once_the_trade_log_holds_every_trade_it_covers(tmp_path):
    node = open_node(tmp_path, snapshot_every=0)  # the feed flushes after 1 s idle: not yet
    start_market(node)
    events = np.concatenate([node.execute(flow(300, seed=i, base=1000 * i)) for i in range(5)])
    last_trade = int(events["trade_id"].max())
    assert last_trade > node.trades.writer.logged_through
    node.snapshot()  # a kill now recovers from it, replaying nothing before: the log must have them
    assert node.trades.writer.logged_through >= last_trade
    node.close()


def test_snapshots_by_time_while_orders_stream_in(tmp_path):
    node = open_node(tmp_path, snapshot_every=0, snapshot_seconds=0.05)
    start_market(node)
    stop = threading.Event()

    def trade(seed: int) -> None:
        i = 0
        while not stop.is_set():
            node.execute(flow(50, seed=seed * 1000 + i, base=10**6 * seed + 100 * i))
            i += 1

    traders = [threading.Thread(target=trade, args=(s,)) for s in (1, 2)]
    for t in traders:
        t.start()
    deadline = time.monotonic() + 30
    while len(list(node.data.snapshots.iterdir())) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in traders:
        t.join()
    assert len(list(node.data.snapshots.iterdir())) >= 3  # several, written while trading went on
    before = state_of(node)
    node.close()
    again = open_node(tmp_path)
    assert again.recovery.snapshot is not None
    assert again.recovery.replayed_commands < again.state.last_seq
    assert_same_state(before, state_of(again))
    again.close()


def test_snapshots_by_journal_bytes_and_not_before(tmp_path):
    node = open_node(tmp_path, snapshot_every=0, snapshot_bytes=10**9)
    start_market(node)
    node.execute(flow(300, seed=1))
    assert node.sequencer.journal.appended_bytes > 0
    assert not list(node.data.snapshots.iterdir())  # far from 1 GB: none yet
    node.close()
    node = open_node(tmp_path, snapshot_every=0, snapshot_bytes=4096)
    start_market(node)
    written = []
    for i in range(6):
        before = node.sequencer.journal.appended_bytes
        node.execute(flow(100, seed=i, base=1000 * i))
        written.append(node.sequencer.journal.appended_bytes - before)
    node.snapshot()  # waits for any write in progress, then takes one more
    names = sorted(p.name for p in node.data.snapshots.iterdir())
    assert 1 < len(names) <= 3 and sum(written) > 2 * 4096  # some by bytes (the store keeps 3)
    before = state_of(node)
    node.close()
    again = open_node(tmp_path)
    assert again.recovery.replayed_commands == 0
    assert_same_state(before, state_of(again))
    again.close()


class HeldSnapshotOps(FileOps):
    """Real files; a snapshot's payload waits for :attr:`release` (and with ``fail_at``,
    that write fails as a disk would) while everything else goes on."""

    def __init__(self, fail_at: int = 0) -> None:
        self.writing, self.release = threading.Event(), threading.Event()
        self.fail_at, self.writes = fail_at, 0

    def write(self, f, data) -> None:
        if str(f.name).endswith(".snapshot.tmp"):
            self.writes += 1
            self.writing.set()
            assert self.release.wait(60), "the test never released the snapshot write"
            if self.writes == self.fail_at:
                raise OSError(errno.EIO, "input/output error")
        super().write(f, data)


def state_at(path, seq: int) -> dict[str, np.ndarray]:
    """The state arrays of a fresh replay of the journal through ``seq``."""
    state = MarketState(default_catalog())
    for batch in FileJournal(path / "journal", read_only=True).read(0):
        if len(batch := batch[batch["seq"] <= seq]):
            state.apply(batch)
    return state.snapshot().arrays


def test_orders_are_acknowledged_while_a_snapshot_is_written_and_it_restores_its_seq(tmp_path):
    ops = HeldSnapshotOps()
    node = open_node(tmp_path, ops=ops, snapshot_every=2000)
    start_market(node)
    i = 0
    while not ops.writing.is_set():  # until the policy takes a snapshot: its write is held
        node.execute(flow(300, seed=i, base=1000 * i))
        i += 1
    assert not node.sequencer.snapshots.files()
    for j in range(i, i + 10):  # acknowledged and applied while the snapshot is being written
        events = node.execute(flow(300, seed=j, base=1000 * j), timeout=30)
        assert len(events) and not node.sequencer.snapshots.files()
    ops.release.set()
    before = state_of(node)
    node.close()
    (snapshot,) = node.sequencer.snapshots.files()
    seq = int(snapshot.name[:20])
    assert seq < node.state.last_seq  # taken before the orders of the wait
    loaded = MarketState.from_snapshot(default_catalog(), decode(snapshot.name, snapshot.read_bytes()))
    assert_same_state(state_at(tmp_path, seq), loaded.snapshot().arrays)
    again = open_node(tmp_path)  # the snapshot, then the journal after it
    assert again.recovery.snapshot == snapshot.name and again.recovery.replayed_commands > 0
    assert_same_state(before, state_of(again))
    again.close()


def test_a_snapshot_write_failing_midway_leaves_the_previous_one_and_trading_goes_on(tmp_path):
    node = open_node(tmp_path, snapshot_every=0)
    start_market(node)
    node.execute(flow(300, seed=1))
    first = node.snapshot()
    node.close()
    ops = HeldSnapshotOps(fail_at=3)
    node = open_node(tmp_path, ops=ops, snapshot_every=0)
    node.execute(flow(300, seed=2, base=2000))
    failed: list[BaseException] = []

    def snapshot() -> None:
        try:
            node.snapshot()
        except OSError as error:
            failed.append(error)

    writer = threading.Thread(target=snapshot)
    writer.start()
    assert ops.writing.wait(30)
    for j in range(3, 8):  # acknowledged while the write is held, and after it failed
        node.execute(flow(300, seed=j, base=1000 * j))
        ops.release.set()
    writer.join(30)
    assert "input/output error" in str(failed[0])
    assert [p.name for p in node.sequencer.snapshots.files()] == [first.name]  # as a crash would leave it
    loaded, report = SnapshotStore(tmp_path / "snapshots").latest()
    assert loaded.seq == int(first.name[:20]) and not report.skipped
    before = state_of(node)
    node.close()
    again = open_node(tmp_path)
    assert again.recovery.snapshot == first.name and again.recovery.replayed_commands > 0
    assert_same_state(before, state_of(again))
    again.close()


def test_a_snapshot_copied_into_an_older_ones_arrays_equals_a_fresh_one(tmp_path):
    """The sequencer copies each snapshot into the arrays of the one before (no page
    faults): the copy is the same as into new memory, and the older one's memory is used
    where the arrays fit (the ledger's rows too, as it grows: they get its room)."""
    from exchange.journal.snapshots import encode

    node = open_node(tmp_path, snapshot_every=0)
    start_market(node)
    node.execute(flow(300, seed=1))
    older = node.read(lambda state: state.snapshot())
    node.execute(flow(300, seed=2, base=1000))
    reused, fresh = node.read(lambda state: (state.snapshot(older), state.snapshot()))
    node.close()
    assert encode(reused) == encode(fresh)
    assert reused.arrays.keys() == fresh.arrays.keys()
    shared = [name for name in reused.arrays if np.shares_memory(reused.arrays[name], older.arrays[name])]
    assert "order_ledger" in shared and len(older.arrays["order_ledger"]) < len(reused.arrays["order_ledger"])
    assert len(shared) >= len(reused.arrays) - 2
