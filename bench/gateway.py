"""Benchmark of the gRPC gateway (exchange.gateway) against grpc aio echo servers.

    python bench/gateway.py [--quick] [--rounds N] [--streams N] [--callers N] [--sync group|os]
                            [--profile-server FILE] [--py-spy PREFIX] [--baseline DIR]

Five servers answer the same gpux.v1.TradingService calls (the echoes are in ``bench/echo.py``):

* raw echo: a bare ``grpc.aio`` server with no (de)serializers that answers each request
  with its own bytes (no protobuf at all): the transport alone, the ceiling of the
  stream targets.
* raw durable echo: the raw echo, answering each request only once its bytes are
  written and fsynced (the durable echo's group commit, below): the transport and the
  disk, no protobuf and no work. "raw durable echo/raw echo" in the summary is the most
  of the raw echo that any server acknowledging durably reaches on this machine and
  load (the ceiling under the stream targets' ratios).
* echo: a bare ``grpc.aio`` server (no interceptor) whose PlaceOrder decodes the request
  and answers a PlaceOrderResponse with one ExecutionReport and an Order, and whose
  StreamOrders answers each request with one ExecutionReport per command: what grpc aio +
  protobuf messages built in Python cost with these shapes and no exchange.
* durable echo: the echo, answering each request only once its bytes are written and
  fsynced to a file in the gateway's data dir's file system (group commit, the fsync in a
  thread, and the gateway's group hold): the physical floor of a durable acknowledgement
  on this disk, the base of the unary target; the gateway's own cost is the gap between
  it and the gateway.
* gateway: the real GatewayServer (interceptor, validation, sequencer, journal with
  SyncPolicy.GROUP, i.e. an fsync per group, in a data dir under /tmp), clock fixed at
  2026-11-25T09:00+08:00, timer off, rate limit out of the way (1e9/s, burst 1e9).
  ``--sync os`` (no fsync) is a diagnostic only: it shows what the fsync costs.

With ``--baseline DIR`` (a source tree, e.g. ``git archive main | tar -x -C DIR``) a fifth
child serves the gateway of that tree's ``exchange`` (its kernels warmed first, its own
data dir and accounts), on the same messages as the gateway, the two back to back in
each round and in turns (one goes first in odd rounds, the other in even ones): the
summary adds their paired after/before ratios, the measure of a change on a machine
too noisy for figures taken minutes apart.

Process layout (chosen because of the GIL): each server runs in its own child process
(``python bench/gateway.py --serve raw|rawdurable|echo|durable|gateway``), the load generator in this process
on one grpc aio event loop. In one process the load generator (a Python grpc client)
and the server would share one GIL and the figures would measure the sum of both. The
load sends pre-serialized requests and keeps the responses as bytes (decoded after the
clock stops, to count reports and trades), so the client spends as little CPU as
possible per call; the client's and each server's CPU use are printed so a saturated
client (ratio flattered) can be seen. On a 2-core machine the client and the server
each get roughly one core.

Load (seed fixed; each trader account buys and sells around its own mid so that it
never trades with itself, mids spread ±12 fen around the H100-80G reference of 1800
fen, so accounts trade with each other; unique client order ids):

* stream: StreamOrders with 100 and with 1,000 place commands per message, on
  ``--streams`` concurrent streams (one trader account each, 2 messages in flight per
  stream); orders/s. Targets (issue 14): 1,000/msg at least 400,000 orders/s and 25 % of
  the raw echo; 100/msg at least 50 % of the raw echo. The echo servers get each
  stream's messages 5 times over, the raw echoes 25 times (they are far faster; a run of a
  few tens of ms would be noise).
* unary: PlaceOrder from ``--callers`` (default 16) concurrent callers (each its own
  channel); calls/s and p50/p99 latency. Target: at least 70 % of the durable echo, p99
  under 10 ms.

Set-up through GpuxClient: the admin creates a provider (deposits capacity, places asks
at 1800/1810/1820) and two buyers (deposit funds; one buys against the asks), and the
trader accounts of the load (role PROVIDER, so they can sell: each deposits capacity
and funds). Times are printed, never asserted. The machines are noisy, so each case runs
in ``--rounds`` rounds (raw echo, raw durable echo, echo, durable echo, gateway back to
back, fresh orders each round) and the summary gives medians, a ratio as the median of
the rounds' own ratios. Orders
left resting stay in the gateway's book, so later rounds trade against a deeper book.
``--quick`` (one round, smaller counts) runs under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TREE = os.environ.get("GPUX_BENCH_TREE")
"""A baseline child's source tree (``--baseline``): its ``exchange`` is imported, not ours."""
if TREE:
    sys.path.insert(0, TREE)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from echo import DurableEcho, EchoTrading, GroupCommit, raw_echo_handler  # noqa: E402  (bench/echo.py)

from exchange.proto.gpux.v1 import trading_pb2, trading_pb2_grpc, types_pb2  # noqa: E402

SEED = 20261125
NOW = int(dt.datetime.fromisoformat("2026-11-25T09:00:00+08:00").timestamp()) * 10**9
SYMBOL = "H100-80G.jiaxing.20261125T14"
REFERENCE = 1800
PLACE = "/gpux.v1.TradingService/PlaceOrder"
STREAM = "/gpux.v1.TradingService/StreamOrders"
WINDOW = 2  # stream messages in flight per stream
ECHO_REPEAT = 5  # the echo servers get each stream's messages this many times over (they are far faster)
RAW_REPEAT = 25  # and the raw echoes this many times
GATEWAY_REPEAT = 5  # the gateway gets this many times as many messages (fresh orders: ids are never reused)


# ====================================================================== servers (child process)

async def _serve(kind: str, data_dir: str | None, sync: str = "group") -> None:
    """Start one server, print its port, serve until stdin closes. Every server's
    start-up heap is frozen, as ``gpux serve`` does (the same process tuning for all)."""
    from exchange.gateway.server import freeze_startup_heap

    if kind in ("raw", "rawdurable", "echo", "durable"):
        server = grpc.aio.server()
        if kind == "raw":
            server.add_generic_rpc_handlers([raw_echo_handler()])
        elif kind == "rawdurable":
            server.add_generic_rpc_handlers([raw_echo_handler(GroupCommit(Path(data_dir) / "raw-durable-echo.log"))])
        else:
            servicer = EchoTrading(NOW) if kind == "echo" else DurableEcho(Path(data_dir) / "durable-echo.log", NOW)
            trading_pb2_grpc.add_TradingServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stop = server.stop
    else:
        from exchange.cli.warm import warm
        from exchange.gateway import GatewayServer
        from exchange.sequencer import SyncPolicy

        warm()  # as gpux serve does: no command waits on a kernel compile (after a change, the first run compiles)
        gateway = GatewayServer(data_dir, "127.0.0.1:0", sync=SyncPolicy(sync), clock=lambda: NOW,
                                timer_seconds=0, rate=1e9, burst=10**9)
        port = await gateway.start()
        stop = gateway.stop
    freeze_startup_heap()
    print(port, flush=True)
    await asyncio.to_thread(sys.stdin.read)  # the parent closes our stdin to stop us
    await stop(1.0)


def serve_main(kind: str, data_dir: str | None, profile: str | None, sync: str) -> None:
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(_serve(kind, data_dir, sync))
        finally:
            profiler.disable()
            profiler.dump_stats(profile)
    else:
        asyncio.run(_serve(kind, data_dir, sync))


class Child:
    """A server in a child process (``--serve``): its address, pid and CPU time."""

    def __init__(self, kind: str, data_dir: str | None = None, profile: str | None = None,
                 sync: str = "group", tree: str | None = None) -> None:
        args = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--sync", sync]
        if data_dir:
            args += ["--data-dir", data_dir]
        if profile:
            args += ["--profile-server", profile]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree or str(ROOT), os.environ.get("PYTHONPATH", "")])}
        if tree:
            env["GPUX_BENCH_TREE"] = tree
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env, text=True)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"{kind} server did not start (exit {self.proc.wait()})")
        self.port = int(line)
        self.address = f"127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """User + system CPU seconds of the child so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ====================================================================== load (this process)

class Orders:
    """Seeded place requests for the trader accounts, with unique client order ids."""

    def __init__(self, n_accounts: int, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.mids = np.linspace(REFERENCE - 12, REFERENCE + 12, n_accounts).round().astype(int)
        self.next_clord = [1000] * n_accounts

    def requests(self, account: int, n: int) -> list[trading_pb2.PlaceOrderRequest]:
        """``n`` limit GTC orders alternating buy/sell, buys below and sells above the
        account's mid (1..14 fen away), qty 1..10."""
        first = self.next_clord[account]
        self.next_clord[account] += n
        away = self.rng.integers(1, 15, n)
        qty = self.rng.integers(1, 11, n)
        mid = int(self.mids[account])
        out = []
        for j in range(n):
            buy = (first + j) % 2 == 0
            out.append(trading_pb2.PlaceOrderRequest(
                symbol=SYMBOL, side=types_pb2.SIDE_BUY if buy else types_pb2.SIDE_SELL,
                order_type=types_pb2.ORDER_TYPE_LIMIT, time_in_force=types_pb2.TIME_IN_FORCE_GTC,
                price_fen=mid - int(away[j]) if buy else mid + int(away[j]), qty=int(qty[j]),
                client_order_id=first + j))
        return out

    def stream_messages(self, account: int, n_messages: int, per_message: int) -> list[bytes]:
        return [trading_pb2.StreamOrdersRequest(
                    batch_id=b,
                    commands=[trading_pb2.OrderCommand(place=p) for p in self.requests(account, per_message)],
                ).SerializeToString() for b in range(n_messages)]

    def unary_requests(self, account: int, n: int) -> list[bytes]:
        return [p.SerializeToString() for p in self.requests(account, n)]


def _metadata(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


async def _one_stream(channel: grpc.aio.Channel, token: str, messages: list[bytes]) -> list[bytes]:
    call = channel.stream_stream(STREAM)(metadata=_metadata(token), timeout=600)
    window = asyncio.Semaphore(WINDOW)

    async def write() -> None:
        for m in messages:
            await window.acquire()
            await call.write(m)
        await call.done_writing()

    writer = asyncio.create_task(write())
    out = []
    for _ in messages:
        response = await call.read()
        if response is grpc.aio.EOF:
            break
        out.append(response)
        window.release()
    await writer
    code = await call.code()
    if code != grpc.StatusCode.OK:
        raise RuntimeError(f"StreamOrders ended {code}: {await call.details()}")
    return out


async def run_streams(address: str, tokens: list[str], per_stream: list[list[bytes]]) -> tuple[float, list[bytes]]:
    """Drive one stream per token at once; (seconds, responses)."""
    channels = [grpc.aio.insecure_channel(address) for _ in tokens]
    try:
        for ch in channels:
            await ch.channel_ready()
        t0 = time.perf_counter()
        results = await asyncio.gather(*(_one_stream(ch, t, m) for ch, t, m in zip(channels, tokens, per_stream)))
        elapsed = time.perf_counter() - t0
    finally:
        for ch in channels:
            await ch.close()
    return elapsed, [r for rs in results for r in rs]


async def run_unary(address: str, tokens: list[str], per_caller: list[list[bytes]]
                    ) -> tuple[float, list[bytes], np.ndarray]:
    """One caller per token, each its own channel, calls back to back; (seconds, responses, latencies)."""
    channels = [grpc.aio.insecure_channel(address) for _ in tokens]
    latencies: list[float] = []
    responses: list[bytes] = []

    async def caller(channel, token, requests):
        place = channel.unary_unary(PLACE)
        md = _metadata(token)
        for r in requests:
            t = time.perf_counter()
            responses.append(await place(r, metadata=md, timeout=60))
            latencies.append(time.perf_counter() - t)

    try:
        for ch in channels:
            await ch.channel_ready()
        t0 = time.perf_counter()
        await asyncio.gather(*(caller(ch, t, r) for ch, t, r in zip(channels, tokens, per_caller)))
        elapsed = time.perf_counter() - t0
    finally:
        for ch in channels:
            await ch.close()
    return elapsed, responses, np.array(latencies)


def count_reports(server: str, stream_responses: list[bytes] = (), unary_responses: list[bytes] = ()
                  ) -> dict[str, int]:
    """Execution reports by exec type (decoded after the clock stopped); the raw echoes'
    answers are the requests' bytes, counted as such."""
    if server in ("raw", "rawdurable"):
        return {"bytes echoed": len(stream_responses) + len(unary_responses)}
    counts: dict[str, int] = {}
    reports = []
    for raw in stream_responses:
        reports.extend(trading_pb2.StreamOrdersResponse.FromString(raw).reports)
    for raw in unary_responses:
        reports.extend(trading_pb2.PlaceOrderResponse.FromString(raw).reports)
    for r in reports:
        name = types_pb2.ExecType.Name(r.exec_type).removeprefix("EXEC_TYPE_")
        counts[name] = counts.get(name, 0) + 1
    return counts


class Measured:
    """One run against one server: throughput, latencies, CPU of the client and server."""

    def __init__(self, units: int, seconds: float, client_cpu: float, server_cpu: float,
                 counts: dict[str, int], latencies: np.ndarray | None = None) -> None:
        self.units, self.seconds, self.counts, self.latencies = units, seconds, counts, latencies
        self.rate = units / seconds
        self.client_util, self.server_util = client_cpu / seconds, server_cpu / seconds
        self.server_cpu_per_unit = server_cpu / units

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1e3)

    def line(self, label: str, unit: str) -> str:
        text = (f"  {label:10s} {self.units:>8,} {unit} in {self.seconds:6.2f} s = {self.rate:>10,.0f} {unit}/s"
                f"   cpu: client {self.client_util:4.0%} server {self.server_util:4.0%}")
        if self.latencies is not None:
            text += f"   p50 {self.pct(50):.2f} ms p99 {self.pct(99):.2f} ms"
        return text + f"   reports {self.counts}"


def measure(child: Child, coro_factory, units: int, decode) -> Measured:
    c0, s0 = time.process_time(), child.cpu()
    elapsed, *rest = asyncio.run(coro_factory(child.address))
    c1, s1 = time.process_time(), child.cpu()
    return Measured(units, elapsed, c1 - c0, s1 - s0, decode(*rest), rest[1] if len(rest) > 1 else None)


@contextlib.contextmanager
def spy(child: Child | None, prefix: str | None, run: str):
    """With a child and a prefix: py-spy samples the child (every thread, idle too)
    while the block runs, into ``prefix-run.txt`` (collapsed stacks); else nothing."""
    if child is None or prefix is None:
        yield
        return
    path = f"{prefix}-{run}.txt"
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    sampler = subprocess.Popen([binary, "record", "--pid", str(child.proc.pid), "--rate", "250", "--threads",
                                "--idle", "--nonblocking", "--format", "raw", "--output", path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the clock starts
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)
        sampler.wait(30)


def in_turn(children: dict[str, Child], r: int) -> list[tuple[str, Child]]:
    """The servers in the order round ``r`` runs them: the echoes, then the gateway and
    the baseline, which swap places every other round (neither always goes first)."""
    order = list(children.items())
    gateways = [item for item in order if item[0] in ("gateway", "baseline")]
    if r % 2:
        gateways.reverse()
    return [item for item in order if item[0] not in ("gateway", "baseline")] + gateways


def setup_market(address: str, admin_token: str, n_traders: int) -> list[str]:
    """Provider with asks, two buyers, and the trader accounts of the load; their tokens."""
    from exchange.client import GpuxClient

    with GpuxClient(address, admin_token, timeout=30) as admin:
        provider = GpuxClient(address, admin.create_account("provider-1", "PROVIDER").token)
        buyers = [GpuxClient(address, admin.create_account(f"buyer-{i}", "BUYER").token) for i in (1, 2)]
        provider.deposit_capacity(SYMBOL, 64)
        for i, price in enumerate((1800, 1810, 1820), start=1):
            provider.place_order(SYMBOL, "SELL", 8, price_fen=price, client_order_id=i)
        for b in buyers:
            b.deposit_funds(10_000_000)
        order = buyers[0].place_order(SYMBOL, "BUY", 4, price_fen=1800, client_order_id=1)
        if order.cum_qty != 4:
            raise RuntimeError(f"set-up trade did not fill: {order}")
        tokens = []
        for i in range(n_traders):
            token = admin.create_account(f"trader-{i}", "PROVIDER").token
            with GpuxClient(address, token, timeout=30) as t:
                t.deposit_capacity(SYMBOL, 10**9)
                t.deposit_funds(10**13)
            tokens.append(token)
        for c in (provider, *buyers):
            c.close()
    return tokens


# ====================================================================== main

SERVERS = ("raw", "rawdurable", "echo", "durable", "gateway")
LABELS = {"raw": "raw echo", "rawdurable": "raw durable echo", "echo": "echo", "durable": "durable echo",
          "gateway": "gateway",
          "baseline": "gateway before"}
TARGETS = {  # figure: (the server the ratio is against, least ratio, least gateway figure, most gateway figure)
    "stream 1,000/msg orders/s": ("raw", 0.25, 400_000, None),
    "stream 100/msg orders/s": ("raw", 0.50, None, None),
    "unary PlaceOrder calls/s": ("durable", 0.70, None, None),
    "unary p99 latency (ms)": (None, None, None, 10.0),
}
"""The targets of issue 14."""


def summary(results: dict[str, list[dict[str, Measured]]], rounds: int, sync: str, callers: int) -> None:
    """The table of medians, ratios to each echo (median of the rounds' own ratios) and
    targets; with a baseline, the gateway's ratio to it (after / before, paired by round)."""
    rows = [(label, runs, lambda m: m.rate, "{:,.0f}") for label, runs in results.items()]
    unary = results["unary PlaceOrder calls/s"]
    rows.append(("unary p50 latency (ms)", unary, lambda m: m.pct(50), "{:.2f}"))
    rows.append(("unary p99 latency (ms)", unary, lambda m: m.pct(99), "{:.2f}"))
    print(f"\nsummary (gateway sync={sync.upper()}, {callers} unary callers; medians over {rounds} round(s); a "
          "ratio is the median of the rounds' own ratios, each round's servers run back to back):")
    print(f"| figure | {' | '.join(LABELS[n] for n in SERVERS)} | gateway/raw echo (rounds) "
          "| raw durable echo/raw echo (rounds) | gateway/echo | gateway/durable echo (rounds) | target | result |")
    print("| --- " * (len(SERVERS) + 7) + "|")
    for label, runs, value, fmt in rows:
        medians = {n: float(np.median([value(r[n]) for r in runs])) for n in SERVERS}
        ratios = {n: [value(r["gateway"]) / value(r[n]) for r in runs] for n in ("raw", "echo", "durable")}
        ratio = {n: float(np.median(x)) for n, x in ratios.items()}
        cells = [fmt.format(medians[n]) for n in SERVERS]
        cells.append(f"{ratio['raw']:.0%} ({', '.join(f'{x:.0%}' for x in ratios['raw'])})")
        ceiling = [value(r["rawdurable"]) / value(r["raw"]) for r in runs]  # the most a durable server gets
        cells.append(f"{float(np.median(ceiling)):.0%} ({', '.join(f'{x:.0%}' for x in ceiling)})")
        cells.append(f"{ratio['echo']:.0%}")
        cells.append(f"{ratio['durable']:.0%} ({', '.join(f'{x:.0%}' for x in ratios['durable'])})")
        base, least_ratio, least, most = TARGETS.get(label, (None, None, None, None))
        wanted, met = [], True
        if base is not None:
            wanted.append(f">= {least_ratio:.0%} of {LABELS[base]}")
            met &= ratio[base] >= least_ratio
        if least is not None:
            wanted.append(f">= {least:,}")
            met &= medians["gateway"] >= least
        if most is not None:
            wanted.append(f"< {most:g}")
            met &= medians["gateway"] < most
        cells += [", ".join(wanted), ("PASS" if met else "MISS")] if wanted else ["—", "—"]
        print(f"| {label} | {' | '.join(cells)} |")
    if "baseline" in next(iter(results.values()))[0]:
        print("\ngateway / gateway before (the --baseline tree), paired by round (after / before; for a "
              "latency, below 100 % is better):")
        for label, runs, value, fmt in rows:
            pairs = [(value(r["gateway"]), value(r["baseline"])) for r in runs]
            ratios = [a / b for a, b in pairs]
            print(f"  {label:28s} {float(np.median(ratios)):6.0%}  rounds: "
                  + ", ".join(f"{fmt.format(a)} / {fmt.format(b)} = {a / b:.0%}" for a, b in pairs))
        for label, runs in results.items():  # the servers' own CPU per order or call: less noisy than time
            pairs = [(r["gateway"].server_cpu_per_unit, r["baseline"].server_cpu_per_unit) for r in runs]
            print(f"  {label.rsplit(' ', 1)[0] + ' server CPU us/unit':28s} "
                  f"{float(np.median([a / b for a, b in pairs])):6.0%}  rounds: "
                  + ", ".join(f"{1e6 * a:.2f} / {1e6 * b:.2f} = {a / b:.0%}" for a, b in pairs))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (under a minute)")
    parser.add_argument("--streams", type=int, default=4, help="concurrent StreamOrders streams")
    parser.add_argument("--callers", type=int, default=16, help="concurrent PlaceOrder callers")
    parser.add_argument("--rounds", type=_positive, default=0,
                        help="rounds of the four servers' runs, back to back (default 3; --quick 1)")
    parser.add_argument("--profile-server", metavar="FILE",
                        help="cProfile the gateway child's event-loop thread into FILE (pstats); prints the top")
    parser.add_argument("--py-spy", metavar="PREFIX",
                        help="sample the gateway child with py-spy during each of its timed runs into "
                             "PREFIX-<run>.txt (collapsed stacks, all threads, idle included)")
    parser.add_argument("--sync", choices=("group", "os"), default="group",
                        help="gateway journal sync policy (default group: fsync per group; os is a diagnostic)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run the gateway of another source tree (e.g. a `git archive` of main), back "
                             "to back with this one and on the same messages, and print after/before ratios")
    parser.add_argument("--serve", choices=(*SERVERS, "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.data_dir, args.profile_server, args.sync)
        return

    # (orders per message, messages per stream) and unary calls in all
    stream_cases = [(100, 20), (1000, 4)] if args.quick else [(100, 100), (1000, 20)]
    unary_calls = 3000 if args.quick else 16000
    rounds = args.rounds or (1 if args.quick else 3)
    warm_messages, warm_calls = 2, 200
    n_traders = max(args.streams, min(args.callers, 8))

    print(f"gpux gateway benchmark{' (--quick)' if args.quick else ''}: python {platform.python_version()}, "
          f"grpcio {grpc.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    print("layout: each echo server and the gateway in a child process; load generator in this process "
          "(grpc aio, pre-serialized requests, responses decoded after timing)")
    print(f"load: {args.streams} streams x {{100, 1000}} orders/message ({WINDOW} messages in flight per stream), "
          f"{args.callers} unary callers; seed {SEED}; gateway sync={args.sync.upper()}"
          f"{' (fsync per group)' if args.sync == 'group' else ' (DIAGNOSTIC: no fsync)'}, "
          "clock 2026-11-25T09:00+08:00")

    data_dir = tempfile.mkdtemp(prefix="gpux-bench-gateway-", dir="/tmp")
    children: dict[str, Child] = {}
    try:
        t = time.perf_counter()
        for name in SERVERS:
            children[name] = Child(name, data_dir if name != "echo" else None,
                                   args.profile_server if name == "gateway" else None, args.sync)
        gateway = children["gateway"]
        admin_token = (Path(data_dir) / "admin.token").read_text().strip()
        tokens = setup_market(gateway.address, admin_token, n_traders)
        tokens_of = {name: tokens for name in SERVERS}
        if args.baseline:
            tree = str(Path(args.baseline).resolve())
            before_dir = Path(data_dir) / "before"
            before_dir.mkdir()
            children["baseline"] = Child("baseline", str(before_dir), None, args.sync, tree)
            tokens_of["baseline"] = setup_market(children["baseline"].address,
                                                 (before_dir / "admin.token").read_text().strip(), n_traders)
        print(f"servers up and market set up in {time.perf_counter() - t:.1f} s "
              f"({', '.join(f'{LABELS[n]} {c.address}' for n, c in children.items())}, data dir {data_dir})")

        orders = Orders(n_traders)
        results: dict[str, list[dict[str, Measured]]] = {}
        for per_message, n_messages in stream_cases:
            units = args.streams * n_messages * per_message
            print(f"\nstream, {per_message:,} orders/message: {args.streams} streams x {n_messages} messages "
                  f"(echoes: the same messages {ECHO_REPEAT} times over, the raw echoes {RAW_REPEAT}, for long "
                  f"enough runs), {rounds} round(s)")
            for r in range(rounds):
                warm = [orders.stream_messages(k, warm_messages, per_message) for k in range(args.streams)]
                load = [orders.stream_messages(k, n_messages, per_message) for k in range(args.streams)]
                fresh = [orders.stream_messages(k, n_messages * GATEWAY_REPEAT, per_message)
                         for k in range(args.streams)]
                runs = {}
                for name, child in in_turn(children, r):
                    repeat = {"gateway": GATEWAY_REPEAT, "baseline": GATEWAY_REPEAT, "raw": RAW_REPEAT,
                              "rawdurable": RAW_REPEAT}.get(
                        name, ECHO_REPEAT)
                    streaming = tokens_of[name][:args.streams]
                    asyncio.run(run_streams(child.address, streaming, warm))
                    sent = fresh if name in ("gateway", "baseline") else [m * repeat for m in load]
                    with spy(child if name == "gateway" else None, args.py_spy, f"stream{per_message}-r{r + 1}"):
                        m = measure(child, lambda a, sent=sent, t=streaming: run_streams(a, t, sent), units * repeat,
                                    lambda responses, name=name: count_reports(name, stream_responses=responses))
                    print(m.line(f"{name} {r + 1}", "orders"))
                    runs[name] = m
                results.setdefault(f"stream {per_message:,}/msg orders/s", []).append(runs)

        caller_tokens = {name: [t[c % n_traders] for c in range(args.callers)] for name, t in tokens_of.items()}
        per_call = unary_calls // args.callers
        print(f"\nunary PlaceOrder: {args.callers} callers x {per_call} calls, {rounds} round(s)")
        for r in range(rounds):
            warm = [orders.unary_requests(c % n_traders, warm_calls // args.callers) for c in range(args.callers)]
            load = [orders.unary_requests(c % n_traders, per_call) for c in range(args.callers)]
            runs = {}
            for name, child in in_turn(children, r):
                asyncio.run(run_unary(child.address, caller_tokens[name], warm))
                with spy(child if name == "gateway" else None, args.py_spy, f"unary-r{r + 1}"):
                    m = measure(child, lambda a, load=load, t=caller_tokens[name]: run_unary(a, t, load),
                                per_call * args.callers,
                                lambda responses, _lat, name=name: count_reports(name, unary_responses=responses))
                print(m.line(f"{name} {r + 1}", "calls"))
                runs[name] = m
            results.setdefault("unary PlaceOrder calls/s", []).append(runs)
    finally:
        for child in children.values():
            child.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    summary(results, rounds, args.sync, args.callers)

    if args.profile_server:
        import pstats

        print(f"\ngateway event-loop thread, cProfile ({args.profile_server}), top 30 by own time:")
        pstats.Stats(args.profile_server).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
