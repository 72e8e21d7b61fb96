"""A replay (MarketState.replay over the journal's groups joined into large batches, cut
into pieces of any size but for whole-group kinds, the engine a piece ahead) equals
applying the groups one by one as the sequencer did: the same snapshot, events, trades
and execution records, across listings, timers (expiry, gate closure), cancels and
replaces, halts, holds and day-ahead trades."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.catalog import default_catalog
from exchange.executions import EXEC_DTYPE
from exchange.journal import FileJournal, JournalCorruptError
from exchange.journal.segments import _cut_around_groups
from exchange.schema import CommandKind as K, OrderType, Side, TimeInForce, commands, concat_records
from exchange.sequencer import MarketState
from exchange.sequencer.node import _listing_commands
from exchange.sequencer.pipeline import read_ahead
from exchange.sequencer.state import REPLAY_AHEAD, REPLAY_PIECE, WHOLE_GROUP_KINDS
from exchange.testing.workload import funding, order_flow, symbols

CATALOG = default_catalog()
DAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
SLOTS = [CATALOG.instrument(s) for s in symbols(CATALOG, DAY, hours=3, regions=2)]
START_NS = int((DAY - timedelta(minutes=40)).timestamp()) * 10**9
ACCOUNTS = 8  # 0-3 providers, 4-7 buyers
CLS = CATALOG.gpu_class(0)


@st.composite
def journals(draw) -> tuple[np.ndarray, list[int]]:
    """A stamped command stream and its group sizes: two listings, funding, then a mix
    of kinds (FORGET_DONE too); ts advances with the commands and TIMERs cross the first
    slots' gates."""
    listing = _listing_commands(MarketState(CATALOG), SLOTS)
    parts = [listing[:3], funding(3, ACCOUNTS)]
    clords = []
    listed = 3
    for _ in range(draw(st.integers(20, 160))):
        kind = draw(st.sampled_from([K.NEW_ORDER] * 6 + [K.CANCEL, K.REPLACE, K.MASS_CANCEL, K.TIMER, K.TIMER,
                                    K.LIST_INSTRUMENT, K.HALT, K.RESUME, K.HOLD_FUNDS, K.HOLD_CAPACITY,
                                    K.DA_TRADE, K.RELEASE_HOLDS, K.FORGET_DONE]))
        if kind == K.LIST_INSTRUMENT:
            if listed < len(SLOTS):
                parts += [listing[listed:], funding(len(SLOTS), ACCOUNTS)[ACCOUNTS // 2:]]
                listed = len(SLOTS)
            continue
        c = commands(1)
        c["kind"] = kind
        c["account"] = account = draw(st.integers(0, ACCOUNTS - 1))
        c["instrument"] = draw(st.integers(0, len(SLOTS) - 1))
        if kind in (K.NEW_ORDER, K.REPLACE, K.DA_TRADE):
            c["price"] = CLS.reference_fen + draw(st.integers(-3, 3)) * CLS.tick_fen
            c["qty"] = draw(st.integers(1, 12))
        if kind == K.NEW_ORDER:
            c["side"] = Side.SELL if account < ACCOUNTS // 2 else Side.BUY
            c["order_type"] = OrderType.LIMIT
            c["tif"] = draw(st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD]))
            c["expire_ts"] = START_NS + draw(st.integers(1, 3600)) * 10**9 if c["tif"] == TimeInForce.GTD else 0
            c["stp"] = 1
            c["clord"] = len(clords) + 1
            clords.append((account, len(clords) + 1))
        elif kind in (K.CANCEL, K.REPLACE) and clords:
            c["account"], c["orig_clord"] = clords[draw(st.integers(0, len(clords) - 1))]
            if kind == K.REPLACE:
                c["clord"] = len(clords) + 1
                clords.append((int(c["account"][0]), len(clords) + 1))
        elif kind == K.MASS_CANCEL:
            c["account"], c["instrument"] = draw(st.sampled_from([(account, -1), (-1, int(c["instrument"][0]))]))
        elif kind in (K.HOLD_FUNDS, K.HOLD_CAPACITY):
            c["amount"], c["qty"] = draw(st.integers(1, 10**6)), draw(st.integers(1, 30))
        elif kind == K.DA_TRADE:
            c["account"] = draw(st.integers(ACCOUNTS // 2, ACCOUNTS - 1))
            c["contra_account"] = draw(st.integers(0, ACCOUNTS // 2 - 1))
        elif kind == K.RELEASE_HOLDS:
            c["account"] = draw(st.sampled_from([-1, account]))
        elif kind == K.TIMER:
            c["account"] = c["instrument"] = 0
        elif kind == K.FORGET_DONE:  # the ledger drops the orders done up to amount, wherever the batch cuts
            c["account"] = c["instrument"] = 0
            c["amount"] = draw(st.integers(0, sum(len(p) for p in parts)))
        parts.append(c)
    stream = concat_records(parts)
    stream["seq"] = np.arange(1, len(stream) + 1)
    steps = np.array(draw(st.lists(st.integers(0, 600), min_size=len(stream), max_size=len(stream))), np.int64)
    stream["ts"] = START_NS + np.cumsum(steps * 10**7)  # up to 6 s a command: gates close on the way
    sizes = []
    while sum(sizes) < len(stream):
        sizes.append(min(draw(st.sampled_from([1, 1, 2, 3, 4, 50])), len(stream) - sum(sizes)))
    return stream, sizes


class Run:
    """A MarketState with its sinks and a listener recording what they were given."""

    def __init__(self, held: np.ndarray | None = None) -> None:
        self.state = MarketState(CATALOG)
        self.trades: list[np.ndarray] = []
        self.executions: list[np.ndarray] = []
        self.events: list[np.ndarray] = []
        self.state.trade_sink = self.trades.append
        self.state.exec_sink = self.executions.append
        self.state.exec_held = held
        self.state.listeners.append(lambda batch, events: self.events.append(events.copy()))

    @staticmethod
    def joined(parts: list[np.ndarray]) -> bytes:
        return concat_records(parts).tobytes() if parts else b""


@settings(max_examples=60)
@given(journals(), st.lists(st.integers(1, 80), min_size=1, max_size=6), st.floats(0, 1),
       st.sampled_from([1, 3, 17, REPLAY_PIECE]), st.sampled_from([1, 2, REPLAY_AHEAD]))
def test_a_replay_in_large_batches_equals_the_groups_applied_one_by_one(journal, cuts, held_share, piece, ahead):
    stream, sizes = journal
    live = Run()
    at = 0
    for size in sizes:
        live.state.apply(stream[at:at + size])
        at += size

    batches, group, at, i = [], 0, 0, 0
    while group < len(sizes):  # whole groups joined into batches of any length, as a journal read does ...
        counts = np.array(sizes[group:group + cuts[i % len(cuts)]])
        chunk = stream[at:at + int(counts.sum())]
        batches += _cut_around_groups(chunk, counts, WHOLE_GROUP_KINDS)  # ... a whole-group kind's group alone
        group, at, i = group + len(counts), at + len(chunk), i + 1
    held_at = int(held_share * len(stream))  # a recovery whose log holds the records of the first commands
    before = Run()
    before.state.apply(stream[:held_at])
    replayed = Run(held=before.state.exec_counts.copy())
    assert replayed.state.replay(iter(batches), piece, ahead) == len(stream)

    expected, got = live.state.snapshot(), replayed.state.snapshot()
    assert expected.meta == got.meta
    assert expected.arrays.keys() == got.arrays.keys()
    for name, array in expected.arrays.items():
        assert array.shape == got.arrays[name].shape and np.array_equal(array, got.arrays[name]), name
    assert Run.joined(live.events) == Run.joined(replayed.events)
    assert Run.joined(live.trades) == Run.joined(replayed.trades)
    records = concat_records(live.executions) if live.executions else np.zeros(0, EXEC_DTYPE)
    fresh = records[records["exec_seq"] > before.state.exec_counts[records["exec_account"]]]
    assert fresh.tobytes() == Run.joined(replayed.executions)


def _written(path, groups: int = 60, size: int = 50) -> list[np.ndarray]:
    """A journal of listings, funding and an order flow in groups of ``size`` across
    segments of 16 KiB; the groups."""
    flow = order_flow(CATALOG, groups * size, len(SLOTS), ACCOUNTS, seed=7)
    stream = concat_records([_listing_commands(MarketState(CATALOG), SLOTS), funding(len(SLOTS), ACCOUNTS), flow])
    stream["seq"] = np.arange(1, len(stream) + 1)
    stream["ts"] = START_NS + stream["seq"] * 10**6
    journal = FileJournal(path, segment_bytes=16384)
    groups_written = [stream[at:at + size] for at in range(0, len(stream), size)]
    for group in groups_written:
        journal.append(group)
    journal.sync()
    journal.close()
    return groups_written


def _same_state(state: MarketState, expected: MarketState) -> None:
    want, got = expected.snapshot(), state.snapshot()
    assert want.meta == got.meta
    for name, array in want.arrays.items():
        assert np.array_equal(array, got.arrays[name]), name


def test_a_replay_of_a_journal_with_a_torn_tail_equals_its_whole_groups_applied(tmp_path):
    groups = _written(tmp_path / "j")
    segment = FileJournal(tmp_path / "j", read_only=True).segments()[-1]
    segment.write_bytes(segment.read_bytes()[:-9])  # the last group torn
    journal = FileJournal(tmp_path / "j")
    assert journal.torn_tail is not None and journal.torn_tail.segment == segment.name
    replayed = MarketState(CATALOG)
    assert replayed.replay(read_ahead(journal.read(0, WHOLE_GROUP_KINDS)), 64, 2) == journal.last_seq
    expected = MarketState(CATALOG)
    for group in groups[:-1]:
        expected.apply(group)
    assert expected.last_seq == journal.last_seq
    _same_state(replayed, expected)


def test_damage_met_mid_replay_is_named_after_everything_before_it_is_applied(tmp_path):
    _written(tmp_path / "j")
    journal = FileJournal(tmp_path / "j", read_only=True)
    damaged = journal.segments()[2]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    before = []  # what a plain read gives before the damage
    with pytest.raises(JournalCorruptError):
        for batch in journal.read(0, WHOLE_GROUP_KINDS):
            before.append(batch.copy())
    expected = MarketState(CATALOG)
    for batch in before:
        expected.apply(batch)
    replayed = MarketState(CATALOG)
    with pytest.raises(JournalCorruptError, match=damaged.name):
        replayed.replay(read_ahead(journal.read(0, WHOLE_GROUP_KINDS)), 64, 2)
    assert expected.last_seq > 0
    _same_state(replayed, expected)
    assert not [t for t in threading.enumerate() if t.name.startswith(("gpux-replay", "gpux-read-ahead"))]


def test_an_error_following_the_events_stops_the_engine_thread(tmp_path):
    _written(tmp_path / "j")
    journal = FileJournal(tmp_path / "j", read_only=True)
    replayed = MarketState(CATALOG)
    followed = []

    def fail_at_the_third(batch, events):
        followed.append(len(batch))
        if len(followed) == 3:
            raise RuntimeError("listener failed")

    replayed.listeners.append(fail_at_the_third)
    with pytest.raises(RuntimeError, match="listener failed"):
        replayed.replay(read_ahead(journal.read(0, WHOLE_GROUP_KINDS)), 64, 2)
    assert len(followed) == 3 and replayed.last_seq == sum(followed)
    assert not [t for t in threading.enumerate() if t.name.startswith(("gpux-replay", "gpux-read-ahead"))]
