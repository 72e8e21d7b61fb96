"""Running one delivery day's auction on a node, and checking it afterwards.

:func:`run_day_ahead` closes the day's book, escrows in the engine what the orders may
use, clears with HiGHS under exactly those holds, records input and result, then books
the trades and releases the holds -- every engine step a journaled command batch.
:func:`verify_day_ahead` is the auditor's side: it re-verifies each recorded clearing
from its inputs and checks the journal holds exactly the holds and trades it implies.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from exchange.catalog import Catalog
from exchange.catalog.listing import Listing
from exchange.catalog.model import slot_ts_ns
from exchange.clearing import (
    Auction,
    BlockAlternative,
    BlockOrder,
    ClearingError,
    ClearingResult,
    HourlyOrder,
    ProductSpec,
    Side,
    VerifyError,
    clear,
    verify,
)
from exchange.dayahead.book import HOURS, DayAheadBook, DayAheadError, DayAheadOrder
from exchange.dayahead.codec import auction_from_json, auction_to_json, result_from_json, result_to_json
from exchange.engine.schema import CAPACITY_LIMIT, MONEY_LIMIT, CommandKind, EventKind, commands
from exchange.journal import FileOps, write_atomically

CLEARING_FILE = "clearing.json"
"""Input (with the holds it was cleared under) and result of a day's clearing."""
APPLIED_FILE = "applied.json"
"""The journal range of a day's booked trades: written once they are acknowledged."""
REMOVAL = "disjoint"
"""The no-paradox loop's removal rule for a real day: per round the worst offender and
every other offender on different product-hours (as much welfare as one at a time,
in a fraction of the rounds; bench/clearing.py case 2)."""
_BUY, _SELL = 1, 2
_TRADE_FIELDS = ("kind", "account", "contra_account", "instrument", "price", "qty", "clord", "orig_clord")


@dataclass(frozen=True)
class DayAheadOutcome:
    """A cleared and booked day: the auction as cleared, its result, the trades booked
    (DA_TRADE commands) and the journal range that booked them."""

    day: date
    auction: Auction
    result: ClearingResult
    trades: int
    first_seq: int
    last_seq: int


def instrument_symbol(catalog: Catalog, day: date, product: tuple[str, str], hour: int) -> str:
    """The symbol of a product's delivery hour on ``day`` (market time)."""
    slot = datetime(day.year, day.month, day.day, hour, tzinfo=catalog.market.tz)
    return catalog.instrument_at(product[0], product[1], slot_ts_ns(slot)).symbol


def hold_requests(orders: list[DayAheadOrder]) -> tuple[dict[int, int], dict[tuple[int, tuple[str, str], int], int]]:
    """What each order may use at most: money per buying account (limit value, the
    dearest alternative of a block) and GPUs per selling (account, product, hour)."""
    funds: dict[int, int] = defaultdict(int)
    capacity: dict[tuple[int, tuple[str, str], int], int] = defaultdict(int)
    for o in orders:
        if o.side == _BUY:
            funds[o.account] += max(limit for _, _, limit in o.alternatives) * o.qty * o.length
        else:
            for gpu_class, region, _ in o.alternatives:
                for h in range(o.hour, o.hour + o.length):
                    capacity[(o.account, (gpu_class, region), h)] += o.qty
    return dict(funds), dict(capacity)


def build_auction(catalog: Catalog, orders: list[DayAheadOrder], funds: dict, capacity: dict) -> Auction:
    """The clearing input of a day's orders under the given caps (the holds)."""
    products: dict[tuple[str, str], ProductSpec] = {}
    for o in orders:
        for gpu_class, region, _ in o.alternatives:
            if (gpu_class, region) not in products:
                k = catalog.gpu_class(gpu_class)
                products[(gpu_class, region)] = ProductSpec(k.tick_fen, k.band_lo_fen, k.band_hi_fen, k.reference_fen)
    side = {_BUY: Side.BUY, _SELL: Side.SELL}
    hourly = tuple(HourlyOrder(o.ref, o.account, side[o.side], o.alternatives[0][:2], o.hour, o.alternatives[0][2], o.qty)
                   for o in orders if o.kind == "hourly")
    blocks = tuple(BlockOrder(o.ref, o.account, side[o.side], o.hour, o.length, o.qty,
                              tuple(BlockAlternative((c, r), lim) for c, r, lim in o.alternatives), o.min_ratio)
                   for o in orders if o.kind == "block")
    return Auction(products, HOURS, hourly, blocks, capacity, funds)


def _legs(auction: Auction, result: ClearingResult) -> dict[tuple, tuple[list, list]]:
    """Per instrument (product, hour): the filled buys and sells as [ref, account, qty],
    each in ref (arrival) order."""
    legs: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for o in auction.orders:
        q = result.fills.get(o.order_id, 0)
        if q:
            legs[(o.product, o.hour)][0 if o.side == Side.BUY else 1].append([o.order_id, o.account, q])
    for b in auction.blocks:
        r = result.blocks[b.block_id]
        if r.qty and r.alternative is not None:
            product = b.alternatives[r.alternative].product
            for h in b.hours:
                legs[(product, h)][0 if b.side == Side.BUY else 1].append([b.block_id, b.account, r.qty])
    for buys, sells in legs.values():
        buys.sort()
        sells.sort()
    return legs


def trade_commands(catalog: Catalog, listing: Listing, day: date, auction: Auction,
                   result: ClearingResult) -> np.ndarray:
    """The DA_TRADE commands that book a result, deterministic: instruments in (product,
    hour) order; in each, an account's buys and sells are netted first (it would only
    trade with itself), then the buys and sells pair greedily in ref order at the
    instrument's price. ``DayAheadError`` if an instrument is not listed."""
    rows = []
    for (product, hour), (buys, sells) in sorted(_legs(auction, result).items()):
        for account in {a for _, a, _ in buys} & {a for _, a, _ in sells}:
            overlap = min(sum(q for _, a, q in buys if a == account), sum(q for _, a, q in sells if a == account))
            for side in (buys, sells):
                left = overlap
                for leg in side:
                    if leg[1] == account and left:
                        taken = min(leg[2], left)
                        leg[2] -= taken
                        left -= taken
        buys = [leg for leg in buys if leg[2]]
        sells = [leg for leg in sells if leg[2]]
        try:
            instrument = listing.id_of(instrument_symbol(catalog, day, product, hour))
        except KeyError as error:
            raise DayAheadError(f"cannot book the day-ahead result: {error}") from None
        price = result.prices[(product, hour)]
        b = s = 0
        while b < len(buys) and s < len(sells):
            q = min(buys[b][2], sells[s][2])
            rows.append((buys[b][1], sells[s][1], instrument, price, q, buys[b][0], sells[s][0]))
            buys[b][2] -= q
            sells[s][2] -= q
            b += buys[b][2] == 0
            s += sells[s][2] == 0
    batch = commands(len(rows))
    batch["kind"] = int(CommandKind.DA_TRADE)
    if rows:
        cols = np.array(rows, np.int64).T
        for name, col in zip(("account", "contra_account", "instrument", "price", "qty", "clord", "orig_clord"), cols):
            batch[name] = col
    return batch


def _hold_commands(listing: Listing, catalog: Catalog, day: date, funds: dict, capacity: dict) -> tuple[np.ndarray, list]:
    """RELEASE_HOLDS(-1) (nothing else uses holds), then a hold per account / position;
    and the cap key each hold stands for (None for the release)."""
    keys: list = [None]
    rows = [(int(CommandKind.RELEASE_HOLDS), -1, 0, 0, 0)]
    for account, amount in sorted(funds.items()):
        rows.append((int(CommandKind.HOLD_FUNDS), account, 0, 0, min(amount, MONEY_LIMIT)))
        keys.append(("funds", account))
    for (account, product, hour), qty in sorted(capacity.items()):
        try:
            instrument = listing.id_of(instrument_symbol(catalog, day, product, hour))
        except KeyError as error:
            raise DayAheadError(f"cannot run the day-ahead auction: {error}") from None
        rows.append((int(CommandKind.HOLD_CAPACITY), account, instrument, min(qty, CAPACITY_LIMIT), 0))
        keys.append(("capacity", (account, product, hour)))
    batch = commands(len(rows))
    for name, col in zip(("kind", "account", "instrument", "qty", "amount"), np.array(rows, np.int64).T):
        batch[name] = col
    return batch, keys


def _caps(keys: list, events: np.ndarray) -> tuple[dict, dict]:
    """The holds the engine granted: each hold command's ACK qty (0 if rejected)."""
    funds, capacity = {}, {}
    granted = {int(e["seq"]): int(e["qty"]) for e in events[events["kind"] == EventKind.ACK]}
    first = int(events["seq"][0])
    for i, key in enumerate(keys):
        if key is not None:
            held = granted.get(first + i, 0)
            (funds if key[0] == "funds" else capacity)[key[1]] = held
    return funds, capacity


def _write_json(path: Path, doc: dict) -> None:
    write_atomically(FileOps(), path, json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def read_clearing(day_dir: Path) -> tuple[Auction, ClearingResult, list[int]]:
    """(auction, result, holds seq range) recorded for a day."""
    doc = json.loads((day_dir / CLEARING_FILE).read_text())
    return auction_from_json(doc["auction"]), result_from_json(doc["result"]), doc["holds_seq"]


def run_day_ahead(node, book: DayAheadBook, day: date, *, time_limit: float = 60.0) -> DayAheadOutcome:
    """Clear and book ``day`` on ``node`` (idempotent: a booked day returns its outcome;
    a day cleared but not booked -- a crash in between -- is booked from its record).
    Raises :class:`DayAheadError` when a slot is not listed or a booking is refused, and
    :class:`~exchange.clearing.ClearingError` on invalid input."""
    folder = book.day_dir(day)
    catalog, listing = node.catalog, node.state.listing
    if (folder / APPLIED_FILE).exists():
        auction, result, _ = read_clearing(folder)
        applied = json.loads((folder / APPLIED_FILE).read_text())
        return DayAheadOutcome(day, auction, result, applied["trades"], applied["first_seq"], applied["last_seq"])
    if not (folder / CLEARING_FILE).exists():
        orders = book.close(day)
        funds, capacity = hold_requests(orders)
        holds, keys = _hold_commands(listing, catalog, day, funds, capacity)
        events = node.execute(holds)
        funds, capacity = _caps(keys, events)
        auction = build_auction(catalog, orders, funds, capacity)
        result = clear(auction, time_limit=time_limit, removal=REMOVAL)
        _write_json(folder / CLEARING_FILE, {
            "day": day.isoformat(), "holds_seq": [int(events["seq"][0]), int(events["seq"][-1])],
            "auction": auction_to_json(auction), "result": result_to_json(result)})
    auction, result, _ = read_clearing(folder)
    trades = trade_commands(catalog, listing, day, auction, result)
    batch = np.concatenate([trades, commands(1)])
    batch["kind"][-1] = int(CommandKind.RELEASE_HOLDS)
    batch["account"][-1] = -1
    events = node.execute(batch)
    refused = events[events["kind"] == EventKind.REJECTED]
    if len(refused):
        raise DayAheadError(f"the engine refused {len(refused)} day-ahead bookings of {day} "
                            f"(first: reason {int(refused['reason'][0])} at seq {int(refused['seq'][0])})")
    first, last = int(events["seq"][0]), int(events["seq"][-1])
    _write_json(folder / APPLIED_FILE, {"first_seq": first, "last_seq": last, "trades": len(trades)})
    return DayAheadOutcome(day, auction, result, len(trades), first, last)


def verify_day_ahead(root: Path, catalog: Catalog, listing: Listing, journaled: np.ndarray,
                     events: np.ndarray, from_seq: int = 0) -> list[date]:
    """Check every booked day under ``root`` (``<data dir>/dayahead``) against the
    journal's hold and day-ahead commands (``journaled``) and their events: the
    clearing verifies from its inputs (:func:`exchange.clearing.verify`), its caps are
    exactly the holds the engine granted, and the journal booked exactly its trades
    and nothing else. ``journaled`` and ``events`` cover the seqs after ``from_seq``
    (a replay from a snapshot): a day held before it is checked by its clearing alone.
    Returns the days checked; raises :class:`DayAheadError` naming the first difference."""
    checked, explained = [], np.zeros(len(journaled), bool)
    booked = sorted(p for p in Path(root).iterdir() if (p / APPLIED_FILE).exists()) if Path(root).is_dir() else []
    for folder in booked:
        day = date.fromisoformat(folder.name)
        auction, result, (h_first, h_last) = read_clearing(folder)
        applied = json.loads((folder / APPLIED_FILE).read_text())
        try:
            verify(auction, result)
        except (VerifyError, ClearingError) as error:
            raise DayAheadError(f"day-ahead {day}: the recorded clearing breaks a rule: {error}") from None
        span = (journaled["seq"] >= applied["first_seq"]) & (journaled["seq"] <= applied["last_seq"])
        explained |= span
        checked.append(day)
        if h_first <= from_seq:  # held before the replay's start: the clearing alone is checked
            continue
        in_holds = (events["seq"] >= h_first) & (events["seq"] <= h_last)
        keys = [None] + [("funds", a) for a in sorted(auction.funds)] + [
            ("capacity", k) for k in sorted(auction.capacity)]
        funds, capacity = _caps(keys, events[in_holds]) if in_holds.any() else ({}, {})
        if funds != dict(auction.funds) or capacity != dict(auction.capacity):
            raise DayAheadError(f"day-ahead {day}: the clearing's caps are not the holds the engine granted "
                                f"(seq {h_first}..{h_last})")
        expected = trade_commands(catalog, listing, day, auction, result)
        found = journaled[span & (journaled["kind"] == CommandKind.DA_TRADE)]
        if len(found) != len(expected) or any(not np.array_equal(found[f], expected[f]) for f in _TRADE_FIELDS):
            raise DayAheadError(f"day-ahead {day}: the journal's DA_TRADE commands "
                                f"(seq {applied['first_seq']}..{applied['last_seq']}) are not the recorded result's")
    stray = journaled[~explained & (journaled["kind"] == CommandKind.DA_TRADE)]
    if len(stray):
        raise DayAheadError(f"DA_TRADE at seq {int(stray['seq'][0])} belongs to no recorded day-ahead clearing")
    return checked
