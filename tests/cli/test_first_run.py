"""The first run on a fresh clone: an empty numba cache must neither fail nor time out."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from exchange.cli import app
from exchange.cli.warm import NOTICE, kernels


@pytest.mark.slow
def test_gpux_demo_with_an_empty_kernel_cache_compiles_once_and_the_server_only_loads(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "GPUX_DATA_DIR": str(tmp_path / "data")}
    env.pop("NUMBA_DISABLE_JIT", None)
    run = subprocess.run([sys.executable, "-m", "exchange.cli", "demo"], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert NOTICE in run.stdout
    compiled = re.search(r"^\d+ numba kernels ready in \S+ s \((\d+) compiled, 0 loaded from the cache\)$",
                         run.stdout, re.M)
    assert compiled and int(compiled.group(1)) >= len(kernels()), run.stdout[:2000]
    # everything the server ran during the demo was compiled by the warm-up before it
    assert re.search(r"^gpux serve: \d+ numba kernels ready in \S+ s \(0 compiled, \d+ loaded", run.stdout, re.M)
    assert "AUDIT PASSED" in run.stdout


def test_gpux_warm_reports_every_kernel_of_the_package():
    result = CliRunner().invoke(app, ["warm"])
    assert result.exit_code == 0, result.output
    assert f"{len(kernels())} numba kernels ready in" in result.output
    assert len(kernels()) > 50  # the engine's, the auction's, the sequencer's and the gateway's


def test_the_kernel_digest_follows_modules_that_import_numba_and_the_schema(tmp_path):
    import exchange

    sources = {"engine/kernels.py": "import numba\n", "engine/later.py": "def f():\n    from numba import njit\n",
               "schema/codes.py": "A = 1\n", "gateway/server.py": '"""Calls the numba kernels."""\n'}
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    digests = {exchange._kernel_sources_digest(tmp_path)}
    for name, text in sources.items():
        (tmp_path / name).write_text(text + "B = 2\n")
        digests.add(exchange._kernel_sources_digest(tmp_path))
    assert len(digests) == 4  # each of the three changed it; the server, naming numba only, did not


def test_kernels_are_cached_per_version_of_their_sources(monkeypatch, tmp_path):
    import numba

    import exchange
    from exchange.cli.warm import prune_stale_caches

    if os.environ["NUMBA_CACHE_DIR"].startswith(str(exchange.KERNEL_CACHE_ROOT)):  # not chosen by the caller
        assert os.environ["NUMBA_CACHE_DIR"] == str(exchange.KERNEL_CACHE_ROOT / exchange._kernel_sources_digest())
    assert numba.config.CACHE_DIR == os.environ["NUMBA_CACHE_DIR"]
    monkeypatch.setattr(exchange, "KERNEL_CACHE_ROOT", tmp_path)
    for name in ("old", "older", "now"):
        (tmp_path / name).mkdir()
    assert sorted(p.name for p in prune_stale_caches(tmp_path / "now")) == ["old", "older"]
    assert [p.name for p in tmp_path.iterdir()] == ["now"]
    assert prune_stale_caches(tmp_path.parent / "elsewhere") == []  # a cache the user chose


def test_after_warm_a_nodes_trades_executions_and_position_reads_load_no_kernel_nor_module(tmp_path):
    """What a node does once it serves (orders that trade, their execution records
    appended and read back, their trade-log rows written, a position read) loads no
    kernel signature that warm() did not and imports no module: gpux serve freezes its
    heap after warming, and what is loaded later (numba's objects for a kernel, the
    ~5,300 of pyarrow.compute) takes part in every full collection of the server's life."""
    from exchange.cli.warm import warm
    from exchange.schema import EventKind
    from exchange.sequencer import ExchangeNode, SyncPolicy
    from tests.sequencer.test_sequencer import clock, flow, start_market

    warm()
    node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.OS)
    try:
        start_market(node)
        loaded = {name: set(d.signatures) for name, d in kernels(every_module=False).items()}
        modules = set(sys.modules)
        events = node.execute(flow(500, seed=3))
        assert (events["kind"] == EventKind.TRADE).any()
        assert node.executions is not None
        node.executions.read(np.arange(node.executions.n))
        node.read(lambda state: state.engine.position(1, 0))
        node.trades.drain()
        assert {name: set(d.signatures) for name, d in kernels(every_module=False).items()} == loaded
        assert set(sys.modules) == modules
    finally:
        node.close()
