"""The clearing's input and result as JSON, for ``dayahead/<day>/clearing.json``.

Products are ``[gpu_class, region]`` pairs, order and block ids the day-ahead refs,
accounts engine account ids, sides the engine's (1 buy, 2 sell); every amount is an
integer, ``null`` for an instrument-hour that did not trade (no price) or a rejected
block with no surplus (the solver's float figures -- gap, objective, bound, seconds --
are reported as they are, never used as money). Each hourly order's fill comes with its
reason, each block's with its reason and the blocks it conflicts with.

A block's alternative is ``[product, limit]``, or ``[product, limit, start]`` when it
starts at an hour of its own; an accepted block's result ends with the start of its
run. Records written before alternatives had their own start have neither and read as
they were cleared: every alternative starts at the block's start.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from exchange.clearing import (
    Auction,
    BlockAlternative,
    BlockOrder,
    BlockResult,
    ClearingResult,
    HourlyOrder,
    OrderReason,
    ProductSpec,
    RejectReason,
    Side,
)


def _product(p) -> tuple[str, str]:
    return (str(p[0]), str(p[1]))


def _alternative_to_json(x: BlockAlternative) -> list:
    return [list(_product(x.product)), x.limit_fen] + ([] if x.start is None else [x.start])


def auction_to_json(a: Auction) -> dict[str, Any]:
    return {
        "hours": a.hours,
        "products": [[list(_product(p)), dataclasses.asdict(spec)] for p, spec in a.products.items()],
        "orders": [[o.order_id, o.account, int(o.side), list(_product(o.product)), o.hour, o.limit_fen, o.qty]
                   for o in a.orders],
        "blocks": [[b.block_id, b.account, int(b.side), b.start, b.length, b.qty, b.min_ratio,
                    [_alternative_to_json(x) for x in b.alternatives]] for b in a.blocks],
        "capacity": [[acct, list(_product(p)), h, q] for (acct, p, h), q in a.capacity.items()],
        "funds": [[acct, f] for acct, f in a.funds.items()],
    }


def auction_from_json(d: dict[str, Any]) -> Auction:
    return Auction(
        products={_product(p): ProductSpec(**spec) for p, spec in d["products"]},
        hours=d["hours"],
        orders=tuple(HourlyOrder(i, a, Side(s), _product(p), h, lim, q) for i, a, s, p, h, lim, q in d["orders"]),
        blocks=tuple(BlockOrder(i, a, Side(s), st, ln, q,
                                tuple(BlockAlternative(_product(p), lim, *start) for p, lim, *start in alts), mr)
                     for i, a, s, st, ln, q, mr, alts in d["blocks"]),
        capacity={(a, _product(p), h): q for a, p, h, q in d["capacity"]},
        funds={a: f for a, f in d["funds"]},
    )


_STRUCTURED = ("fills", "blocks", "prices", "volume", "welfare_fen", "removed", "order_reasons")
"""ClearingResult fields with their own encoding; every other field is a solver figure
(a number) written as it is."""


def _figures() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(ClearingResult) if f.name not in _STRUCTURED)


def result_to_json(r: ClearingResult) -> dict[str, Any]:
    return {
        "fills": [[i, q, r.order_reasons[i].value] for i, q in r.fills.items()],
        "blocks": [[b.block_id, b.qty, b.alternative, b.reason.value if b.reason else None, b.surplus_fen,
                    list(b.conflicts), b.start] for b in r.blocks.values()],
        "prices": [[list(_product(p)), h, price] for (p, h), price in r.prices.items()],
        "volume": [[list(_product(p)), h, v] for (p, h), v in r.volume.items()],
        "welfare_fen": r.welfare_fen,
        "removed": list(r.removed),
        **{name: getattr(r, name) for name in _figures()},
    }


def result_from_json(d: dict[str, Any], auction: Auction) -> ClearingResult:
    """The result recorded for ``auction``; an accepted block recorded without its start
    (an older record) gets its alternative's."""
    blocks = {b.block_id: b for b in auction.blocks}

    def start(i, alt, recorded: list) -> int | None:
        if recorded:
            return recorded[0]
        block = blocks.get(i)  # a record that names no such block or alternative fails verify
        return block.start_of(alt) if block and alt is not None and 0 <= alt < len(block.alternatives) else None

    return ClearingResult(
        fills={i: q for i, q, _why in d["fills"]},
        order_reasons={i: OrderReason(why) for i, _q, why in d["fills"]},
        blocks={i: BlockResult(i, q, alt, RejectReason(reason) if reason else None, surplus, tuple(conflicts),
                               start(i, alt, recorded))
                for i, q, alt, reason, surplus, conflicts, *recorded in d["blocks"]},
        prices={(_product(p), h): price for p, h, price in d["prices"]},
        volume={(_product(p), h): v for p, h, v in d["volume"]},
        welfare_fen=d["welfare_fen"],
        removed=tuple(d["removed"]),
        **{name: d[name] for name in _figures() if name in d},
    )
