"""End to end against a real gateway on 127.0.0.1: every service, status codes, the
role x method authorization matrix, owners only, streams, restart, TLS."""

from __future__ import annotations

import datetime as dt
import hashlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from exchange.catalog import default_catalog
from exchange.client import GpuxClient
from exchange.gateway.accounts import Role
from exchange.gateway.interceptors import POLICY
from exchange.proto.gpux.v1 import (
    account_pb2,
    admin_pb2,
    audit_pb2,
    capacity_pb2,
    day_ahead_pb2,
    market_data_pb2,
    trading_pb2,
    types_pb2,
)
from tests.gateway_harness import OTHER, SYMBOL, RunningServer

Code = grpc.StatusCode


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A server with an admin, a provider with capacity and asks, two buyers, an auditor."""
    path = tmp_path_factory.mktemp("gateway")
    server = RunningServer(path)
    admin = GpuxClient(server.address, server.admin_token)
    made = {role: admin.create_account(f"{role.lower()}-1", role) for role in ("PROVIDER", "BUYER", "AUDITOR")}
    made["BUYER2"] = admin.create_account("buyer-2", "BUYER")
    clients = {name: GpuxClient(server.address, m.token) for name, m in made.items()}
    clients["ADMIN"] = admin
    provider = clients["PROVIDER"]
    provider.deposit_capacity(SYMBOL, 64)
    provider.deposit_capacity(OTHER, 64)
    for i, price in enumerate((1800, 1810, 1820), start=1):
        provider.place_order(SYMBOL, "SELL", 8, price_fen=price, client_order_id=i)
    clients["BUYER"].deposit_funds(5_000_000)
    clients["BUYER2"].deposit_funds(10_000_000)
    yield server, clients, made
    for c in clients.values():
        c.close()
    server.stop()


def _code(call) -> grpc.StatusCode | None:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return None


def test_health_and_reflection(market):
    server, _, _ = market
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "gpux.v1.TradingService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                            timeout=5)
        names = {s.name for a in answers for s in a.list_services_response.service}
        assert {"gpux.v1.TradingService", "gpux.v1.AdminService", "grpc.health.v1.Health"} <= names


def test_a_buyer_trades_with_a_provider_and_sees_reports_book_and_ticker(market):
    _, c, _ = market
    buyer = c["BUYER"]
    order = buyer.place_order(SYMBOL, "BUY", 12, price_fen=1810, client_order_id=100)
    assert order.order_status == types_pb2.ORDER_STATUS_FILLED and order.cum_qty == 12
    assert buyer.get_order(100).order_id == order.order_id
    book = buyer.book(SYMBOL)
    assert [(lv.price_fen, lv.qty) for lv in book.asks] == [(1810, 4), (1820, 8)] and book.seq > 0
    ticker = buyer.ticker(SYMBOL)
    assert ticker.last_price_fen == 1810 and ticker.volume == 12 and ticker.best_ask_fen == 1810
    assert ticker.best_ask_per_pflop_hour_fen == default_catalog().price_per_pflop_hour("H100-80G", 1810)
    balance = buyer.balance()
    assert balance.cash_fen == 5_000_000 - (8 * 1800 + 4 * 1810) and balance.reserved_fen == 0
    positions = {p.symbol: p for p in c["PROVIDER"].positions()}
    assert positions[SYMBOL].sold == 12 and positions[SYMBOL].free == 64 - 12 - 12


def test_error_statuses_say_what_to_fix(market):
    server, c, _ = market
    buyer, provider = c["BUYER"], c["PROVIDER"]
    cases = [
        (lambda: buyer.place_order("H100-80G.nowhere.20261125T14", "BUY", 1, price_fen=1800, client_order_id=7),
         Code.INVALID_ARGUMENT, "nowhere"),
        (lambda: buyer.place_order("H100-80G.jiaxing.20261210T14", "BUY", 1, price_fen=1800, client_order_id=7),
         Code.NOT_FOUND, "not listed"),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1, price_fen=10_000_000, client_order_id=7),
         Code.INVALID_ARGUMENT, "band"),
        (lambda: buyer.place_order(SYMBOL, "BUY", 5000, price_fen=1800, client_order_id=7),
         Code.INVALID_ARGUMENT, "lot limits"),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1, price_fen=1800, client_order_id=0),
         Code.INVALID_ARGUMENT, "client_order_id"),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1, price_fen=1800, client_order_id=2**64 - 1),
         Code.INVALID_ARGUMENT, "client_order_id"),
        (lambda: buyer.trades(SYMBOL, limit=-1), Code.INVALID_ARGUMENT, "limit"),
        (lambda: buyer.cancel_order(999_999), Code.NOT_FOUND, "UNKNOWN_ORDER"),
        (lambda: buyer.place_order(SYMBOL, "BUY", 1024, price_fen=6000, client_order_id=8),
         Code.FAILED_PRECONDITION, "INSUFFICIENT_FUNDS"),
        (lambda: provider.place_order(SYMBOL, "SELL", 100, price_fen=1900, client_order_id=9),
         Code.FAILED_PRECONDITION, "INSUFFICIENT_CAPACITY"),
        (lambda: buyer.withdraw_funds(-5), Code.INVALID_ARGUMENT, "positive"),
        (lambda: buyer.statement("2026-11-25"), Code.NOT_FOUND, "settled"),
    ]
    for call, code, words in cases:
        with pytest.raises(grpc.RpcError) as error:
            call()
        assert error.value.code() == code and words in error.value.details(), (code, words)
    nobody = GpuxClient(server.address, "not-a-token")
    assert _code(lambda: nobody.balance()) == Code.UNAUTHENTICATED
    nobody.close()


def test_a_retry_returns_the_original_order(market):
    _, c, _ = market
    buyer = c["BUYER"]
    first = buyer.place_order(SYMBOL, "BUY", 1, price_fen=1500, client_order_id=200)
    again = buyer.place_order(SYMBOL, "BUY", 1, price_fen=1500, client_order_id=200)
    assert again.order_id == first.order_id
    with pytest.raises(grpc.RpcError) as error:
        buyer._call(buyer.trading.PlaceOrder, trading_pb2.PlaceOrderRequest(
            symbol=SYMBOL, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
            time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=1500, qty=1, client_order_id=200))
    assert error.value.code() == Code.ALREADY_EXISTS and str(first.order_id) in error.value.details()


def test_owners_only(market):
    _, c, _ = market
    c["BUYER"].place_order(SYMBOL, "BUY", 1, price_fen=1400, client_order_id=300)
    other = c["BUYER2"]
    assert _code(lambda: other.get_order(300)) == Code.NOT_FOUND
    assert _code(lambda: other.cancel_order(300)) == Code.NOT_FOUND
    assert all(o.client_order_id != 300 for o in other.list_orders())
    assert c["BUYER"].get_order(300).order_status == types_pb2.ORDER_STATUS_NEW


def _empty_call(client: GpuxClient, method: str):
    service, name = method.rsplit("/", 1)
    stub = {"TradingService": client.trading, "MarketDataService": client.market_data,
            "CapacityService": client.capacity, "AccountService": client.accounts,
            "AuditService": client.audit, "AdminService": client.admin,
            "DayAheadService": client.day_ahead}[service.split(".")[-1]]
    rpc = getattr(stub, name)
    modules = (trading_pb2, market_data_pb2, capacity_pb2, account_pb2, audit_pb2, admin_pb2, day_ahead_pb2)
    request = next(getattr(m, f"{name}Request") for m in modules if hasattr(m, f"{name}Request"))()

    def call():
        if name == "StreamOrders":
            return list(rpc(iter([trading_pb2.StreamOrdersRequest()]), timeout=5, metadata=client.metadata))
        if name in ("StreamBook", "DownloadTradeFile", "StreamTrades", "StreamExecutionReports", "StreamTickers"):
            stream = rpc(request, timeout=5, metadata=client.metadata)
            try:
                return next(stream, None)  # refused at once, or the first message (some never end)
            finally:
                stream.cancel()
        return rpc(request, timeout=5, metadata=client.metadata)
    return call


@pytest.mark.parametrize("method", sorted(POLICY))
def test_authorization_matrix(market, method):
    """Each role x each method: refused exactly when the policy does not allow the role."""
    _, c, _ = market
    for role in Role:
        client = c[role.name]
        code = _code(_empty_call(client, method))
        if role in POLICY[method]:
            assert code not in (Code.PERMISSION_DENIED, Code.UNAUTHENTICATED), (role, method, code)
        else:
            assert code == Code.PERMISSION_DENIED, (role, method, code)


def test_order_stream_reports_each_batch_and_cancels_on_disconnect(market):
    _, c, _ = market
    buyer = c["BUYER2"]
    batches = [[trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
        symbol=OTHER, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
        time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=1000 + i, qty=1, client_order_id=1000 + 10 * b + i))
        for i in range(3)] for b in range(3)]
    batches.append([trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=1000)),
                    trading_pb2.OrderCommand()])
    replies = list(buyer.stream_orders(batches))
    assert [r.batch_id for r in replies] == [0, 1, 2, 3]
    assert all(len(r.reports) == 3 and {x.exec_type for x in r.reports} == {types_pb2.EXEC_TYPE_NEW}
               for r in replies[:3])
    assert [x.exec_type for x in replies[3].reports] == [types_pb2.EXEC_TYPE_CANCELED, types_pb2.EXEC_TYPE_REJECTED]
    # a stream with cancel-on-disconnect that the client closes cleanly leaves its orders alone
    closed = list(buyer.stream_orders([[trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
        symbol=OTHER, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
        time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=950, qty=1, client_order_id=1900))]],
        cancel_on_disconnect=True))
    assert len(closed) == 1 and buyer.get_order(1900).order_status == types_pb2.ORDER_STATUS_NEW
    # a stream with cancel-on-disconnect that ends abruptly cancels the account's orders
    hold = threading.Event()

    def held_open():
        yield [trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
            symbol=OTHER, side=types_pb2.SIDE_BUY, order_type=types_pb2.ORDER_TYPE_LIMIT,
            time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=900, qty=1, client_order_id=2000))]
        hold.wait(10)

    stream = buyer.stream_orders(held_open(), cancel_on_disconnect=True)
    next(iter(stream))
    assert buyer.get_order(2000).order_status == types_pb2.ORDER_STATUS_NEW
    stream.cancel()
    hold.set()
    deadline = time.monotonic() + 10
    while buyer.get_order(2000).order_status != types_pb2.ORDER_STATUS_CANCELED:
        assert time.monotonic() < deadline, "cancel-on-disconnect did not cancel"
        time.sleep(0.05)
    assert buyer.get_order(1001).order_status == types_pb2.ORDER_STATUS_CANCELED


def test_book_stream_snapshot_deltas_and_resync(market):
    _, c, _ = market
    watcher = c["AUDITOR"]
    stream = watcher.stream_book(OTHER, depth=5, timeout=20)
    it = iter(stream)
    first = next(it)
    assert first.snapshot and first.update_id == 1
    c["PROVIDER"].place_order(OTHER, "SELL", 3, price_fen=1990, client_order_id=3000)
    update = next(it)
    assert update.update_id == 2 and not update.snapshot and update.seq > first.seq
    assert [(u.side, u.price_fen, u.qty) for u in update.updates] == [(types_pb2.SIDE_SELL, 1990, 3)]
    stream.cancel()
    again = next(iter(watcher.stream_book(OTHER, depth=5, timeout=20)))  # resync: a fresh snapshot
    assert again.snapshot and (types_pb2.SIDE_SELL, 1990, 3) in [(u.side, u.price_fen, u.qty) for u in again.updates]


def test_rate_limit(tmp_path):
    server = RunningServer(tmp_path, rate=1.0, burst=3)
    admin = GpuxClient(server.address, server.admin_token)
    codes = [_code(lambda: admin.list_slots()) for _ in range(6)]
    assert codes[:3] == [None] * 3 and Code.RESOURCE_EXHAUSTED in codes[3:]
    admin.close()
    server.stop()


def test_restart_loses_no_acknowledged_order(tmp_path):
    server = RunningServer(tmp_path)
    admin = GpuxClient(server.address, server.admin_token)
    buyer_token = admin.create_account("b", "BUYER").token
    buyer = GpuxClient(server.address, buyer_token)
    buyer.deposit_funds(1_000_000)
    placed = [buyer.place_order(SYMBOL, "BUY", 1, price_fen=1000 + i, client_order_id=i + 1) for i in range(20)]
    buyer.close()
    admin.close()
    server.stop()
    again = RunningServer(tmp_path)
    buyer = GpuxClient(again.address, buyer_token)
    assert [buyer.get_order(i + 1).order_id for i in range(20)] == [o.order_id for o in placed]
    assert buyer.balance().reserved_fen == sum(1000 + i for i in range(20))
    buyer.close()
    again.stop()


def test_tls_with_a_self_signed_certificate(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    server = RunningServer(tmp_path, tls=(cert_pem, key_pem))
    address = f"localhost:{server.port}"
    secure = GpuxClient(address, server.admin_token, root_certificate=cert_pem)
    assert secure.catalog().classes[0].name == "H100-80G"
    plain = GpuxClient(address, server.admin_token, timeout=2, retries=0)
    assert _code(lambda: plain.catalog()) == Code.UNAVAILABLE
    secure.close()
    plain.close()
    server.stop()


def _serve_process(tmp_path):
    """``gpux serve`` as a process on a free port, and a bounded wait for a number in a
    line of its log: ``logged(pattern)``."""
    proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--data-dir", str(tmp_path),
                             "--address", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put("")  # it exited
    threading.Thread(target=read_stderr, daemon=True).start()
    deadline = time.monotonic() + 60

    def logged(pattern: str) -> int:
        """The number in the first stderr line matching ``pattern`` (bounded wait)."""
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line, f"gpux serve exited before logging {pattern!r}"
            if found := re.search(pattern, line):
                return int(found.group(1))
    return proc, logged


@pytest.mark.slow
def test_gpux_serve_runs_as_a_process_and_stops_on_sigterm(tmp_path):
    proc, logged = _serve_process(tmp_path)
    try:
        port = logged(r"on port (\d+)")
        token = (tmp_path / "admin.token").read_text().strip()
        with GpuxClient(f"127.0.0.1:{port}", token) as admin:
            assert admin.list_slots() == 0  # everything due was listed at start
            listed = admin.instruments(gpu_class="H100-80G", region="jiaxing")
            assert len(listed) > 24
            # new slots open with the default opening call auction
            assert {i.state for i in listed} == {types_pb2.INSTRUMENT_STATE_CALL}
        assert logged(r"start-up heap frozen: (\d+) objects") > 10_000  # full collections skip it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_a_sigterm_as_soon_as_gpux_serve_is_serving_stops_it_cleanly(tmp_path):
    """The signal handlers are in place before the server reports SERVING: a SIGTERM the
    moment it logs its port (before its start-up heap is frozen) is a clean stop (exit 0),
    not the default action of the signal (-15)."""
    proc, logged = _serve_process(tmp_path)
    try:
        logged(r"on port (\d+)")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_replace_mass_cancel_halt_kill_switch_and_credit(market):
    server, c, made = market
    buyer, admin = c["BUYER2"], c["ADMIN"]
    buyer.place_order(OTHER, "BUY", 2, price_fen=1100, client_order_id=5000)
    reports = buyer.replace_order(5000, 5001, price_fen=1105, qty=3)
    assert reports[0].exec_type == types_pb2.EXEC_TYPE_REPLACED and reports[0].orig_client_order_id == 5000
    assert buyer.get_order(5001).order_qty == 3 and buyer.get_order(5000).client_order_id == 5001
    buyer.place_order(OTHER, "BUY", 1, price_fen=1101, client_order_id=5002)
    assert buyer.mass_cancel(OTHER) >= 2
    assert buyer.list_orders(open_only=True, symbol=OTHER) == []
    admin.halt(OTHER)
    with pytest.raises(grpc.RpcError) as error:
        buyer.place_order(OTHER, "BUY", 1, price_fen=1100, client_order_id=5003)
    assert error.value.code() == Code.FAILED_PRECONDITION and "HALTED" in error.value.details()
    assert _code(lambda: admin.halt(OTHER)) == Code.FAILED_PRECONDITION
    admin.resume(OTHER)
    buyer.place_order(OTHER, "BUY", 1, price_fen=1100, client_order_id=5004)
    assert admin.kill_switch(made["BUYER2"].account) >= 1
    assert buyer.get_order(5004).order_status == types_pb2.ORDER_STATUS_CANCELED
    admin.set_credit(made["BUYER2"].account, 50_000)
    assert buyer.balance().credit_fen == 50_000
    fresh = GpuxClient(server.address, admin.admin.IssueToken(
        admin_pb2.IssueTokenRequest(account=made["BUYER2"].account), metadata=admin.metadata, timeout=5).token)
    assert fresh.balance().credit_fen == 50_000
    fresh.close()


def test_capacity_withdraw_and_instrument_filters(market):
    _, c, _ = market
    provider = c["PROVIDER"]
    before = provider.positions(OTHER)[0]
    after = provider.withdraw_capacity(OTHER, 4)
    assert after.capacity == before.capacity - 4
    assert _code(lambda: provider.withdraw_capacity(OTHER, 10_000)) == Code.FAILED_PRECONDITION
    listed = provider.instruments(gpu_class="910B", region="ningxia")
    assert listed and all(i.gpu_class == "910B" and i.region == "ningxia" for i in listed)
    assert all(i.gate_closure_ns == i.slot_start_ns - 15 * 60 * 10**9 for i in listed)


def test_trades_files_download_statement_and_vouchers(market):
    server, c, made = market
    from exchange.settlement import settle
    from exchange.tradelog import days as trade_days, read_day

    c["PROVIDER"].place_order(SYMBOL, "SELL", 1, price_fen=1830, client_order_id=6000)
    c["BUYER"].place_order(SYMBOL, "BUY", 1, price_fen=1830, client_order_id=6001, time_in_force="IOC")
    trades = c["BUYER"].trades(SYMBOL)  # every trade acknowledged before the call is listed
    assert all(t.symbol == SYMBOL and 1800 <= t.price_fen <= 1830 and t.qty > 0 for t in trades)
    assert trades[0].aggressor_side == types_pb2.SIDE_BUY
    auditor = c["AUDITOR"]
    listing = auditor.trade_files("2026-11-25")
    assert listing.files and listing.sealed_days == []
    first = listing.files[0]
    data = auditor.download_trade_file(first.path)
    assert len(data) == first.size_bytes and hashlib.sha256(data).hexdigest() == first.sha256
    assert _code(lambda: auditor.download_trade_file("../accounts.json")) == Code.INVALID_ARGUMENT
    streamed = [t for m in auditor.audit.StreamTrades(audit_pb2.StreamTradesRequest(day="2026-11-25"),
                                                      metadata=auditor.metadata, timeout=5) for t in m.trades]
    assert {t.trade_id for t in trades} <= {t.trade_id for t in streamed}
    admin = c["ADMIN"]
    admin.grant_voucher("city-30", "hangzhou-city-fund", made["BUYER"].account, 3000, "2026-11-25", "2026-12-31")
    assert _code(lambda: admin.grant_voucher("city-30", "x", 1, 3000, "2026-11-25", "2026-12-31")) == \
        Code.ALREADY_EXISTS
    assert _code(lambda: admin.grant_voucher("bad", "x", 1, 30000, "2026-11-25", "2026-12-31")) == \
        Code.INVALID_ARGUMENT
    root = server.server.node.data.root
    settle(root, dt.date(2026, 11, 25), lambda d: read_day(root / "trades", d), trade_days(root / "trades"))
    statement = c["BUYER"].statement("2026-11-25")
    assert statement.bought_qty >= 1 and statement.subsidy_fen == statement.bought_value_fen * 3000 // 10000
    assert statement.provisional  # the day is not sealed yet


def test_the_trade_files_hold_every_trade_acknowledged_before_the_listing(market):
    """No wait for the log's own flush (a second idle): the listing writes it out first."""
    import pyarrow as pa

    _, c, _ = market
    c["PROVIDER"].place_order(SYMBOL, "SELL", 1, price_fen=1835, client_order_id=6100)
    bought = c["BUYER"].place_order(SYMBOL, "BUY", 1, price_fen=1835, client_order_id=6101, time_in_force="IOC")
    assert bought.cum_qty == 1
    trade_id = c["BUYER"].executions()[-1].report.trade_id
    auditor = c["AUDITOR"]
    logged = set()
    for f in auditor.trade_files("2026-11-25").files:
        logged |= set(pa.ipc.open_file(auditor.download_trade_file(f.path)).read_all()["trade_id"].to_pylist())
    assert trade_id in logged


def test_call_auction_through_the_gateway(market):
    """An operator's call phase: orders collect (crossing, no trades), the book shows the
    indicative uncross, IOC is refused, Uncross trades everyone at one price, the public
    trades say so; then a halt reopens through a timed call."""
    _, c, _ = market
    admin, provider, buyer = c["ADMIN"], c["PROVIDER"], c["BUYER2"]
    sym = "H100-80G.ningbo.20261125T16"
    provider.deposit_capacity(sym, 10)
    admin.start_call(sym)
    assert _code(lambda: admin.start_call(sym)) == Code.FAILED_PRECONDITION
    provider.place_order(sym, "SELL", 4, price_fen=1700, client_order_id=7001)
    provider.place_order(sym, "SELL", 4, price_fen=1760, client_order_id=7002)
    buyer.place_order(sym, "BUY", 5, price_fen=1800, client_order_id=7001)
    with pytest.raises(grpc.RpcError) as error:
        buyer.place_order(sym, "BUY", 1, price_fen=1800, client_order_id=7002, time_in_force="IOC")
    assert error.value.code() == Code.FAILED_PRECONDITION and "INSTRUMENT_IN_CALL" in error.value.details()
    book = buyer.book(sym, depth=1)  # the indicative price uses the whole book, whatever the depth
    assert book.state == types_pb2.INSTRUMENT_STATE_CALL and len(book.asks) == 1
    # volume 5 at 1760 and 1800, sell surplus 3 at both: the lowest, 1760
    assert (book.indicative.price_fen, book.indicative.qty) == (1760, 5)
    assert (book.indicative.surplus_qty, book.indicative.surplus_side) == (3, types_pb2.SIDE_SELL)
    assert buyer.get_order(7001).cum_qty == 0
    stream = buyer.stream_book(sym, timeout=20)
    first = next(stream)
    assert first.snapshot and first.indicative.price_fen == 1760
    done = admin.uncross(sym)
    assert (done.price_fen, done.qty) == (1760, 5)
    update = next(stream)
    assert update.state == types_pb2.INSTRUMENT_STATE_OPEN and not update.HasField("indicative")
    stream.cancel()
    assert buyer.get_order(7001).cum_qty == 5
    assert buyer.book(sym).state == types_pb2.INSTRUMENT_STATE_OPEN
    assert _code(lambda: admin.uncross(sym)) == Code.FAILED_PRECONDITION
    trades = buyer.trades(sym)
    assert {(t.price_fen, t.auction, t.aggressor_side) for t in trades} == {
        (1760, True, types_pb2.SIDE_UNSPECIFIED)}
    assert sum(t.qty for t in trades) == 5
    admin.halt(sym)
    assert _code(lambda: admin.resume(sym, call_seconds=-1)) == Code.INVALID_ARGUMENT
    admin.resume(sym, call_seconds=60)
    book = buyer.book(sym)
    assert book.state == types_pb2.INSTRUMENT_STATE_CALL and book.indicative.call_end_ns > 0


def test_day_ahead_auction_through_the_gateway(market):
    """Providers offer, a buyer bids a whole job in either of two regions, the operator
    runs the auction: the job lands in the cheaper region, results and outcomes show,
    and the book is closed afterwards."""
    _, c, made = market
    admin, provider, buyer = c["ADMIN"], c["PROVIDER"], c["BUYER"]
    day = "2026-11-27"
    for region, price in (("hangzhou", 1700), ("huzhou", 1650)):
        for hour in range(9, 12):
            symbol = f"H100-80G.{region}.20261127T{hour:02d}"
            provider.deposit_capacity(symbol, 4)
            provider.submit_day_ahead(day, "SELL", hour, 4, [("H100-80G", region, price)],
                                      client_order_id=hour * 10 + len(region))
    order = buyer.submit_day_ahead(day, "BUY", 9, 4, [("H100-80G", "hangzhou", 1900), ("H100-80G", "huzhou", 1880)],
                                   client_order_id=1, hours=3)
    assert order.ref == 7 and order.order_type == day_ahead_pb2.DAY_AHEAD_ORDER_TYPE_BLOCK
    with pytest.raises(grpc.RpcError) as error:
        buyer.submit_day_ahead(day, "BUY", 9, 4, [("H100-80G", "hangzhou", 1900)], client_order_id=1)
    assert error.value.code() == Code.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as error:
        buyer.submit_day_ahead(day, "BUY", 23, 4, [("H100-80G", "hangzhou", 1900)], client_order_id=2, hours=3)
    assert error.value.code() == Code.INVALID_ARGUMENT and "hours" in error.value.details()
    assert _code(lambda: buyer.day_ahead_result(day)) == Code.NOT_FOUND
    for when in ("2026-11-25", "2026-12-03"):  # today, and past the listing horizon
        with pytest.raises(grpc.RpcError) as error:
            buyer.submit_day_ahead(when, "BUY", 9, 4, [("H100-80G", "hangzhou", 1900)], client_order_id=9)
        assert error.value.code() == Code.INVALID_ARGUMENT and "delivery_day must be" in error.value.details()
    result = admin.run_day_ahead(day, time_limit_seconds=30)
    assert result.trades == 3 and result.rounds >= 1
    traded = [p for p in result.prices if p.volume]
    assert [p.symbol for p in traded] == [f"H100-80G.huzhou.20261127T{h:02d}" for h in range(9, 12)]
    # every hour's ask is in the money, and so is the job as a whole (one limit per GPU-hour)
    assert all(p.volume == 4 and p.price_fen >= 1650 for p in traded)
    assert sum(p.price_fen for p in traded) <= 3 * 1880
    mine = buyer.day_ahead_orders(day)
    assert mine.cleared and (mine.orders[0].filled_qty, mine.orders[0].accepted_alternative) == (4, 1)
    assert buyer.day_ahead_result(day).welfare_fen == result.welfare_fen
    assert buyer.positions("H100-80G.huzhou.20261127T10")[0].bought == 4
    assert buyer.balance().held_fen == 0
    booked = buyer.trades("H100-80G.huzhou.20261127T10")
    assert [(t.qty, t.auction, t.aggressor_side) for t in booked] == [(4, True, types_pb2.SIDE_UNSPECIFIED)]
    with pytest.raises(grpc.RpcError) as error:
        buyer.submit_day_ahead(day, "BUY", 9, 1, [("H100-80G", "hangzhou", 1900)], client_order_id=3)
    assert error.value.code() == Code.FAILED_PRECONDITION and "closed" in error.value.details()
