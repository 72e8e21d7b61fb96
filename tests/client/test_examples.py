"""The example clients (clients/) against a real gateway on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exchange.client import GpuxClient
from tests.gateway_harness import RunningServer, free_port, serve_process

pytestmark = pytest.mark.slow  # the example clients run as processes

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
NODE_READY = bool(shutil.which("node")) and (CLIENTS / "node" / "node_modules" / "@grpc" / "grpc-js").is_dir()
"""node is installed and ``npm ci --prefix clients/node`` has run (.ci/run does both)."""


@pytest.fixture(scope="module")
def live_market(tmp_path_factory):
    """A server on the real clock (the examples pick tomorrow's slots), a provider and a buyer."""
    server = RunningServer(tmp_path_factory.mktemp("examples"), clock=time.time_ns)
    with GpuxClient(server.address, server.admin_token) as admin:
        tokens = {role: admin.create_account(f"{role.lower()}-ex", role).token for role in ("PROVIDER", "BUYER")}
    tomorrow = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y%m%d")
    yield server, tokens, f"H100-80G.jiaxing.{tomorrow}T14"
    server.stop()


def test_the_provider_requotes_when_its_asks_fill(live_market):
    server, tokens, symbol = live_market
    provider = subprocess.Popen(
        [sys.executable, str(CLIENTS / "examples" / "provider.py"), "--address", server.address,
         "--token", tokens["PROVIDER"], "--regions", "jiaxing=1800", "--hours", "14", "--gpus", "6",
         "--levels", "2", "--follow", "--requotes", "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert provider.stdout.readline().startswith(f"{symbol}: 6 GPUs in the slot, asks 3@18.00  3@18.25")
        with GpuxClient(server.address, tokens["BUYER"]) as buyer:
            buyer.deposit_funds(1_000_000)
            buyer.place_order(symbol, "BUY", 3, price_fen=1800, client_order_id=1, time_in_force="IOC")
            assert provider.stdout.readline().strip() == f"{symbol}: 3 sold at 18.00, re-quoted 3 at 18.25"
            buyer.place_order(symbol, "BUY", 3, price_fen=1825, client_order_id=2, time_in_force="IOC")
            assert provider.stdout.readline().strip() == f"{symbol}: 3 sold at 18.25, re-quoted 3 at 18.50"
            assert provider.wait(60) == 0
            asks = [(level.price_fen, level.qty) for level in buyer.book(symbol).asks]
        assert asks == [(1825, 3), (1850, 3)]  # the two re-quotes rest in the book
    finally:
        provider.kill()
        provider.wait()


@pytest.mark.skipif(not NODE_READY and not os.environ.get("GPUX_REQUIRE_NODE"),
                    reason="needs node and clients/node/node_modules (npm ci --prefix clients/node)")
def test_the_node_client_places_orders_and_follows_its_executions(tmp_path):
    """clients/node/trader.js, built from protos/ alone, against a real gpux serve."""
    port = free_port()
    server = serve_process(tmp_path, port)
    address = f"127.0.0.1:{port}"
    trader = None
    try:
        with GpuxClient(address, (tmp_path / "admin.token").read_text().strip()) as admin:
            tokens = {role: admin.create_account(f"{role.lower()}-js", role).token for role in ("PROVIDER", "BUYER")}
        tomorrow = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y%m%d")
        symbol = f"H100-80G.jiaxing.{tomorrow}T14"
        trader = subprocess.Popen(
            ["node", str(CLIENTS / "node" / "trader.js"), "--address", address, "--token", tokens["PROVIDER"],
             "--symbol", symbol, "--side", "SELL", "--qty", "4", "--price", "1800", "--deposit", "8",
             "--client-order-id", "1", "--events", "3"], stdout=subprocess.PIPE, text=True)
        deposit, placed = (json.loads(trader.stdout.readline()) for _ in range(2))
        assert deposit["change"] == "ACCOUNT_CHANGE_KIND_DEPOSIT_CAPACITY" and deposit["qty"] == 8
        assert placed["exec_type"] == "EXEC_TYPE_NEW" and placed["client_order_id"] == 1
        with GpuxClient(address, tokens["BUYER"]) as buyer:
            buyer.deposit_funds(1_000_000)
            buyer.place_order(symbol, "BUY", 4, price_fen=1800, client_order_id=9, time_in_force="IOC")
        fill = json.loads(trader.stdout.readline())
        assert (fill["exec_type"], fill["side"], fill["last_qty"], fill["last_price_fen"], fill["leaves_qty"]) == (
            "EXEC_TYPE_TRADE", "SIDE_SELL", 4, 1800, 0)
        assert [deposit["exec_seq"], placed["exec_seq"], fill["exec_seq"]] == [1, 2, 3]
        assert trader.wait(30) == 0
    finally:
        if trader is not None and trader.poll() is None:
            trader.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
