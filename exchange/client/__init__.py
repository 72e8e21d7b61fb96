"""The typed Python client of the gpux.v1 gRPC API: :class:`GpuxClient`
(in :mod:`exchange.client.gpux_client`)."""

from exchange.client.gpux_client import GpuxClient

__all__ = ["GpuxClient"]
