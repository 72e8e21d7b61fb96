"""kill -9 a real ``gpux serve`` while traders follow their own execution streams: after
the restart each stream resumes by itself, and every fill the journal holds reaches each
side exactly once, numbered 1, 2, 3, ... with no gap."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from exchange.client import GpuxClient
from exchange.proto.gpux.v1 import types_pb2
from exchange.tradelog import read_all
from tests.gateway_harness import free_port, serve_process

pytestmark = pytest.mark.slow  # kills a real gpux serve process


class Follower:
    """A thread that follows an account's executions with ``stream_executions``."""

    def __init__(self, address: str, token: str) -> None:
        self.client = GpuxClient(address, token)
        self.events: list = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for event in self.client.stream_executions(0, give_up_after=180):
                self.events.append(event)
        except (grpc.RpcError, ValueError):  # the channel closed at the end of the test
            pass

    def wait_for(self, exec_seq: int) -> None:
        deadline = time.monotonic() + 60
        while not self.events or self.events[-1].exec_seq < exec_seq:
            assert time.monotonic() < deadline, f"stream stopped at {len(self.events)} of {exec_seq}"
            time.sleep(0.05)


def _trade(client: GpuxClient, symbol: str, side: str, qty: int, price: int, clord: int, tif: str) -> None:
    """Place an order, riding out the server's absence (same client order id: at most once)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            client.place_order(symbol, side, qty, price_fen=price, client_order_id=clord, time_in_force=tif)
            return
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            assert time.monotonic() < deadline, "the server did not come back"
            time.sleep(0.2)


def test_execution_streams_survive_kill_9_gap_free_and_exactly_once(tmp_path):
    port = free_port()
    address = f"127.0.0.1:{port}"
    proc = serve_process(tmp_path, port)
    try:
        admin = GpuxClient(address, (tmp_path / "admin.token").read_text().strip())
        accounts = {role: admin.create_account(f"{role.lower()}-k9", role) for role in ("PROVIDER", "BUYER")}
        tomorrow = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y%m%d")
        symbol = f"H100-80G.jiaxing.{tomorrow}T14"
        provider = GpuxClient(address, accounts["PROVIDER"].token)
        buyer = GpuxClient(address, accounts["BUYER"].token)
        provider.deposit_capacity(symbol, 10_000)
        buyer.deposit_funds(10**10)
        followers = {role: Follower(address, accounts[role].token) for role in accounts}
        done, taken = threading.Event(), []

        def take() -> None:  # the buyer lifts the asks
            for i in range(1, 201):
                _trade(buyer, symbol, "BUY", 1 + i % 3, 1800, 10_000 + i, "IOC")
                taken.append(i)
            done.set()
        for i in range(1, 101):
            _trade(provider, symbol, "SELL", 3, 1800, i, "GTC")
        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        while len(taken) < 20:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # in the middle of the buying
        assert not done.is_set()
        proc.wait(30)
        proc = serve_process(tmp_path, port)
        for i in range(101, 141):
            _trade(provider, symbol, "SELL", 3, 1800, i, "GTC")
        assert done.wait(180)
        final = {role: len(GpuxClient(address, accounts[role].token).executions()) for role in accounts}
        for role, follower in followers.items():
            follower.wait_for(final[role])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        for follower in followers.values():
            follower.client.close()
        for c in (admin, provider, buyer):
            c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    trades = read_all(tmp_path / "trades").select(["trade_id", "buyer_account", "seller_account"]).to_pylist()
    assert trades, "nothing traded"
    for role, follower in followers.items():
        events = follower.events
        assert [e.exec_seq for e in events] == list(range(1, len(events) + 1)), role  # dense, no repeat
        assert len({e.exec_id for e in events}) == len(events)
        fills = [e.report.trade_id for e in events if e.report.exec_type == types_pb2.EXEC_TYPE_TRADE]
        party = "seller_account" if role == "PROVIDER" else "buyer_account"
        logged = [t["trade_id"] for t in trades if t[party] == accounts[role].account]
        assert sorted(fills) == sorted(logged) and len(set(fills)) == len(fills), role
    assert os.path.exists(tmp_path / "executions" / "executions.log")
