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
    the server will not come (e.g. its process exited)."""
    deadline = time.monotonic() + seconds
    with grpc.insecure_channel(address) as channel:
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
