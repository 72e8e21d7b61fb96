"""Soak benchmark (issue 14): a real ``gpux serve`` under millions of streamed orders.

    python bench/soak.py [--orders N | --quick] [--streams N] [--per-message N] [--window N] [--rate R]
                         [--resting N] [--cancels F] [--snapshot-every N] [--snapshot-seconds S]
                         [--snapshot-bytes B] [--pauses MS] [--keep]

What runs: ``gpux serve`` in a process of its own (``python -m exchange.cli serve``) on a
temporary data dir and a free port of 127.0.0.1, opening call off (``--opening-call 0``),
rate limit out of the way, journal fsynced per group (its default), operator metrics on
(``--http-address``, another free port), snapshot policy from the options above; its log
goes to ``serve.log`` in the data dir. This process is the load:
one grpc aio event loop driving ``--streams`` (default 4) ``StreamOrders`` streams, one
trader account each, with ``--per-message`` (default 500) commands per message, serialised
before the clock starts (as bench/gateway.py does: the load generator spends its CPU on
sending, not on protobuf), and at most ``--window`` (default 2) messages in flight per stream.
The streams advance in lockstep (no stream sends message j before every stream has had
the answer to message j - window), so no stream runs ahead of the others.

That load is closed: ``streams x window x per-message`` commands (4,000 by default) are
always in flight, so by Little's law the mean latency is those commands over the
throughput, whatever the server does; it measures the most the server takes. ``--rate R``
offers a load instead, as a latency test at a given throughput does (exchange-core's
latency tests, for one): stream k's message j is due at ``(j + k / streams) x streams x
per-message / R`` seconds, is sent then unless the window holds it, and its latency runs
from its due time, not from its send, so a server that falls behind is charged the wait
its clients would see (no coordinated omission).

Workload (one H100-80G slot two days ahead, so no gate closes; mid M = 1800 fen; seed
fixed). Half the traders only sell, half only buy, so no order can ever meet one of its
own account (no self-trade prevention at work):

* far orders rest away from the mid (asks M+1..M+200, bids M-200..M-1, qty 1..10): they
  never trade, and make the resting book;
* near orders (limit GTC at M, qty 1..10, a seller and a buyer of a pair send the same
  quantities) trade with each other: a buy at M fills against sells resting at M and rests
  otherwise, so the orders resting at M are bounded by what the window lets through;
* cancels name the sender's oldest far order.

First every message is far orders until ``--resting`` (default 100,000) rest; from then
on each message holds ``--cancels`` (default 10 %) cancels and as many new far orders, the
rest near orders, so ~``--resting`` orders stay resting and ~10 % of the commands are
cancels. ``--orders`` (default 10,000,000) counts commands, cancels included; ``--quick``
is 500,000 with snapshots every 100,000 commands.

Sampled while the load runs: the server's RSS (VmRSS of /proc/<pid>/status, every 0.5 s),
the size of each snapshot file as it appears, and every message's latency (its write, or
with ``--rate`` its due time, to the arrival of its response: the group commit, engine and
report encoding of the gateway, plus waiting behind the messages in flight: "group
latency"), as p50/p99/max per tenth of the run. Every 20th response (and all of the first
100) is decoded after its latency is taken, to count reports by type. The server's own
view, without the client and the transport: its ``gpux_submit_ack_seconds`` histogram
(each message's batch from its submission to the sequencer to its answer: the group
commit, the fsync, the engine), read from ``/metrics`` before and after the load, as the
share of batches per bucket, and beside it the journal's ``gpux_journal_fsync_seconds``
(each group commit's fsync, part of its batches' submit → ack), with the machine's dirty
and under-write-back page cache (``/proc/meminfo``, sampled with the RSS): what an fsync
may wait behind.

After the load: kill -9 of the server, then the restart is timed from the new
``gpux serve`` process's start to its first SERVING health answer (the process start, the
kernels loaded from numba's cache, recovery: newest snapshot + journal tail), with where
that time went (bench/startup.py: the server's threads' CPU and their wait for a CPU up
to the kernels being ready and up to SERVING, its disk reads, this process's own CPU
meanwhile) and the machine's dirty page cache at the kill; the restarted server is then
stopped cleanly (SIGTERM: a snapshot at the clean stop).

"The resting state alone": the newest snapshot written before the kill is decoded; its
live orders (the engine's order rows in use) are placed, in order-id (time) order, into a
fresh exchange state (``MarketState``, the same listing, their accounts funded and their
capacity deposited, no other order ever placed) and that state's snapshot is encoded
exactly as the server writes one. Its size is the base of the snapshot target: it is the
snapshot of an exchange holding these resting orders and no history. The live orders ×
112 bytes (one engine order row) is printed beside it for scale.

Targets (issue 14), printed with PASS/MISS, never asserted: the newest snapshot at most
2x the resting state alone; RSS over the second half of the load flat within 10 %
((max - min) / min of its samples); group latency p99 < 50 ms and max < 200 ms over the
whole run, as the client sees it and, as far as the histogram's buckets (25, 50, 100,
250 ms) tell, as the server does; restart after the kill -9 < 3 s. The load average (``uptime``) is printed at the
start and the end: the figures move with the other work on the machine.

``--pauses MS`` runs the server with ``GPUX_LOOP_PAUSE_MS=MS`` (:mod:`exchange.sequencer.pauses`:
every stall of its event loop over MS is logged with the stacks seen and the full garbage
collections during it) and prints those lines of the load, grouped by the innermost frame.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path

import gateway as gateway_bench  # bench/gateway.py: the stream call, its metadata, ROOT on sys.path
import grpc
import numpy as np
from startup import Server, dirty  # bench/startup.py

from exchange.client import GpuxClient  # noqa: E402
from exchange.engine import layout  # noqa: E402
from exchange.journal import DataDir  # noqa: E402
from exchange.journal.snapshots import decode, encode  # noqa: E402
from exchange.proto.gpux.v1 import trading_pb2, types_pb2  # noqa: E402
from exchange.schema import CommandKind, EventKind, OrderType, commands  # noqa: E402
from exchange.sequencer import MarketState, pauses  # noqa: E402
from tests.gateway_harness import free_port  # noqa: E402 - the restart reuses the port

SEED = 20261206
MID = 1800
FAR = 200  # far orders rest 1..FAR fen away from the mid
GPU, REGION = "H100-80G", "jiaxing"
MARKET_TZ = dt.timezone(dt.timedelta(hours=8))
SAMPLE_SECONDS = 0.5
HISTOGRAMS = ("gpux_submit_ack_seconds", "gpux_journal_fsync_seconds")
"""The server's histograms read before and after the load: each message's batch from
submit to ack, and each journal fsync (group commit) inside it."""
DECODE_EVERY = 20


# ====================================================================== the market

def slot_symbol() -> str:
    """The H100-80G jiaxing slot at 14:00 market time two days from now (listed, far from its gate)."""
    day = dt.datetime.now(MARKET_TZ).date() + dt.timedelta(days=2)
    return f"{GPU}.{REGION}.{day:%Y%m%d}T14"


def set_up(server: Server, symbol: str, streams: int) -> list[str]:
    """One trader account per stream (role PROVIDER: it may sell and buy), funded and with
    capacity in the slot; their tokens."""
    admin_token = (server.data_dir / "admin.token").read_text().strip()
    with GpuxClient(server.address, admin_token, timeout=60) as admin:
        if symbol not in {i.symbol for i in admin.instruments(gpu_class=GPU, region=REGION)}:
            raise RuntimeError(f"{symbol} is not listed")
        tokens = []
        for k in range(streams):
            token = admin.create_account(f"soak-{k}", "PROVIDER").token
            with GpuxClient(server.address, token, timeout=60) as trader:
                trader.deposit_capacity(symbol, 10**9)
                trader.deposit_funds(10**13)
            tokens.append(token)
    return tokens


# ====================================================================== the load

class Trader:
    """One stream's account: sells only (even index) or buys only (odd), its far orders
    resting oldest first."""

    def __init__(self, index: int, symbol: str) -> None:
        self.index, self.symbol = index, symbol
        self.sell = index % 2 == 0
        self.side = types_pb2.SIDE_SELL if self.sell else types_pb2.SIDE_BUY
        self.rng = np.random.default_rng((SEED, index))
        self.far: deque[int] = deque()
        self.next_clord = 1

    def _place(self, price: int, qty: int) -> trading_pb2.OrderCommand:
        clord, self.next_clord = self.next_clord, self.next_clord + 1
        return trading_pb2.OrderCommand(place=trading_pb2.PlaceOrderRequest(
            symbol=self.symbol, side=self.side, order_type=types_pb2.ORDER_TYPE_LIMIT,
            time_in_force=types_pb2.TIME_IN_FORCE_GTC, price_fen=price, qty=qty, client_order_id=clord))

    def message(self, batch_id: int, cancels: int, far: int, near_qty: np.ndarray) -> bytes:
        """Cancels of the oldest far orders, new far orders, near orders of these quantities."""
        out = [trading_pb2.OrderCommand(cancel=trading_pb2.CancelOrderRequest(orig_client_order_id=self.far.popleft()))
               for _ in range(cancels)]
        away = self.rng.integers(1, FAR + 1, far).tolist()
        qty = self.rng.integers(1, 11, far).tolist()
        sign = 1 if self.sell else -1
        for a, q in zip(away, qty):
            self.far.append(self.next_clord)
            out.append(self._place(MID + sign * a, q))
        out.extend(self._place(MID, q) for q in near_qty.tolist())
        return trading_pb2.StreamOrdersRequest(batch_id=batch_id, commands=out).SerializeToString()


def messages(plan: Plan, streams: int, symbol: str) -> list[list[bytes]]:
    """Every stream's messages, serialised ahead (a seller and its buyer send the same near quantities)."""
    out = []
    for k in range(streams):
        trader = Trader(k, symbol)
        out.append([trader.message(j, *plan.round(j)[:2], np.random.default_rng((SEED, k // 2, j)).integers(
            1, 11, plan.round(j)[2])) for j in range(plan.rounds)])
    return out


class Plan:
    """How many cancels, far and near orders each round's messages hold (the same for every stream)."""

    def __init__(self, orders: int, streams: int, per_message: int, resting: int, cancel_share: float) -> None:
        self.per_message = per_message
        self.rounds = -(-orders // (streams * per_message))
        self.build = min(self.rounds, -(-resting // (streams * per_message)))
        """Rounds of far orders only, until ``resting`` rest."""
        self.cancels = round(per_message * cancel_share)

    def round(self, j: int) -> tuple[int, int, int]:
        """(cancels, far, near) of each message of round ``j``."""
        if j < self.build:
            return 0, self.per_message, 0
        return self.cancels, self.cancels, self.per_message - 2 * self.cancels


class Samples:
    """What the sampler and the streams record."""

    def __init__(self, rounds: int, streams: int) -> None:
        self.sent = np.zeros((streams, rounds))
        self.latency = np.full((streams, rounds), np.nan)
        self.rss: list[tuple[float, int, int, int]] = []
        self.dirty: list[tuple[float, int]] = []
        """The machine's dirty and under-write-back page cache (bytes) at each RSS sample."""
        self.snapshots: dict[str, tuple[float, int]] = {}
        self.reports: dict[str, int] = {}
        self.decoded = 0
        self.received = [0] * streams


def _count(samples: Samples, response: bytes) -> None:
    samples.decoded += 1
    for r in trading_pb2.StreamOrdersResponse.FromString(response).reports:
        name = types_pb2.ExecType.Name(r.exec_type).removeprefix("EXEC_TYPE_")
        samples.reports[name] = samples.reports.get(name, 0) + 1


async def _stream(k: int, channel: grpc.aio.Channel, token: str, load: list[bytes], plan: Plan, window: int,
                  interval: float, samples: Samples, progress: asyncio.Condition, t0: float) -> None:
    call = channel.stream_stream(gateway_bench.STREAM)(metadata=gateway_bench._metadata(token), timeout=None)
    streams = len(samples.received)

    async def write() -> None:
        for j in range(plan.rounds):
            if interval:  # offered load: message j of stream k is due at (j + k / streams) intervals
                due = (j + k / streams) * interval
                await asyncio.sleep(due - (time.perf_counter() - t0))
            async with progress:
                await progress.wait_for(lambda j=j: min(samples.received) >= j - window + 1)
            samples.sent[k, j] = due if interval else time.perf_counter() - t0
            await call.write(load[j])
        await call.done_writing()

    writer = asyncio.create_task(write())
    for j in range(plan.rounds):
        response = await call.read()
        if response is grpc.aio.EOF:
            break
        samples.latency[k, j] = time.perf_counter() - t0 - samples.sent[k, j]
        if j < 100 or j % DECODE_EVERY == 0:
            _count(samples, response)
        async with progress:
            samples.received[k] = j + 1
            progress.notify_all()
    await writer
    code = await call.code()
    if code != grpc.StatusCode.OK:
        raise RuntimeError(f"StreamOrders ended {code}: {await call.details()}")


async def _sample(server: Server, samples: Samples, t0: float, stop: asyncio.Event) -> None:
    snapshots = server.data_dir / "snapshots"
    while not stop.is_set():
        now = time.perf_counter() - t0
        status = server.status()
        samples.rss.append((now, status["VmRSS"], status["RssAnon"], status["RssFile"]))
        samples.dirty.append((now, dirty()))
        for path in snapshots.glob("*.snapshot"):
            if path.name not in samples.snapshots:
                try:
                    samples.snapshots[path.name] = (now, path.stat().st_size)
                except FileNotFoundError:  # dropped by the store's rotation meanwhile
                    pass
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
        except TimeoutError:
            pass


async def drive(server: Server, tokens: list[str], load: list[list[bytes]], plan: Plan, window: int,
                rate: float) -> tuple[float, Samples]:
    """Send every stream's messages, as fast as the window lets them go or, with ``rate``
    (commands/s), each on its schedule; (seconds, samples)."""
    interval = len(tokens) * plan.per_message / rate if rate else 0.0
    samples = Samples(plan.rounds, len(tokens))
    channels = [grpc.aio.insecure_channel(server.address) for _ in tokens]
    progress = asyncio.Condition()
    stop = asyncio.Event()
    try:
        for ch in channels:
            await ch.channel_ready()
        t0 = time.perf_counter()
        sampler = asyncio.create_task(_sample(server, samples, t0, stop))
        await asyncio.gather(*(_stream(k, ch, token, load[k], plan, window, interval, samples, progress, t0)
                               for k, (ch, token) in enumerate(zip(channels, tokens))))
        elapsed = time.perf_counter() - t0
        stop.set()
        await sampler
    finally:
        for ch in channels:
            await ch.close()
    return elapsed, samples


# ====================================================================== the resting state alone

def resting_alone(data_dir: Path, snapshot_path: Path) -> tuple[int, int, int]:
    """(live orders, bytes of a snapshot of a fresh exchange holding only them, ledger rows
    of the server's snapshot) for the snapshot at ``snapshot_path``."""
    data = DataDir.resolve(data_dir)
    catalog = data.catalog()
    snapshot = decode(snapshot_path.name, snapshot_path.read_bytes())
    served = MarketState.from_snapshot(catalog, snapshot)
    rows = snapshot.arrays["orders"]
    live = rows[rows[:, layout.O_ID] != 0]
    live = live[np.argsort(live[:, layout.O_ID], kind="stable")]
    fresh = MarketState(catalog, max_accounts=served.engine.config.max_accounts)
    listing = commands(len(served.listing))
    listing["kind"] = int(CommandKind.LIST_INSTRUMENT)
    listing["instrument"] = np.arange(len(served.listing))
    listing["gpu_class"] = [catalog.class_index(i.gpu_class) for i in served.listing]
    listing["region"] = [catalog.region_index(i.region) for i in served.listing]
    listing["slot_ts"] = [i.slot_ts_ns for i in served.listing]
    fresh.apply(listing)
    holders = np.unique(live[:, [layout.O_ACCOUNT, layout.O_INSTRUMENT]], axis=0)
    funding = commands(2 * len(holders))
    funding["kind"][0::2] = int(CommandKind.DEPOSIT_FUNDS)
    funding["account"][0::2] = holders[:, 0]
    funding["amount"][0::2] = 10**13
    funding["kind"][1::2] = int(CommandKind.DEPOSIT_CAPACITY)
    funding["account"][1::2] = holders[:, 0]
    funding["instrument"][1::2] = holders[:, 1]
    funding["qty"][1::2] = 10**9
    fresh.apply(funding)
    orders = commands(len(live))
    orders["kind"] = int(CommandKind.NEW_ORDER)
    orders["order_type"] = int(OrderType.LIMIT)
    for name, column in (("account", layout.O_ACCOUNT), ("instrument", layout.O_INSTRUMENT),
                         ("price", layout.O_PRICE), ("qty", layout.O_LEAVES), ("clord", layout.O_CLORD)):
        orders[name] = live[:, column]
    terms = live[:, layout.O_TERMS]
    orders["side"] = (terms >> layout.SIDE_SHIFT) & 15
    orders["tif"] = (terms >> layout.TIF_SHIFT) & 15
    orders["stp"] = (terms >> layout.STP_SHIFT) & 15
    orders["flags"] = (terms >> layout.FLAGS_SHIFT) & 15
    events = fresh.apply(orders)
    rejected = int(np.count_nonzero(events["kind"] == EventKind.REJECTED))
    if rejected or int(np.count_nonzero(fresh.engine.export_state()["orders"][:, layout.O_ID])) != len(live):
        raise RuntimeError(f"the resting orders did not all rest again in a fresh exchange ({rejected} rejected)")
    return len(live), len(encode(fresh.snapshot())), int(np.count_nonzero(snapshot.arrays["order_ledger"][:, 7]))


# ====================================================================== report

def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def pcts(latencies: np.ndarray) -> str:
    ms = latencies[~np.isnan(latencies)] * 1e3
    return f"p50 {np.percentile(ms, 50):6.1f}  p99 {np.percentile(ms, 99):6.1f}  max {ms.max():7.1f} ms"


def mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"


def target(label: str, value: str, wanted: str, met: bool) -> None:
    print(f"| {label} | {value} | {wanted} | {'PASS' if met else 'MISS'} |")


def print_pauses(lines: list[str]) -> None:
    """The pause lines of the server's log, grouped by where the loop was seen most in
    each (its innermost frame, and gpux's own innermost frame when that is not it)."""
    ms = [float(line.split("event loop paused ")[1].split(" ms")[0]) for line in lines]
    cpu = [float(line.split("loop thread CPU ")[1].split(" ms")[0]) for line in lines]
    print(f"\nevent-loop pauses logged: {len(lines)}, {sum(ms):,.0f} ms in all, of it loop thread CPU "
          f"{sum(cpu):,.0f} ms")
    by_place: dict[str, list[tuple[float, float]]] = {}
    for line, took, used in zip(lines, ms, cpu):
        stack = line.split("): ", 1)[1].split("; ")[0].split("x ", 1)[-1]
        frames = stack.split(" < ")
        place = frames[0] + "".join(f" < {f}" for f in frames[1:] if f.startswith("| "))
        by_place.setdefault(place + ("" if "no full gc" in line else " (+ full gc)"), []).append((took, used))
    for place, pauses_there in sorted(by_place.items(), key=lambda kv: -sum(t for t, _ in kv[1]))[:12]:
        took = [t for t, _ in pauses_there]
        print(f"  {len(took):5d} pauses, {sum(took):7,.0f} ms (CPU {sum(u for _, u in pauses_there):6,.0f} ms), "
              f"max {max(took):5.0f} ms: {place}")
    for i in sorted(range(len(lines)), key=lambda i: -ms[i])[:5]:
        print(f"  longest: {lines[i][lines[i].index('event loop paused'):][:400]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=10_000_000, help="commands to stream, cancels included")
    ap.add_argument("--quick", action="store_true", help="500,000 commands, a snapshot every 100,000")
    ap.add_argument("--streams", type=int, default=4, help="StreamOrders streams (even: sellers and buyers)")
    ap.add_argument("--per-message", type=int, default=500, help="commands per StreamOrders message")
    ap.add_argument("--window", type=int, default=2, help="messages in flight per stream")
    ap.add_argument("--rate", type=float, default=0,
                    help="offered load in commands/s (open loop, latency from each message's due time); "
                         "0: closed loop, as fast as the window lets")
    ap.add_argument("--resting", type=int, default=100_000, help="far orders kept resting")
    ap.add_argument("--cancels", type=float, default=0.10, help="share of cancels once the book is built")
    ap.add_argument("--snapshot-every", type=int, default=0, help="gpux serve --snapshot-every (default 1,000,000; "
                                                                  "--quick 100,000)")
    ap.add_argument("--snapshot-seconds", type=float, default=300.0, help="gpux serve --snapshot-seconds")
    ap.add_argument("--snapshot-bytes", type=int, default=0,
                    help="gpux serve --snapshot-bytes (0: not given, for a server without the option)")
    ap.add_argument("--pauses", type=float, default=0, help="log the server's event-loop pauses over this many ms")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (its path is printed)")
    args = ap.parse_args()
    if args.streams < 2 or args.streams % 2:
        ap.error("--streams must be even (sellers and buyers in pairs)")
    orders = 500_000 if args.quick else args.orders
    every = args.snapshot_every or (100_000 if args.quick else 1_000_000)
    options = ["--snapshot-every", str(every), "--snapshot-seconds", str(args.snapshot_seconds)]
    if args.snapshot_bytes:
        options += ["--snapshot-bytes", str(args.snapshot_bytes)]
    plan = Plan(orders, args.streams, args.per_message, args.resting, args.cancels)
    symbol = slot_symbol()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=gateway_bench.ROOT).stdout.strip()
    print(f"gpux soak benchmark{' (--quick)' if args.quick else ''}: commit {commit}, python "
          f"{platform.python_version()}, grpcio {grpc.__version__}, {os.cpu_count()} CPUs; {uptime()}")
    print(f"load: {plan.rounds * args.streams * args.per_message:,} commands = {plan.rounds:,} rounds x "
          f"{args.streams} streams x {args.per_message} per message, window {args.window}, "
          f"{f'offered {args.rate:,.0f} commands/s' if args.rate else 'closed loop'}; first {plan.build} "
          f"rounds far orders only (~{args.resting:,} resting), then per message {plan.cancels} cancels, "
          f"{plan.cancels} far, {args.per_message - 2 * plan.cancels} near; {symbol}")
    print(f"server: gpux serve {' '.join(options)} (fsync per group)")

    if args.pauses:
        os.environ[pauses.ENV] = str(args.pauses)
    data_dir = Path(tempfile.mkdtemp(prefix="gpux-soak-", dir="/tmp"))
    server = Server(data_dir, free_port(), options)
    try:
        started = server.start()
        tokens = set_up(server, symbol, args.streams)
        print(f"server up in {started:.1f} s, traders set up; data dir {data_dir}", flush=True)
        t = time.perf_counter()
        load = messages(plan, args.streams, symbol)
        print(f"{sum(map(len, load)):,} messages serialised ahead in {time.perf_counter() - t:.1f} s "
              f"({sum(len(m) for ms in load for m in ms) / 2**20:,.0f} MB)", flush=True)
        cpu0, loader0, histograms0 = server.cpu(), time.process_time(), server.histograms(HISTOGRAMS)
        elapsed, samples = asyncio.run(drive(server, tokens, load, plan, args.window, args.rate))
        del load
        server_cpu, loader_cpu = server.cpu() - cpu0, time.process_time() - loader0
        histograms = server.histograms(HISTOGRAMS)
        acks, fsyncs = ({bound: n - histograms0[name][bound] for bound, n in histograms[name].items()}
                        for name in HISTOGRAMS)
        sent = plan.rounds * args.streams * args.per_message
        status = server.status()
        time.sleep(1.0)  # the sampler may have missed a snapshot renamed just now
        for path in (data_dir / "snapshots").glob("*.snapshot"):
            samples.snapshots.setdefault(path.name, (elapsed, path.stat().st_size))
        server.kill()
        paused = [line for line in (data_dir / "serve.log").read_text().splitlines() if "event loop paused" in line]
        newest = max((data_dir / "snapshots").glob("*.snapshot"), default=None)
        dirty_at_kill = dirty()
        restart = server.start()
        code = server.stop()
        spent = server.spent()  # once stopped: the serving and heap-frozen lines come after SERVING
    finally:
        server.kill()
    print(f"\n{sent:,} commands in {elapsed:.1f} s = {sent / elapsed:,.0f} commands/s; cpu: server "
          f"{server_cpu / elapsed:.0%}, load generator {loader_cpu / elapsed:.0%}")
    print(f"reports in {samples.decoded:,} decoded responses: {samples.reports}")

    start = "due time" if args.rate else "write"
    print(f"\ngroup latency (StreamOrders message {start} -> response), by tenth of the run:")
    tenths = np.array_split(np.arange(plan.rounds), 10)
    for i, rounds in enumerate(tenths):
        if len(rounds):
            print(f"  {i + 1:2d}/10 (rounds {rounds[0]:>6,}-{rounds[-1]:>6,}): {pcts(samples.latency[:, rounds])}")
    print(f"  whole run: {pcts(samples.latency)}")
    total = acks[float("inf")]
    for what, counts in (("submit -> ack of each message's batch (gpux_submit_ack_seconds", acks),
                         ("journal fsync of each group in it (gpux_journal_fsync_seconds", fsyncs)):
        n = counts[float("inf")]
        print(f"  the server's own {what}, {n:,.0f}): " + ", ".join(
            f"<= {bound * 1e3:g} ms {c / n:.2%}" for bound, c in counts.items() if 0.01 <= bound <= 1.0)
            + f"; over 100 ms {n - counts[0.1]:,.0f}, over 250 ms {n - counts[0.25]:,.0f}")
    page_cache = np.array(samples.dirty)
    print("  the machine's dirty + write-back page cache, most in each tenth of the load: " + ", ".join(
        mb(part[:, 1].max()) for part in np.array_split(page_cache, 10) if len(part)))

    rss = np.array(samples.rss)
    print("\nserver RSS, by tenth of the load (first sample of each; anonymous + file-backed, e.g. mapped files):")
    for i, part in enumerate(np.array_split(rss, 10)):
        if len(part):
            print(f"  {i + 1:2d}/10 at {part[0, 0]:6.1f} s: {mb(part[0, 1])} ({mb(part[0, 2])} + {mb(part[0, 3])})")
    second = rss[rss[:, 0] >= rss[-1, 0] / 2, 1]
    spread = (second.max() - second.min()) / second.min()
    print(f"  second half: min {mb(second.min())}, max {mb(second.max())}, spread {spread:.1%}; at the end "
          f"{mb(status['VmRSS'])}, peak (VmHWM) {mb(status['VmHWM'])}")

    print("\nsnapshots written (name = seq, time seen, size):")
    for name, (t, size) in sorted(samples.snapshots.items()):
        print(f"  {name} at {t:6.1f} s: {mb(size)}")

    if args.pauses:
        print_pauses(paused)
    print(f"\nrestart after kill -9: {restart:.2f} s to SERVING (process start, kernels from cache, recovery); "
          f"clean stop of the restarted server exited {code}; the machine's dirty + write-back page cache "
          f"at the kill {mb(dirty_at_kill)}")
    print(f"  from its log (ms clock): {spent}")
    if newest is None:
        print("no snapshot was written: the snapshot target cannot be measured")
        snapshot_ok, snapshot_cell = False, "no snapshot"
    else:
        live, alone, ledger = resting_alone(data_dir, newest)
        size = samples.snapshots[newest.name][1] if newest.name in samples.snapshots else newest.stat().st_size
        snapshot_ok = size <= 2 * alone
        snapshot_cell = f"{mb(size)} = {size / alone:.1f}x of {mb(alone)}"
        print(f"\nnewest snapshot before the kill: {newest.name}, {mb(size)}; it holds {live:,} live orders "
              f"and {ledger:,} order-ledger rows; the resting state alone (a fresh exchange holding only those "
              f"{live:,} orders): {mb(alone)} (live orders x 112 B engine rows: {mb(live * 112)})")
    print(f"\n{uptime()}")
    print(f"\ntargets (issue 14; {sent:,} commands, {args.streams} streams x {args.per_message}/message):")
    print("| target | measured | wanted | result |")
    print("| --- | --- | --- | --- |")
    target("snapshot size / resting state alone", snapshot_cell, "<= 2x", snapshot_ok)
    target("RSS over the second half", f"spread {spread:.1%} ({mb(second.min())}..{mb(second.max())})",
           "flat within 10 %", spread <= 0.10)
    lat = samples.latency[~np.isnan(samples.latency)] * 1e3
    p99, top = float(np.percentile(lat, 99)), float(lat.max())
    target("group latency p99", f"{p99:.1f} ms", "< 50 ms", p99 < 50)
    target("group latency max", f"{top:.1f} ms", "< 200 ms", top < 200)
    within = acks[0.05] / total
    target("server submit -> ack within 50 ms", f"{within:.2%} of {total:,.0f} batches", ">= 99 % (p99 < 50 ms)",
           within >= 0.99)
    beyond = total - acks[0.25]
    target("server submit -> ack over 250 ms", f"{beyond:,.0f} batches", "none (max < 200 ms needs finer buckets)",
           beyond == 0)
    target("restart after kill -9", f"{restart:.2f} s", "< 3 s", restart < 3)
    if args.keep:
        print(f"data dir kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
