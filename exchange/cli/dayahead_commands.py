"""``gpux dayahead``: the day-ahead auction from the command line, over gRPC
(``--address`` / ``$GPUX_ADDRESS``, ``--token`` / ``$GPUX_TOKEN``)."""

from __future__ import annotations

import re
import time
from itertools import takewhile
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.table import Table

from exchange.cli.remote import DEFAULT_ADDRESS, Address, Token, connect, fail_rpc
from exchange.cli.tables import result_table, yuan
from exchange.client import parse_window, window_alternatives
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


def _hour(text: str, what: str) -> int:
    if not text.isdigit():
        raise typer.BadParameter(f"{what} {text!r} must be a whole number")
    return int(text)


def _alternatives_cell(o) -> str:
    """A table cell for an order's alternatives: each product at its limit, with the
    start hours it may run from when they are not all the order's start_hour."""
    starts: dict[tuple[str, str, int], list[int]] = {}
    for a in o.alternatives:
        starts.setdefault((a.gpu_class, a.region, a.limit_fen), []).append(a.start_hour)
    cells = []
    for (gpu_class, region, limit), hours in starts.items():
        shifted = hours != [o.start_hour]
        cells.append(f"{gpu_class}.{region}@{yuan(limit)}" + (f" from {','.join(map(str, hours))}h" if shifted else ""))
    return ", ".join(cells)


def _orders_table(orders, cleared: bool, title: str = "Day-ahead orders") -> Table:
    table = Table(title=title + (" (cleared)" if cleared else " (book open)"))
    for column in ("ref", "client id", "side", "type", "hours", "GPUs", "alternatives", "filled", "where / when / why"):
        table.add_column(column)
    for o in orders:
        parts = []
        if o.HasField("accepted_start_hour"):
            where = o.alternatives[o.accepted_alternative]
            parts.append(f"{where.gpu_class}.{where.region} {o.accepted_start_hour}-{o.accepted_start_hour + o.hours}")
        if o.reason:
            parts.append(o.reason + (f" (with {', '.join(map(str, o.conflicts))})" if o.conflicts else ""))
        first = min(a.start_hour for a in o.alternatives)
        last = max(a.start_hour for a in o.alternatives) + o.hours
        span = f"{first}-{last}" if last - first == o.hours else f"{o.hours} within {first}-{last}"
        table.add_row(str(o.ref), str(o.client_order_id), "BUY" if o.side == 1 else "SELL",
                      day_ahead_pb2.DayAheadOrderType.Name(o.order_type).removeprefix("DAY_AHEAD_ORDER_TYPE_"),
                      span, str(o.qty), _alternatives_cell(o),
                      str(o.filled_qty) if cleared else "", ": ".join(parts) if cleared else "")
    return table


def _split(args: list[str], window: str | None, hours: int) -> tuple[int, int, list[tuple]]:
    """[START_HOUR] QTY PRODUCT... and --window as (order start_hour, qty, alternatives)."""
    numbers = list(takewhile(lambda a: "@" not in a, args))
    products = [_alternative(a) for a in args[len(numbers):]]
    if window is None:
        if len(numbers) != 2 or not products:
            raise typer.BadParameter("give START_HOUR QTY CLASS.REGION@LIMIT_FEN..., e.g. 10 8 H100-80G.jiaxing@1850")
        return _hour(numbers[0], "START_HOUR"), _hour(numbers[1], "QTY"), list(products)
    if len(numbers) != 1 or not products:
        raise typer.BadParameter("with --window give QTY CLASS.REGION@LIMIT_FEN... (no START_HOUR: the window "
                                 "gives the starts), e.g. --window 20-08 --hours 6 8 H100-80G.ningxia@1500")
    if hours < 1:
        raise typer.BadParameter("--window needs --hours (the length of the run)")
    try:
        alternatives = window_alternatives(products, parse_window(window), hours)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return alternatives[0][3], _hour(numbers[0], "QTY"), alternatives


@dayahead_app.command("submit")
def submit(
    day: Day,
    side: Annotated[str, typer.Argument(help="BUY or SELL")],
    args: Annotated[list[str], typer.Argument(
        metavar="[START_HOUR] QTY CLASS.REGION@LIMIT_FEN...",
        help="First delivery hour 0-23 (market time; not with --window), GPUs in each hour, then one or more "
             "products at their limits (a block: any one).")],
    hours: Annotated[int, typer.Option(help="Consecutive hours of a block (0: an hourly order).")] = 0,
    window: Annotated[str | None, typer.Option(
        help="FROM-TO: a block that may run any --hours consecutive hours from FROM:00 to TO:00 of the delivery "
             "day, e.g. 20-08 (one alternative per product and start). A run cannot cross midnight (each day is "
             "its own auction), so 20-08 is the day's hours 0-8 and 20-24; send a night's other part to the "
             "next day.")] = None,
    min_ratio: Annotated[int, typer.Option(help="A block's smallest fill in percent (100: all or none).")] = 100,
    client_order_id: Annotated[int | None, typer.Option(help="Your id (default: from the clock).")] = None,
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Enter a day-ahead order: hourly, a block (whole job) with --hours, or a block that
    may start at any hour of a --window (cross-period)."""
    if side.upper() not in ("BUY", "SELL"):
        raise typer.BadParameter("side must be BUY or SELL")
    start_hour, qty, alternatives = _split(args, window, hours)
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
    """A cleared day's prices and volumes; for a trader, also its own orders' outcomes:
    where and from which hour each accepted block runs, or why it was not."""
    with connect(address, token) as client:
        try:
            Console().print(result_table(client.day_ahead_result(day)))
            mine = client.day_ahead_orders(day)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.PERMISSION_DENIED:  # an operator or auditor has no orders
                fail_rpc(error)
            return
    if mine.orders:
        Console().print(_orders_table(mine.orders, mine.cleared, title="Your day-ahead orders"))


@dayahead_app.command("run")
def run(day: Day, time_limit: Annotated[int, typer.Option(help="Solver seconds.")] = 60,
        address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Operators: close a day's book, clear it and book the trades."""
    with connect(address, token) as client:
        try:
            Console().print(result_table(client.run_day_ahead(day, time_limit)))
        except grpc.RpcError as error:
            fail_rpc(error)
