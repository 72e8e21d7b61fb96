"""The example clients (clients/) against a real gateway on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exchange.client import GpuxClient
from tests.gateway_harness import RunningServer

pytestmark = pytest.mark.slow  # the example clients run as processes

CLIENTS = Path(__file__).resolve().parents[2] / "clients"


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
