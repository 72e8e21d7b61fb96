"""The gateway server: gpux.v1 over grpc aio, on an exchange node.

:class:`GatewayServer` opens (recovers) the data directory, starts the sequencer, and
serves every gpux.v1 service plus the standard health and reflection (v1 and v1alpha,
:mod:`~exchange.gateway.reflection`) services, over
TLS when a certificate and key are given; with an HTTP address, also the market page
and operator metrics in the same event loop (:class:`exchange.web.server.WebServer`,
imported once gRPC is serving; the metrics are hooked in before). A
ticker submits a TIMER every second (gate closures, GTD expiry, sealing) and lists
newly due slots every minute; the clock it reads is the sequencer's, the only one.
:func:`serve` runs one until SIGINT/SIGTERM, with the start-up heap frozen
(:func:`freeze_startup_heap`); ``gpux serve`` first has freed memory kept for reuse
(:func:`keep_freed_memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import importlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pyarrow as pa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from exchange.gateway.accounts import AccountRegistry
from exchange.gateway.interceptors import GatewayInterceptor, StreamCaps, TokenBucket
from exchange.gateway.reflection import enable_reflection
from exchange.gateway.services import Exchange, add_services
from exchange.schema import CommandKind, command
from exchange.sequencer import ExchangeNode, SyncPolicy
from exchange.sequencer.node import RETIRE_EVERY

if TYPE_CHECKING:
    from exchange.web.server import WebServer

log = logging.getLogger("gpux.gateway")


class GatewayServer:
    """One exchange node behind one gRPC server (``start`` / ``stop``)."""

    def __init__(self, data_dir: str | Path | None = None, address: str = "127.0.0.1:50051", *,
                 catalog_path: str | Path | None = None, tls: tuple[bytes, bytes] | None = None,
                 rate: float = 1000.0, burst: int = 2000, timer_seconds: float = 1.0,
                 sync: SyncPolicy = SyncPolicy.GROUP, clock=None, max_accounts: int | None = None,
                 opening_call_seconds: int = 0, http_address: str | None = None, exec_buffer: int = 10_000,
                 max_streams: int = 10_000, max_streams_per_account: int = 100, feed_interval: float = 0.05,
                 snapshot_every: int = 1_000_000, snapshot_seconds: float = 300.0, snapshot_bytes: int = 0,
                 retire_every: int = RETIRE_EVERY) -> None:
        self.data_dir, self.address, self.catalog_path, self.tls = data_dir, address, catalog_path, tls
        self.rate, self.burst, self.timer_seconds = rate, burst, timer_seconds
        self.sync, self.clock, self.max_accounts = sync, clock, max_accounts
        self.opening_call_ns = opening_call_seconds * 10**9
        """New slots open with a call phase this long (0: straight into continuous trading)."""
        self.http_address = http_address
        """host:port of the market page and /metrics (:mod:`exchange.web`); None: off."""
        self.exec_buffer = exec_buffer
        """Execution reports one private stream may fall behind by before it is ended."""
        self.max_streams, self.max_streams_per_account = max_streams, max_streams_per_account
        """Caps on the streams open at once, in all and per account."""
        self.feed_interval = feed_interval
        """Most often the market-data fan-out reads and publishes books and tickers, seconds."""
        self.snapshot_every, self.snapshot_seconds = snapshot_every, snapshot_seconds
        self.snapshot_bytes = snapshot_bytes
        """Snapshot policy: after this many commands, seconds or journal bytes (0: never by
        that), and at a clean stop."""
        self.retire_every = retire_every
        """Done orders move to the order history once this many are hot (0: never)."""
        self.exchange: Exchange | None = None
        self.node: ExchangeNode | None = None
        self.server: grpc.aio.Server | None = None
        self.web: WebServer | None = None
        self.port = self.http_port = 0
        self._ticker: asyncio.Task | None = None

    async def start(self) -> int:
        """Recover the data dir, list due slots, start serving; the bound port."""
        kwargs = {"clock": self.clock} if self.clock is not None else {}
        self.node = await asyncio.to_thread(ExchangeNode.open, self.data_dir, self.catalog_path, sync=self.sync,
                                            max_accounts=self.max_accounts, loop=asyncio.get_running_loop(),
                                            snapshot_every=self.snapshot_every,
                                            snapshot_seconds=self.snapshot_seconds,
                                            snapshot_bytes=self.snapshot_bytes, snapshot_on_stop=True,
                                            retire_every=self.retire_every,
                                            **kwargs)
        accounts = AccountRegistry(self.node.data.root, self.node.state.engine.config.max_accounts)
        limiter = TokenBucket(self.rate, self.burst)
        exchange = self.exchange = Exchange(self.node, accounts, limiter, self.opening_call_ns, self.exec_buffer,
                                            self.feed_interval)
        self.node.on_group(lambda seq: _notify(exchange, seq) if exchange.book_streams else None)  # in the loop
        if self.http_address is not None:  # hooked before the first command: the counters count every one
            from exchange.web.metrics import ExchangeMetrics

            exchange.metrics = self.node.sequencer.observer = ExchangeMetrics(self.node.data.journal)
        await asyncio.to_thread(self.node.list_due, self.node.sequencer.clock(), self.opening_call_ns)
        interceptor = GatewayInterceptor(accounts, limiter, StreamCaps(self.max_streams, self.max_streams_per_account))
        self.server = grpc.aio.server(interceptors=[interceptor])
        names = add_services(self.server, exchange)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        enable_reflection(self.server, [*names, health.SERVICE_NAME])
        if self.tls is not None:
            key, cert = self.tls[1], self.tls[0]
            self.port = self.server.add_secure_port(self.address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            self.port = self.server.add_insecure_port(self.address)
        await self.server.start()
        for name in ("", *names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.timer_seconds:
            self._ticker = asyncio.create_task(self._tick(exchange))
        if self.http_address is not None:
            # the page's modules (aiohttp and the rest: ~0.2 s of CPU) are imported in a
            # thread once gRPC is serving, so that the loop answers meanwhile
            web = await asyncio.to_thread(importlib.import_module, "exchange.web.server")
            self.web = web.WebServer(exchange, self.http_address, exchange.metrics, interceptor.open_streams)
            self.http_port = await self.web.start()
        log.info("gpux serving %s on port %d (data dir %s)", names, self.port, self.node.data.root)
        return self.port

    async def _tick(self, exchange: Exchange) -> None:
        """A TIMER every ``timer_seconds``; due slots listed every 60 ticks."""
        ticks = 0
        while True:
            await asyncio.sleep(self.timer_seconds)
            ticks += 1
            with contextlib.suppress(Exception):
                await exchange.sequencer.submit_async(command(CommandKind.TIMER))
                if ticks % 60 == 0:
                    await asyncio.to_thread(exchange.node.list_due, exchange.sequencer.clock(), self.opening_call_ns)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop serving (in-flight calls get ``grace`` seconds), then close the node."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self.web is not None:
            await self.web.stop()
        if self.exchange is not None and self.exchange.metrics is not None:
            self.exchange.metrics = self.exchange.node.sequencer.observer = None
        if self.server is not None:
            await self.server.stop(grace)
        if self.exchange is not None:
            await self.exchange.feed.close()
        if self.node is not None:
            await asyncio.to_thread(self.node.close)


def _notify(exchange: Exchange, seq: int) -> None:
    """In the event loop: record the applied seq and wake the book streams."""
    exchange.notified_seq = max(exchange.notified_seq, seq)

    async def wake() -> None:
        async with exchange.book_changed:
            exchange.book_changed.notify_all()
    asyncio.ensure_future(wake())


def freeze_startup_heap() -> int:
    """Collect garbage, then move every object alive into the permanent generation
    (``gc.freeze``), so that full collections no longer walk the start-up heap (catalog,
    recovered state, protobuf and numba objects). Under the unary bench load a full
    collection held the event loop for ~55 ms; frozen, under 1 ms. For a server process:
    what is frozen is never collected. Returns how many objects are frozen.

    ``gpux serve`` freezes most of that heap before it recovers, uncollected: its imports
    and kernels make ~207,000 objects with the collector off, of which ~1,260 (0.3 MB)
    are garbage, kept for good. Collected instead, they cost time to SERVING: the
    collector's own runs during the imports 0.13-0.15 s of CPU, and this collection over
    them 0.09-0.11 s, with the event loop held (0.17-0.56 s of wall time in the soak's
    restarts) before the first SERVING answer. This call then walks only what recovery and
    the start made since (~11,000 objects, ~1 ms)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # mallopt's parameters (<malloc.h>)
_MMAP_THRESHOLD = 32 << 20
"""Allocations below this come from the heap (glibc's largest allowed threshold on 64-bit)."""
_TRIM_THRESHOLD = 256 << 20
"""Free memory at the top of the heap kept before glibc trims it on its own."""


def keep_freed_memory() -> str:
    """For a server process: memory freed stays with the process, to be reused, instead of
    going back to the OS and being faulted in again a moment later. What it says it did.

    Why: under the soak (bench/soak.py) the anonymous RSS dropped by 40-75 MB and came back
    within 0.1-0.2 s about once a second (the retirement's transients: rows, sort, columns,
    the Arrow file buffer), so "RSS flat within 10 %" measured those round trips, which also
    cost a page fault per 4 KiB. What returned the memory (strace of madvise/munmap):
    glibc deleting a thread's arena heap (64 MiB munmaps) or unmapping the transients
    allocated above its mmap threshold, and Arrow's mimalloc pool purging freed pages
    (MADV_DONTNEED in 64 KiB steps, ~30 MB/s). So: Arrow allocates through the system
    allocator (``pa.set_memory_pool(pa.system_memory_pool())``), and glibc (through
    ``mallopt``, only where the C library is glibc) keeps one arena (M_ARENA_MAX 1: no
    thread heaps to delete; the threads that allocate much are few), serves allocations
    below 32 MiB from its heap (a fixed M_MMAP_THRESHOLD, which also ends its dynamic
    one) and trims the heap's top on its own only past 256 MiB free (M_TRIM_THRESHOLD).
    The resident size then follows the peak of the working set. An explicit
    ``malloc_trim`` still returns everything free: protobuf's upb allocator calls one
    every 10,000 message arenas freed (unary calls; the StreamOrders path makes none).
    Preferred to a fixed low mmap threshold, which returns every transient at once: that
    made the soak's second-half spread worse (23 -> 39 %)."""
    pa.set_memory_pool(pa.system_memory_pool())
    done = ["Arrow allocates through the system allocator"]
    libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
    if libc is not None and hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt"):
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        settings = {"M_ARENA_MAX": (_M_ARENA_MAX, 1), "M_MMAP_THRESHOLD": (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
                    "M_TRIM_THRESHOLD": (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)}
        applied = [f"{name} {value}" for name, (parameter, value) in settings.items() if libc.mallopt(parameter, value)]
        done.append(f"glibc mallopt {', '.join(applied) or 'refused'}")
    return "; ".join(done)


async def serve(server: GatewayServer) -> None:
    """Run a server until SIGINT or SIGTERM (start-up heap frozen), then stop it cleanly.
    The signals are handled from before the server starts: one that comes while it
    recovers, or as soon as it reports SERVING, stops it cleanly once it has started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info("start-up heap frozen: %d objects", freeze_startup_heap())
    await stop.wait()
    await server.stop()
