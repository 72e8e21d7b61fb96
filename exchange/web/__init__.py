"""The operator- and user-facing HTTP surfaces of ``gpux serve --http-address``.

* :mod:`~exchange.web.server` — :class:`WebServer`: aiohttp in the gateway's event loop
  (why: see its docstring), serving the market page, its JSON API and ``/metrics``;
* :mod:`~exchange.web.market` — what the page shows, from the engine, the trade log and
  the day-ahead records; :mod:`~exchange.web.compare` — the supermarket's cheapest ways
  to get a job's GPUs; :mod:`~exchange.web.live` — one reader of the market fanning
  changes out to every page client (server-sent events);
* :mod:`~exchange.web.metrics` — Prometheus metrics of the sequencer and gateway;
  :mod:`~exchange.web.logs` — structured (JSON) logs;
* ``static/`` — the page: hand-written HTML, CSS and JavaScript, no CDN, no framework.

Everything here only reads: nothing on the page can place an order. The package imports
none of its modules: ``gpux serve`` configures its logs before it recovers and imports
the HTTP server (aiohttp, ~0.2 s of CPU) only once gRPC is serving.
"""
