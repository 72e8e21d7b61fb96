"""Rich tables that commands and demos share: a day's settlement, a day-ahead result,
and money in yuan (formatted here, never in the domain packages)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from exchange.catalog import Market
from exchange.catalog.model import format_minor_units
from exchange.settlement import DaySettlement

_COLUMNS = ("account", "bought_qty", "bought_value", "sold_qty", "sold_value", "fees", "subsidy", "net")
_COUNTS = ("account", "bought_qty", "sold_qty")


def yuan(fen: int) -> str:
    """``fen`` (the wire's prices and balances) as yuan with the sign, e.g. ``¥1,234.50``."""
    return format_minor_units(fen, 100, "CNY")


def settlement_table(result: DaySettlement, market: Market, names: list[str] | None = None) -> Table:
    """One row per account plus the total; ``names`` maps account ids to display names."""
    table = Table(title=f"Settlement of delivery day {result.day} (net > 0: the exchange pays the account)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for name in _COLUMNS:
        table.add_column(name.replace("_", " ").replace("qty", "GPU-h"),
                         justify="left" if name == "account" else "right")
    for row in result.summary_rows():
        if names is not None and row["account"] != "total":
            row = {**row, "account": names[int(row["account"])]}
        table.add_row(*(str(row[c]) if c in _COUNTS else market.format_money(int(row[c]), with_currency=False)
                        for c in _COLUMNS))
    return table


def issuer_lines(result: DaySettlement, market: Market) -> list[str]:
    """One line per voucher issuer: what it owes for the day."""
    return [f"voucher issuer {row['issuer']} owes {market.format_money(row['amount'])}"
            for row in result.issuers.to_pylist()]


def result_table(r) -> Table:
    """A cleared day: its figures, and the price and volume of every traded instrument-hour."""
    table = Table(title=f"Day-ahead result {r.delivery_day}: {r.trades} trades, welfare {yuan(r.welfare_fen)}, "
                        f"gap {r.mip_gap_ppm} ppm, {r.solve_ms} ms, {r.rounds} rounds")
    for column in ("symbol", "price", "GPUs"):
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for p in r.prices:
        if p.volume:  # a traded instrument-hour always has a price; the others have none
            table.add_row(p.symbol, yuan(p.price_fen) if p.HasField("price_fen") else "-", str(p.volume))
    return table
