"""The HTTP side of ``gpux serve --http-address``: the market page, its JSON, its live
feed (server-sent events) and the operator metrics.

Why aiohttp: it is an asyncio server, so it runs in the very event loop that runs the
grpc.aio gateway and the sequencer. A page request reads the market exactly as a gRPC
handler does (``Exchange.read``: between groups, no thread hand-off, no lock), and the
live feed waits on the gateway's own per-group wake-up. A WSGI/threaded server would
need a thread per request and cross-thread calls into the writer; an ASGI stack
(Starlette + uvicorn) would want to own the loop and its signal handling. aiohttp adds
two small pure-asyncio dependencies and nothing that competes for the loop.

Routes: ``/`` the page (``static/``: hand-written HTML, CSS and JS, no CDN);
``/api/catalog``, ``/api/overview?day=``, ``/api/instrument/{symbol}``,
``/api/compare?...``, ``/api/dayahead[/{day}]`` (JSON; money in fen, times in epoch
seconds); ``/api/live`` (server-sent events, :mod:`exchange.web.live`); ``/metrics``
(Prometheus text, :mod:`exchange.web.metrics`). Everything is read-only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from pathlib import Path

from aiohttp import web
from aiohttp_sse import sse_response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exchange.catalog import SymbolError
from exchange.schema import InstrumentState
from exchange.web import compare
from exchange.web.live import CLOSED, LiveFeed
from exchange.web.market import MarketView, day_ahead_days, day_ahead_summary, trade_history
from exchange.web.metrics import ExchangeMetrics, registry

log = logging.getLogger("gpux.web")

STATIC = Path(__file__).parent / "static"
BOOK_DEPTH = 10
LADDER_CHUNK = 256
"""Books read per turn of the writer when pricing a compare request (bounds the pause)."""
MAX_COMPARE_WAYS = 20_000


class BadRequest(ValueError):
    """A request the page's API cannot answer; the message says what to fix."""


class NotFound(LookupError):
    """A request for something that does not exist (a symbol not listed, a day not cleared)."""


def _int(query, name: str, default: int | None = None, lo: int = 0, hi: int = 10**6) -> int:
    text = query.get(name, "")
    if text == "" and default is not None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text!r}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be from {lo} to {hi}")
    return value


class WebServer:
    """The page, its API and ``/metrics`` for one gateway's exchange (``start``/``stop``)."""

    def __init__(self, exchange, address: str, metrics: ExchangeMetrics, open_streams: dict[str, int] | None = None,
                 live_interval: float = 0.25) -> None:
        """``metrics``: the recorders the gateway hooked into the exchange (its commands
        are counted from the first one on, before this server starts)."""
        self.exchange = exchange
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self.catalog = exchange.catalog
        self.view = MarketView(self.catalog, exchange.listing)
        self.feed = LiveFeed(exchange, self.view.cells, live_interval)
        self.metrics = metrics
        self.metrics.gauges.update({
            "gpux_last_seq": ("Sequence number of the last applied command.", lambda: exchange.node.state.last_seq),
            "gpux_listed_instruments": ("Instruments listed.", lambda: len(exchange.listing)),
            "gpux_page_clients": ("Market page clients on the live feed.", lambda: len(self.feed.clients)),
        })
        self.metrics.counters["gpux_rate_limited"] = ("Requests refused by the rate limit.",
                                                      lambda: exchange.limiter.refused)
        self.metrics.labelled["gpux_grpc_open_streams"] = (
            "Server-streaming gRPC calls open, by method.", "method", lambda: dict(open_streams or {}))
        self.registry = registry(self.metrics)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Index the listing, listen; the bound port."""
        await asyncio.to_thread(self.view.refresh)  # the first index is the big one: off the loop
        app = web.Application(middlewares=[_errors])
        app.add_routes([
            web.get("/", self._index), web.get("/metrics", self._metrics),
            web.get("/api/catalog", self._catalog), web.get("/api/overview", self._overview),
            web.get("/api/instrument/{symbol}", self._instrument), web.get("/api/compare", self._compare),
            web.get("/api/dayahead", self._day_ahead_days), web.get("/api/dayahead/{day}", self._day_ahead),
            web.get("/api/live", self._live), web.static("/static", STATIC),
        ])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("market page at http://%s:%d/ (metrics at /metrics)", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """End the live streams, stop listening."""
        await self.feed.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ pages

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _today(self) -> date:
        return self.catalog.market_time(self.exchange.node.sequencer.clock()).date()

    async def _catalog(self, request: web.Request) -> web.Response:
        self.view.refresh()
        c, m = self.catalog, self.catalog.market
        return web.json_response({
            "currency": m.currency, "utc_offset_hours": m.utc_offset_hours,
            "gate_closure_minutes": m.gate_closure_minutes, "today": self._today().isoformat(),
            "days": self.view.days(),
            "classes": [{"name": k.name, "memory_gb": k.memory_gb, "tflops": k.fp16_tflops,
                         "interconnect": k.interconnect, "taker_fee_bps": k.taker_fee_bps} for k in c.classes],
            "regions": [{"name": r.name, "display": r.display_name} for r in c.regions]})

    async def _overview(self, request: web.Request) -> web.Response:
        self.view.refresh()
        days = self.view.days()
        chosen = request.query.get("day") or next((d for d in days if d >= self._today().isoformat()), "")
        if chosen and chosen not in days:
            raise BadRequest(f"day {chosen!r} has no listed slots; listed: {', '.join(days) or 'none'}")
        rows, seq = await self.feed.current()
        day = date.fromisoformat(chosen) if chosen else self._today()
        return web.json_response(await asyncio.to_thread(self.view.overview, day, rows, seq))

    async def _instrument(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        try:
            inst = self.catalog.instrument(symbol)
        except SymbolError as error:
            raise BadRequest(str(error)) from None
        if inst not in self.exchange.listing:
            raise NotFound(f"{symbol} is not listed")
        instrument = self.exchange.listing.id_of(inst)
        symbol = inst.symbol

        def read(state):
            return (state.engine.book(instrument, BOOK_DEPTH), state.last_trade_price(instrument),
                    state.traded_volume(instrument), state.last_seq)

        book, last, volume, seq = await self.exchange.read(read)
        trades = await asyncio.to_thread(trade_history, self.exchange.node.data.trades, self.catalog, symbol)
        cls = self.catalog.gpu_class(inst.gpu_class)
        return web.json_response({
            "symbol": symbol, "id": instrument, "seq": seq, "gpu_class": inst.gpu_class, "region": inst.region,
            "region_display": self.catalog.region(inst.region).display_name, "memory_gb": cls.memory_gb,
            "tflops": cls.fp16_tflops, "slot": inst.slot_ts_ns // 10**9,
            "gate": self.catalog.gate_ts_ns(inst) // 10**9, "state": book.state.name,
            "reference": book.reference, "last": last, "volume": volume,
            "bids": [[lv.price, lv.qty, lv.orders] for lv in book.bids],
            "asks": [[lv.price, lv.qty, lv.orders] for lv in book.asks],
            "trades": trades})

    async def _compare(self, request: web.Request) -> web.Response:
        need = self._need(request.query)
        ways = await asyncio.to_thread(compare.ways, self.catalog, need)
        if len(ways) > MAX_COMPARE_WAYS:
            raise BadRequest(f"{len(ways)} combinations to price: narrow the start window, region or spec")
        ids: dict[str, int] = {}
        for way in ways:
            for symbol in way.symbols:
                if symbol in self.exchange.listing:
                    ids.setdefault(symbol, self.exchange.listing.id_of(symbol))
        asks = await self._ladders(ids, need.gpus)
        options, possible = await asyncio.to_thread(compare.cheapest, self.catalog, need, ways, asks)
        return web.json_response({"ways": len(ways), "possible": possible, "options": [
            {"gpu_class": o.way.gpu_class, "region": o.way.region, "start": o.way.start_ns // 10**9,
             "symbols": o.way.symbols, "limits": o.limits_fen, "value": o.value_fen, "fees": o.fees_fen,
             "subsidy": o.subsidy_fen, "payable": o.payable_fen, "per_pflop_hour": o.per_pflop_hour_fen,
             "commands": compare.commands(self.catalog, need, o, self._today())} for o in options]})

    def _need(self, query) -> compare.Need:
        def start(name: str) -> int:
            text = query.get(name, "")
            try:
                moment = datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=self.catalog.market.tz)
            except ValueError:
                raise BadRequest(f"{name} must be a market-time hour like 2026-11-26T14, not {text!r}") from None
            return int(moment.timestamp()) * 10**9

        region = query.get("region", "any")
        if region != "any" and region not in {r.name for r in self.catalog.regions}:
            raise BadRequest(f"unknown region {region!r}")
        try:
            return compare.Need(
                gpus=_int(query, "gpus", lo=1, hi=100_000), hours=_int(query, "hours", lo=1, hi=168),
                first_start_ns=start("from"), last_start_ns=start("to"),
                min_memory_gb=_int(query, "memory", 0), min_tflops=_int(query, "tflops", 0),
                region=None if region == "any" else region, voucher_bps=_int(query, "voucher", 0, hi=100) * 100)
        except ValueError as error:
            raise BadRequest(str(error)) from None

    async def _ladders(self, ids: dict[str, int], gpus: int) -> dict[str, list[tuple[int, int]]]:
        """The ask ladders (enough levels for ``gpus``) of the symbols open for trading
        with asks, read between groups a chunk at a time."""
        top = await self.exchange.read(lambda state: state.engine.top_of_book())
        wanted = [(s, i) for s, i in ids.items() if top["state"][i] == InstrumentState.OPEN and top["ask_qty"][i] > 0]
        asks = {}
        for start in range(0, len(wanted), LADDER_CHUNK):
            chunk = wanted[start:start + LADDER_CHUNK]
            asks.update(await self.exchange.read(lambda state, chunk=chunk: {
                s: [(lv.price, lv.qty) for lv in state.engine.book(i, gpus).asks] for s, i in chunk}))
        return asks

    async def _day_ahead_days(self, request: web.Request) -> web.Response:
        return web.json_response({"days": await asyncio.to_thread(day_ahead_days, self.exchange.node.data.dayahead)})

    async def _day_ahead(self, request: web.Request) -> web.Response:
        try:
            day = date.fromisoformat(request.match_info["day"])
        except ValueError:
            raise BadRequest(f"{request.match_info['day']!r} is not a day like 2026-11-26") from None
        summary = await asyncio.to_thread(day_ahead_summary, self.exchange.node.data.dayahead, day)
        if summary is None:
            raise NotFound(f"no day-ahead auction has cleared {day}")
        return web.json_response(summary)

    async def _live(self, request: web.Request) -> web.StreamResponse:
        queue = self.feed.subscribe()
        try:
            async with sse_response(request) as stream:
                await stream.send("{}", event="hello")  # (re)connected: the page takes a new picture
                while (message := await queue.get()) is not CLOSED:
                    await stream.send(message, event="cells")
        finally:
            self.feed.unsubscribe(queue)
        return stream


@web.middleware
async def _errors(request: web.Request, handler):
    """A bad request as JSON ``{"error": ...}``: 400, or 404 for what does not exist."""
    try:
        return await handler(request)
    except BadRequest as error:
        return web.json_response({"error": str(error)}, status=400)
    except NotFound as error:
        return web.json_response({"error": str(error)}, status=404)
