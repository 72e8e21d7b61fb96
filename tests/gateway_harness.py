"""A real gateway server on 127.0.0.1 (free port) in a background event loop or in a
``gpux serve`` process of its own, and a listing for the gateway's unit tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from exchange.catalog import Listing, default_catalog
from exchange.client import wait_until_serving
from exchange.gateway import GatewayServer
from exchange.gateway.instruments import Instruments
from exchange.sequencer import SyncPolicy

NOW = int(dt.datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9
SYMBOL = "H100-80G.jiaxing.20261125T14"
OTHER = "H100-80G.ningbo.20261125T15"


def listed_instruments() -> Instruments:
    """The gateway's instrument cache over a listing of SYMBOL (id 0) and a 910B slot (id 1)."""
    catalog = default_catalog()
    listing = Listing(catalog)
    listing.add(SYMBOL)
    listing.add("910B.ningxia.20261125T14")
    return Instruments(listing, catalog)


class RunningServer:
    """Start a GatewayServer on its own loop thread; ``stop()`` ends both."""

    def __init__(self, data_dir: Path, **kwargs) -> None:
        kwargs.setdefault("timer_seconds", 0)
        kwargs.setdefault("sync", SyncPolicy.OS)
        kwargs.setdefault("clock", lambda: NOW)
        self.server = GatewayServer(data_dir, "127.0.0.1:0", **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(120)
        self.address = f"127.0.0.1:{self.port}"
        self.admin_token = (Path(data_dir) / "admin.token").read_text().strip()

    def stop(self) -> None:
        """Stop the server and its loop (a second call does nothing)."""
        if self.loop.is_closed() or not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(0.5), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now (for a server restarted on the same port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(data_dir: Path, port: int, *options: str) -> subprocess.Popen:
    """``gpux serve`` on 127.0.0.1:``port`` in a process of its own (no opening call
    auction, plus ``options``), once it answers health checks (bounded wait); if it does
    not, the AssertionError ends with the last lines the server wrote to stderr."""
    log = tempfile.TemporaryFile()  # the server's stderr, read back only if it fails to start
    proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--data-dir", str(data_dir),
                             "--address", f"127.0.0.1:{port}", "--opening-call", "0", *options],
                            stdout=subprocess.DEVNULL, stderr=log)
    if not wait_until_serving(f"127.0.0.1:{port}", 120, still_starting=lambda: proc.poll() is None):
        exited = proc.poll() is not None
        proc.kill()
        proc.wait()
        log.seek(0)
        tail = log.read().decode(errors="replace").splitlines()[-20:]
        raise AssertionError(("gpux serve exited" if exited else "gpux serve did not come up")
                             + f" on port {port}; its stderr ended:\n" + "\n".join(tail))
    log.close()  # the server keeps its own descriptor
    return proc
