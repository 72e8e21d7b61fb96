"""The client side of the ``gpux`` command line: orders, books, trades, your own fills,
funds and capacity, operators' accounts, halts and call auctions over gRPC (``--address`` /
``$GPUX_ADDRESS``, ``--token`` / ``$GPUX_TOKEN``), and whether a gateway is up."""

from __future__ import annotations

import time
from typing import Annotated

import grpc
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from exchange.cli.remote import DEFAULT_ADDRESS, Address, Token, connect, fail_rpc
from exchange.cli.tables import yuan
from exchange.client import wait_until_serving
from exchange.proto.gpux.v1 import trading_pb2, types_pb2

order_app = typer.Typer(help="Place, cancel and list your orders.", no_args_is_help=True)
capacity_app = typer.Typer(help="Deposit, withdraw and show GPU capacity (providers).", no_args_is_help=True)
funds_app = typer.Typer(help="Deposit, withdraw and show your money (buyers).", no_args_is_help=True)


def _rpc(address: str, token: str, act):
    """``act(client)``'s result; a refusal is printed with its status and exits 1."""
    with connect(address, token) as client:
        try:
            return act(client)
        except grpc.RpcError as error:
            fail_rpc(error)


def _orders_table(orders) -> Table:
    table = Table(title="Orders")
    for column in ("order", "client id", "symbol", "side", "price", "qty", "filled", "open", "status"):
        table.add_column(column)
    for o in orders:
        table.add_row(str(o.order_id), str(o.client_order_id), o.symbol, types_pb2.Side.Name(o.side)[5:],
                      yuan(o.price_fen), str(o.order_qty), str(o.cum_qty), str(o.leaves_qty),
                      types_pb2.OrderStatus.Name(o.order_status)[13:])
    return table


@order_app.command("place")
def order_place(
    symbol: Annotated[str, typer.Argument(help="e.g. H100-80G.jiaxing.20261126T14")],
    side: Annotated[str, typer.Argument(help="BUY or SELL")],
    qty: Annotated[int, typer.Argument(help="GPUs")],
    price: Annotated[int, typer.Option(help="Limit in fen per GPU-hour (0: market order).")] = 0,
    client_order_id: Annotated[
        int | None, typer.Option(help="Your id for the order (default: from the clock).")] = None,
    tif: Annotated[str, typer.Option(help="GTC, IOC or FOK.")] = "GTC",
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Place an order; shows it as the exchange holds it afterwards."""
    side, tif = side.upper(), tif.upper()
    if side not in ("BUY", "SELL") or tif not in ("GTC", "IOC", "FOK"):
        typer.echo("error: side is BUY or SELL; tif is GTC, IOC or FOK", err=True)
        raise typer.Exit(code=2)
    clord = client_order_id or time.time_ns() // 1000 % (1 << 42)
    with connect(address, token) as client:
        try:
            order = client.place_order(symbol, side, qty, price_fen=price, client_order_id=clord,
                                       time_in_force=tif if price else ("IOC" if tif == "GTC" else tif))
        except grpc.RpcError as error:
            fail_rpc(error)
    Console().print(_orders_table([order]))


@order_app.command("cancel")
def order_cancel(client_order_id: int, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Cancel one of your live orders by its client order id."""
    with connect(address, token) as client:
        try:
            client.cancel_order(client_order_id)
            order = client.get_order(client_order_id)
        except grpc.RpcError as error:
            fail_rpc(error)
    Console().print(_orders_table([order]))


@order_app.command("list")
def order_list(open_only: Annotated[bool, typer.Option("--open", help="Only live orders.")] = False,
               symbol: str = "", address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """List your orders, newest first."""
    with connect(address, token) as client:
        try:
            orders = client.list_orders(open_only=open_only, symbol=symbol)
        except grpc.RpcError as error:
            fail_rpc(error)
    Console().print(_orders_table(orders))


def _book_table(book, ticker) -> Table:
    table = Table(title=f"{book.symbol}  {types_pb2.InstrumentState.Name(book.state)[17:]}  (seq {book.seq})")
    for column in ("bid qty", "bid", "ask", "ask qty"):
        table.add_column(column, justify="right")
    for i in range(max(len(book.bids), len(book.asks))):
        bid = book.bids[i] if i < len(book.bids) else None
        ask = book.asks[i] if i < len(book.asks) else None
        table.add_row(str(bid.qty) if bid else "", yuan(bid.price_fen) if bid else "",
                      yuan(ask.price_fen) if ask else "", str(ask.qty) if ask else "")
    table.caption = (f"last {yuan(ticker.last_price_fen)}  volume {ticker.volume}  best ask per PFLOP-h "
                     f"{yuan(ticker.best_ask_per_pflop_hour_fen)}")
    if book.HasField("indicative"):  # a call phase: what the uncross would give now
        ind = book.indicative
        table.caption += (f"\ncall phase: indicative {yuan(ind.price_fen)} x {ind.qty}, surplus {ind.surplus_qty}"
                          if ind.qty else "\ncall phase: nothing crosses yet")
    return table


def book_command(
    symbol: Annotated[str, typer.Argument(help="e.g. H100-80G.jiaxing.20261126T14")],
    depth: int = 10,
    live: Annotated[bool, typer.Option(help="Keep refreshing (Ctrl-C to stop).")] = False,
    seconds: Annotated[float, typer.Option(help="Refresh interval with --live.")] = 1.0,
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Show an order book (refreshing with --live)."""
    with connect(address, token) as client:
        try:
            if not live:
                Console().print(_book_table(client.book(symbol, depth), client.ticker(symbol)))
                return
            with Live(_book_table(client.book(symbol, depth), client.ticker(symbol)), refresh_per_second=4) as view:
                while True:
                    time.sleep(seconds)
                    view.update(_book_table(client.book(symbol, depth), client.ticker(symbol)))
        except grpc.RpcError as error:
            fail_rpc(error)
        except KeyboardInterrupt:
            pass


def trades_command(
    symbol: str, limit: int = 50,
    live: Annotated[bool, typer.Option(help="Print each new trade as it happens (Ctrl-C to stop).")] = False,
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Show the latest trades of a symbol (with --live: then every new one, pushed)."""
    with connect(address, token) as client:
        try:
            trades = client.trades(symbol, limit=10_000)[-limit:]
        except grpc.RpcError as error:
            fail_rpc(error)
        _trades_table(symbol, trades)
        if not live:
            return
        try:
            for t in client.stream_trades(symbols=[symbol], after_trade_id=trades[-1].trade_id if trades else 0):
                typer.echo(f"{t.trade_id:>8}  {yuan(t.price_fen)} x {t.qty}  {_aggressor(t)}")
        except grpc.RpcError as error:
            fail_rpc(error)
        except KeyboardInterrupt:
            pass


def _trades_table(symbol: str, trades) -> None:
    table = Table(title=f"Trades of {symbol}")
    for column in ("trade", "seq", "price", "qty", "aggressor"):
        table.add_column(column)
    for t in trades:
        table.add_row(str(t.trade_id), str(t.seq), yuan(t.price_fen), str(t.qty), _aggressor(t))
    Console().print(table)


def _aggressor(trade) -> str:
    return "auction" if trade.auction else types_pb2.Side.Name(trade.aggressor_side)[5:]


def _positions_table(positions) -> Table:
    table = Table(title="Capacity")
    for column in ("symbol", "deposited", "bought", "sold", "offered", "free"):
        table.add_column(column)
    for p in positions:
        table.add_row(p.symbol, str(p.capacity), str(p.bought), str(p.sold), str(p.ask_open), str(p.free))
    return table


@capacity_app.command("deposit")
def capacity_deposit(symbol: str, qty: int, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Deposit GPUs for a slot."""
    with connect(address, token) as client:
        try:
            Console().print(_positions_table([client.deposit_capacity(symbol, qty)]))
        except grpc.RpcError as error:
            fail_rpc(error)


@capacity_app.command("withdraw")
def capacity_withdraw(symbol: str, qty: int, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Withdraw GPUs not offered or sold."""
    with connect(address, token) as client:
        try:
            Console().print(_positions_table([client.withdraw_capacity(symbol, qty)]))
        except grpc.RpcError as error:
            fail_rpc(error)


@capacity_app.command("show")
def capacity_show(symbol: str = "", address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Show your capacity, bought and sold GPUs per slot."""
    with connect(address, token) as client:
        try:
            Console().print(_positions_table(client.positions(symbol)))
        except grpc.RpcError as error:
            fail_rpc(error)


def _balance_table(balance) -> Table:
    table = Table(title="Funds")
    for column in ("cash", "credit", "reserved by bids", "held (day-ahead)", "available"):
        table.add_column(column, justify="right")
    table.add_row(yuan(balance.cash_fen), yuan(balance.credit_fen), yuan(balance.reserved_fen),
                  yuan(balance.held_fen), yuan(balance.available_fen))
    return table


Fen = Annotated[int, typer.Argument(help="Fen (CNY 0.01): 1000000 is ¥10,000.00.")]


@funds_app.command("deposit")
def funds_deposit(amount: Fen, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Deposit money; bids reserve limit × quantity of it."""
    Console().print(_balance_table(_rpc(address, token, lambda c: c.deposit_funds(amount))))


@funds_app.command("withdraw")
def funds_withdraw(amount: Fen, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Withdraw money not reserved by bids."""
    Console().print(_balance_table(_rpc(address, token, lambda c: c.withdraw_funds(amount))))


@funds_app.command("show")
def funds_show(address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Show your cash, credit, what your bids reserve and what is available."""
    Console().print(_balance_table(_rpc(address, token, lambda c: c.balance())))


admin_app = typer.Typer(help="Operators: halt, resume, call auctions (an admin's token).", no_args_is_help=True)
Symbol = Annotated[str, typer.Argument(help="e.g. H100-80G.jiaxing.20261126T14")]


ROLES = ("PROVIDER", "BUYER", "AUDITOR", "ADMIN")


@admin_app.command("account")
def admin_account(name: Annotated[str, typer.Argument(help="Who it is for, e.g. jiaxing-dc.")],
                  role: Annotated[str, typer.Argument(help="PROVIDER, BUYER, AUDITOR or ADMIN.")],
                  address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Create an account. Prints its token alone on stdout (``TOKEN=$(gpux admin account
    NAME ROLE)``), and its id on stderr."""
    role = role.upper()
    if role not in ROLES:
        typer.echo(f"error: role is one of {', '.join(ROLES)}, not {role!r}", err=True)
        raise typer.Exit(code=2)
    created = _rpc(address, token, lambda c: c.create_account(name, role))
    typer.echo(f"account {created.account}: {name} ({role})", err=True)
    typer.echo(created.token)


@admin_app.command("halt")
def admin_halt(symbol: Symbol, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Halt trading in a slot (cancels still work)."""
    _rpc(address, token, lambda c: c.halt(symbol))
    typer.echo(f"{symbol}: halted")


@admin_app.command("resume")
def admin_resume(symbol: Symbol,
                 call: Annotated[int, typer.Option(help="Reopen through a call auction of this many seconds.")] = 0,
                 address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Reopen a halted slot: at once, or through a call auction (--call SECONDS)."""
    _rpc(address, token, lambda c: c.resume(symbol, call))
    typer.echo(f"{symbol}: " + (f"call auction for {call} s" if call else "open"))


@admin_app.command("call")
def admin_call(symbol: Symbol,
               seconds: Annotated[int, typer.Option(help="Length of the call (0: until `gpux admin uncross`).")] = 0,
               address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """Start a call auction in a slot: orders collect, nothing matches until the uncross."""
    _rpc(address, token, lambda c: c.start_call(symbol, seconds))
    typer.echo(f"{symbol}: call auction" + (f" for {seconds} s" if seconds else " until uncross"))


@admin_app.command("uncross")
def admin_uncross(symbol: Symbol, address: Address = DEFAULT_ADDRESS, token: Token = "") -> None:
    """End a call auction now: everyone trades at one price, then continuous trading."""
    r = _rpc(address, token, lambda c: c.uncross(symbol))
    typer.echo(f"{symbol}: uncrossed at {yuan(r.price_fen)}, {r.qty} GPUs traded" if r.price_fen
               else f"{symbol}: nothing crossed; continuous trading")


def event_line(event) -> str:
    """One line for an AccountEvent of the execution stream."""
    head = f"{event.exec_seq:>6}  "
    if event.WhichOneof("event") == "change":
        c = event.change
        what = yuan(c.amount_fen) if c.amount_fen else f"{c.qty} {'orders' if c.kind == 6 else 'GPUs'}"
        return head + f"{trading_pb2.AccountChangeKind.Name(c.kind)[20:]:<18} {what} {c.symbol}".rstrip()
    r = event.report
    kind, side = types_pb2.ExecType.Name(r.exec_type)[10:], types_pb2.Side.Name(r.side)[5:]
    if r.exec_type == types_pb2.EXEC_TYPE_TRADE:
        what = f"{side} {r.last_qty} @ {yuan(r.last_price_fen)}, {r.leaves_qty} left (trade {r.trade_id})"
    else:
        what = f"{side} {r.order_qty} @ {yuan(r.price_fen)}, {r.leaves_qty} left"
        if r.reason:
            what += f" ({types_pb2.Reason.Name(r.reason)[7:]})"
    return head + f"{kind:<18} {what} {r.symbol} order {r.client_order_id}"


def fills_command(
    after: Annotated[int, typer.Option(help="Only events with a larger exec_seq.")] = 0,
    live: Annotated[bool, typer.Option(help="Keep following new events as they happen (Ctrl-C to stop).")] = False,
    limit: Annotated[int, typer.Option(help="Without --live: the last this many.")] = 50,
    address: Address = DEFAULT_ADDRESS, token: Token = "",
) -> None:
    """Your executions: fills (as taker and maker), order events and changes of funds and
    capacity, numbered by exec_seq; with --live, pushed as they happen (resuming by
    itself after a disconnect or a server restart)."""
    with connect(address, token) as client:
        try:
            if not live:
                for event in client.executions(after)[-limit:]:
                    typer.echo(event_line(event))
                return
            for event in client.stream_executions(after):
                typer.echo(event_line(event))
        except grpc.RpcError as error:
            fail_rpc(error)
        except KeyboardInterrupt:
            pass


def health_command(
    wait: Annotated[float, typer.Option(help="Keep asking this many seconds, e.g. after starting gpux serve.")] = 0,
    address: Address = DEFAULT_ADDRESS,
) -> None:
    """Whether the gateway answers (gRPC health check, no token): exit 0 once it is serving,
    1 if it is not (within --wait seconds)."""
    if not wait_until_serving(address, wait):
        typer.echo(f"{address}: not serving", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{address}: serving")


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``gpux`` app."""
    app.add_typer(order_app, name="order")
    app.add_typer(capacity_app, name="capacity")
    app.add_typer(funds_app, name="funds")
    app.add_typer(admin_app, name="admin")
    app.command("book")(book_command)
    app.command("trades")(trades_command)
    app.command("fills")(fills_command)
    app.command("health")(health_command)
