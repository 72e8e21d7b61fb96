"""SIGKILL a real writer process at random points; recovery keeps every acknowledged order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from exchange.catalog import default_catalog
from exchange.cli.warm import warm
from exchange.journal import FileJournal
from exchange.sequencer import MarketState
from exchange.testing.drill import cut
from exchange.tradelog import read_all, trades_from_events, verify_all

pytestmark = pytest.mark.slow  # each cut starts a writer process and SIGKILLs it

CUTS = 30


def test_thirty_sigkills_lose_no_acknowledged_order(tmp_path):
    day = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0)
    rng = random.Random(20261125)
    warm(recovery=True)  # the writers load their kernels from the cache: one killed while
    # compiling one (after a kernel's source changed) would never retire, nor cache it
    results = [cut(tmp_path, run, day, rng) for run in range(1, CUTS + 1)]
    assert sum(r.acked_orders for r in results) > 0
    assert len({r.acked_batches for r in results}) > 5  # cuts landed at different points
    assert list((tmp_path / "history").glob("orders-*.arrow"))  # the writers retired done orders
    # after all cuts: the trade log is exactly the trades of a replay from zero
    state = MarketState(default_catalog())
    events = np.concatenate([state.apply(b) for b in FileJournal(tmp_path / "journal").read(0)])
    assert read_all(tmp_path / "trades").equals(trades_from_events(events, state.listing))
    verify_all(tmp_path / "trades")
