"""``gpux dayahead``: the day-ahead auction from the command line, over gRPC
(``--address`` / ``$GPUX_ADDRESS``, ``--token`` / ``$GPUX_TOKEN``)."""

from __future__ import annotations

import re
import time
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.table import Table

from exchange.cli.remote import DEFAULT_ADDRESS, Address, Token, connect, fail_rpc
from exchange.cli.tables import result_table, yuan
from exchange.proto.gpux.v1 import day_ahead_pb2

dayahead_app = typer.Typer(help="The day-ahead auction: whole jobs and hourly orders for a delivery day.",
                           no_args_is_help=True)
Day = Annotated[str, typer.Argument(help="Delivery day, e.g. 2026-11-26.")]
_PRODUCT = re.compile(r"^(?P<cls>[^.@]+)\.(?P<region>[^.@]+)@(?P<limit>\d+)$")


def _alternative(text: str) -> tuple[str, str, int]:
    found = _PRODUCT.match(text)
    if not found:
        raise typer.BadParameter(f"{text!r}: write CLASS.REGION@LIMIT_FEN, e.g. H100-80G.jiaxing@1850")
    return found["cls"], found["region"], int(found["limit"])


def _orders_table(orders, cleared: bool) -> Table:
    table = Table(title="Day-ahead orders" + (" (cleared)" if cleared else " (book open)"))
    for column in ("ref", "client id", "side", "type", "hours", "GPUs", "alternatives", "filled", "where / why"):
        table.add_column(column)
    for o in orders:
        alts = ", ".join(f"{a.gpu_class}.{a.region}@{yuan(a.limit_fen)}" for a in o.alternatives)
        parts = [o.alternatives[o.accepted_alternative].region] if o.accepted_alternative >= 0 else []
        if o.reason:
            parts.append(o.reason + (f" (with {', '.join(map(str, o.conflicts))})" if o.conflicts else ""))
        where = ": ".join(parts)
        table.add_row(str(o.ref), str(o.client_order_id), "BUY" if o.side == 1 else "SELL",
                      day_ahead_pb2.DayAheadOrderType.Name(o.order_type).removeprefix("DAY_AHEAD_ORDER_TYPE_"),
                      f"{o.start_hour}-{o.start_hour + o.hours}", str(o.qty), alts,
                      str(o.filled_qty) if cleared else "", where if cleared else "")
    return table


@dayahead_app.command("submit")
def submit(
    day: Day,
    side: Annotated[str, typer.Argument(help="BUY or SELL")],
    start_hour: Annotated[int, typer.Argument(help="First delivery hour, 0-23 (market time).")],
    qty: Annotated[int, typer.Argument(help="GPUs (in each hour).")],
    products: Annotated[list[str], typer.Argument(help="CLASS.REGION@LIMIT_FEN, one or more (a block: any one).")],
    hours: Annotated[int, typer.Option(help="Consecutive hours of a block (0: an hourly order).")] = 0,
    min_ratio: Annotated[int, typer.Option(help="A block's smallest fill in percent (100: all or none).")] = 100,
    client_order_id: Annotated[int | None, typer.Option(help="Your id (default: from the clock).")] = None,
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Enter a day-ahead order: hourly, or a block (whole job) with --hours."""
    if side.upper() not in ("BUY", "SELL"):
        raise typer.BadParameter("side must be BUY or SELL")
    alternatives = [_alternative(p) for p in products]
    with connect(address, token) as client:
        try:
            order = client.submit_day_ahead(day, side.upper(), start_hour, qty, alternatives, hours=hours,
                                            min_ratio_percent=min_ratio,
                                            client_order_id=client_order_id or time.time_ns() // 1000)
        except grpc.RpcError as error:
            fail_rpc(error)
    Console().print(_orders_table([order], cleared=False))


@dayahead_app.command("orders")
def orders(day: Day, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Your day-ahead orders of a day, with fills once it has cleared."""
    with connect(address, token) as client:
        try:
            mine = client.day_ahead_orders(day)
        except grpc.RpcError as error:
            fail_rpc(error)
    Console().print(_orders_table(mine.orders, mine.cleared))


@dayahead_app.command("result")
def result(day: Day, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """A cleared day's prices and volumes."""
    with connect(address, token) as client:
        try:
            Console().print(result_table(client.day_ahead_result(day)))
        except grpc.RpcError as error:
            fail_rpc(error)


@dayahead_app.command("run")
def run(day: Day, time_limit: Annotated[int, typer.Option(help="Solver seconds.")] = 60,
        address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Operators: close a day's book, clear it and book the trades."""
    with connect(address, token) as client:
        try:
            Console().print(result_table(client.run_day_ahead(day, time_limit)))
        except grpc.RpcError as error:
            fail_rpc(error)
