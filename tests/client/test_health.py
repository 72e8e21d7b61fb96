"""wait_until_serving sees a server that comes up late at once, not after gRPC's growing
reconnect backoff (which reaches tens of seconds after a minute of refused connections)."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from exchange.client import wait_until_serving
from tests.gateway_harness import free_port


def test_a_server_that_comes_up_late_is_seen_within_the_interval():
    port = free_port()
    seen: list[float] = []
    waiter = threading.Thread(target=lambda: seen.append(
        wait_until_serving(f"127.0.0.1:{port}", 60, interval=0.05) and time.monotonic()))
    waiter.start()
    time.sleep(6)  # refused all along: gRPC's own backoff would be ~4 s between tries by now
    server = grpc.server(futures.ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    up = time.monotonic()
    try:
        waiter.join(30)
        assert seen and seen[0] - up < 1.5
    finally:
        server.stop(0)
