"""The day-ahead tests' node: a fresh data dir on a fixed clock, tomorrow's slots listed."""

from __future__ import annotations

import datetime as dt

import pytest

from exchange.sequencer import ExchangeNode

NOW = int(dt.datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9


@pytest.fixture
def node(tmp_path):
    n = ExchangeNode.open(tmp_path / "data", clock=lambda: NOW)
    n.list_due(NOW)
    yield n
    n.close()
