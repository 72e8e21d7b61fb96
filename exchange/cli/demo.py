"""The demo market: providers and buyers trading GPU-hours on a durable exchange node.

Three providers deposit capacity and quote asks for two delivery hours across regions and
GPU classes; buyers fund their accounts and bid (limit, market, IOC, FOK), one buyer
resells hours it bought, orders are cancelled and replaced, two orders are rejected by
pre-trade risk, and the 14:00 slots reach gate closure and their resting orders expire.
Everything is deterministic: fixed market times, no randomness, no clock reads.

``gpux demo`` runs it on an exchange node in ``<data dir>/demo`` (recreated each run):
every command is journaled before it is answered, trades go to the hash-chained trade
log, the day closes and is sealed, a city fund's voucher is granted, the day is settled,
and the audit re-verifies everything from the files. ``run_market`` without a data dir
drives a bare engine (the tests also run it on the reference engine).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from exchange.audit import AuditReport, audit
from exchange.catalog import Catalog, Listing, default_catalog
from exchange.cli.tables import issuer_lines, settlement_table
from exchange.engine import (
    CommandKind as K,
    Engine,
    EventKind as EV,
    MatchingEngine,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce as TIF,
    command,
)
from exchange.journal import DataDir
from exchange.schema import EngineConfig
from exchange.sequencer import ExchangeNode
from exchange.settlement import DaySettlement, VoucherBook, VoucherGrant, settle
from exchange.tradelog import day_closes_ns, days, read_day

ACCOUNTS = ("jiaxing-dc", "ningxia-cloud", "night-idle-lab", "ai-startup", "university-lab",
            "render-farm")
"""Demo account names; the index is the engine account id. The first three are providers."""
JIAXING_DC, NINGXIA_CLOUD, NIGHT_IDLE_LAB, AI_STARTUP, UNIVERSITY_LAB, RENDER_FARM = range(6)
PRODUCTS = (("H100-80G", "jiaxing"), ("H100-80G", "ningxia"), ("A800-80G", "guizhou"),
            ("910B", "ningxia"))
"""(GPU class, region) pairs listed for each delivery hour of the demo."""
DAY = "20261125"
HOURS = ("14", "15")
START = datetime.fromisoformat("2026-11-25T09:00:00+08:00")
SECOND = 10**9


@dataclass
class DemoMarket:
    """A market driven by the demo: its engine, listing and every command and event."""

    catalog: Catalog
    engine_cls: Callable[[EngineConfig], MatchingEngine] = Engine
    engine: MatchingEngine = field(init=False)
    listing: Listing = field(init=False)
    node: ExchangeNode | None = None
    commands: list[np.ndarray] = field(default_factory=list)
    events: list[np.ndarray] = field(default_factory=list)
    ts: int = int(START.timestamp()) * SECOND
    _clords: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.node is not None:
            self.engine = self.node.state.engine
        else:
            self.engine = self.engine_cls(self.catalog.engine_config(max_accounts=len(ACCOUNTS)))
        self.listing = Listing(self.catalog)

    def send(self, *batch: np.ndarray) -> np.ndarray:
        """Stamp a batch with the next sequence numbers and one timestamp; apply it
        (through the node's sequencer and journal when there is a node)."""
        cmds = np.concatenate(batch)
        first = sum(len(c) for c in self.commands) + 1
        cmds["seq"] = np.arange(first, first + len(cmds))
        cmds["ts"] = self.ts
        events = self.node.execute(cmds) if self.node is not None else self.engine.process(cmds)
        self.commands.append(cmds)
        self.events.append(events)
        self.ts += SECOND
        return events

    def symbol_id(self, gpu_class: str, region: str, hour: str) -> int:
        """Engine id of a listed demo instrument."""
        return self.listing.id_of(f"{gpu_class}.{region}.{DAY}T{hour}")

    def order(self, account: int, instrument: int, side: Side, qty: int, price: int = 0,
              tif: TIF = TIF.GTC) -> np.ndarray:
        """A NEW_ORDER (MARKET when price is 0) with the account's next client order id."""
        self._clords[account] = self._clords.get(account, 0) + 1
        order_type = OrderType.LIMIT if price else OrderType.MARKET
        return command(K.NEW_ORDER, account=account, instrument=instrument, side=side,
                       order_type=order_type, tif=tif, stp=StpMode.CANCEL_NEWEST,
                       price=price, qty=qty, clord=self._clords[account])

    def next_clord(self, account: int) -> int:
        """Reserve the account's next client order id (for a replace)."""
        self._clords[account] = self._clords.get(account, 0) + 1
        return self._clords[account]

    def all_events(self) -> np.ndarray:
        """Every event so far, in order."""
        return np.concatenate(self.events)


def _ask_ladder(m: DemoMarket, account: int, instrument: int, gpu_class: str,
                qtys: tuple[int, ...]) -> list[np.ndarray]:
    """Asks one level per quantity, from the class's reference price up in steps of ¥0.25."""
    ref = m.catalog.gpu_class(gpu_class).reference_fen
    return [m.order(account, instrument, Side.SELL, q, ref + 25 * i) for i, q in enumerate(qtys)]


def run_market(catalog: Catalog | None = None, engine_cls: Callable[[EngineConfig], MatchingEngine] = Engine,
               data_dir: Path | None = None) -> DemoMarket:
    """Drive the whole demo scenario and return the market in its final state: on an
    exchange node in ``data_dir`` (which must be new; the node is left open), else on
    a bare engine of ``engine_cls``."""
    m = DemoMarket(catalog or default_catalog(), engine_cls)
    if data_dir is not None:
        m.node = ExchangeNode.open(data_dir, clock=lambda: m.ts, max_accounts=len(ACCOUNTS))
        m.catalog = m.node.catalog
        m.engine = m.node.state.engine
    m.send(*(m.listing.add(f"{c}.{r}.{DAY}T{h}") for h in HOURS for c, r in PRODUCTS))
    h100_jx, h100_nx, a800_gz, ascend_nx = (m.symbol_id(c, r, "14") for c, r in PRODUCTS)
    h100_jx15, h100_nx15, a800_gz15, ascend_nx15 = (m.symbol_id(c, r, "15") for c, r in PRODUCTS)

    capacity = ((JIAXING_DC, (h100_jx, h100_jx15), 64), (NINGXIA_CLOUD, (h100_nx, h100_nx15), 32),
                (NINGXIA_CLOUD, (ascend_nx, ascend_nx15), 64),
                (NIGHT_IDLE_LAB, (a800_gz, a800_gz15), 16), (NIGHT_IDLE_LAB, (h100_jx,), 8))
    m.send(*(command(K.DEPOSIT_CAPACITY, account=a, instrument=i, qty=q)
             for a, ids, q in capacity for i in ids))
    m.send(command(K.DEPOSIT_FUNDS, account=AI_STARTUP, amount=20_000_000),
           command(K.DEPOSIT_FUNDS, account=UNIVERSITY_LAB, amount=200_000),
           command(K.SET_CREDIT, account=UNIVERSITY_LAB, amount=100_000),
           command(K.DEPOSIT_FUNDS, account=RENDER_FARM, amount=5_000_000))

    # Providers quote: ladders of asks around each class's reference price.
    m.send(*_ask_ladder(m, JIAXING_DC, h100_jx, "H100-80G", (16, 16, 16)),
           *_ask_ladder(m, JIAXING_DC, h100_jx15, "H100-80G", (24, 24)),
           *_ask_ladder(m, NIGHT_IDLE_LAB, h100_jx, "H100-80G", (8,)),
           *_ask_ladder(m, NINGXIA_CLOUD, h100_nx, "H100-80G", (16, 16)),
           *_ask_ladder(m, NINGXIA_CLOUD, h100_nx15, "H100-80G", (32,)),
           *_ask_ladder(m, NINGXIA_CLOUD, ascend_nx, "910B", (32, 32)),
           *_ask_ladder(m, NIGHT_IDLE_LAB, a800_gz, "A800-80G", (8, 8)),
           *_ask_ladder(m, NIGHT_IDLE_LAB, a800_gz15, "A800-80G", (16,)))
    # One provider tries to offer more than it deposited: rejected by pre-trade risk.
    m.send(m.order(NIGHT_IDLE_LAB, a800_gz15, Side.SELL, 100, 1100))

    # Buyers: a limit bid that sweeps three levels, a market IOC, a FOK for a whole job,
    # bids that rest below the asks, and one bid beyond funds plus credit.
    m.send(m.order(AI_STARTUP, h100_jx, Side.BUY, 30, 1850),
           m.order(RENDER_FARM, h100_nx15, Side.BUY, 12, tif=TIF.IOC),
           m.order(AI_STARTUP, ascend_nx, Side.BUY, 40, 1600, tif=TIF.FOK),
           m.order(UNIVERSITY_LAB, a800_gz, Side.BUY, 8, 700),
           m.order(UNIVERSITY_LAB, h100_nx, Side.BUY, 8, 1700),
           m.order(UNIVERSITY_LAB, h100_jx15, Side.BUY, 200, 1790))

    # Render farm resells four of its hours under the provider's ask; the startup buys them.
    m.send(m.order(RENDER_FARM, h100_nx15, Side.SELL, 4, 1790))
    m.send(m.order(AI_STARTUP, h100_nx15, Side.BUY, 4, 1800, tif=TIF.IOC))

    # The university cancels its H100 bid; jiaxing-dc replaces its best 15:00 ask lower
    # (a price change loses priority) and sells into a new bid.
    m.send(command(K.CANCEL, account=UNIVERSITY_LAB, orig_clord=2))
    m.send(command(K.REPLACE, account=JIAXING_DC, orig_clord=4, clord=m.next_clord(JIAXING_DC),
                   price=1775, qty=24))
    m.send(m.order(UNIVERSITY_LAB, h100_jx15, Side.BUY, 6, 1780))

    # 13:46 market time: the 14:00 slots are past gate closure; their resting orders expire.
    m.ts = int(datetime.fromisoformat("2026-11-25T13:46:00+08:00").timestamp()) * SECOND
    m.send(command(K.TIMER))
    return m


def _money(m: DemoMarket, fen: int) -> str:
    return m.catalog.market.format_money(int(fen))


def _books_table(m: DemoMarket) -> Table:
    table = Table(title="Order books (GPUs @ price per GPU-hour)")
    for column in ("symbol", "state", "bids", "asks", "best ask per PFLOP-h"):
        table.add_column(column)
    for iid, inst in enumerate(m.listing):
        book = m.engine.book(iid, depth=3)
        per_pflop = ""
        if book.asks:
            per_pflop = _money(m, m.catalog.price_per_pflop_hour(inst.gpu_class, book.asks[0].price))
        table.add_row(inst.symbol, book.state.name,
                      "  ".join(f"{lv.qty}@{_money(m, lv.price)}" for lv in book.bids) or "-",
                      "  ".join(f"{lv.qty}@{_money(m, lv.price)}" for lv in book.asks) or "-",
                      per_pflop)
    return table


def _trades_table(m: DemoMarket, trades: np.ndarray) -> Table:
    table = Table(title="Trades (at the resting order's price)")
    for column in ("#", "symbol", "buyer", "seller", "GPUs", "price/GPU-h", "value", "aggressor"):
        table.add_column(column, justify="right" if column in ("#", "GPUs") else "left")
    for t in trades:
        taker_buys = t["side"] == Side.BUY
        buyer, seller = (t["account"], t["contra_account"]) if taker_buys else (
            t["contra_account"], t["account"])
        table.add_row(str(t["trade_id"]), m.listing.symbol(int(t["instrument"])),
                      ACCOUNTS[buyer], ACCOUNTS[seller], str(t["qty"]), _money(m, t["price"]),
                      _money(m, t["price"] * t["qty"]), "buy" if taker_buys else "sell")
    return table


def _outcomes_table(m: DemoMarket, events: np.ndarray) -> Table:
    table = Table(title="Rejected, cancelled and expired")
    for column in ("account", "symbol", "client order id", "event", "GPUs", "reason"):
        table.add_column(column)
    shown = np.isin(events["kind"], (EV.REJECTED, EV.CANCELLED, EV.EXPIRED))
    for e in events[shown]:
        table.add_row(ACCOUNTS[e["account"]], m.listing.symbol(int(e["instrument"])),
                      str(e["clord"]), EV(e["kind"]).name, str(e["qty"]), Reason(e["reason"]).name)
    return table


def _accounts_table(m: DemoMarket) -> Table:
    table = Table(title="Accounts: money and GPU-hours per slot")
    for column in ("account", "cash", "reserved", "available", "symbol", "deposited",
                   "bought", "sold", "offered"):
        table.add_column(column)
    for account, name in enumerate(ACCOUNTS):
        money = m.engine.account(account)
        first = True
        for iid, inst in enumerate(m.listing):
            p = m.engine.position(account, iid)
            if not (p.capacity or p.bought or p.sold or p.ask_open):
                continue
            cells = ((name, _money(m, money.cash), _money(m, money.reserved),
                      _money(m, money.available)) if first else ("", "", "", ""))
            table.add_row(*cells, inst.symbol, str(p.capacity), str(p.bought), str(p.sold),
                          str(p.ask_open))
            first = False
        if first:
            table.add_row(name, _money(m, money.cash), _money(m, money.reserved),
                          _money(m, money.available), "-", "", "", "", "")
    return table


def render(m: DemoMarket, console: Console) -> None:
    """Print the books, trades, outcomes, accounts and a summary of a demo market."""
    events = m.all_events()
    trades = events[events["kind"] == EV.TRADE]
    console.print(_books_table(m))
    console.print(_trades_table(m, trades))
    console.print(_outcomes_table(m, events))
    console.print(_accounts_table(m))
    n_commands = sum(len(c) for c in m.commands)
    value = int((trades["price"] * trades["qty"]).sum())
    console.print(f"{n_commands} commands → {len(events)} events; {len(trades)} trades, "
                  f"{int(trades['qty'].sum())} GPU-hours worth {_money(m, value)}.", soft_wrap=True)


def close_and_settle(m: DemoMarket) -> tuple[DaySettlement, AuditReport]:
    """End the delivery day on a node-backed market: a TIMER after its last gate seals
    the trade log; a city fund grants a voucher; settle the day; audit the data dir."""
    day = date(2026, 11, 25)
    m.ts = day_closes_ns(m.catalog, day)
    m.send(command(K.TIMER))
    node = m.node
    assert node is not None, "close_and_settle needs a market on a node"
    root = node.data.root
    node.close()
    VoucherBook(root).grant(VoucherGrant("hz-compute-30", "hangzhou-city-fund", AI_STARTUP, 3000,
                                         1_000_000, day, date(2026, 12, 31)))
    result = settle(root, day, lambda d: read_day(node.data.trades, d), days(node.data.trades))
    return result, audit(root)


def main(console: Console | None = None, data_dir: Path | None = None) -> int:
    """Run the demo market on a fresh node in ``<data dir>/demo``, settle and audit it,
    print everything; returns the process exit code (1 if the audit fails)."""
    path = Path(data_dir) if data_dir is not None else DataDir.resolve().root / "demo"
    if path.exists():
        shutil.rmtree(path)  # the demo's own directory: a new market each run
    market = run_market(data_dir=path)
    market.engine.check()
    settlement, report = close_and_settle(market)
    # Piped output gets a width that fits the tables instead of rich's 80 columns.
    console = console or Console(width=None if sys.stdout.isatty() else 150)
    render(market, console)
    console.print(settlement_table(settlement, market.catalog.market, list(ACCOUNTS)))
    for line in issuer_lines(settlement, market.catalog.market):
        console.print(line, highlight=False, soft_wrap=True)
    verdict = "[bold green]AUDIT PASSED[/]" if report.ok else f"[bold red]AUDIT FAILED[/]: {report.problem}"
    console.print(f"data dir {path}: {report.commands} commands journaled and replayed, "
                  f"{report.trades} trades in {report.chained_files} hash-chained files — {verdict}",
                  highlight=False, soft_wrap=True)
    return 0 if report.ok else 1
