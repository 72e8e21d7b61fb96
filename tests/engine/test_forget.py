"""FORGET_DONE with history marks (rule O9) changes nothing a client sees: an engine
that forgets retired client order ids, its commands marked from a model of the order
history, emits the events of an engine that never forgets (less the FORGET_DONE ACKs),
over a long random stream of orders that reuse old ids. Both engines. The numba
engine's retired queue (what FORGET_DONE deletes, oldest first) against a dict, and
across an export and restore of its arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings, strategies as st

from exchange.engine.commands import forget_retired
from exchange.engine.hashtable import hash_put, new_table
from exchange.engine.layout import (
    CT_CLORD_N,
    DONE,
    RQ_HEAD,
    RQ_TAIL,
    done_mark,
    grow,
    has_room,
    new_state,
    retire_clord,
)
from exchange.engine.numba_engine import Engine
from exchange.schema import HISTORY_MARKS, CommandKind as K, EventKind as EV, OrderFlag, command
from tests.engine.generator import RngGen, World, generate, setup_commands
from tests.helpers import make_engine

ORDERS = [(10, K.NEW_ORDER), (3, K.CANCEL), (3, K.REPLACE), (1, K.TIMER)]


class OrderHistory:
    """What the sequencer's order history does, in miniature: ids retired by the events,
    and those up to a seq moved into the history before FORGET_DONE is sent."""

    def __init__(self) -> None:
        self.retired: list[tuple[int, tuple[int, int]]] = []  # (seq, (account, clord))
        self.held: set[tuple[int, int]] = set()

    def follow(self, events: np.ndarray) -> None:
        for e in events[(events["kind"] == EV.DONE) | (events["kind"] == EV.REPLACED)]:
            clord = e["clord"] if e["kind"] == EV.DONE else e["contra_clord"]
            self.retired.append((int(e["seq"]), (int(e["account"]), int(clord))))

    def flush(self, through: int) -> None:
        self.held.update(key for seq, key in self.retired if seq <= through)
        self.retired = [(seq, key) for seq, key in self.retired if seq > through]

    def mark(self, cmds: np.ndarray) -> np.ndarray:
        marked = cmds.copy()
        for row in marked:
            kind, key, orig = row["kind"], (int(row["account"]), int(row["clord"])), (
                int(row["account"]), int(row["orig_clord"]))
            if kind in (K.NEW_ORDER, K.REPLACE) and key in self.held:
                row["flags"] |= OrderFlag.CLORD_IN_HISTORY
            if kind in (K.CANCEL, K.REPLACE) and orig in self.held:
                row["flags"] |= OrderFlag.ORIG_IN_HISTORY
        return marked


def test_forgetting_engine_emits_what_a_remembering_one_does(engine_cls: Any) -> None:
    forgetful, remembering = make_engine(engine_cls), make_engine(engine_cls)
    world = World.new(remembering, 8, gate_jumps=0)
    setup = setup_commands(world)
    forgetful.process(setup), remembering.process(setup)
    history, g, forgotten = OrderHistory(), RngGen(np.random.default_rng(14)), 0
    for step in range(120):
        world.sync(remembering)
        cmds = generate(g, world, 40, ORDERS)
        cmds["flags"] &= ~HISTORY_MARKS  # the generator's random marks: the history sets them here
        expected = remembering.process(cmds)
        got = forgetful.process(history.mark(cmds))
        assert got.tolist() == expected.tolist(), f"step {step}"
        history.follow(got)
        if step % 5 == 4:
            last = world.seq
            history.flush(last)
            world.seq += 1
            ack = forgetful.process(command(K.FORGET_DONE, seq=world.seq, ts=world.ts, amount=last))
            assert ack["kind"].tolist() == [EV.ACK]
            forgotten += int(ack["qty"][0])
    assert forgotten > 500  # old ids were forgotten, and (by the generator) reused
    assert history.held


def test_forgetting_keeps_only_live_client_order_ids() -> None:
    engine = make_engine(Engine)
    world = World.new(engine, 8, gate_jumps=0)
    engine.process(setup_commands(world))
    g = RngGen(np.random.default_rng(5))
    for _ in range(50):
        world.sync(engine)
        cmds = generate(g, world, 40, ORDERS)
        cmds["flags"] &= ~HISTORY_MARKS
        engine.process(cmds)
    world.seq += 1
    engine.process(command(K.FORGET_DONE, seq=world.seq, ts=world.ts, amount=world.seq - 1))
    engine.check()
    assert int(engine._st.counters[CT_CLORD_N]) == len(engine.live_orders())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("place"), st.integers(0, 60)),     # a new client order id (key) names a live order
    st.tuples(st.just("retire"), st.integers(0, 60)),    # a live one stops naming it, at the next seq
    st.tuples(st.just("forget"), st.integers(0, 12)),    # FORGET_DONE through this many seqs back
), max_size=200))
def test_forget_retired_deletes_what_a_scan_of_the_table_would(ops: list[tuple[str, int]]) -> None:
    """The retired queue against a dict: FORGET_DONE deletes exactly the keys retired at
    a seq up to its amount (what a scan of every value did) and leaves the rows of a
    table that never held them; the queue keeps the others in seq order."""
    state = new_state(32, 4)  # a 64-row index, at most 32 keys below (it is not counted: never grown)
    table, model, queued = state.clord_index, {}, []  # model: key -> value, in the order of first puts
    seq = 0
    for op, a in ops:
        seq += 1
        if op == "place" and a not in model and len(model) < 32:
            hash_put(table, a, seq)
            model[a] = seq
        elif op == "retire" and model.get(a, DONE) > DONE:
            if not has_room(state):  # the queue's keys moved to its front, or into a larger queue
                state = grow(state)
            retire_clord(state, a, seq)
            model[a] = done_mark(seq)
            queued.append(a)
        elif op == "forget":
            through = max(0, seq - a)
            gone = [key for key in queued if model[key] >= done_mark(through)]
            assert forget_retired(table, state.retired, done_mark(through)) == len(gone)
            queued = queued[len(gone):]
            for key in gone:
                del model[key]
        fresh = new_table(32)
        for key, value in model.items():
            hash_put(fresh, key, value)
        assert table.tolist() == fresh.tolist()
        q = state.retired
        assert q[q[RQ_HEAD]:q[RQ_TAIL]].tolist() == queued


def test_a_restored_engine_forgets_as_the_one_it_was_copied_from() -> None:
    """An engine restored from its exported arrays (the retired queue rebuilt from the
    index, so snapshots hold the same arrays as before the queue) goes on with the same
    events and arrays, its FORGET_DONEs included."""
    engine = make_engine(Engine)
    world = World.new(engine, 8, gate_jumps=0)
    engine.process(setup_commands(world))
    g, restored = RngGen(np.random.default_rng(7)), None
    for step in range(60):
        world.sync(engine)
        cmds = generate(g, world, 40, ORDERS)
        cmds["flags"] &= ~HISTORY_MARKS
        if step % 4 == 3:
            cmds = np.concatenate([cmds, command(K.FORGET_DONE, seq=world.seq + 1, ts=world.ts,
                                                 amount=world.seq - 30)])
            world.seq += 1
        if step == 20:
            restored = Engine.from_state(engine.config, engine.export_state())
        expected = engine.process(cmds)
        if restored is not None:
            assert restored.process(cmds).tolist() == expected.tolist(), f"step {step}"
            restored.check()
    assert restored is not None
    want, got = engine.export_state(), restored.export_state()
    assert want.keys() == got.keys() and "retired" not in got
    for name in want:
        assert np.array_equal(want[name], got[name]), name
