"""The operator- and user-facing HTTP surfaces of ``gpux serve --http-address``.

* :mod:`~exchange.web.server` — :class:`WebServer`: aiohttp in the gateway's event loop
  (why: see its docstring), serving ``/metrics``;
* :mod:`~exchange.web.metrics` — Prometheus metrics of the sequencer and gateway;
  :mod:`~exchange.web.logs` — structured (JSON) logs.
"""

from exchange.web.metrics import ExchangeMetrics
from exchange.web.server import WebServer

__all__ = ["ExchangeMetrics", "WebServer"]
