"""A day's settlement as a rich table, for the CLI and the demo (money formatted here)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from exchange.catalog import Market
from exchange.settlement.statements import DaySettlement

_COLUMNS = ("account", "bought_qty", "bought_value", "sold_qty", "sold_value", "fees", "subsidy", "net")
_COUNTS = ("account", "bought_qty", "sold_qty")


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
        table.add_row(*(str(row[c]) if c in _COUNTS else market.format_money(row[c], with_currency=False)
                        for c in _COLUMNS))
    return table


def issuer_lines(result: DaySettlement, market: Market) -> list[str]:
    """One line per voucher issuer: what it owes for the day."""
    return [f"voucher issuer {row['issuer']} owes {market.format_money(row['amount'])}"
            for row in result.issuers.to_pylist()]
