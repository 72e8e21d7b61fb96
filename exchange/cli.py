"""The ``gpux`` command line: look at the catalog, check a symbol, run the demo."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from exchange.catalog import Catalog, CatalogError, SymbolError, load_catalog

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


def _fail(message: str) -> NoReturn:
    """Print an error to stderr and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _catalog(ctx: typer.Context) -> Catalog:
    try:
        return load_catalog(ctx.obj)
    except CatalogError as exc:
        _fail(str(exc))


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
            f"{m.format_money(c.band_lo_fen, with_currency=False)}–{m.format_money(c.band_hi_fen, with_currency=False)}",
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
        _fail(str(exc))
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


@app.command("demo")
def demo_command() -> None:
    """Run the demo market end to end (exchange.demo)."""
    from exchange import demo  # imported lazily: it pulls in the engine

    demo.main()


if __name__ == "__main__":
    app()
