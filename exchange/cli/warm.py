"""Compile the numba kernels ahead: ``gpux warm``, and before ``gpux serve`` or the demo start.

numba compiles a kernel on its first call and keeps the machine code in its on-disk cache
(``cache=True``: ``__pycache__`` beside each module, or ``$NUMBA_CACHE_DIR``). From a cold
cache that is about a minute of CPU, most of it the engine's command kernel; left to the
first command a server sequences, it would stall that command past any sane timeout.
:func:`warm` rehearses a small market through the real entry points instead (the market
state: engine, order ledger, ticker; the auction API; the gateway's wire codec; the
operator metrics' count of a group), so every kernel is compiled, or loaded from the
cache, for the argument types the exchange uses.
``make`` runs ``gpux warm`` once after installing, which also restarts a node in a
scratch directory (:func:`rehearse_recovery`: the kernels only a recovery runs), so the
first restart of a server does not compile either; ``gpux serve`` and ``gpux demo`` warm
before they start, saying so when it takes a while. The cache is kept per version of the
kernels' sources (:data:`exchange.KERNEL_CACHE_ROOT`); ``gpux warm`` removes older ones.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

NOTICE = ("preparing the numba kernels: the first time they are compiled, about a minute "
          "(later starts load them from the cache) ...")
NOW = datetime.fromisoformat("2026-11-25T09:00:00+08:00")
SLOTS = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
"""Market time of the rehearsal, and the first of the slots it trades."""


@dataclass(frozen=True)
class WarmReport:
    """What :func:`warm` did: kernels found, signatures compiled and loaded, seconds."""

    kernels: int
    compiled: int
    loaded: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.kernels} numba kernels ready in {self.seconds:.1f} s "
                f"({self.compiled} compiled, {self.loaded} loaded from the cache)")


def kernels(every_module: bool = True) -> dict[str, Any]:
    """Every numba dispatcher defined in the ``exchange`` package, by qualified name
    (imports every module of it, the generated protobuf code aside); without
    ``every_module``, those of the modules imported so far."""
    from numba.core.registry import CPUDispatcher

    import exchange

    for found in pkgutil.walk_packages(exchange.__path__, "exchange.") if every_module else ():
        if not found.name.startswith("exchange.proto") and not found.name.endswith("__main__"):
            importlib.import_module(found.name)
    return {f"{name}.{attr}": value
            for name, module in sorted(sys.modules.items()) if name.startswith("exchange.")
            for attr, value in sorted(vars(module).items())
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name}


def rehearse() -> None:
    """Run a small market through every kernel's real entry point (no clock; the only
    files are an execution log's, in a scratch directory).

    The flow rests more orders than the engine's and the ledger's first tables hold, so
    their growth kernels run too; one instrument goes through a call and an uncross. Its
    executions are appended to an execution log, read back and checked (its mark moves),
    and a position is read as the account service does: a server's first trade, first
    read of that log and first position read would otherwise load those kernels after
    ``gpux serve`` froze its heap, and every full collection of the server's life would
    walk the ~5,700 objects numba made for them (~2 ms each, under the bench's unary
    load every 1-3 s)."""
    import tempfile

    from exchange.auction import indicative, uncross
    from exchange.catalog import default_catalog
    from exchange.engine import CommandKind as K, command
    from exchange.executions import ExecLog
    from exchange.gateway.instruments import Instruments
    from exchange.gateway.reports import execution_reports, reports_message, stream_response
    from exchange.gateway.validation import place_command, place_commands, read_stream_request, stream_commands
    from exchange.proto.gpux.v1 import trading_pb2
    from exchange.sequencer import MarketState
    from exchange.sequencer.history import encode
    from exchange.sequencer.keyfilter import KeyFilter
    from exchange.sequencer.orders import R_ID
    from exchange.testing.workload import funding, order_flow, symbols
    from exchange.web.metrics import ExchangeMetrics

    catalog = default_catalog()
    state = MarketState(catalog, max_accounts=8)
    scratch = tempfile.TemporaryDirectory(prefix="gpux-warm-")
    executions = ExecLog(Path(scratch.name), 8)
    state.exec_sink, state.exec_held = executions.append, executions.counts
    names = symbols(catalog, SLOTS)
    listed = [catalog.instrument(s) for s in names]
    listing = np.concatenate([command(K.LIST_INSTRUMENT, instrument=i, gpu_class=catalog.class_index(inst.gpu_class),
                                      region=catalog.region_index(inst.region), slot_ts=inst.slot_ts_ns)
                              for i, inst in enumerate(listed)])
    batches = [listing, funding(len(names), 8), command(K.START_CALL, instrument=0),
               order_flow(catalog, 3_000, len(names), 8, seed=1), command(K.UNCROSS, instrument=0)]
    seq = 0
    for batch in batches:
        batch["seq"] = np.arange(seq + 1, seq + 1 + len(batch))
        batch["ts"] = int(NOW.timestamp()) * 10**9
        seq += len(batch)
        events = state.apply(batch)
    ExchangeMetrics(Path("journal")).applied(batch, events)  # the operator metrics' count of a group
    state.mark(order_flow(catalog, 8, len(names), 8, seed=2))  # history marks (rule O9)
    encode(state.orders.retiring(0, seq), 0, seq)  # what a retirement writes to the order history
    retire = command(K.FORGET_DONE, seq=seq + 1, ts=int(NOW.timestamp()) * 10**9, amount=seq)
    state.apply(retire)  # the ledger drops its done orders
    state.orders.known(np.arange(1, 9, dtype=np.int64))
    state.orders.get(int(state.orders.rows[0, R_ID]))
    state.engine.position(1, 0)  # as the account service reads one
    state.exec_sink = None
    executions.read(np.arange(executions.n))  # as a private stream catching up reads them
    executions.close()  # its checked mark moves over what was appended
    scratch.cleanup()
    keys = KeyFilter.of([])
    keys.add(np.arange(1, 9, dtype=np.int64))
    keys.add(np.frombuffer(np.arange(9, 17, dtype=np.int64).tobytes(), np.int64))  # read-only: a history file's keys
    keys.maybe(np.arange(1, 17, dtype=np.int64))

    side, price, qty = np.array([1, 2]), np.array([1_900, 1_800]), np.array([3, 2])
    indicative(side, price, qty, reference=1_850, tick=1)
    uncross(side, price, qty, np.arange(2), reference=1_850, tick=1)

    instruments = Instruments(state.listing, catalog)
    place = trading_pb2.PlaceOrderRequest(symbol=names[0], side=1, order_type=1, time_in_force=1, price_fen=1_800,  # type: ignore[arg-type]
                                          qty=1, client_order_id=1, self_trade_prevention=1)  # type: ignore[arg-type]
    place_commands([place], 9, instruments)
    place_command(place, 9, instruments)
    stream = trading_pb2.StreamOrdersRequest(commands=[trading_pb2.OrderCommand(place=place)] * 2)
    stream_commands(read_stream_request(stream.SerializeToString()), 9, instruments)
    account = int(events["account"][0])
    execution_reports(events.tolist(), account, instruments)
    reports_message(trading_pb2.StreamOrdersResponse, events, account, instruments)
    stream_response(events, account, instruments, batch_id=1)


def rehearse_recovery() -> None:
    """A node restarted in a scratch data directory, for the kernels only a recovery runs
    (the execution log's open check, the journal's decoding, each for the array types a
    restart gives them): opened, a few commands, a snapshot, closed; the log's checked
    mark removed (every record is checked, as after a kill -9 before any mark), opened
    again, a command, closed; opened once more. For ``gpux warm``: before ``gpux serve``
    its threads and fsyncs would add to every start, and a server's first start with a
    cold cache compiles these anyway."""
    import tempfile

    from exchange.engine import CommandKind as K
    from exchange.executions import ExecLog
    from exchange.sequencer import ExchangeNode

    with tempfile.TemporaryDirectory(prefix="gpux-warm-") as scratch:
        node = ExchangeNode.open(scratch)
        for account in range(1, 4):
            node.send(K.DEPOSIT_FUNDS, account=account, amount=1_000)
        node.snapshot()
        node.send(K.DEPOSIT_FUNDS, account=1, amount=5)
        node.close()
        (Path(scratch) / "executions" / ExecLog.MARK).unlink()
        node = ExchangeNode.open(scratch)
        node.send(K.DEPOSIT_FUNDS, account=2, amount=5)
        node.close()
        ExchangeNode.open(scratch).close()


def compile_bytecode() -> bool:
    """Write the package's bytecode (``__pycache__/*.pyc``) where it is missing or older
    than its source, as ``pip install`` does for a regular install; whether every module
    compiled. Python writes it on first import only where it may (not with
    ``PYTHONDONTWRITEBYTECODE`` set, nor into a read-only tree): without it, every start of
    ``gpux serve`` compiles the package's sources again, ~0.2 s of CPU."""
    import compileall

    import exchange

    return bool(compileall.compile_dir(Path(exchange.__file__).parent, quiet=1))


def prune_stale_caches(current: Path | None = None) -> list[Path]:
    """Remove the kernel-cache folders of earlier sources beside ``current`` (default: the
    one in use, when it is gpux's own under :data:`exchange.KERNEL_CACHE_ROOT`); the
    folders removed. A cache the user chose with ``NUMBA_CACHE_DIR`` is left alone."""
    import exchange

    current = current or Path(os.environ["NUMBA_CACHE_DIR"])
    if current.parent != exchange.KERNEL_CACHE_ROOT or not exchange.KERNEL_CACHE_ROOT.is_dir():
        return []
    stale = [p for p in exchange.KERNEL_CACHE_ROOT.iterdir() if p.is_dir() and p != current]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def warm(say: Callable[[str], None] | None = None, notice_after: float = 3.0, recovery: bool = False,
         every_module: bool = False) -> WarmReport:
    """Make every kernel ready (:func:`rehearse`, with ``recovery`` also
    :func:`rehearse_recovery`); ``say`` is told :data:`NOTICE` if that takes over
    ``notice_after`` s (a cold cache, or a very busy machine). The rehearsal's errors are
    raised. The report counts the kernels of the modules imported so far, or with
    ``every_module`` those of the whole package (importing what a server does not need:
    the day-ahead clearing with HiGHS, settlement, the audit, the demos)."""
    start = time.perf_counter()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            rehearse()
            if recovery:
                rehearse_recovery()
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            failure.append(error)

    worker = threading.Thread(target=run, name="gpux-warm", daemon=True)
    worker.start()
    worker.join(notice_after)
    if worker.is_alive() and say is not None:
        say(NOTICE)
    worker.join()
    if failure:
        raise failure[0]
    seconds = time.perf_counter() - start
    found = kernels(every_module)
    compiled = sum(sum(d.stats.cache_misses.values()) for d in found.values())
    loaded = sum(sum(d.stats.cache_hits.values()) for d in found.values())
    return WarmReport(len(found), compiled, loaded, seconds)
