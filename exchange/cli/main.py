"""The ``gpux`` app: the catalog, symbols, ``serve``, the demo, settlement, export,
vouchers, the audit; the commands that talk to a gateway are added from
:mod:`~exchange.cli.client_commands` and :mod:`~exchange.cli.dayahead_commands`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from exchange.catalog import Catalog, CatalogError, SymbolError, load_catalog
from exchange.cli.client_commands import register as register_client_commands
from exchange.cli.dayahead_commands import dayahead_app

_CURRENCY_SIGNS_TEXT = {"CNY": "¥"}

app = typer.Typer(
    help="gpux: an open exchange for standardized GPU-hour contracts.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            help="Catalog TOML file (default: $GPUX_CATALOG, else the shipped default).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """gpux: an open exchange for standardized GPU-hour contracts."""
    ctx.obj = catalog


def _fail(message: str | BaseException) -> NoReturn:
    """Print an error (or an exception, by its text, else its type) to stderr; exit 2."""
    if isinstance(message, BaseException):
        message = str(message) or type(message).__name__
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _catalog(ctx: typer.Context) -> Catalog:
    try:
        return load_catalog(ctx.obj)
    except CatalogError as exc:
        _fail(exc)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


@app.command("catalog")
def catalog_command(ctx: typer.Context) -> None:
    """Show the GPU classes and regions that are traded."""
    cat = _catalog(ctx)
    m = cat.market
    console = Console()
    money = _CURRENCY_SIGNS_TEXT.get(m.currency, m.currency)
    classes = Table(
        title=f"GPU classes (FP16 TFLOPS; prices in {money} per GPU-hour; fees maker/taker bps)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    classes.add_column("#", justify="right")
    classes.add_column("class", no_wrap=True)
    classes.add_column("memory", justify="right", no_wrap=True)
    classes.add_column("TFLOPS", justify="right", no_wrap=True)
    classes.add_column("link", no_wrap=True)
    classes.add_column(f"band {money}", no_wrap=True)
    classes.add_column("tick", justify="right", no_wrap=True)
    classes.add_column("lots", justify="right", no_wrap=True)
    classes.add_column("fees", justify="right", no_wrap=True)
    for i, c in enumerate(cat.classes):
        classes.add_row(
            str(i),
            c.name,
            f"{c.memory_gb} GB",
            c.fp16_tflops,
            c.interconnect,
            f"{m.format_money(c.band_lo_fen, with_currency=False)}–"
            f"{m.format_money(c.band_hi_fen, with_currency=False)}",
            m.format_money(c.tick_fen, with_currency=False),
            f"{c.min_qty}–{c.max_qty}",
            f"{c.maker_fee_bps}/{c.taker_fee_bps}",
        )
    regions = Table(title="Regions", title_justify="left", box=box.SIMPLE_HEAD)
    regions.add_column("#", justify="right")
    regions.add_column("region", no_wrap=True)
    regions.add_column("name", no_wrap=True)
    for i, r in enumerate(cat.regions):
        regions.add_row(str(i), r.name, r.display_name)
    console.print(classes)
    console.print(regions)
    console.print(
        f"catalog {cat.source}; market time {m.tz}; slots listed {m.listing_horizon_days} days "
        f"ahead; gate closes {m.gate_closure_minutes} min before a slot starts",
        highlight=False,
    )


@app.command("symbol")
def symbol_command(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="GPU.REGION.YYYYMMDDTHH, e.g. H100-80G.jiaxing.20261125T14")],
) -> None:
    """Parse a symbol and show the instrument it names (exit status 2 if it is bad)."""
    cat = _catalog(ctx)
    try:
        inst = cat.instrument(symbol)
    except SymbolError as exc:
        _fail(exc)
    cls = cat.gpu_class(inst.gpu_class)
    region = cat.region(inst.region)
    gate_ns = cat.gate_ts_ns(inst)
    table = Table(show_header=False, title=inst.symbol, title_justify="left")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value")
    table.add_row("class", f"{cls.name} ({cls.memory_gb} GB, {cls.fp16_tflops} TFLOPS FP16, {cls.interconnect})")
    table.add_row("region", f"{region.name} ({region.display_name})")
    table.add_row("slot", f"{_when(inst.slot)}, for one hour")
    table.add_row("slot_ts_ns", str(inst.slot_ts_ns))
    table.add_row("gate closes", _when(cat.market_time(gate_ns)))
    table.add_row("gate_ts_ns", str(gate_ns))
    Console().print(table, highlight=False)


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $GPUX_DATA_DIR, else ./data).", file_okay=False),
]


@app.command("demo")
def demo_command(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Where the demo market lives (default: <data dir>/netdemo or /demo, new each run).",
        file_okay=False)] = None,
    in_process: Annotated[bool, typer.Option(
        "--in-process", help="Drive an exchange node directly instead of a server over gRPC.")] = False,
    serve: Annotated[float, typer.Option(
        "--serve", min=0, help="Seconds the market and its page stay up after trading, to look at them "
                               "(Ctrl-C ends the wait; 0: go straight on).")] = 0,
) -> None:
    """Run the demo market end to end: a real server (with its market page), providers
    and buyers over gRPC, settlement with a voucher, and the audit (``--in-process``: the
    scripted market on a node, with gate closure and sealing)."""
    if in_process:
        from exchange.cli import demo  # imported lazily: it pulls in the engine

        raise typer.Exit(code=demo.main(data_dir=data_dir))
    from exchange.cli import netdemo

    raise typer.Exit(code=netdemo.main(data_dir=data_dir, serve_seconds=serve))


@app.command("warm")
def warm_command() -> None:
    """Compile the numba kernels ahead (once; ``make`` runs it after installing), so that
    no first command, and no first restart, waits a minute for them. Later runs only load
    them from the cache. The package's bytecode is written too."""
    from exchange.cli.warm import compile_bytecode, prune_stale_caches, warm

    typer.echo(str(warm(say=typer.echo, recovery=True, every_module=True)))
    if not compile_bytecode():
        typer.echo("some of the package's bytecode could not be written: each start compiles those modules")
    for path in prune_stale_caches():
        typer.echo(f"removed the kernels of earlier sources: {path}")


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    data_dir: DataDirOption = None,
    address: Annotated[str, typer.Option(help="host:port to listen on.")] = "127.0.0.1:50051",
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (with --tls-key: serve TLS).",
                                                  dir_okay=False, exists=True)] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key.", dir_okay=False, exists=True)] = None,
    rate: Annotated[float, typer.Option(help="Requests per second per account.")] = 1000.0,
    opening_call: Annotated[int, typer.Option(
        min=0, help="Seconds of the opening call auction of each newly listed slot (0: none).")] = 300,
    http_address: Annotated[str | None, typer.Option(
        help="host:port of the read-only market page and Prometheus /metrics (default: off).")] = None,
    log_format: Annotated[str, typer.Option(help="Logs on stderr: text, or json (one object per line).")] = "text",
    exec_buffer: Annotated[int, typer.Option(
        min=1, help="Events a private execution stream may fall behind by before it is ended.")] = 10_000,
    max_streams: Annotated[int, typer.Option(min=1, help="Streams open at once, in all.")] = 10_000,
    max_streams_per_account: Annotated[int, typer.Option(min=1, help="Streams open at once per account.")] = 100,
    snapshot_every: Annotated[int, typer.Option(
        min=0, help="Take a snapshot after this many commands (0: not by count).")] = 1_000_000,
    snapshot_seconds: Annotated[float, typer.Option(
        min=0, help="Take a snapshot this many seconds after the last, if anything changed (0: not by time).")] = 300.0,
    snapshot_bytes: Annotated[int, typer.Option(
        min=0, help="Take a snapshot once this many bytes were appended to the journal since the last "
                    "(0: not by size); it bounds what a restart replays.")] = 0,
    retire_every: Annotated[int, typer.Option(
        min=0, help="Move done orders to the order history on disk once this many are in memory "
                    "(0: never; old client order ids stay exactly-once either way).")] = 100_000,
) -> None:
    """Run the exchange: recover the data dir and serve gpux.v1 over gRPC until Ctrl-C
    (with --http-address also the market page and /metrics). Snapshots are taken by
    command count, journal bytes and time (written off the event loop) and at a clean stop,
    after every done order has moved to the order history (<data dir>/history/, --retire-every).

    On first start an admin account is created; its token is in <data dir>/admin.token.
    """
    import gc

    gc.disable()  # until the heap of the imports and kernels is frozen below (why: freeze_startup_heap)
    import asyncio
    import logging

    from exchange.cli.warm import warm
    from exchange.gateway import GatewayServer, keep_freed_memory, serve
    from exchange.web.logs import configure_logging

    if (tls_cert is None) != (tls_key is None):
        _fail("give both --tls-cert and --tls-key, or neither")
    if http_address is not None and not http_address.rpartition(":")[2].isdigit():
        _fail(f"--http-address must be host:port, e.g. 127.0.0.1:8080, not {http_address!r}")
    tls = (tls_cert.read_bytes(), tls_key.read_bytes()) if tls_cert and tls_key else None
    try:
        configure_logging(log_format)
    except ValueError as exc:
        _fail(exc)
    logging.getLogger("gpux.gateway").info("a long-running process: %s", keep_freed_memory())
    log = logging.getLogger("gpux.warm")
    log.info("%s", warm(say=log.info))  # before the first command: none waits on a compile
    gc.freeze()
    gc.enable()
    server = GatewayServer(data_dir, address, catalog_path=ctx.obj, tls=tls, rate=rate, burst=int(2 * rate),
                           opening_call_seconds=opening_call, http_address=http_address, exec_buffer=exec_buffer,
                           max_streams=max_streams, max_streams_per_account=max_streams_per_account,
                           snapshot_every=snapshot_every, snapshot_seconds=snapshot_seconds,
                           snapshot_bytes=snapshot_bytes, retire_every=retire_every)
    try:
        asyncio.run(serve(server))
    except (OSError, RuntimeError) as exc:
        _fail(exc)


def _data_dir(path: Path | None):
    from exchange.journal import DataDir

    data = DataDir.resolve(path)
    if not data.exists():
        _fail(f"{data.root} is not a gpux data dir (no catalog.toml); start an exchange on it first")
    return data


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"day {text!r} is not a date like 2026-11-25")


@app.command("audit")
def audit_command(
    data_dir: Annotated[Path, typer.Argument(help="Data directory to verify.", file_okay=False)],
    from_snapshot: Annotated[bool, typer.Option(
        help="Replay from the newest valid snapshot (faster; earlier trades are checked by their hash chains).")]
        = False,
) -> None:
    """Verify a data dir from its files: hash chains, journal replay, trades, settlements.

    Exit status 0 when everything agrees, 1 with the first difference named.
    """
    from rich.progress import Progress

    from exchange.audit import audit

    console = Console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("replaying the journal", total=None)
        report = audit(data_dir, progress=lambda done, total: bar.update(task, completed=done, total=total),
                       from_snapshot=from_snapshot)
    console.print(f"data dir {report.data_dir}: {report.chained_files} trade-log files chained, "
                  f"{report.commands:,} commands replayed (after seq {report.from_seq:,}), "
                  f"{report.trades:,} trades compared, "
                  f"{len(report.settled_days)} settled days re-run ({report.seconds:.2f} s)",
                  highlight=False, soft_wrap=True)
    if not report.ok:
        console.print(f"[bold red]AUDIT FAILED[/]: {report.problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print("[bold green]AUDIT PASSED[/]: the files agree with a replay of the journal", soft_wrap=True)


@app.command("settle")
def settle_command(
    day: Annotated[str, typer.Argument(help="Delivery day, YYYY-MM-DD (market time).")],
    data_dir: DataDirOption = None,
) -> None:
    """Settle a delivery day from the trade log (its chain verified first): statements,
    vouchers, delivery schedule; the manifest names the trades it came from."""
    from exchange.cli.tables import issuer_lines, settlement_table
    from exchange.settlement import SettlementError, settle
    from exchange.tradelog import TradeLogError, days, read_day, read_seal, trades_source

    data = _data_dir(data_dir)
    when = _day(day)
    try:
        source = trades_source(data.trades, when, data.catalog().market.tz)
        result = settle(data.root, when, lambda d: read_day(data.trades, d), days(data.trades), source)
    except (SettlementError, TradeLogError) as exc:
        _fail(exc)
    market = data.catalog().market
    console = Console()
    console.print(settlement_table(result, market))
    for line in issuer_lines(result, market):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"{result.delivery.num_rows} delivery rows; written to {data.settlement}/date={when}/",
                  highlight=False, soft_wrap=True)
    if read_seal(data.trades, when) is None:
        console.print(f"[yellow]note[/]: trading in {when} has not closed (the day is not sealed): "
                      "this settlement is provisional", highlight=False, soft_wrap=True)


EXPORT_FORMATS = ("parquet", "csv")
EXPORT_TABLES = ("trades", "statements", "subsidies", "delivery", "issuers")


@app.command("export")
def export_command(
    day: Annotated[str, typer.Argument(help="Delivery day, YYYY-MM-DD (market time).")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    table: Annotated[str, typer.Option(help="trades, or a settlement table: statements, subsidies, delivery, "
                                            "issuers.")] = "trades",
    out: Annotated[Path | None, typer.Option(help="File to write (default: TABLE-DAY.FORMAT here).",
                                             dir_okay=False)] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write a delivery day's trades (or a settlement table) as Parquet or CSV for SQL
    tools: the trades from the Arrow files once their hash chain verifies, a settlement
    table once its manifest does. Money stays integer fen, times UTC nanoseconds."""
    import pyarrow.csv as pacsv

    from exchange.settlement import SettlementError, read_settlement, settled_days
    from exchange.tradelog import TradeLogError, read_day, verify_chain
    from exchange.tradelog.parquet import parquet_bytes

    if fmt not in EXPORT_FORMATS:
        _fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if table not in EXPORT_TABLES:
        _fail(f"--table must be one of {', '.join(EXPORT_TABLES)}, not {table!r}")
    data, when = _data_dir(data_dir), _day(day)
    try:
        if table == "trades":
            verify_chain(data.trades, when, data.catalog().market.tz)
            rows = read_day(data.trades, when)
        elif when not in settled_days(data.root):
            _fail(f"{when} has not been settled: run gpux settle {when} first")
        else:
            rows = getattr(read_settlement(data.root, when), table)
    except (TradeLogError, SettlementError) as exc:
        _fail(exc)
    target = out or Path(f"{table}-{when.isoformat()}.{fmt}")
    if fmt == "parquet":
        target.write_bytes(parquet_bytes(rows))
    else:
        pacsv.write_csv(rows, str(target))
    typer.echo(f"{rows.num_rows} rows of {table} {when} written to {target}")


voucher_app = typer.Typer(help="Compute vouchers (算力券) that subsidise what an account buys.",
                          no_args_is_help=True)
app.add_typer(voucher_app, name="voucher")


@voucher_app.command("grant")
def voucher_grant_command(
    grant_id: Annotated[str, typer.Argument(help="Unique id of the grant.")],
    issuer: Annotated[str, typer.Option(help="Who pays, e.g. a city fund.")],
    account: Annotated[int, typer.Option(help="Account subsidised.")],
    rate_bps: Annotated[int, typer.Option(help="Share of the contract value paid, basis points (3000 = 30 %).")],
    valid_from: Annotated[str, typer.Option(help="First delivery day, YYYY-MM-DD.")],
    valid_to: Annotated[str, typer.Option(help="Last delivery day, YYYY-MM-DD.")],
    cap_fen: Annotated[int | None, typer.Option(help="Most the grant pays over its life, fen (none: no cap).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Grant an account a voucher; settlement applies it from then on."""
    from exchange.settlement import VoucherBook, VoucherGrant

    data = _data_dir(data_dir)
    try:
        VoucherBook(data.root).grant(VoucherGrant(grant_id, issuer, account, rate_bps, cap_fen,
                                                  _day(valid_from), _day(valid_to)))
    except ValueError as exc:
        _fail(exc)
    typer.echo(f"granted {grant_id}")


@voucher_app.command("list")
def voucher_list_command(data_dir: DataDirOption = None) -> None:
    """List the voucher grants."""
    from exchange.settlement import VoucherBook

    data = _data_dir(data_dir)
    market = data.catalog().market
    table = Table(box=box.SIMPLE_HEAD)
    for name in ("grant", "issuer", "account", "rate", "cap", "valid"):
        table.add_column(name)
    for g in VoucherBook(data.root).grants():
        cap = "none" if g.cap_fen is None else market.format_money(g.cap_fen)
        table.add_row(g.grant_id, g.issuer, str(g.account), f"{g.rate_bps} bps", cap,
                      f"{g.valid_from}..{g.valid_to}")
    Console().print(table)


register_client_commands(app)
app.add_typer(dayahead_app, name="dayahead")
