"""FORGET_DONE with history marks (rule O9) changes nothing a client sees: an engine
that forgets retired client order ids, its commands marked from a model of the order
history, emits the events of an engine that never forgets (less the FORGET_DONE ACKs),
over a long random stream of orders that reuse old ids. Both engines."""

from __future__ import annotations

from typing import Any

import numpy as np

from exchange.engine.layout import CT_CLORD_N
from exchange.engine.numba_engine import Engine
from exchange.schema import HISTORY_MARKS, CommandKind as K, EventKind as EV, OrderFlag, command
from tests.engine.test_property import RngGen, World, generate, setup_commands
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
