"""One error model, end to end against a real gateway: every refusal carries a
google.rpc.Status with an ErrorInfo whose reason is a gpux.v1.Reason name; bad input of
every kind gets the right status, a short message and no traceback."""

from __future__ import annotations

import logging

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from exchange.client import GpuxClient, error_info
from exchange.gateway.errors import QUOTE_CHARS, GatewayReason
from exchange.proto.gpux.v1 import admin_pb2, trading_pb2, types_pb2
from exchange.schema import Reason
from tests.gateway_harness import SYMBOL, RunningServer

Code = grpc.StatusCode


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A server with an admin, a provider with capacity and an ask, a buyer with funds, an auditor."""
    server = RunningServer(tmp_path_factory.mktemp("errors"))
    admin = GpuxClient(server.address, server.admin_token)
    made = {role: admin.create_account(f"{role.lower()}-e", role) for role in ("PROVIDER", "BUYER", "AUDITOR")}
    clients = {name: GpuxClient(server.address, m.token) for name, m in made.items()}
    clients["ADMIN"] = admin
    clients["PROVIDER"].deposit_capacity(SYMBOL, 16)
    clients["PROVIDER"].place_order(SYMBOL, "SELL", 4, price_fen=1800, client_order_id=1)
    clients["BUYER"].deposit_funds(1_000_000)
    yield server, clients, made
    for c in clients.values():
        c.close()
    server.stop()


def _refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value


def test_every_engine_and_gateway_reason_has_its_value_in_the_proto():
    """Derived from the tables: a reason the engine or the gateway can give that the
    wire's enum lacks would travel as a bare number (207 was seen so)."""
    for table in (Reason, GatewayReason):
        for reason in table:
            if reason.value:
                assert types_pb2.Reason.Value(f"REASON_{reason.name}") == reason.value, reason
    assert not {r.value for r in Reason} & {r.value for r in GatewayReason}


def test_unary_rejections_carry_error_info(market):
    _, c, _ = market
    buyer, admin = c["BUYER"], c["ADMIN"]
    cases = [  # call, status, reason, metadata that must be there
        (lambda: buyer.place_order(SYMBOL, "BUY", 1, price_fen=10_000_000, client_order_id=7),
         Code.INVALID_ARGUMENT, "REASON_PRICE_OUT_OF_BAND", {"field": "price_fen", "value": "10000000"}),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1, price_fen=1800, client_order_id=2**50),
         Code.INVALID_ARGUMENT, "REASON_BAD_CLIENT_ORDER_ID", {"field": "client_order_id"}),
        (lambda: buyer.place_order("H100-80G.nowhere.20261125T14", "BUY", 1, price_fen=1800, client_order_id=7),
         Code.INVALID_ARGUMENT, "REASON_BAD_SYMBOL", {"field": "symbol"}),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1000, price_fen=6000, client_order_id=8),
         Code.FAILED_PRECONDITION, "REASON_INSUFFICIENT_FUNDS", {}),
        (lambda: buyer.cancel_order(424242), Code.NOT_FOUND, "REASON_UNKNOWN_ORDER", {}),
        (lambda: buyer.trades(SYMBOL, limit=-1), Code.INVALID_ARGUMENT, "REASON_BAD_FIELD", {"field": "limit"}),
        (lambda: buyer.withdraw_funds(-5), Code.INVALID_ARGUMENT, "REASON_BAD_AMOUNT", {"field": "amount_fen"}),
        (lambda: buyer.halt(SYMBOL), Code.PERMISSION_DENIED, "REASON_PERMISSION_DENIED", {}),
        (lambda: admin.kill_switch(999), Code.NOT_FOUND, "REASON_UNKNOWN_ACCOUNT", {"field": "account"}),
    ]
    for call, code, reason, metadata in cases:
        error = _refused(call)
        info = error_info(error)
        assert error.code() == code and info is not None, (reason, error.details())
        assert (info.reason, info.domain) == (reason, "gpux")
        assert metadata.items() <= dict(info.metadata).items(), (reason, dict(info.metadata))
    nobody = GpuxClient(market[0].address, "not-a-token")
    assert error_info(_refused(nobody.balance)).reason == "REASON_UNAUTHENTICATED"
    nobody.close()


def test_stream_rejections_carry_reason_symbol_side_and_client_order_id(market):
    _, c, _ = market
    bad = trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
        symbol=SYMBOL, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
        time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=10_000_000, qty=1, client_order_id=77))
    cancel = trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=0))
    (answer,) = list(c["BUYER"].stream_orders([[bad, cancel]]))
    band, refused_cancel = answer.reports
    assert (band.reason, band.symbol, band.side, band.client_order_id) == (
        types_pb2.REASON_PRICE_OUT_OF_BAND, SYMBOL, types_pb2.SIDE_BUY, 77)
    assert band.exec_type == types_pb2.EXEC_TYPE_REJECTED and "band" in band.text
    assert refused_cancel.reason == types_pb2.REASON_BAD_CLIENT_ORDER_ID


def test_huge_inputs_are_quoted_short(market):
    """A 100 kB symbol used to be copied into the status, which then outgrew the metadata
    limit and arrived as RESOURCE_EXHAUSTED."""
    _, c, _ = market
    for symbol in ("X" * 100_000, "H100-80G.jiaxing." + "9" * 10_000):
        error = _refused(lambda symbol=symbol: c["BUYER"].place_order(symbol, "BUY", 1, price_fen=1800,
                                                                      client_order_id=5))
        assert error.code() == Code.INVALID_ARGUMENT and len(error.details()) < 3 * QUOTE_CHARS
        assert error_info(error).reason == "REASON_BAD_SYMBOL" and len(error_info(error).metadata["value"]) < 150
    error = _refused(lambda: c["AUDITOR"].download_trade_file("date=x/" + "y" * 50_000))
    assert error.code() == Code.INVALID_ARGUMENT and len(error.details()) < 3 * QUOTE_CHARS


def test_corrupt_protobuf_is_invalid_argument_without_a_traceback(market, caplog):
    server, c, _ = market
    corrupt = b"\x0a\x05ab"  # field 1, five bytes announced, two sent
    auth = c["BUYER"].metadata
    with grpc.insecure_channel(server.address) as channel, caplog.at_level(logging.DEBUG):
        unary = channel.unary_unary("/gpux.v1.AccountService/GetBalance")
        error = _refused(lambda: unary(corrupt, metadata=auth, timeout=5))
        assert error.code() == Code.INVALID_ARGUMENT and error_info(error).reason == "REASON_MALFORMED_REQUEST"
        error = _refused(lambda: unary(corrupt, timeout=5))  # no token: that first
        assert error.code() == Code.UNAUTHENTICATED
        stream = channel.stream_stream("/gpux.v1.TradingService/StreamOrders")
        good = trading_pb2.StreamOrdersRequest(batch_id=1).SerializeToString()
        error = _refused(lambda: list(stream(iter([good, corrupt]), metadata=auth, timeout=5)))
        assert error.code() == Code.INVALID_ARGUMENT and error_info(error).reason == "REASON_MALFORMED_REQUEST"
        server_stream = channel.unary_stream("/gpux.v1.MarketDataService/StreamBook")
        error = _refused(lambda: list(server_stream(corrupt, metadata=auth, timeout=5)))
        assert error.code() == Code.INVALID_ARGUMENT
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_trade_file_names_that_no_file_system_takes(market):
    _, c, _ = market
    auditor = c["AUDITOR"]
    for name in ("date=2026-11-25/a\x00b.arrow", "date=2026-11-25/" + "a" * 300 + ".arrow", "x/" * 600):
        error = _refused(lambda name=name: auditor.download_trade_file(name))
        assert error.code() == Code.INVALID_ARGUMENT and error_info(error).metadata["field"] == "path", name
    assert _refused(lambda: auditor.download_trade_file("date=2026-11-25/none.arrow")).code() == Code.NOT_FOUND


def test_deposit_over_the_balance_cap_says_so(market):
    _, c, _ = market
    buyer = c["BUYER"]
    error = _refused(lambda: buyer.deposit_funds(10**15))  # the amount is allowed; the balance after it is not
    assert error.code() == Code.INVALID_ARGUMENT and "would lift the cash balance" in error.details()
    assert error_info(error).metadata["limit"] == str(10**15)
    assert "at most 1000000000000000" in _refused(lambda: buyer.deposit_funds(10**15 + 1)).details()


def test_account_checks_of_admin_calls(market):
    _, c, made = market
    admin = c["ADMIN"]
    error = _refused(lambda: admin.grant_voucher("g-missing", "city", 4242, 3000, "2026-11-25", "2026-11-30"))
    assert error.code() == Code.NOT_FOUND and "4242" in error.details()
    admin.grant_voucher("g-1", "city", made["BUYER"].account, 3000, "2026-11-25", "2026-11-30")
    error = _refused(lambda: admin.grant_voucher("g-1", "city", made["BUYER"].account, 3000, "2026-11-25",
                                                 "2026-11-30"))
    assert error.code() == Code.ALREADY_EXISTS and error_info(error).reason == "REASON_ALREADY_EXISTS"


def test_create_account_is_idempotent_by_request_id(market):
    server, c, _ = market
    admin = c["ADMIN"]
    first = admin.create_account("maker-r", "PROVIDER", request_id="req-1")
    again = admin.create_account("maker-r", "PROVIDER", request_id="req-1")
    assert again.account == first.account and again.token != first.token
    for token in (first.token, again.token):  # both work
        with GpuxClient(server.address, token) as client:
            assert client.positions() == []
    error = _refused(lambda: admin.create_account("maker-r", "PROVIDER"))
    assert error.code() == Code.ALREADY_EXISTS and error_info(error).metadata["field"] == "name"
    error = _refused(lambda: admin.create_account("maker-other", "PROVIDER", request_id="req-1"))
    assert error.code() == Code.ALREADY_EXISTS and error_info(error).metadata["field"] == "request_id"


def test_bearer_scheme_in_any_case(market):
    server, _, made = market
    with grpc.insecure_channel(server.address) as channel:
        stub = channel.unary_unary("/gpux.v1.AccountService/GetBalance")
        for scheme in ("bearer", "BEARER", "Bearer"):
            stub(b"", metadata=(("authorization", f"{scheme} {made['BUYER'].token}"),), timeout=5)


@pytest.mark.parametrize("package", ["v1", "v1alpha"])
def test_reflection_v1_and_v1alpha(market, package):
    server, _, _ = market
    with grpc.insecure_channel(server.address) as channel:
        info = channel.stream_stream(f"/grpc.reflection.{package}.ServerReflection/ServerReflectionInfo",
                                     request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                     response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        asks = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="gpux.v1.TradingService"),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=f"grpc.reflection.{package}.ServerReflection")]
        listed, trading, itself = list(info(iter(asks), timeout=5))
    names = {s.name for s in listed.list_services_response.service}
    assert {"gpux.v1.TradingService", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= names
    assert trading.file_descriptor_response.file_descriptor_proto
    assert itself.file_descriptor_response.file_descriptor_proto


def test_create_account_request_fields(market):
    _, c, _ = market
    request = admin_pb2.CreateAccountRequest(name="", role=admin_pb2.ROLE_BUYER)
    error = _refused(lambda: c["ADMIN"]._call(c["ADMIN"].admin.CreateAccount, request))
    assert error.code() == Code.INVALID_ARGUMENT and error_info(error).metadata["field"] == "name"
