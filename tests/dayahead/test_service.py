"""Cross-period blocks through the gateway (a real server on 127.0.0.1): a night job
submitted as a window of start hours, refused starts named by field, and the accepted
start in each order's outcome."""

from __future__ import annotations

import grpc
import pytest

from exchange.client import GpuxClient, error_info, parse_window, window_alternatives
from tests.gateway_harness import RunningServer

DAY = "2026-11-26"
ASKS = {0: 1500, 1: 1400, 2: 1300, 3: 1300, 4: 1300, 5: 1300, 6: 1400, 7: 1500}
"""The provider's day-ahead ask per night hour of DAY (jiaxing): 2..5 are the cheapest."""


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    server = RunningServer(tmp_path_factory.mktemp("xperiod"))
    admin = GpuxClient(server.address, server.admin_token)
    provider = GpuxClient(server.address, admin.create_account("night-dc", "PROVIDER").token)
    buyer = GpuxClient(server.address, admin.create_account("trainer", "BUYER").token)
    buyer.deposit_funds(5_000_000)
    yield admin, provider, buyer
    for client in (admin, provider, buyer):
        client.close()
    server.stop()


def _refusal(client: GpuxClient, *args, **kwargs) -> tuple[grpc.StatusCode, str, str]:
    """Status, ErrorInfo field and message of a refused day-ahead submission."""
    with pytest.raises(grpc.RpcError) as error:
        client.submit_day_ahead(*args, **kwargs)
    info = error_info(error.value)
    assert info is not None and info.reason == "REASON_BAD_FIELD"
    return error.value.code(), info.metadata["field"], error.value.details()


def test_bad_starts_are_invalid_argument_naming_the_field(market):
    _, _, buyer = market
    jx = ("H100-80G", "jiaxing", 1600)
    for alternatives, hours, field, says in (
            ([(*jx, 0), (*jx, 21)], 4, "order.alternatives[1].start_hour", "cannot cross midnight"),
            ([(*jx, 2), (*jx, 2)], 4, "order.alternatives[1]", "must differ in product or start hour"),
            ([jx], 4, "order.start_hour", "cannot cross midnight"),  # the order's own start, 22
            ([(*jx, 3)], 0, "order.alternatives[0].start_hour", "hourly order must be its start_hour")):
        code, named, message = _refusal(buyer, DAY, "BUY", 22, 8, alternatives, hours=hours, client_order_id=99)
        assert (code, named) == (grpc.StatusCode.INVALID_ARGUMENT, field) and says in message, message
    assert buyer.day_ahead_orders(DAY).orders == []  # nothing was written


def test_a_night_job_submitted_as_a_window_runs_in_the_cheapest_hours(market):
    admin, provider, buyer = market
    for hour, price in ASKS.items():
        provider.deposit_capacity(f"H100-80G.jiaxing.20261126T{hour:02d}", 8)
        provider.submit_day_ahead(DAY, "SELL", hour, 8, [("H100-80G", "jiaxing", price)], client_order_id=hour + 1)
    alternatives = window_alternatives([("H100-80G", "jiaxing", 1600), ("H100-80G", "ningbo", 1700)],
                                       parse_window("20-08"), 4)
    job = buyer.submit_day_ahead(DAY, "BUY", alternatives[0][3], 8, alternatives, hours=4, client_order_id=1)
    assert [(a.region, a.start_hour) for a in job.alternatives] == [
        (region, start) for region in ("jiaxing", "ningbo") for start in (0, 1, 2, 3, 4, 20)]
    assert not job.HasField("accepted_start_hour")
    late = buyer.submit_day_ahead(DAY, "BUY", 20, 8, [("H100-80G", "jiaxing", 1600)], hours=4, client_order_id=2)
    result = admin.run_day_ahead(DAY, time_limit_seconds=30)
    traded = sorted(p.symbol for p in result.prices if p.volume)
    assert traded == [f"H100-80G.jiaxing.20261126T{h:02d}" for h in range(2, 6)] and result.trades == 4
    mine = {o.ref: o for o in buyer.day_ahead_orders(DAY).orders}
    won, lost = mine[job.ref], mine[late.ref]
    assert (won.filled_qty, won.accepted_start_hour, won.reason) == (8, 2, "")
    assert won.alternatives[won.accepted_alternative].start_hour == 2
    assert (lost.filled_qty, lost.accepted_alternative, lost.HasField("accepted_start_hour")) == (0, -1, False)
    assert lost.reason == "NO_COUNTERPARTY"  # nobody offers at 20:00
    asks = {o.start_hour: o for o in provider.day_ahead_orders(DAY).orders}
    assert all(asks[h].accepted_start_hour == h and asks[h].filled_qty == 8 for h in range(2, 6))
    assert not asks[0].HasField("accepted_start_hour")
    assert [p.bought for p in buyer.positions("H100-80G.jiaxing.20261126T02")] == [8]
    assert buyer.balance().held_fen == 0
