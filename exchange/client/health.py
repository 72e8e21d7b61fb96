"""Whether a gateway is up: the standard gRPC health check (no token needed), asked until
it answers SERVING or a deadline passes, for scripts that start ``gpux serve`` and then
talk to it."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_until_serving(address: str, seconds: float, *, still_starting: Callable[[], bool] = lambda: True,
                       interval: float = 0.2) -> bool:
    """True once the gateway at ``address`` answers SERVING; False when ``seconds`` have
    passed first (one check only when ``seconds`` is 0) or ``still_starting()`` says
    the server will not come (e.g. its process exited). The channel retries a refused
    connection every ``interval`` (at least 10 ms) instead of gRPC's default backoff,
    which grows to minutes: a server that came up after a long start is seen at once."""
    deadline = time.monotonic() + seconds
    backoff = max(10, int(interval * 1000))
    options = [("grpc.initial_reconnect_backoff_ms", backoff), ("grpc.min_reconnect_backoff_ms", backoff),
               ("grpc.max_reconnect_backoff_ms", backoff)]
    with grpc.insecure_channel(address, options=options) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            if time.monotonic() >= deadline or not still_starting():
                return False
            time.sleep(interval)
