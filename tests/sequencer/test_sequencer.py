"""The sequencer and an exchange node: journal first, recovery, snapshots, exactly-once."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import threading
import time
from datetime import datetime

import numpy as np
import pytest

from exchange.catalog import default_catalog
from exchange.journal import DataDirBusyError, FileJournal, FileOps, JournalFailedError
from exchange.schema import CommandKind as K, EventKind as EV, Reason
from exchange.sequencer import ExchangeNode, MarketState, OrderStatus, SequencerStoppedError, SyncPolicy
from exchange.testing.workload import funding, order_flow, symbols
from exchange.tradelog import read_all, trades_from_events, verify_all
from tests.faults import FailingOps, PowerLossOps

DAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
NOW = int(datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9
ACCOUNTS = 10
SYMBOLS = symbols(default_catalog(), DAY)


def clock() -> int:
    return NOW


_DRIVER: dict[str, asyncio.AbstractEventLoop] = {}


@pytest.fixture(autouse=True, params=["thread", "loop"])
def driver(request):
    """Every test runs on both sequencers: the writer thread and the LoopSequencer (an
    event loop in a thread of its own, the tests calling from theirs)."""
    if request.param == "thread":
        yield
        return
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    _DRIVER["loop"] = loop
    try:
        yield
    finally:
        del _DRIVER["loop"]
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()


def open_node(path, **kw) -> ExchangeNode:
    kw.setdefault("sync", SyncPolicy.OS)
    return ExchangeNode.open(path, clock=clock, loop=_DRIVER.get("loop"), **kw)


def start_market(node: ExchangeNode) -> None:
    node.list_symbols(SYMBOLS)
    node.execute(funding(len(SYMBOLS), ACCOUNTS))


def flow(n: int, seed: int, base: int = 0) -> np.ndarray:
    return order_flow(default_catalog(), n, len(SYMBOLS), ACCOUNTS, seed, clord_base=base)


def state_of(node: ExchangeNode) -> dict[str, np.ndarray]:
    def grab(state: MarketState) -> dict[str, np.ndarray]:
        arrays = state.snapshot().arrays
        return {name: a.copy() for name, a in arrays.items()}
    return node.read(grab)


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def replay_events(path) -> np.ndarray:
    """Every event of the journal replayed from zero through a fresh state."""
    state = MarketState(default_catalog())
    parts = [state.apply(batch) for batch in FileJournal(path / "journal").read(0)]
    return np.concatenate(parts)


@pytest.mark.nojit
def test_restart_restores_state_orders_and_trades(tmp_path):
    node = open_node(tmp_path, snapshot_every=0)
    start_market(node)
    events = [node.execute(flow(500, seed=i, base=1000 * i)) for i in range(4)]
    before = state_of(node)
    node.close()
    again = open_node(tmp_path)
    assert again.recovery.snapshot is None and again.recovery.replayed_commands == again.state.last_seq
    assert_same_state(before, state_of(again))
    trades = read_all(tmp_path / "trades")
    expected = trades_from_events(np.concatenate(events), again.state.listing)
    assert trades.num_rows > 100 and trades.equals(expected)
    verify_all(tmp_path / "trades")
    again.close()


def test_snapshot_plus_tail_equals_an_uninterrupted_run(tmp_path):
    node = open_node(tmp_path, snapshot_every=700)
    start_market(node)
    seen = [node.execute(flow(400, seed=i, base=1000 * i)) for i in range(6)]
    node.snapshot()
    seen.append(node.execute(flow(300, seed=99, base=99_000)))
    before = state_of(node)
    node.close()
    again = open_node(tmp_path)
    report = again.recovery
    assert report.snapshot is not None and 0 < report.replayed_commands <= 300
    assert_same_state(before, state_of(again))
    again.close()
    # the events of the whole journal replayed from zero equal those acknowledged live
    live = np.concatenate(seen)
    replayed = replay_events(tmp_path)
    assert replayed[-len(live):].tobytes() == live.tobytes()


def test_damaged_newest_snapshot_falls_back_and_is_named(tmp_path):
    node = open_node(tmp_path)
    start_market(node)
    node.execute(flow(300, seed=1))
    node.snapshot()
    node.execute(flow(300, seed=2, base=10_000))
    newest = node.snapshot()
    node.execute(flow(100, seed=3, base=20_000))
    before = state_of(node)
    node.close()
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated snapshot
    again = open_node(tmp_path)
    assert [name for name, _ in again.recovery.skipped_snapshots] == [newest.name]
    assert again.recovery.snapshot is not None and again.recovery.snapshot != newest.name
    assert_same_state(before, state_of(again))
    again.close()


def test_group_commit_gathers_concurrent_submissions(tmp_path):
    node = open_node(tmp_path, sync=SyncPolicy.GROUP)
    start_market(node)
    futures = [node.submit(flow(50, seed=i, base=1000 * i)) for i in range(40)]
    results = [f.result(30) for f in futures]
    for batch_events, i in zip(results, range(40)):
        assert len(batch_events) >= 50  # each submission gets the events of its own commands
        assert set(batch_events["clord"][batch_events["kind"] == EV.ACCEPTED]) <= set(range(1000 * i, 1000 * i + 51))
    seqs = np.concatenate([r["seq"] for r in results])
    assert np.all(np.diff(seqs) >= 0)  # acknowledged in submission order
    node.close()
    records = list(FileJournal(tmp_path / "journal").groups())
    assert len(records) < 42  # fewer journal records (and fsyncs) than submissions
    replayed, first = replay_events(tmp_path), int(results[0]["seq"][0])
    for i, batch_events in enumerate(results):  # exactly the events of its own 50 commands
        lo = first + 50 * i
        mine = replayed[(replayed["seq"] >= lo) & (replayed["seq"] < lo + 50)]
        assert batch_events.tolist() == mine.tolist(), i


def test_fsync_error_stops_acknowledging(tmp_path):
    node = open_node(tmp_path, sync=SyncPolicy.GROUP, ops=FailingOps(fail_at=8))
    start_market(node)
    acked, failed = [], 0
    for i in range(20):
        try:
            node.execute(flow(20, seed=i, base=1000 * i))
            acked.append(i)
        except SequencerStoppedError:
            failed += 1
    assert acked and failed and acked == list(range(len(acked)))  # no ack after the failure
    with pytest.raises(SequencerStoppedError):
        node.execute(flow(5, seed=50, base=50_000))
    node.close()
    again = open_node(tmp_path)
    for i in acked:
        batch = flow(20, seed=i, base=1000 * i)
        for row in batch[batch["kind"] == K.NEW_ORDER]:
            assert again.order(int(row["account"]), int(row["clord"])) is not None
    again.close()


def test_a_second_writer_is_refused(tmp_path):
    node = open_node(tmp_path)
    with pytest.raises(DataDirBusyError, match="in use"):
        open_node(tmp_path)
    node.close()
    open_node(tmp_path).close()


@pytest.mark.nojit
def test_retry_after_restart_gets_the_original_order_not_a_second_one(tmp_path):
    node = open_node(tmp_path)
    start_market(node)
    order = flow(1, seed=7, base=777)
    first = node.execute(order)
    assert first["kind"][0] == EV.ACCEPTED
    node.close()
    again = open_node(tmp_path)
    retry = again.execute(order)
    assert retry["kind"][0] == EV.REJECTED and retry["reason"][0] == Reason.DUPLICATE_CLIENT_ORDER_ID
    record = again.order(int(order["account"][0]), int(order["clord"][0]))
    assert record.order_id == first["order_id"][0] and record.status == OrderStatus.NEW
    assert again.read(lambda s: s.orders.count) == 1
    again.close()


@pytest.mark.parametrize("seed", range(8))
def test_power_loss_keeps_every_acknowledged_order(tmp_path, seed):
    """The power is cut during a random journal fsync, while later groups are being
    gathered and written; every acknowledged order survives and what survived is whole
    (the unsynced tail is kept as a random, sometimes garbled, prefix)."""
    rng = random.Random(seed)
    ops = PowerLossOps()
    node = open_node(tmp_path, sync=SyncPolicy.GROUP, ops=ops, snapshot_every=rng.choice([0, 300]),
                     max_batch=40)
    start_market(node)
    batches = [flow(rng.randint(1, 40), seed=100 * seed + i, base=1000 * i) for i in range(60)]
    # groups hold under 80 commands, so the ~1,200 commands make well over 14 groups
    ops.cut_at_journal_fsync(rng.randint(6, 14), rng)
    futures = [node.submit(b) for b in batches]
    acked = [b for b, f in zip(batches, futures) if _acked(f)]
    assert 5 <= len(acked) < len(batches)
    with contextlib.suppress(JournalFailedError):  # closing syncs, and the power is off
        node.close()
    again = open_node(tmp_path)
    for batch in acked:
        for row in batch[batch["kind"] == K.NEW_ORDER]:
            assert again.order(int(row["account"]), int(row["clord"])) is not None
    # what survived is whole: the recovered state is a replay of the surviving journal
    assert again.state.last_seq == again.sequencer.journal.last_seq
    again.close()
    replay_events(tmp_path)


def _acked(future) -> bool:
    try:
        future.result(10)
        return True
    except SequencerStoppedError:
        return False


def test_every_client_order_id_of_a_replace_chain_survives_a_snapshot(tmp_path):
    node = open_node(tmp_path)
    start_market(node)
    order = flow(1, seed=11, base=9000)
    order["kind"] = K.NEW_ORDER
    order["tif"] = 1
    account = int(order["account"][0])
    node.execute(order)
    for old, new in ((9001, 9002), (9002, 9003)):
        events = node.send(K.REPLACE, account=account, orig_clord=old, clord=new,
                           price=int(order["price"][0]), qty=int(order["qty"][0]))
        assert events["kind"][0] == EV.REPLACED
    node.snapshot()
    node.close()
    again = open_node(tmp_path)
    assert again.recovery.snapshot is not None and again.recovery.replayed_commands == 0
    ids = {again.order(account, c).order_id for c in (9001, 9002, 9003)}
    assert len(ids) == 1
    again.close()


def test_a_failing_listener_stops_acknowledging_instead_of_hanging(tmp_path):
    node = open_node(tmp_path)
    start_market(node)

    def broken(seq: int) -> None:
        raise RuntimeError("listener bug")

    node.on_group(broken)
    node.execute(flow(5, seed=1))  # answered before the listener runs
    deadline = time.monotonic() + 10
    while node.sequencer.failure is None:
        assert time.monotonic() < deadline, "the writer thread did not record its failure"
        time.sleep(0.01)
    with pytest.raises(SequencerStoppedError, match="listener bug"):
        node.execute(flow(5, seed=3, base=200), timeout=10)
    with pytest.raises(SequencerStoppedError):
        node.read(lambda s: s.last_seq, timeout=10)
    node.close()


class GatedOps(FileOps):
    """Real files; while ``gate`` is clear, a journal fsync blocks (a slow disk), and
    ``fail`` makes the fsyncs fail from then on."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False
        self.fsyncs = 0

    def fsync(self, f) -> None:
        if str(f.name).endswith(".journal"):
            self.fsyncs += 1
            self.entered.set()
            self.gate.wait(30)
            if self.fail:
                raise OSError(errno.EIO, "injected fsync failure")
        super().fsync(f)


def _settle(node: ExchangeNode) -> None:
    """Wait until the writer thread is idle (a read runs after every queued group)."""
    node.read(lambda s: None)


def test_a_group_is_applied_and_answered_only_after_its_fsync_returned(tmp_path):
    ops = GatedOps()
    node = open_node(tmp_path, sync=SyncPolicy.GROUP, ops=ops)
    start_market(node)
    _settle(node)
    seq_before = node.state.last_seq
    ops.gate.clear()
    ops.entered.clear()
    first = node.submit(flow(30, seed=1, base=1000))
    assert ops.entered.wait(10)  # its fsync has started and is held
    second = node.submit(flow(30, seed=2, base=2000))  # gathered while the first one syncs
    time.sleep(0.2)
    assert not first.done() and not second.done()
    assert node.state.last_seq == seq_before  # nothing undurable reached the engine
    ops.gate.set()
    a, b = first.result(10), second.result(10)
    assert a["seq"].max() < b["seq"].min()
    _settle(node)
    assert node.state.last_seq == seq_before + 60
    node.close()
    again = open_node(tmp_path)
    assert again.state.last_seq == seq_before + 60
    again.close()


def test_a_failed_fsync_while_the_next_group_gathers_acknowledges_neither(tmp_path):
    ops = GatedOps()
    node = open_node(tmp_path, sync=SyncPolicy.GROUP, ops=ops)
    start_market(node)
    _settle(node)
    acked = node.execute(flow(10, seed=3, base=3000))
    ops.gate.clear()
    ops.entered.clear()
    doomed = node.submit(flow(10, seed=4, base=4000))
    assert ops.entered.wait(10)
    behind = node.submit(flow(10, seed=5, base=5000))  # gathered during the failing fsync
    time.sleep(0.1)
    ops.fail = True
    ops.gate.set()
    for future in (doomed, behind):
        with pytest.raises(SequencerStoppedError):
            future.result(10)
    with pytest.raises(SequencerStoppedError):
        node.execute(flow(5, seed=6, base=6000), timeout=10)
    assert node.sequencer.failure is not None
    with contextlib.suppress(JournalFailedError):
        node.close()
    again = open_node(tmp_path)  # what was acknowledged is there
    row = acked[acked["kind"] == EV.ACCEPTED][0]
    assert again.order(int(row["account"]), int(row["clord"])) is not None
    again.close()


def test_pipelined_groups_keep_submission_order_and_every_read_sees_what_came_before(tmp_path):
    node = open_node(tmp_path, sync=SyncPolicy.GROUP)
    start_market(node)
    futures, reads = [], []
    for i in range(30):
        futures.append(node.submit(flow(20, seed=i, base=1000 * i)))
        if i % 7 == 0:  # a read queued after a submission sees it applied
            reads.append((futures[-1], node.sequencer.call(lambda s: s.last_seq)))
    results = [f.result(30) for f in futures]
    seqs = np.concatenate([r["seq"] for r in results])
    assert np.all(np.diff(seqs) >= 0)
    for future, read in reads:
        assert read.result(30) >= future.result()["seq"].max()
    node.close()


def test_a_wait_that_times_out_says_what_it_waited_for_and_how_long(tmp_path):
    node = open_node(tmp_path)
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match=r"a read of the market state: .* within 0\.05 s"):
            node.read(lambda state: release.wait(10), timeout=0.05)
        # the writer is still held by that read: a batch behind it times out too
        with pytest.raises(TimeoutError, match=r"a batch of 1 commands: .* within 0\.05 s"):
            node.execute(flow(1, 0), timeout=0.05)
    finally:
        release.set()
        node.close()
