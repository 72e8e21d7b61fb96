"""The network demo: a real ``gpux serve`` process, and providers and buyers trading on
it over gRPC with :class:`~exchange.client.GpuxClient`.

:func:`main` starts ``gpux serve`` as a child process on a fresh data directory
(``<data dir>/netdemo``, recreated each run), reads its port from its log and the
admin token from ``admin.token``, and creates an account per participant through the
AdminService. Three providers (threads, one client each) deposit GPUs and quote
ladders of asks for four delivery hours of tomorrow (market time; the server runs on
the real clock, so those gates are open) in three regions; then three buyers trade:

* ai-startup needs 8 H100s for 4 consecutive hours and takes the region whose best
  asks (tickers) cost least, bidding GTC at the price that covers 8 GPUs in the book;
* render-farm buys 16 GPUs of whichever class is cheapest per PFLOP-hour, fill-or-kill;
* university-lab buys A800s with market IOC orders and leaves a bid below the asks.

Meanwhile guizhou-idle-lab reacts to its fills: it follows its own execution stream
(:meth:`~exchange.client.GpuxClient.stream_executions`, pushed by the exchange) and for
each fill of one of its asks brings that many more GPUs and offers them again one step
dearer (:func:`requote_fills`).

Then the day after tomorrow goes to the day-ahead auction: two providers offer H100
hours, render-farm bids one whole job (12 GPUs for 4 consecutive hours, in either
region, all or none) and ai-startup an hourly bid; guizhou-idle-lab offers its idle
H100s through the night, cheapest in its middle, and university-lab bids a night
training job that may run any 4 consecutive hours between 20:00 and 08:00
(cross-period: one alternative per region and start hour; on one delivery day that
window is its hours 0-8 and 20-24). The operator runs the auction: the job lands in
the cheaper region and the night job in the cheapest night hours, booked as trades.

The server also serves the market page and /metrics (``--http-address``, a free port);
its URL is printed and, with ``serve_seconds``, the market stays up that long (Ctrl-C
ends the wait early) for a person to look at it. The tickers are read, the server is
stopped with SIGTERM (it must exit 0), and then,
offline on its files: a city fund grants ai-startup a voucher, tomorrow is settled
provisionally (the real clock does not reach its gate closure, so the day is not
sealed), and :func:`exchange.audit.audit` re-verifies everything. Every wait is bounded,
and the child process is ended whatever happens.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from exchange.audit import audit
from exchange.cli.tables import issuer_lines, result_table, settlement_table
from exchange.cli.warm import warm
from exchange.client import GpuxClient, parse_window, window_alternatives
from exchange.journal import DataDir
from exchange.proto.gpux.v1 import types_pb2
from exchange.settlement import VoucherBook, VoucherGrant, settle
from exchange.tradelog import days, read_day

PROVIDERS: dict[str, tuple[tuple[str, str, int, int], ...]] = {
    "jiaxing-dc": (("H100-80G", "jiaxing", 32, 1800),),
    "ningxia-cloud": (("H100-80G", "ningxia", 32, 1720), ("910B", "ningxia", 64, 880)),
    "guizhou-idle-lab": (("H100-80G", "guizhou", 16, 1690), ("A800-80G", "guizhou", 24, 780)),
}
"""Provider → (GPU class, region, GPUs per hour, first ask in fen) it offers."""
Slots = dict[tuple[str, str, int], str]
"""(GPU class, region, hour) → symbol of the demo's slots."""
HOURS = (10, 11, 12, 13)
"""Delivery hours of tomorrow (market time) that are traded."""
LEVELS, STEP_FEN = 3, 25
"""Each ladder: this many asks, each this much dearer than the one before."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CLIENT_TIMEOUT = 60.0
"""Seconds: for the server to report its port; to exit after SIGTERM; for each participant."""


class ServerProcess:
    """``gpux serve`` on a data dir as a child process; as a context manager, always ended."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self.address = self.token = self.page = ""
        self._ports: queue.Queue[int | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def start(self) -> ServerProcess:
        """Start it; wait (bounded) for its port; read the admin token."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.cli", "serve", "--data-dir", str(self.data_dir),
             "--address", "127.0.0.1:0", "--opening-call", "0",  # the demo trades at once
             "--http-address", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read_log, name="gpux-netdemo-log", daemon=True)
        self._reader.start()
        try:
            port = self._ports.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"gpux serve did not report its port within {START_TIMEOUT:g} s") from None
        if port is None:
            raise RuntimeError(f"gpux serve exited ({self.proc.poll()}): " + " | ".join(self.log[-5:]))
        self.address = f"127.0.0.1:{port}"
        self.token = (self.data_dir / "admin.token").read_text().strip()
        return self

    def _read_log(self) -> None:
        """Keep reading stderr (so the child never blocks on a full pipe); find the port."""
        assert self.proc is not None and self.proc.stderr is not None  # started, stderr piped
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            page = re.search(r"market page at (http://\S+/)", line)  # logged before the port
            self.page = page.group(1) if page else self.page
            found = re.search(r"on port (\d+)", line)
            if found:
                self._ports.put(int(found.group(1)))
        self._ports.put(None)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait; SIGKILL if it has not exited in ``timeout`` s; its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        assert self.proc.stderr is not None  # piped
        self.proc.stderr.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        try:
            return self.start()
        except BaseException:  # __exit__ is not called when __enter__ fails
            self.stop(timeout=5.0)
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=5.0)


# ------------------------------------------------------------------------ participants


def _ladder(gpus: int) -> list[int]:
    sizes = [gpus // LEVELS] * LEVELS
    sizes[-1] += gpus - sum(sizes)
    return sizes


def provide(address: str, token: str, offers, slots: Slots) -> int:
    """Deposit each offer's GPUs per hour and quote its ladder of asks; the asks placed."""
    placed = 0
    with GpuxClient(address, token) as client:
        for gpu_class, region, gpus, first_fen in offers:
            for hour in HOURS:
                symbol = slots[gpu_class, region, hour]
                client.deposit_capacity(symbol, gpus)
                for level, qty in enumerate(_ladder(gpus)):
                    placed += 1
                    client.place_order(symbol, "SELL", qty, price_fen=first_fen + level * STEP_FEN,
                                       client_order_id=placed)
    return placed


_NO_ASK = 1 << 62  # an integer cost above any real one


def _cheapest(client: GpuxClient, groups: dict, field: str):
    """The key of ``groups`` (key → symbols) whose tickers' ``field`` sums lowest."""
    def cost(symbols: list[str]) -> int:
        return sum(getattr(client.ticker(s), field) or _NO_ASK for s in symbols)  # no ask: never chosen
    return min(groups, key=lambda key: cost(groups[key]))


def ai_startup(client: GpuxClient, slots: Slots, order: Callable) -> None:
    """8 H100s for 4 consecutive hours, in the region whose best asks cost least: GTC bids."""
    regions = defaultdict(list)
    for (gpu_class, region, _), symbol in sorted(slots.items()):
        if gpu_class == "H100-80G":
            regions[region].append(symbol)
    for symbol in regions[_cheapest(client, regions, "best_ask_fen")]:
        order(symbol, 8, client.price_to_fill(symbol, 8), "GTC")


def render_farm(client: GpuxClient, slots: Slots, order: Callable) -> None:
    """16 GPUs at 12:00 and 13:00 of the class (and region) cheapest per PFLOP-hour: fill-or-kill."""
    products = defaultdict(list)
    for (gpu_class, region, hour), symbol in sorted(slots.items()):
        if hour in (12, 13):
            products[gpu_class, region].append(symbol)
    for symbol in products[_cheapest(client, products, "best_ask_per_pflop_hour_fen")]:
        order(symbol, 16, client.price_to_fill(symbol, 16), "FOK")


def university_lab(client: GpuxClient, slots: Slots, order: Callable) -> None:
    """4 A800s at 10:00 and 11:00 with market IOC orders; a GTC bid below the asks at 13:00."""
    for hour in (10, 11):
        order(slots["A800-80G", "guizhou", hour], 4, 0, "IOC")
    order(slots["A800-80G", "guizhou", 13], 4, 700, "GTC")


DAY_AHEAD_OFFERS = {"jiaxing-dc": ("jiaxing", 16, 1780), "ningxia-cloud": ("ningxia", 16, 1700)}
"""Provider → (region, H100s per hour, limit in fen) offered day-ahead for HOURS."""
DAY_AHEAD_JOB = (12, (("H100-80G", "jiaxing", 1850), ("H100-80G", "ningxia", 1820)))
"""render-farm's day-ahead job: GPUs for all of HOURS, and the (class, region, limit) it accepts."""


NIGHT_OFFER = ("guizhou-idle-lab", "guizhou", 16, {0: 1500, 1: 1400, 2: 1250, 3: 1200, 4: 1200, 5: 1250, 6: 1400,
                                                    7: 1500})
"""The provider of idle night hours day-ahead: (account, region, H100s per hour, {hour: limit in fen})."""
NIGHT_JOB = (8, 4, "20-08", (("H100-80G", "guizhou", 1600), ("H100-80G", "ningxia", 1600)))
"""university-lab's night training job: GPUs, consecutive hours, the window they must lie
in, and the (class, region, limit) it accepts."""


def cheapest_night_run() -> int:
    """The start of the cheapest run of NIGHT_JOB's hours in NIGHT_OFFER's asks (the demo's
    promise, printed beside where the job landed)."""
    asks, hours = NIGHT_OFFER[3], NIGHT_JOB[1]
    starts = [s for s in asks if all(h in asks for h in range(s, s + hours))]
    return min(starts, key=lambda s: sum(asks[h] for h in range(s, s + hours)))


def day_ahead(address: str, admin: GpuxClient, tokens: dict[str, str], day: date):
    """The day-ahead auction of ``day`` (see the module docstring): (result, [(buyer, order)])."""
    text = day.isoformat()
    for name, (region, gpus, limit) in DAY_AHEAD_OFFERS.items():
        with GpuxClient(address, tokens[name]) as client:
            for hour in HOURS:
                client.deposit_capacity(f"H100-80G.{region}.{day:%Y%m%d}T{hour:02d}", gpus)
                client.submit_day_ahead(text, "SELL", hour, gpus, [("H100-80G", region, limit)], client_order_id=hour)
    provider, region, gpus, asks = NIGHT_OFFER
    with GpuxClient(address, tokens[provider]) as client:
        for hour, limit in asks.items():
            client.deposit_capacity(f"H100-80G.{region}.{day:%Y%m%d}T{hour:02d}", gpus)
            client.submit_day_ahead(text, "SELL", hour, gpus, [("H100-80G", region, limit)],
                                    client_order_id=100 + hour)
    gpus, alternatives = DAY_AHEAD_JOB
    night_gpus, night_hours, window, products = NIGHT_JOB
    night = window_alternatives(list(products), parse_window(window), night_hours)
    bids: dict[str, dict[str, Any]] = {
        "render-farm": dict(start_hour=HOURS[0], qty=gpus, alternatives=list(alternatives), hours=len(HOURS)),
        "ai-startup": dict(start_hour=HOURS[0], qty=8, alternatives=[("H100-80G", "jiaxing", 1800)]),
        "university-lab": dict(start_hour=night[0][3], qty=night_gpus, alternatives=night, hours=night_hours)}
    for name, bid in bids.items():
        with GpuxClient(address, tokens[name]) as client:
            client.submit_day_ahead(text, "BUY", client_order_id=1, **bid)
    result = admin.run_day_ahead(text, time_limit_seconds=30)
    outcomes = []
    for name in bids:
        with GpuxClient(address, tokens[name]) as client:
            outcomes += [(name, o) for o in client.day_ahead_orders(text).orders]
    return result, outcomes


BUYERS: dict[str, tuple[int, Callable]] = {
    "ai-startup": (2_000_000, ai_startup),
    "render-farm": (1_000_000, render_farm),
    "university-lab": (200_000, university_lab),
}
"""Buyer → (funds deposited in fen, its job)."""


REACTING = "guizhou-idle-lab"
"""The provider that re-quotes its asks as they fill."""


def requote_fills(address: str, token: str, said: list[str], stop: threading.Event) -> None:
    """Follow the account's execution stream; for each fill of one of its asks, deposit
    the GPUs sold and offer them again ``STEP_FEN`` dearer; one line per re-quote into
    ``said``. Runs until ``stop`` is set and its stream is cancelled (the client closed)."""
    client = GpuxClient(address, token)

    def close_when_stopped() -> None:
        stop.wait()
        client.close()
    threading.Thread(target=close_when_stopped, daemon=True).start()
    try:
        for event in client.stream_executions():
            fill = event.report
            if event.WhichOneof("event") != "report" or fill.exec_type != types_pb2.EXEC_TYPE_TRADE:
                continue
            price = fill.last_price_fen + STEP_FEN
            client.deposit_capacity(fill.symbol, fill.last_qty)
            client.place_order(fill.symbol, "SELL", fill.last_qty, price_fen=price,
                               client_order_id=1_000_000 + event.exec_seq)
            said.append(f"{REACTING}: told of its fill {event.exec_id} by its execution stream ({fill.last_qty} "
                        f"{fill.symbol} at {fill.last_price_fen / 100:.2f}), re-quoted {fill.last_qty} at "
                        f"{price / 100:.2f}")
    except (grpc.RpcError, ValueError):  # the client was closed: the demo is over
        if not stop.is_set():
            raise


def buy(name: str, address: str, token: str, slots: Slots) -> list[tuple[str, str, int, types_pb2.Order]]:
    """Deposit a buyer's funds and run its job; [(buyer, time in force, limit, order)]."""
    funds, job = BUYERS[name]
    orders: list[tuple[str, str, int, types_pb2.Order]] = []
    with GpuxClient(address, token) as client:
        client.deposit_funds(funds)

        def order(symbol: str, qty: int, price: int, tif: str) -> None:
            placed = client.place_order(symbol, "BUY", qty, price_fen=price, time_in_force=tif,
                                        client_order_id=len(orders) + 1)
            orders.append((name, tif, price, placed))

        job(client, slots, order)
    return orders


# ------------------------------------------------------------------------ the demo


def _tomorrows_slots(admin: GpuxClient) -> tuple[date, Slots]:
    """Tomorrow (market time) and {(class, region, hour): symbol} of the demo's open slots."""
    tz = timezone(timedelta(hours=admin.catalog().utc_offset_hours))
    day = datetime.now(tz).date() + timedelta(days=1)
    products = {(c, r) for offers in PROVIDERS.values() for c, r, _, _ in offers}
    slots = {}
    for inst in admin.instruments(open_only=True):
        start = datetime.fromtimestamp(inst.slot_start_ns // 10**9, tz)
        if start.date() == day and start.hour in HOURS and (inst.gpu_class, inst.region) in products:
            slots[inst.gpu_class, inst.region, start.hour] = inst.symbol
    missing = len(products) * len(HOURS) - len(slots)
    if missing:
        raise RuntimeError(f"{missing} of the demo's slots for {day} are not listed and open")
    return day, slots


def _run_market(server: ServerProcess, console: Console):
    """Accounts, providers, buyers, tickers, the day-ahead auction; (day, slots, names,
    buyer orders, tickers, (day-ahead result, outcomes))."""
    with GpuxClient(server.address, server.token) as admin:
        day, slots = _tomorrows_slots(admin)
        names, tokens = {0: "admin"}, {}
        for name, role in [*((p, "PROVIDER") for p in PROVIDERS), *((b, "BUYER") for b in BUYERS)]:
            created = admin.create_account(name, role)
            names[created.account], tokens[name] = name, created.token
        console.print(f"{len(tokens)} accounts created; trading {len(slots)} slots of {day}",
                      highlight=False, soft_wrap=True)
        # Not a with block: its exit would wait for the threads without a bound.
        stop = threading.Event()
        pool = ThreadPoolExecutor(len(PROVIDERS) + len(BUYERS), thread_name_prefix="gpux-netdemo")
        try:
            quoting = [pool.submit(provide, server.address, tokens[p], offers, slots)
                       for p, offers in PROVIDERS.items()]
            asks = sum(f.result(timeout=CLIENT_TIMEOUT) for f in quoting)
            console.print(f"{len(PROVIDERS)} providers quoted {asks} asks", highlight=False, soft_wrap=True)
            requotes: list[str] = []
            reacting = threading.Thread(target=requote_fills, args=(server.address, tokens[REACTING], requotes, stop),
                                        daemon=True)
            reacting.start()
            buying = [pool.submit(buy, b, server.address, tokens[b], slots) for b in BUYERS]
            orders = [o for f in buying for o in f.result(timeout=CLIENT_TIMEOUT)]
            time.sleep(0.5)  # the last fills reach the provider's stream
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        for line in requotes:
            console.print(line, highlight=False, soft_wrap=True)
        tickers = {symbol: admin.ticker(symbol) for symbol in sorted(slots.values())}
        auction = day_ahead(server.address, admin, tokens, day + timedelta(days=1))
    return day, slots, names, orders, tickers, auction


def _orders_table(orders, money) -> Table:
    table = Table(title="Buyers' orders (over gRPC)")
    for column in ("buyer", "symbol", "TIF", "GPUs", "limit", "status", "filled"):
        table.add_column(column, justify="right" if column in ("GPUs", "filled") else "left")
    for name, tif, limit, o in orders:
        table.add_row(name, o.symbol, tif, str(o.order_qty), money(limit) if limit else "market",
                      types_pb2.OrderStatus.Name(o.order_status).removeprefix("ORDER_STATUS_"), str(o.cum_qty))
    return table


def _trades_table(trades, names: dict[int, str], money) -> Table:
    table = Table(title="Trades per symbol (from the hash-chained trade log)")
    for column in ("symbol", "trades", "GPU-h", "VWAP", "value", "buyers", "sellers"):
        table.add_column(column, justify="left" if column in ("symbol", "buyers", "sellers") else "right")
    by_symbol = defaultdict(list)
    for row in trades.select(["symbol", "qty", "notional", "buyer_account", "seller_account"]).to_pylist():
        by_symbol[row["symbol"]].append(row)
    for symbol, rows in sorted(by_symbol.items()):
        qty, value = sum(r["qty"] for r in rows), sum(r["notional"] for r in rows)
        buyers, sellers = ({names[r[key]] for r in rows} for key in ("buyer_account", "seller_account"))
        table.add_row(symbol, str(len(rows)), str(qty), money((2 * value + qty) // (2 * qty)), money(value),
                      ", ".join(sorted(buyers)), ", ".join(sorted(sellers)))
    return table


def _tickers_table(tickers, money) -> Table:
    table = Table(title="Best asks per PFLOP-hour of FP16 (tickers, before the server stopped)")
    for column in ("symbol", "best bid", "best ask", "ask per PFLOP-h", "last", "volume"):
        table.add_column(column, justify="left" if column == "symbol" else "right")
    ranked = sorted(tickers.values(), key=lambda t: (t.best_ask_per_pflop_hour_fen == 0,
                                                     t.best_ask_per_pflop_hour_fen, t.symbol))
    for t in ranked:
        table.add_row(t.symbol, *(money(v) if v else "-" for v in (
            t.best_bid_fen, t.best_ask_fen, t.best_ask_per_pflop_hour_fen, t.last_price_fen)), str(t.volume))
    return table


def _day_ahead_lines(outcomes, money) -> list[str]:
    """The night's asks, then a line per buyer's day-ahead order: what it asked for and
    what it got (where, and from which hour)."""
    provider, region, gpus, asks = NIGHT_OFFER
    start, hours = cheapest_night_run(), NIGHT_JOB[1]
    lines = [f"{provider} offers {gpus} H100 {region} per night hour: "
             + ", ".join(f"{h:02d}:00 {money(limit)}" for h, limit in asks.items())
             + f"; the cheapest {hours} consecutive night hours: {start:02d}:00-{start + hours:02d}:00"]
    for name, o in outcomes:
        starts = sorted({a.start_hour for a in o.alternatives})
        when = f"from {starts[0]}:00" if len(starts) == 1 else f"starting at any of {', '.join(map(str, starts))} h"
        what = f"{o.qty} GPUs x {o.hours} h {when}" if o.hours > 1 else f"{o.qty} GPUs at {o.start_hour}:00"
        if o.HasField("accepted_start_hour"):
            where, run = o.alternatives[o.accepted_alternative], o.accepted_start_hour
            lines.append(f"{name}: {what} -> filled {o.filled_qty} in {where.region} "
                         f"{run:02d}:00-{run + o.hours:02d}:00 at most {money(where.limit_fen)}/GPU-h")
        else:
            lines.append(f"{name}: {what} -> not filled {o.reason}".rstrip())
    return lines


def _show_page(console: Console, page: str, day: date, seconds: float) -> None:
    """Print the market page's URL (on the traded day); keep the market up ``seconds``
    (Ctrl-C ends the wait early)."""
    console.print(f"market page (算力超市): {page}#/?day={day}  ·  metrics: {page}metrics",
                  highlight=False, soft_wrap=True)
    if seconds > 0:
        console.print(f"the market stays up for {seconds:g} s: open the page; Ctrl-C to go on to settlement",
                      highlight=False, soft_wrap=True)
        try:
            time.sleep(seconds)
        except KeyboardInterrupt:
            console.print("going on", highlight=False)


def main(console: Console | None = None, data_dir: Path | None = None, serve_seconds: float = 0.0) -> int:
    """Run the network demo (see the module docstring) on ``data_dir`` (default
    ``<data dir>/netdemo``; recreated); print it; the exit code (1 if the audit fails).
    With ``serve_seconds``, the market and its page stay up that long after trading."""
    path = Path(data_dir) if data_dir is not None else DataDir.resolve().root / "netdemo"
    if path.exists():
        shutil.rmtree(path)  # the demo's own directory: a new market each run
    path.parent.mkdir(parents=True, exist_ok=True)
    console = console or Console(width=None if sys.stdout.isatty() else 150)

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    say(str(warm(say=say)))  # here, unbounded, so the server's start-up only loads them
    server = ServerProcess(path)
    with server:
        assert server.proc is not None  # started by the with
        say(f"gpux serve (pid {server.proc.pid}) on {server.address}, data dir {path}")
        say("gpux serve: " + next((line.split("gpux.warm ", 1)[1] for line in server.log if "kernels ready" in line),
                                  "(no kernel report)"))
        day, slots, names, orders, tickers, (auction, outcomes) = _run_market(server, console)
        _show_page(console, server.page, day, serve_seconds)
        code = server.stop()
        if code != 0:
            raise RuntimeError(f"gpux serve exited with {code} after SIGTERM: " + " | ".join(server.log[-5:]))
    console.print(f"gpux serve stopped (exit code {code})", highlight=False, soft_wrap=True)

    # Offline, on the stopped server's files: a voucher, a provisional settlement, the audit.
    data = DataDir(path)
    market = data.catalog().market
    ai_startup = next(a for a, n in names.items() if n == "ai-startup")
    VoucherBook(path).grant(VoucherGrant("nd-compute-30", "hangzhou-city-fund", ai_startup, 3000, 1_000_000,
                                         day, day + timedelta(days=30)))
    settlement = settle(path, day, lambda d: read_day(data.trades, d), days(data.trades))
    report = audit(path)

    def money(fen: int) -> str:
        return market.format_money(int(fen))

    trades = read_day(data.trades, day) if day in days(data.trades) else None
    console.print(_orders_table(orders, money))
    if trades is not None:
        console.print(_trades_table(trades, names, money))
    console.print(_tickers_table(tickers, money))
    console.print(result_table(auction))
    for line in _day_ahead_lines(outcomes, money):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(settlement_table(settlement, market, [names.get(a, str(a)) for a in range(max(names) + 1)]))
    for line in issuer_lines(settlement, market):
        console.print(line, highlight=False, soft_wrap=True)
    n_trades = 0 if trades is None else trades.num_rows
    console.print(f"{n_trades} trades in {len(slots)} slots of {day}; the day is not sealed (its gates close "
                  "tomorrow), so this settlement is provisional", highlight=False, soft_wrap=True)
    verdict = "[bold green]AUDIT PASSED[/]" if report.ok else f"[bold red]AUDIT FAILED[/]: {report.problem}"
    console.print(f"{verdict}: {report.commands} commands journaled and replayed, {report.trades} trades in "
                  f"{report.chained_files} hash-chained files (data dir {path})", highlight=False, soft_wrap=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
