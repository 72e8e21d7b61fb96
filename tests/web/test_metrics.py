"""Operator metrics: a real gateway with --http-address; scrape /metrics, trade over
gRPC, scrape again: the counters moved. And JSON logs."""

from __future__ import annotations

import json
import logging
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange.client import GpuxClient
from exchange.sequencer import SyncPolicy
from exchange.web.logs import configure_logging
from tests.gateway_harness import SYMBOL, RunningServer


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = RunningServer(tmp_path_factory.mktemp("metrics"), http_address="127.0.0.1:0",
                           sync=SyncPolicy.GROUP, rate=20.0, burst=40)
    yield server
    server.stop()


def test_metrics_move_when_the_market_trades(served):
    port = served.server.http_port
    before = scrape(port)
    assert before[("gpux_trades_total", ())] == 0 and before[("process_resident_memory_bytes", ())] > 0
    admin = GpuxClient(served.address, served.admin_token)
    provider = GpuxClient(served.address, admin.create_account("p", "PROVIDER").token)
    buyer = GpuxClient(served.address, admin.create_account("b", "BUYER").token)
    provider.deposit_capacity(SYMBOL, 16)
    provider.place_order(SYMBOL, "SELL", 8, price_fen=1800, client_order_id=1)
    buyer.deposit_funds(50_000)
    buyer.place_order(SYMBOL, "BUY", 5, price_fen=1800, client_order_id=1)  # trades 5 x 1800
    with pytest.raises(grpc.RpcError):  # 10 x 5000 > the 41,000 left: INSUFFICIENT_FUNDS
        buyer.place_order(SYMBOL, "BUY", 10, price_fen=5000, client_order_id=2)
    book = provider.stream_book(SYMBOL, timeout=30)
    next(book)  # the stream is open once its first answer came
    served.server.node.snapshot()
    refused = 0
    for _ in range(60):  # past the burst of 40: refused
        try:
            buyer.balance()
        except grpc.RpcError as error:
            refused += error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    after = scrape(port)
    moved = {key: after[key] - before.get(key, 0) for key in after}
    assert moved[("gpux_commands_total", (("kind", "new_order"),))] == 3
    assert moved[("gpux_commands_total", (("kind", "deposit_funds"),))] == 1
    assert moved[("gpux_rejections_total", (("reason", "insufficient_funds"),))] == 1
    assert moved[("gpux_trades_total", ())] == 1 and moved[("gpux_traded_gpu_hours_total", ())] == 5
    assert moved[("gpux_traded_notional_fen_total", ())] == 5 * 1800
    assert moved[("gpux_group_commands_count", ())] >= 5 and moved[("gpux_group_commands_sum", ())] >= 5
    assert moved[("gpux_submit_ack_seconds_count", ())] >= 5  # each handler's command batch
    assert moved[("gpux_journal_fsync_seconds_count", ())] >= 5  # SyncPolicy.GROUP: one per group
    assert after[("gpux_journal_fsync_seconds_bucket", (("le", "+Inf"),))] == after[
        ("gpux_journal_fsync_seconds_count", ())]
    assert moved[("gpux_snapshot_seconds_count", ())] == 1 and after[("gpux_snapshot_bytes", ())] > 0
    assert moved[("gpux_journal_bytes", ())] > 0
    assert after[("gpux_grpc_open_streams", (("method", "StreamBook"),))] == 1
    assert refused > 0 and moved[("gpux_rate_limited_total", ())] == refused
    assert after[("gpux_last_seq", ())] > before[("gpux_last_seq", ())]
    assert after[("gpux_listed_instruments", ())] > 1000
    book.cancel()
    for client in (admin, provider, buyer):
        client.close()


def test_json_logs_are_one_object_per_line(capsys):
    configure_logging("json")
    try:
        logging.getLogger("gpux.test").info("listed %d slots", 63, extra={"slots": 63})
    finally:
        configure_logging("text")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "listed 63 slots" and line["slots"] == 63 and line["level"] == "INFO"
    assert line["logger"] == "gpux.test" and line["timestamp"].endswith("+00:00")
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("xml")
