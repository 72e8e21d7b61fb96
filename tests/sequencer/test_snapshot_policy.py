"""Snapshot policy: by journal bytes, by time under load, and at a clean stop (both sequencers)."""

from __future__ import annotations

import threading
import time

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
    before = state_of(node)
    node.close()
    again = open_node(tmp_path, snapshot_every=0, snapshot_on_stop=True)
    assert again.recovery.snapshot is not None and again.recovery.replayed_commands == 0
    assert_same_state(before, state_of(again))
    files = sorted(p.name for p in again.data.snapshots.iterdir())
    again.close()  # nothing changed since: no new snapshot
    assert sorted(p.name for p in again.data.snapshots.iterdir()) == files


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
