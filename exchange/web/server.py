"""The HTTP side of ``gpux serve --http-address``: the operator metrics.

Why aiohttp: it is an asyncio server, so it runs in the very event loop that runs the
grpc.aio gateway and the sequencer. A request reads the market exactly as a gRPC
handler does (between groups, no thread hand-off, no lock). A WSGI/threaded server
would need a thread per request and cross-thread calls into the writer; an ASGI stack
(Starlette + uvicorn) would want to own the loop and its signal handling. aiohttp adds
small pure-asyncio dependencies and nothing that competes for the loop.

Routes: ``/metrics`` (Prometheus text, :mod:`exchange.web.metrics`).
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exchange.web.metrics import ExchangeMetrics, registry

log = logging.getLogger("gpux.web")


class WebServer:
    """``/metrics`` for one gateway's exchange (``start``/``stop``)."""

    def __init__(self, exchange, address: str, open_streams: dict[str, int] | None = None) -> None:
        self.x = exchange
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self.metrics = ExchangeMetrics(exchange.node.data.journal)
        self.metrics.gauges.update({
            "gpux_last_seq": ("Sequence number of the last applied command.", lambda: exchange.node.state.last_seq),
            "gpux_listed_instruments": ("Instruments listed.", lambda: len(exchange.listing)),
        })
        self.metrics.counters["gpux_rate_limited"] = ("Requests refused by the rate limit.",
                                                      lambda: exchange.limiter.refused)
        self.metrics.labelled["gpux_grpc_open_streams"] = (
            "Server-streaming gRPC calls open, by method.", "method", lambda: dict(open_streams or {}))
        self.registry = registry(self.metrics)
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Hook the metrics into the exchange, listen; the bound port."""
        self.x.metrics = self.metrics
        self.x.node.sequencer.observer = self.metrics
        app = web.Application()
        app.add_routes([web.get("/metrics", self._metrics)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("metrics at http://%s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening, unhook the metrics."""
        if self._runner is not None:
            await self._runner.cleanup()
        self.x.node.sequencer.observer = None
        self.x.metrics = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
