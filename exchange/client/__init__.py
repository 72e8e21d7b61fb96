"""The typed Python client of the gpux.v1 gRPC API: :class:`GpuxClient` and
:func:`error_info` (in :mod:`exchange.client.gpux_client`); day-ahead windows expanded
into a block's alternatives (:mod:`exchange.client.windows`); :func:`wait_until_serving`,
the health check a script waits on after starting ``gpux serve``."""

from exchange.client.gpux_client import GpuxClient, error_info
from exchange.client.health import wait_until_serving
from exchange.client.windows import parse_window, window_alternatives, window_starts

__all__ = ["GpuxClient", "error_info", "parse_window", "wait_until_serving", "window_alternatives",
           "window_starts"]
