"""Exactly-once for a client order id older than the hot state, over a real ``gpux serve``
(issue 14): the order is placed and cancelled, retired to the order history, the server
restarted; a retry of the id is answered ALREADY_EXISTS with the original order, read
back from the history, and GetOrder / CancelOrder still know it."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from exchange.client import GpuxClient
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from tests.gateway_harness import free_port, serve_process


@pytest.mark.slow
def test_a_retry_of_a_retired_client_order_id_after_a_restart_gets_the_original(tmp_path) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    tomorrow = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y%m%d")
    symbol = f"H100-80G.jiaxing.{tomorrow}T14"
    proc = serve_process(tmp_path, port, "--retire-every", "1")
    try:
        admin = GpuxClient(address, (tmp_path / "admin.token").read_text().strip())
        token = admin.create_account("buyer-old", "BUYER").token
        admin.close()
        buyer = GpuxClient(address, token)
        buyer.deposit_funds(10**8)
        first = buyer.place_order(symbol, "BUY", 3, price_fen=1500, client_order_id=41)
        buyer.cancel_order(41)
        original = buyer.get_order(41)
        buyer.close()
        proc.send_signal(signal.SIGTERM)  # a clean stop: every done order retired, then a snapshot
        assert proc.wait(60) == 0
        assert list((tmp_path / "history").glob("orders-*.arrow"))

        proc = serve_process(tmp_path, port, "--retire-every", "1")
        buyer = GpuxClient(address, token)
        with pytest.raises(grpc.RpcError) as error:
            buyer._call(buyer.trading.PlaceOrder, trading_pb2.PlaceOrderRequest(
                symbol=symbol, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
                time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=1500, qty=3, client_order_id=41))
        assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert f"by order {first.order_id} (CANCELED)" in error.value.details()
        assert buyer.place_order(symbol, "BUY", 3, price_fen=1500, client_order_id=41) == original
        assert buyer.get_order(41) == original
        with pytest.raises(grpc.RpcError) as error:
            buyer.cancel_order(41)
        assert "ORDER_DONE" in error.value.details() or error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        buyer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
