"""The ``gpux`` command line, the demos and the rich tables they print.

* :mod:`~exchange.cli.main` — the ``gpux`` app (:data:`app`): catalog, symbols, ``serve``,
  ``demo``, ``settle``, ``export``, vouchers, the audit;
* :mod:`~exchange.cli.client_commands` — ``gpux order/book/trades/capacity/admin`` over gRPC;
* :mod:`~exchange.cli.dayahead_commands` — ``gpux dayahead submit/orders/result/run``;
* :mod:`~exchange.cli.remote` — what the gRPC commands share: ``--address``, ``--token``,
  connecting, reporting a refusal;
* :mod:`~exchange.cli.tables` — tables shared by commands and demos (settlement,
  day-ahead result) and money in yuan;
* :mod:`~exchange.cli.demo` — the scripted market on an in-process node;
  :mod:`~exchange.cli.netdemo` — the same story against a real ``gpux serve`` over gRPC.

``python -m exchange.cli`` runs the app.
"""

from exchange.cli.main import app

__all__ = ["app"]
