"""Differential property tests: the numba engine against the plain-Python reference.

Both engines get the same random command batches (:mod:`tests.engine.generator`) and must
agree in every check of :class:`tests.engine.differential.Duo`: byte-identical event
arrays; events well formed (:func:`tests.wellformed.check_wellformed`) and consistent with
each other (:class:`tests.helpers.Ledger`: order ids and trade ids without gaps,
leaves/filled arithmetic); both engines' ``check()``; every view (books, accounts,
positions, live orders).

* :class:`DifferentialMachine` -- a hypothesis state machine sending batches of 1-8
  commands of every kind, valid and invalid.
* :func:`test_long_stream` -- 20k seeded random commands in batches of 500, with the numba
  engine started on a tiny pool so it has to grow (orders, levels, positions, instruments,
  hash tables) many times.
* The ``nojit`` variants are small versions of both for ``NUMBA_DISABLE_JIT=1`` runs.

On a disagreement the failure message shows the command, both engines' events for it and
a field-by-field diff of the first differing event; the state machine also prints every
command sent so far (after shrinking: the minimal failing sequence).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from exchange.schema import (
    EventKind,
    Reason,
)
from tests.engine.differential import Duo, fmt_commands, numba_engine_cls
from tests.engine.generator import ADMIN, MIXED, ORDERS, STREAM, HypGen, RngGen, World, generate, setup_commands

# ---------------------------------------------------------------------------- state machine

class Batch:
    """A drawn batch (repr: the commands, one a line) and the generator's world after it."""

    def __init__(self, cmds: np.ndarray, world: World) -> None:
        self.cmds = cmds
        self.world = world

    def __repr__(self) -> str:
        return "Batch(\n" + fmt_commands(self.cmds) + "\n)"


@st.composite
def batches(draw: Callable[[Any], Any], world: World, mix: Sequence[tuple[int, int]]) -> Batch:
    w = copy.deepcopy(world)
    g = HypGen(draw)
    return Batch(generate(g, w, g.int(1, 8), mix), w)


class DifferentialMachine(RuleBasedStateMachine):
    max_instruments = 8

    def __init__(self) -> None:
        super().__init__()
        self.duo = Duo(initial_orders=16)
        self.world = World.new(self.duo.ref, self.max_instruments)

    @initialize()
    def fund_accounts(self) -> None:
        self.duo.run(setup_commands(self.world))
        self.world.sync(self.duo.ref)

    def _send(self, data: st.DataObject, mix: Sequence[tuple[int, int]]) -> None:
        b = data.draw(batches(self.world, mix))
        self.world = b.world
        self.duo.run(b.cmds)
        self.world.sync(self.duo.ref)

    @rule(data=st.data())
    def orders(self, data: st.DataObject) -> None:
        self._send(data, ORDERS)

    @rule(data=st.data())
    def mixed(self, data: st.DataObject) -> None:
        self._send(data, MIXED)

    @rule(data=st.data())
    def admin(self, data: st.DataObject) -> None:
        self._send(data, ADMIN)


_MACHINE_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_state_machine() -> None:
    numba_engine_cls()
    run_state_machine_as_test(DifferentialMachine, settings=settings(
        max_examples=100, stateful_step_count=50, **_MACHINE_SETTINGS))


@pytest.mark.nojit
def test_state_machine_small() -> None:
    numba_engine_cls()
    run_state_machine_as_test(DifferentialMachine, settings=settings(
        max_examples=20, stateful_step_count=30, **_MACHINE_SETTINGS))


# ---------------------------------------------------------------------------- long stream

def run_stream(seed: int, n_commands: int, batch_size: int, max_instruments: int) -> Duo:
    duo = Duo(initial_orders=16, show_history=False)
    world = World.new(duo.ref, max_instruments, gate_jumps=0)
    duo.run(setup_commands(world))
    world.sync(duo.ref)
    g = RngGen(np.random.default_rng(seed))
    for _ in range(n_commands // batch_size):
        duo.run(generate(g, world, batch_size, STREAM))
        world.sync(duo.ref)
    return duo


def _assert_busy(duo: Duo, min_trades: int) -> None:
    """The stream exercised the engine: trades (some in uncrosses, some day-ahead), rests
    and pool growth happened."""
    trades = duo.counts.get((int(EventKind.TRADE), 0), 0)
    assert trades >= min_trades, f"only {trades} trades"
    auction = duo.counts.get((int(EventKind.TRADE), int(Reason.AUCTION)), 0)
    assert auction >= min_trades // 25, f"only {auction} trades in uncrosses"
    day_ahead = duo.counts.get((int(EventKind.TRADE), int(Reason.DAY_AHEAD)), 0)
    assert day_ahead >= min_trades // 100, f"only {day_ahead} day-ahead trades"
    assert duo.ledger.last_order_id > 16, "the order pool never had to grow"


def test_long_stream() -> None:
    duo = run_stream(seed=20261124, n_commands=20_000, batch_size=500, max_instruments=100)
    _assert_busy(duo, 1000)


@pytest.mark.nojit
def test_long_stream_small() -> None:
    duo = run_stream(seed=7, n_commands=5_000, batch_size=250, max_instruments=8)
    _assert_busy(duo, 200)
