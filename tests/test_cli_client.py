"""The client commands of the gpux CLI against a real gateway on 127.0.0.1."""

from __future__ import annotations

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
    yield CliRunner(env={"GPUX_ADDRESS": server.address, "GPUX_TOKEN": token, "COLUMNS": "160"})
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


def test_errors_are_named(provider):
    bad = provider.invoke(app, ["order", "place", "H100-80G.nowhere.20261125T14", "BUY", "1", "--price", "1800"])
    assert bad.exit_code == 1 and "INVALID_ARGUMENT" in bad.output and "nowhere" in bad.output
    denied = provider.invoke(app, ["order", "place", SYMBOL, "BUY", "1", "--price", "1800", "--token", "nope"])
    assert denied.exit_code == 1 and "UNAUTHENTICATED" in denied.output
    side = provider.invoke(app, ["order", "place", SYMBOL, "HOLD", "1"])
    assert side.exit_code == 2


def test_book_table_shows_the_indicative_uncross_in_a_call_phase():
    from rich.console import Console

    from exchange.cli_client import _book_table
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
