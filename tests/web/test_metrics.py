"""Operator metrics: a real gateway with --http-address; scrape /metrics, trade over
gRPC, scrape again: the counters moved. The compiled count of each applied group
against a plain one. And JSON logs."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exchange.client import GpuxClient
from exchange.schema import EVENT_DTYPE, EventKind, commands
from exchange.sequencer import SyncPolicy
from exchange.web.logs import configure_logging
from exchange.web.metrics import GROUP_SIZES, ExchangeMetrics
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


_REJECTED, _TRADE = int(EventKind.REJECTED), int(EventKind.TRADE)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.lists(st.integers(-2, 70), max_size=12),                                    # command kinds
    st.lists(st.tuples(st.sampled_from([_REJECTED, _TRADE, int(EventKind.ACCEPTED)]),
                       st.integers(-3, 1100), st.integers(0, 10**6), st.integers(0, 10**4)), max_size=12),
), max_size=8))
def test_applied_groups_count_as_a_plain_fold_of_them(groups):
    """Commands by kind (those below 64), rejections by reason (inside the array or
    apart), trades, GPU-hours and notional, group sizes: what a loop over the groups in
    Python counts."""
    metrics, kinds, reasons, traded, sizes = ExchangeMetrics(Path("journal")), [0] * 64, {}, [0, 0, 0], []
    for command_kinds, events in groups:
        batch, out = commands(len(command_kinds)), np.zeros(len(events), EVENT_DTYPE)
        batch["kind"] = command_kinds
        for row, (kind, reason, price, qty) in zip(out, events):
            row["kind"], row["reason"], row["price"], row["qty"] = kind, reason, price, qty
            if kind == _REJECTED:
                reasons[reason] = reasons.get(reason, 0) + 1
            elif kind == _TRADE:
                traded = [traded[0] + 1, traded[1] + qty, traded[2] + price * qty]
        for kind in command_kinds:
            if 0 <= kind < 64:
                kinds[kind] += 1
        sizes.append(len(command_kinds))
        metrics.applied(batch, out)
    metrics.fold()
    assert metrics.commands.tolist() == kinds and metrics.rejections() == reasons
    assert metrics.traded.tolist() == traded
    assert metrics.group_size.counts.sum() == len(sizes)
    assert metrics.group_size.counts.tolist() == np.bincount(np.searchsorted(GROUP_SIZES, sizes),
                                                              minlength=len(GROUP_SIZES) + 1).tolist()
