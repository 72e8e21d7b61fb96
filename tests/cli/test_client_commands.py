"""The client commands of the gpux CLI against a real gateway on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from exchange.client import GpuxClient
from tests.gateway_harness import SYMBOL, RunningServer


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    server = RunningServer(tmp_path_factory.mktemp("cli"))
    with GpuxClient(server.address, server.admin_token) as admin:
        token = admin.create_account("dc", "PROVIDER").token
    runner = CliRunner(env={"GPUX_ADDRESS": server.address, "GPUX_TOKEN": token, "COLUMNS": "160"})
    runner.admin_token = server.admin_token  # for the tests that need a second account
    yield runner
    server.stop()


def test_capacity_orders_book_and_trades(provider):
    deposit = provider.invoke(app, ["capacity", "deposit", SYMBOL, "16"])
    assert deposit.exit_code == 0, deposit.output
    assert SYMBOL in deposit.output and "16" in deposit.output
    placed = provider.invoke(app, ["order", "place", SYMBOL, "sell", "8", "--price", "1850", "--client-order-id", "7"])
    assert placed.exit_code == 0 and "NEW" in placed.output and "¥18.50" in placed.output
    book = provider.invoke(app, ["book", SYMBOL])
    assert book.exit_code == 0 and "¥18.50" in book.output and "OPEN" in book.output
    listed = provider.invoke(app, ["order", "list", "--open"])
    assert listed.exit_code == 0 and "SELL" in listed.output
    cancelled = provider.invoke(app, ["order", "cancel", "7"])
    assert cancelled.exit_code == 0 and "CANCELED" in cancelled.output
    shown = provider.invoke(app, ["capacity", "show"])
    assert shown.exit_code == 0 and SYMBOL in shown.output
    trades = provider.invoke(app, ["trades", SYMBOL])
    assert trades.exit_code == 0 and "Trades of" in trades.output


def _new_provider(provider: CliRunner, name: str) -> CliRunner:
    """A runner for a new provider account of the same gateway, with 16 GPUs of SYMBOL
    deposited: each test that reads an account's history makes its own (none depends on
    what another test did, so ``-m slow`` alone runs them too)."""
    address = provider.env["GPUX_ADDRESS"]
    with GpuxClient(address, provider.admin_token) as admin:
        token = admin.create_account(name, "PROVIDER").token
    with GpuxClient(address, token) as client:
        client.deposit_capacity(SYMBOL, 16)
    return CliRunner(env={**provider.env, "GPUX_TOKEN": token})


@pytest.mark.slow
def test_fills_lists_and_follows_the_accounts_events(provider):
    """The deposit, an order and its cancel, numbered; --live prints the same and keeps
    the stream open."""
    provider = _new_provider(provider, "fills")
    with GpuxClient(provider.env["GPUX_ADDRESS"], provider.env["GPUX_TOKEN"]) as client:
        client.place_order(SYMBOL, "SELL", 8, price_fen=1850, client_order_id=7)
        client.cancel_order(7)
    fills = provider.invoke(app, ["fills"])
    assert fills.exit_code == 0, fills.output
    lines = fills.output.splitlines()
    assert lines[0].split()[:3] == ["1", "DEPOSIT_CAPACITY", "16"]
    assert lines[1].split()[:3] == ["2", "NEW", "SELL"] and "¥18.50" in lines[1]
    assert lines[2].split()[:2] == ["3", "CANCELED"] and "USER_CANCEL" in lines[2]
    assert provider.invoke(app, ["fills", "--after", "2"]).output.splitlines() == lines[2:]
    live = subprocess.Popen([sys.executable, "-m", "exchange.cli", "fills", "--live", "--after", "1"],
                            env={**os.environ, **provider.env}, stdout=subprocess.PIPE, text=True)
    try:
        assert [live.stdout.readline().rstrip("\n") for _ in range(2)] == lines[1:3]
        assert live.poll() is None  # still following
    finally:
        live.kill()
        live.wait()


@pytest.mark.slow
def test_trades_live_prints_each_new_trade(provider):
    """``gpux trades SYMBOL --live``: the table, then each new trade of the symbol, pushed."""
    admin_token = provider.admin_token
    provider = _new_provider(provider, "trades")
    server_address = provider.env["GPUX_ADDRESS"]
    live = subprocess.Popen([sys.executable, "-m", "exchange.cli", "trades", SYMBOL, "--live"],
                            env={**os.environ, **provider.env}, stdout=subprocess.PIPE, text=True)
    try:
        assert "Trades of" in live.stdout.readline()  # the table's title: it follows from here
        with GpuxClient(server_address, provider.env["GPUX_TOKEN"]) as seller, \
                GpuxClient(server_address, admin_token) as admin:
            seller.place_order(SYMBOL, "SELL", 2, price_fen=1860, client_order_id=70)
            with GpuxClient(server_address, admin.create_account("taker", "BUYER").token) as buyer:
                buyer.deposit_funds(100_000)
                buyer.place_order(SYMBOL, "BUY", 2, price_fen=1860, client_order_id=1, time_in_force="IOC")
        line = next(line for line in live.stdout if "¥18.60" in line)
        assert line.split()[2:] == ["x", "2", "BUY"]
    finally:
        live.kill()
        live.wait()


def test_errors_are_named(provider):
    bad = provider.invoke(app, ["order", "place", "H100-80G.nowhere.20261125T14", "BUY", "1", "--price", "1800"])
    assert bad.exit_code == 1 and "INVALID_ARGUMENT" in bad.output and "nowhere" in bad.output
    denied = provider.invoke(app, ["order", "place", SYMBOL, "BUY", "1", "--price", "1800", "--token", "nope"])
    assert denied.exit_code == 1 and "UNAUTHENTICATED" in denied.output
    side = provider.invoke(app, ["order", "place", SYMBOL, "HOLD", "1"])
    assert side.exit_code == 2


def test_book_table_shows_the_indicative_uncross_in_a_call_phase():
    from rich.console import Console

    from exchange.cli.client_commands import _book_table
    from exchange.proto.gpux.v1 import market_data_pb2, types_pb2

    book = market_data_pb2.GetBookResponse(
        symbol="H100-80G.jiaxing.20261126T14", state=types_pb2.INSTRUMENT_STATE_CALL,
        bids=[market_data_pb2.Level(price_fen=1800, qty=5, orders=1)],
        asks=[market_data_pb2.Level(price_fen=1700, qty=4, orders=1)],
        indicative=market_data_pb2.Indicative(price_fen=1800, qty=4, surplus_qty=1,
                                              surplus_side=types_pb2.SIDE_BUY))
    console = Console(record=True, width=120)
    console.print(_book_table(book, market_data_pb2.GetTickerResponse()))
    text = " ".join(console.export_text().split())  # the caption wraps to the table's width
    assert "CALL" in text and "indicative ¥18.00 x 4, surplus 1" in text


def test_day_ahead_from_the_command_line(tmp_path):
    """A provider offers hours and a buyer bids a block by CLI that may run any 2 hours of
    a window; the operator runs the day; the buyer sees where and when its job runs."""
    server = RunningServer(tmp_path / "da")
    try:
        with GpuxClient(server.address, server.admin_token) as admin:
            provider = admin.create_account("dc", "PROVIDER").token
            buyer = admin.create_account("lab", "BUYER").token
        env = {"GPUX_ADDRESS": server.address, "COLUMNS": "200"}
        as_provider = CliRunner(env={**env, "GPUX_TOKEN": provider})
        as_buyer = CliRunner(env={**env, "GPUX_TOKEN": buyer})
        as_admin = CliRunner(env={**env, "GPUX_TOKEN": server.admin_token})
        day = "2026-11-26"
        for hour, price in ((10, 1700), (11, 1600), (12, 1600)):  # hours 11-12 are the cheapest two
            deposited = as_provider.invoke(app, ["capacity", "deposit", f"H100-80G.ningbo.20261126T{hour}", "4"])
            assert deposited.exit_code == 0
            offered = as_provider.invoke(app, ["dayahead", "submit", day, "sell", str(hour), "4",
                                               f"H100-80G.ningbo@{price}", "--client-order-id", str(hour)])
            assert offered.exit_code == 0, offered.output
        with GpuxClient(server.address, buyer) as client:
            client.deposit_funds(1_000_000)
        bid = as_buyer.invoke(app, ["dayahead", "submit", day, "buy", "4", "H100-80G.jiaxing@1900",
                                    "H100-80G.ningbo@1800", "--window", "9-13", "--hours", "2",
                                    "--client-order-id", "1"])
        assert bid.exit_code == 0 and "BLOCK" in bid.output, bid.output
        assert "H100-80G.ningbo@¥18.00 from 9,10,11h" in bid.output and "2 within 9-13" in bid.output, bid.output
        for args, why in ((["10", "4", "H100-80G-ningbo-1800"], "CLASS.REGION@LIMIT_FEN"),
                          (["4", "H100-80G.ningbo@1800", "--window", "22-02", "--hours", "3"], "cannot cross midnight"),
                          (["10", "4", "H100-80G.ningbo@1800", "--window", "9-13", "--hours", "2"], "no START_HOUR"),
                          (["4", "H100-80G.ningbo@1800", "--window", "9-13"], "--window needs --hours"),
                          (["4", "H100-80G.ningbo@1800", "--window", "9", "--hours", "2"], "FROM-TO")):
            bad = as_buyer.invoke(app, ["dayahead", "submit", day, "buy", *args])
            assert bad.exit_code == 2 and why in " ".join(bad.output.split()), (args, bad.output)
        denied = as_buyer.invoke(app, ["dayahead", "run", day])
        assert denied.exit_code == 1 and "PERMISSION_DENIED" in denied.output
        ran = as_admin.invoke(app, ["dayahead", "run", day, "--time-limit", "30"])
        assert ran.exit_code == 0, ran.output
        assert "H100-80G.ningbo.20261126T11" in ran.output and "2 trades" in ran.output, ran.output
        assert "H100-80G.ningbo.20261126T10" not in ran.output
        mine = as_buyer.invoke(app, ["dayahead", "orders", day])
        assert mine.exit_code == 0 and "cleared" in mine.output and "H100-80G.ningbo 11-13" in mine.output
        theirs = as_provider.invoke(app, ["dayahead", "orders", day])  # hourly orders say why they filled
        assert theirs.exit_code == 0, theirs.output
        assert theirs.output.count("IN_THE_MONEY") + theirs.output.count("AT_THE_PRICE") == 2
        assert "H100-80G.ningbo 12-13: " in theirs.output and "NO_COUNTERPARTY" in theirs.output  # hour 10: no job
        shown = as_buyer.invoke(app, ["dayahead", "result", day])  # the prices, and where the job landed
        assert shown.exit_code == 0 and "welfare" in shown.output and "H100-80G.ningbo 11-13" in shown.output
        public = as_admin.invoke(app, ["dayahead", "result", day])  # an operator has no orders of its own
        assert public.exit_code == 0 and "welfare" in public.output and "Your day-ahead orders" not in public.output
        with GpuxClient(server.address, buyer) as client:
            prices = {p.symbol: p for p in client.day_ahead_result(day).prices}
        assert prices["H100-80G.ningbo.20261126T11"].HasField("price_fen")  # traded
        assert not prices["H100-80G.jiaxing.20261126T10"].HasField("price_fen")  # nothing traded: no price
    finally:
        server.stop()


def test_admin_call_auction_from_the_command_line(tmp_path):
    server = RunningServer(tmp_path / "admin")
    try:
        env = {"GPUX_ADDRESS": server.address, "COLUMNS": "200"}
        admin = CliRunner(env={**env, "GPUX_TOKEN": server.admin_token})
        with GpuxClient(server.address, server.admin_token) as client:
            seller = client.create_account("dc", "PROVIDER").token
            buyer = client.create_account("lab", "BUYER").token
        with GpuxClient(server.address, seller) as s, GpuxClient(server.address, buyer) as b:
            s.deposit_capacity(SYMBOL, 4)
            b.deposit_funds(100_000)
            called = admin.invoke(app, ["admin", "call", SYMBOL])
            assert called.exit_code == 0 and "until uncross" in called.output
            s.place_order(SYMBOL, "SELL", 4, price_fen=1700, client_order_id=1)
            b.place_order(SYMBOL, "BUY", 4, price_fen=1800, client_order_id=1)
            book = CliRunner(env={**env, "GPUX_TOKEN": buyer}).invoke(app, ["book", SYMBOL])
            assert "CALL" in book.output and "indicative" in book.output
            done = admin.invoke(app, ["admin", "uncross", SYMBOL])
            assert done.exit_code == 0 and "4 GPUs traded" in done.output, done.output
            assert b.get_order(1).cum_qty == 4
        assert admin.invoke(app, ["admin", "halt", SYMBOL]).exit_code == 0
        resumed = admin.invoke(app, ["admin", "resume", SYMBOL, "--call", "60"])
        assert resumed.exit_code == 0 and "call auction for 60 s" in resumed.output
        again = admin.invoke(app, ["admin", "call", SYMBOL])
        assert again.exit_code == 1 and "INSTRUMENT_IN_CALL" in again.output
    finally:
        server.stop()


def test_an_operator_makes_an_account_and_a_buyer_funds_it(provider):
    """``gpux admin account`` prints the token alone on stdout; ``gpux funds`` moves money."""
    operator = CliRunner(env={**provider.env, "GPUX_TOKEN": provider.admin_token, "COLUMNS": "160"})
    made = operator.invoke(app, ["admin", "account", "lab", "buyer"])
    assert made.exit_code == 0, made.output
    assert made.stderr.startswith("account ") and made.stderr.rstrip().endswith(": lab (BUYER)")
    buyer = CliRunner(env={**provider.env, "GPUX_TOKEN": made.stdout.strip(), "COLUMNS": "160"})
    deposited = buyer.invoke(app, ["funds", "deposit", "250000"])
    assert deposited.exit_code == 0 and deposited.output.count("¥2,500.00") == 2, deposited.output
    assert buyer.invoke(app, ["order", "place", SYMBOL, "BUY", "10", "--price", "1800"]).exit_code == 0
    shown = buyer.invoke(app, ["funds", "show"])
    assert shown.exit_code == 0 and "¥180.00" in shown.output and "¥2,320.00" in shown.output  # reserved, available
    refused = buyer.invoke(app, ["funds", "withdraw", "240000"])  # more than is available
    assert refused.exit_code == 1 and "FAILED_PRECONDITION" in refused.output
    assert "¥2,120.00" in buyer.invoke(app, ["funds", "withdraw", "20000"]).output
    assert operator.invoke(app, ["admin", "account", "x", "KING"]).exit_code == 2
    assert provider.invoke(app, ["admin", "account", "y", "BUYER"]).exit_code == 1  # a provider may not


def test_health_says_whether_a_gateway_answers(provider):
    up = provider.invoke(app, ["health"])
    assert up.exit_code == 0 and up.output == f"{provider.env['GPUX_ADDRESS']}: serving\n"
    from tests.gateway_harness import free_port

    nobody = f"127.0.0.1:{free_port()}"
    down = provider.invoke(app, ["health", "--address", nobody, "--wait", "0.5"])
    assert down.exit_code == 1 and down.stderr == f"{nobody}: not serving\n"
