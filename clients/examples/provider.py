"""A provider: put GPUs on the exchange and quote a ladder of asks for tomorrow.

For each region given and each delivery hour of tomorrow (market time) in ``--hours``,
the provider finds the slot among the listed instruments (ListInstruments), deposits
``--gpus`` GPUs into it (only what is missing, so a second run deposits nothing) and
offers them as ``--levels`` asks, each ``--step-fen`` dearer than the one before,
starting at the region's price (``jiaxing=1800``; without one, the class's reference).

With ``--follow`` it then stays on and re-quotes: it follows its own execution stream
(``GpuxClient.stream_executions``, pushed by the exchange, resumed by itself after a
disconnect), and each time one of its asks fills it brings that many more GPUs into the
slot and offers them again, ``--step-fen`` dearer (demand was there), until
``--requotes`` re-quotes have been made (0: forever).

Client order ids are derived from the symbol and the level (a re-quote's: from the fill's
exec_id), so running it again, or the client's own retry after a lost answer, never
places a second ladder or re-quotes a fill twice: the gateway says ALREADY_EXISTS and
the client returns the original order. Every call has a deadline.

    python clients/examples/provider.py --address 127.0.0.1:50051 --token "$PROVIDER_TOKEN" \\
        --gpu-class H100-80G --regions jiaxing=1800,ningxia=1720,guizhou=1690 --hours 9-12 --follow
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from datetime import datetime, timedelta, timezone

import grpc

from exchange.client import GpuxClient
from exchange.proto.gpux.v1 import types_pb2


def order_id(*parts: object) -> int:
    """A stable client order id (1..2**32) for what the order is for."""
    return zlib.crc32("/".join(map(str, parts)).encode()) + 1


def hour_range(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def tomorrow_slots(client: GpuxClient, gpu_class: str, hours: range) -> dict[tuple[str, int], str]:
    """{(region, hour): symbol} of the open slots of tomorrow (market time) in ``hours``."""
    tz = timezone(timedelta(hours=client.catalog().utc_offset_hours))
    day = datetime.now(tz).date() + timedelta(days=1)
    slots = {}
    for inst in client.instruments(gpu_class=gpu_class, open_only=True):
        start = datetime.fromtimestamp(inst.slot_start_ns / 1e9, tz)
        if start.date() == day and start.hour in hours:
            slots[inst.region, start.hour] = inst.symbol
    return slots


def requote(client: GpuxClient, step_fen: int, band_hi: int, limit: int) -> int:
    """Follow the account's executions; for each fill of one of its asks, deposit the GPUs
    sold and offer them again ``step_fen`` dearer. Stops after ``limit`` re-quotes
    (0: never); how many it made."""
    made = 0
    for event in client.stream_executions():
        fill = event.report
        if event.WhichOneof("event") != "report" or fill.exec_type != types_pb2.EXEC_TYPE_TRADE \
                or fill.side != types_pb2.SIDE_SELL:
            continue
        clord = order_id(fill.symbol, "requote", event.exec_id)
        try:
            client.get_order(clord)  # re-quoted already (a run before this one)
            continue
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        price = min(fill.last_price_fen + step_fen, band_hi)
        client.deposit_capacity(fill.symbol, fill.last_qty)
        client.place_order(fill.symbol, "SELL", fill.last_qty, price_fen=price, client_order_id=clord)
        print(f"{fill.symbol}: {fill.last_qty} sold at {fill.last_price_fen / 100:.2f}, "
              f"re-quoted {fill.last_qty} at {price / 100:.2f}", flush=True)
        made += 1
        if made == limit:
            return made
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default=os.environ.get("GPUX_ADDRESS", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("GPUX_TOKEN"), help="provider token (or $GPUX_TOKEN)")
    p.add_argument("--gpu-class", default="H100-80G")
    p.add_argument("--regions", default="jiaxing=1800,ningxia=1720,guizhou=1690",
                   help="region[=first ask in fen],...")
    p.add_argument("--hours", default="9-12", help="delivery hours of tomorrow, e.g. 9-12")
    p.add_argument("--gpus", type=int, default=32, help="GPUs per slot")
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--step-fen", type=int, default=25)
    p.add_argument("--follow", action="store_true", help="stay on and re-quote asks as they fill")
    p.add_argument("--requotes", type=int, default=0, help="with --follow: stop after this many (0: never)")
    args = p.parse_args(argv)
    if not args.token:
        p.error("give --token or set GPUX_TOKEN")

    with GpuxClient(args.address, args.token, timeout=5.0) as client:
        classes = {c.name: c for c in client.catalog().classes}
        reference = classes[args.gpu_class].reference_fen
        regions = {}
        for item in args.regions.split(","):
            name, _, price = item.partition("=")
            regions[name] = int(price) if price else reference
        slots = tomorrow_slots(client, args.gpu_class, hour_range(args.hours))
        for (region, _hour), symbol in sorted(slots.items()):
            if region not in regions:
                continue
            have = client.positions(symbol)[0].capacity
            if have < args.gpus:
                client.deposit_capacity(symbol, args.gpus - have)
            sizes = [args.gpus // args.levels] * args.levels
            sizes[-1] += args.gpus - sum(sizes)
            ladder = []
            for level, qty in enumerate(sizes):
                price = regions[region] + level * args.step_fen
                order = client.place_order(symbol, "SELL", qty, price_fen=price,
                                           client_order_id=order_id(symbol, "ask", level))
                ladder.append(f"{order.leaves_qty}@{price / 100:.2f}")
            print(f"{symbol}: {args.gpus} GPUs in the slot, asks {'  '.join(ladder)}", flush=True)
        if args.follow:
            requote(client, args.step_fen, classes[args.gpu_class].band_hi_fen, args.requotes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
