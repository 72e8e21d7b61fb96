"""Order latency with 2,000 open market-data subscribers against none, on a real ``gpux serve``.

Issue 13's target: with 2,000 subscribers (1,000 on the traded symbol) the p50 of an
order's round trip stays within 2x of the p50 with none. Three processes: ``gpux serve``;
a subscriber process holding the streams (grpc.aio ``StreamBook``: half on the traded
symbol, half spread over other listed symbols, across 20 accounts); and this one, which
places IOC buys one at a time, each trading against a resting ladder of asks (so each
changes the traded book and wakes its subscribers), and times every round trip.

    python bench/fanout.py [--orders 400] [--subscribers 2000]

Prints p50/p90 of each phase, their ratio, and how many book messages the subscribers
received while the orders ran (the fan-out at work). Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exchange.client import GpuxClient  # noqa: E402
from exchange.proto.gpux.v1 import market_data_pb2, market_data_pb2_grpc  # noqa: E402
from tests.gateway_harness import free_port, serve_process  # noqa: E402

ACCOUNTS = 20
CHANNELS = 20
WAVE = 100  # streams opened at once


async def _subscribe(address: str, tokens: list[str], traded: str, others: list[str], n: int) -> None:
    """The subscriber process: ``n`` StreamBook streams; prints ``ready`` once each has
    its snapshot, and the messages received (traded, others) on SIGTERM."""
    channels = [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CHANNELS)]  # a connection each
    received = {"traded": 0, "others": 0}
    first = asyncio.Semaphore(0)

    async def stream(i: int) -> None:
        symbol = traded if i % 2 == 0 else others[i // 2 % len(others)]
        stub = market_data_pb2_grpc.MarketDataServiceStub(channels[i % CHANNELS])
        call = stub.StreamBook(market_data_pb2.StreamBookRequest(symbol=symbol, depth=5),
                               metadata=(("authorization", f"Bearer {tokens[i % len(tokens)]}"),))
        started = False
        async for _ in call:
            received["traded" if symbol == traded else "others"] += 1
            if not started:
                started = True
                first.release()

    tasks = []
    for i in range(n):  # in waves: ~1,000 calls being set up at once get CANCELLED by grpc itself
        tasks.append(asyncio.create_task(stream(i)))
        if i % WAVE == WAVE - 1:
            await asyncio.sleep(0.2)
    for got in range(n):
        try:
            await asyncio.wait_for(first.acquire(), 60)
        except TimeoutError:
            failed = [t.exception() for t in tasks if t.done() and t.exception()]
            sys.exit(f"only {got} of {n} streams started; {len(failed)} failed, e.g. {failed[:1]}")
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(json.dumps(received), flush=True)
    for task in tasks:
        task.cancel()


def _latencies(client: GpuxClient, symbol: str, price: int, orders: int, first_id: int) -> list[float]:
    out = []
    for i in range(orders):
        started = time.perf_counter()
        client.place_order(symbol, "BUY", 1, price_fen=price, time_in_force="IOC", client_order_id=first_id + i)
        out.append(time.perf_counter() - started)
    return out


def _figures(name: str, seconds: list[float]) -> float:
    ms = sorted(s * 1000 for s in seconds)
    p50, p90 = statistics.median(ms), ms[int(0.9 * len(ms))]
    print(f"{name:<28} p50 {p50:7.2f} ms   p90 {p90:7.2f} ms   ({len(ms)} orders)")
    return p50


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=400)
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--subscribe", nargs=4, help=argparse.SUPPRESS)  # the subscriber process
    args = p.parse_args()
    if args.subscribe:
        address, tokens, traded, others = args.subscribe
        asyncio.run(_subscribe(address, json.loads(tokens), traded, json.loads(others), args.subscribers))
        return 0

    data = Path(tempfile.mkdtemp(prefix="gpux-bench-fanout-"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = serve_process(data, port, "--rate", "1000000", "--max-streams", str(args.subscribers + 100),
                           "--max-streams-per-account", str(args.subscribers // ACCOUNTS + 10))
    subscribers = None
    try:
        admin = GpuxClient(address, (data / "admin.token").read_text().strip(), timeout=30)
        provider = GpuxClient(address, admin.create_account("ladder", "PROVIDER").token, timeout=30)
        buyer = GpuxClient(address, admin.create_account("timer", "BUYER").token, timeout=30)
        watchers = [admin.create_account(f"watcher-{i}", "BUYER").token for i in range(ACCOUNTS)]
        day = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y%m%d")
        traded = f"H100-80G.jiaxing.{day}T14"
        others = [i.symbol for i in admin.instruments(open_only=True) if i.symbol != traded][:200]
        total = 3 * args.orders + 100
        provider.deposit_capacity(traded, total)
        for level in range(total // 100):
            provider.place_order(traded, "SELL", 100, price_fen=1800, client_order_id=level + 1)
        buyer.deposit_funds(10**12)
        _latencies(buyer, traded, 1800, 50, 1_000_000)  # warm the path
        alone = _figures("no subscribers", _latencies(buyer, traded, 1800, args.orders, 1))

        subscribers = subprocess.Popen(
            [sys.executable, __file__, "--subscribers", str(args.subscribers), "--subscribe", address,
             json.dumps(watchers), traded, json.dumps(others)], stdout=subprocess.PIPE, text=True)
        started = time.perf_counter()
        assert subscribers.stdout.readline().strip() == "ready", "the subscribers did not start"
        print(f"{args.subscribers} subscribers open ({args.subscribers // 2} on {traded}) "
              f"in {time.perf_counter() - started:.1f} s")
        crowded = _figures(f"{args.subscribers} subscribers", _latencies(buyer, traded, 1800, args.orders, 500_000))
        subscribers.send_signal(signal.SIGTERM)
        received = json.loads(subscribers.stdout.readline())
        print(f"book messages received: {received['traded']} on the traded symbol, {received['others']} on others")
        print(f"p50 ratio: {crowded / alone:.2f}x (target: within 2x)")
    finally:
        if subscribers is not None and subscribers.poll() is None:
            subscribers.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
