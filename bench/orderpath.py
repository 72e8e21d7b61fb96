"""Where the order path's time goes: StreamOrders stage by stage, in one process, without grpc.

    python bench/orderpath.py [--per-message N] [--messages N] [--rounds N] [--sync group|os]
                              [--unary CALLERS [--calls N]]

A real :class:`~exchange.gateway.GatewayServer` (journal with an fsync per group, data
dir under /tmp, the clock and market of ``bench/gateway.py``) whose TradingService is
driven straight from this process: 4 streams of place-only messages (the bench's orders,
2 messages in flight per stream) go into ``TradingService.StreamOrders`` as the bytes
grpc would hand it, and its answers are taken as grpc would send them. Each stage
function is wrapped by a timer of the event-loop thread's CPU time (``time.thread_time``:
what the loop spends, not how long the machine made it wait), and the run prints the
CPU µs per order of each stage (stages nest: ``apply`` holds the engine and ``follow``,
which holds the ledger, execution records and the rest), of the whole loop thread and
of the process (every thread: the fsync thread, the trade-log thread), and the page
faults. With ``--unary CALLERS``, PlaceOrder instead, from that many concurrent callers
(``--calls`` each per round, the bench's unary requests parsed), per call. What it
leaves out is grpc's own work per message (``bench/gateway.py``'s echoes
measure it). The numbers are for comparing trees (run it in each, back to back) and
stages, on a machine too busy for wall-clock figures; the wrappers add under 1 µs per
call, i.e. ~0.01 µs per order at 1,000 orders per message.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:
        sys.path.insert(0, path)

import gateway as bench  # noqa: E402  (bench/gateway.py: the orders, market set-up and clock)

from exchange.engine import numba_engine  # noqa: E402
from exchange.executions import log as exec_log  # noqa: E402
from exchange.gateway import GatewayServer, feed, reports  # noqa: E402
from exchange.gateway.interceptors import CALLER  # noqa: E402
from exchange.gateway.server import freeze_startup_heap  # noqa: E402
from exchange.gateway.services import trading  # noqa: E402
from exchange.journal import records, segments  # noqa: E402
from exchange.sequencer import SyncPolicy, history, orders, sequencer, state  # noqa: E402
from exchange.tradelog import feed as tradelog_feed  # noqa: E402

CPU: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()

STAGES = (  # (owner, attribute, stage name), in the order an order meets them
    (trading, "read_stream_request", "wire decode (count + read kernels)"),
    (trading, "stream_commands", "validation (check kernel)"),
    (sequencer, "copy_records", "submit: copy of the batch"),
    (sequencer.Sequencer, "_group", "group: stamp, journal, start fsync (+ apply the previous)"),
    (sequencer, "concat_records", ". join of the group's batches"),
    (segments.FileJournal, "append", ". journal append (encode + write)"),
    (records, "encode", ". . record encoding"),
    (state.MarketState, "apply", "apply (engine + follow)"),
    (numba_engine.Engine, "process", ". engine"),
    (state.MarketState, "_follow", ". follow: ledger, executions, trades, listeners"),
    (orders.OrderLedger, "apply", ". . order ledger"),
    (orders.OrderLedger, "forget", ". . . FORGET_DONE: the ledger forgets the retired orders"),
    (state, "derive_executions", ". . execution records"),
    (exec_log.ExecLog, "append", ". . execution log: checksums + write"),
    (tradelog_feed.TradeLogFeed, "events", ". . trade-log hand-off"),
    (feed.MarketFeed, "on_events", ". . market-data fan-out"),
    (trading, "stream_response", "report encoding (kernels + bytes)"),
    (trading, "place_commands", "unary: validation"),  # before place_command
    (trading, "place_command", "unary: validation"),
    (trading, "execution_reports", "unary: execution reports"),
    (trading, "order_from_rows", "unary: order"),  # before order_fields
    (trading, "order_fields", "unary: order"),
    (reports, "encode_reports", ". wire-writing kernel"),
    (orders.OrderLedger, "retiring", "retirement: the rows to retire, gathered in the writer"),
    (history.OrderHistory, "write", "retirement: history file write (its thread's CPU, not the loop's)"),
    (segments.FileJournal, "sync", "fsync (in the sync thread: its CPU, not the loop's)"),
)


def _timed(name: str, fn):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[name] += time.thread_time() - start
            CALLS[name] += 1
    return timed


def instrument() -> None:
    """Wrap each stage's function in a timer (a stage the tree being measured does not
    have, e.g. an older tree's, is left out)."""
    for owner, attribute, name in STAGES:
        if hasattr(owner, attribute):
            setattr(owner, attribute, _timed(name, getattr(owner, attribute)))


async def run(per_message: int, messages: int, rounds: int, sync: SyncPolicy, callers: int, calls: int) -> None:
    data_dir = tempfile.mkdtemp(prefix="gpux-bench-orderpath-", dir="/tmp")
    server = GatewayServer(data_dir, "127.0.0.1:0", sync=sync, clock=lambda: bench.NOW, timer_seconds=0,
                           rate=1e9, burst=10**9)
    port = await server.start()
    try:
        admin = (Path(data_dir) / "admin.token").read_text().strip()
        traders = max(4, min(callers, 8))  # as bench/gateway.py: callers share 8 accounts at most
        tokens = await asyncio.to_thread(bench.setup_market, f"127.0.0.1:{port}", admin, traders)
        freeze_startup_heap()
        assert server.exchange is not None
        service = trading.TradingService(server.exchange)
        principals = [server.exchange.accounts.authenticate(t) for t in tokens]

        async def stream(principal, data: list[bytes]) -> None:
            CALLER.set(principal)
            window = asyncio.Semaphore(bench.WINDOW)

            async def requests():
                for message in data:
                    await window.acquire()
                    yield message
            async for _ in service.StreamOrders(requests(), None):
                window.release()

        async def unary(principal, requests: list) -> None:
            CALLER.set(principal)
            for request in requests:
                await service.PlaceOrder(request, None)

        def unary_load(n: int) -> list:
            return [unary(principals[c % traders], [bench.trading_pb2.PlaceOrderRequest.FromString(r)
                                                    for r in flow.unary_requests(c % traders, n)])
                    for c in range(callers)]

        flow = bench.Orders(traders)
        if callers:
            await asyncio.gather(*unary_load(max(1, 200 // callers)))
            n, unit = callers * calls, "call"
        else:
            warm = [flow.stream_messages(k, 4, per_message) for k in range(4)]
            await asyncio.gather(*(stream(p, m) for p, m in zip(principals, warm)))
            n, unit = 4 * messages * per_message, "order"
        for r in range(rounds):
            load = unary_load(calls) if callers else \
                [stream(p, m) for p, m in zip(principals, (flow.stream_messages(k, messages, per_message)
                                                           for k in range(4)))]
            CPU.clear()
            CALLS.clear()
            before = resource.getrusage(resource.RUSAGE_SELF)
            loop_cpu, process_cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
            await asyncio.gather(*load)
            wall = time.perf_counter() - wall
            loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu
            after = resource.getrusage(resource.RUSAGE_SELF)
            shape = f"{callers} callers" if callers else f"{per_message:,}/message"
            print(f"round {r + 1}: {n:,} {unit}s, {shape}, in {wall:.2f} s: CPU us/{unit}: "
                  f"loop thread {1e6 * loop_cpu / n:.3f}, process {1e6 * process_cpu / n:.3f} "
                  f"(system {1e6 * (after.ru_stime - before.ru_stime) / n:.3f}); "
                  f"page faults/{unit} {(after.ru_minflt - before.ru_minflt) / n:.3f}")
            for name in dict.fromkeys(name for _, _, name in STAGES):  # a name twice: one stage in two trees
                if CALLS[name]:
                    print(f"  {name:58s} {1e6 * CPU[name] / n:7.3f}   ({CALLS[name]:5d} calls, "
                          f"{1e6 * CPU[name] / CALLS[name]:8.1f} us each)")
    finally:
        await server.stop(1.0)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-message", type=int, default=1000, help="orders per stream message")
    parser.add_argument("--messages", type=int, default=50, help="messages per stream and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sync", choices=("group", "os"), default="group")
    parser.add_argument("--unary", type=int, default=0, metavar="CALLERS",
                        help="PlaceOrder from this many concurrent callers instead of streams")
    parser.add_argument("--calls", type=int, default=500, help="PlaceOrder calls per caller and round")
    args = parser.parse_args()
    from exchange.cli.warm import warm

    warm()  # as gpux serve does: no command waits on a kernel compile
    instrument()
    asyncio.run(run(args.per_message, args.messages, args.rounds, SyncPolicy(args.sync), args.unary, args.calls))


if __name__ == "__main__":
    main()
