"""A buyer: fund the account and bid for a job's consecutive GPU-hours tomorrow.

The job needs ``--gpus`` GPUs of ``--gpu-class`` for ``--hours`` consecutive hours of
tomorrow (market time), all in one region. The buyer asks for the ticker of every
listed slot (GetTicker), picks the region and start hour whose best asks cost least in
total, and bids for each hour of that window: a GTC limit bid at the price that covers
the job's GPUs in the book (GetBook), which fills at once against the asks and rests
for whatever is missing.

Each bid's client order id is derived from ``--job`` and the symbol, so a retry (the
client retries lost calls itself) or a second run of the same job never buys twice:
the gateway answers ALREADY_EXISTS and the client returns the original order.

    python clients/examples/buyer.py --address 127.0.0.1:50051 --token "$BUYER_TOKEN" \\
        --funds-fen 1000000 --gpu-class H100-80G --gpus 8 --hours 4 --job train-42
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from exchange.client import GpuxClient
from exchange.proto.gpux.v1 import types_pb2


def order_id(*parts: object) -> int:
    """A stable client order id (1..2**32) for what the order is for."""
    return zlib.crc32("/".join(map(str, parts)).encode()) + 1


def best_asks(client: GpuxClient, gpu_class: str) -> dict[str, dict[int, tuple[str, int]]]:
    """{region: {hour: (symbol, best ask fen)}} over tomorrow's open slots with an ask."""
    tz = timezone(timedelta(hours=client.catalog().utc_offset_hours))
    day = datetime.now(tz).date() + timedelta(days=1)
    asks: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
    for inst in client.instruments(gpu_class=gpu_class, open_only=True):
        start = datetime.fromtimestamp(inst.slot_start_ns / 1e9, tz)
        if start.date() == day:
            ask = client.ticker(inst.symbol).best_ask_fen
            if ask:
                asks[inst.region][start.hour] = (inst.symbol, ask)
    return asks


def cheapest_window(asks: dict[str, dict[int, tuple[str, int]]], hours: int
                    ) -> tuple[int, list[tuple[str, int]]] | None:
    """(total of best asks, [(symbol, best ask)]) of the cheapest ``hours`` consecutive hours."""
    best = None
    for by_hour in asks.values():
        for start in by_hour:
            window = [by_hour.get(h) for h in range(start, start + hours)]
            if all(window):
                total = sum(ask for _, ask in window)
                if best is None or total < best[0]:
                    best = (total, window)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default=os.environ.get("GPUX_ADDRESS", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("GPUX_TOKEN"), help="buyer token (or $GPUX_TOKEN)")
    p.add_argument("--funds-fen", type=int, default=0, help="deposit this much first (fen)")
    p.add_argument("--gpu-class", default="H100-80G")
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--hours", type=int, default=4, help="consecutive delivery hours")
    p.add_argument("--job", default="job-1", help="names the job; keys the client order ids")
    args = p.parse_args(argv)
    if not args.token:
        p.error("give --token or set GPUX_TOKEN")

    with GpuxClient(args.address, args.token, timeout=5.0) as client:
        if args.funds_fen:
            balance = client.deposit_funds(args.funds_fen)
            print(f"available {balance.available_fen / 100:,.2f}")
        window = cheapest_window(best_asks(client, args.gpu_class), args.hours)
        if window is None:
            print(f"no region offers {args.gpu_class} for {args.hours} consecutive hours tomorrow")
            return 1
        total, slots = window
        print(f"cheapest: {slots[0][0]} .. {slots[-1][0]}, best asks sum to {total / 100:.2f} per GPU")
        filled = 0
        for symbol, ask in slots:
            limit = client.price_to_fill(symbol, args.gpus) or ask
            order = client.place_order(symbol, "BUY", args.gpus, price_fen=limit,
                                       client_order_id=order_id(args.job, symbol))
            filled += order.cum_qty
            print(f"{symbol}: bid {order.order_qty}@{order.price_fen / 100:.2f} -> "
                  f"{types_pb2.OrderStatus.Name(order.order_status)[13:]}, {order.cum_qty} filled")
        print(f"{filled} of {args.gpus * args.hours} GPU-hours bought")
        return 0 if filled == args.gpus * args.hours else 2


if __name__ == "__main__":
    sys.exit(main())
