"""The typed Python client of the gpux.v1 gRPC API: :class:`GpuxClient` and
:func:`error_info` (in :mod:`exchange.client.gpux_client`)."""

from exchange.client.gpux_client import GpuxClient, error_info

__all__ = ["GpuxClient", "error_info"]
