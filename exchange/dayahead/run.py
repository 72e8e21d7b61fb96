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
from collections.abc import Hashable, Mapping
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
from exchange.journal import FileOps, write_atomically
from exchange.schema import CAPACITY_LIMIT, MONEY_LIMIT, CommandKind, EventKind, InstrumentState, commands

CLEARING_FILE = "clearing.json"
FAILED_FILE = "failed.json"
"""Why a cleared day could not be booked (its slots closed first); no trade was booked."""
RUN_MARGIN_S = 600.0
"""A run needs every slot of its orders open for the solver's time limit plus this."""
BOOKING_MARGIN_S = 300.0
"""The booking needs every slot it trades open for at least this long when it is sent:
the engine judges each DA_TRADE by the time the batch is stamped, so only a writer
stalled for this long could see a gate pass in between (then the day is booked in part,
recorded in failed.json, and the audit fails it by name)."""
"""Input (with the holds it was cleared under) and result of a day's clearing."""
APPLIED_FILE = "applied.json"
"""The journal range of a day's booked trades: written once they are acknowledged."""
_TRADE_FIELDS = ("kind", "account", "contra_account", "instrument", "price", "qty", "clord", "orig_clord")
_HOLD_FIELDS = ("kind", "account", "instrument", "qty", "amount")


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
    dearest alternative of a block) and GPUs per selling (account, product, hour) --
    once per instrument any of its alternatives' runs covers, since at most one is
    accepted."""
    funds: dict[int, int] = defaultdict(int)
    capacity: dict[tuple[int, tuple[str, str], int], int] = defaultdict(int)
    for o in orders:
        if o.side == Side.BUY:
            funds[o.account] += max(a.limit_fen for a in o.alternatives) * o.qty * o.length
        else:
            for product, hour in _covered(o):
                capacity[(o.account, product, hour)] += o.qty
    return dict(funds), dict(capacity)


def _covered(o: DayAheadOrder) -> set[tuple[tuple[str, str], int]]:
    """Every (product, hour) that one of the order's alternatives' runs covers."""
    return {((a.gpu_class, a.region), h) for a in o.alternatives for h in range(a.start, a.start + o.length)}


def build_auction(catalog: Catalog, orders: list[DayAheadOrder], funds: Mapping, capacity: Mapping) -> Auction:
    """The clearing input of a day's orders under the given caps (the holds). A block's
    alternative that starts at the order's hour has start ``None`` (the block's own),
    so a record cleared before alternatives had their own start is built the same."""
    products: dict[Hashable, ProductSpec] = {}  # by (gpu_class, region)
    for o in orders:
        for a in o.alternatives:
            if (a.gpu_class, a.region) not in products:
                k = catalog.gpu_class(a.gpu_class)
                products[(a.gpu_class, a.region)] = ProductSpec(k.tick_fen, k.band_lo_fen, k.band_hi_fen,
                                                                k.reference_fen)
    hourly = tuple(HourlyOrder(o.ref, o.account, Side(o.side), o.alternatives[0][:2], o.hour,
                               o.alternatives[0].limit_fen, o.qty)
                   for o in orders if o.kind == "hourly")
    blocks = tuple(BlockOrder(o.ref, o.account, Side(o.side), o.hour, o.length, o.qty,
                              tuple(BlockAlternative((a.gpu_class, a.region), a.limit_fen,
                                                     None if a.start == o.hour else a.start)
                                    for a in o.alternatives), o.min_ratio)
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
        if r.qty and r.alternative is not None:  # the accepted alternative's product and hours
            product = b.alternatives[r.alternative].product
            for h in b.hours_of(r.alternative):
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


def _hold_commands(listing: Listing, catalog: Catalog, day: date, funds: dict,
                   capacity: dict) -> tuple[np.ndarray, list]:
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
    funds: dict[int, int] = {}
    capacity: dict[tuple[int, tuple[str, str], int], int] = {}
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
    auction = auction_from_json(doc["auction"])
    return auction, result_from_json(doc["result"], auction), doc["holds_seq"]


def read_outcome(folder: Path, day: date) -> DayAheadOutcome:
    """The outcome recorded for a booked day (its ``clearing.json`` and ``applied.json``)."""
    auction, result, _ = read_clearing(folder)
    applied = json.loads((folder / APPLIED_FILE).read_text())
    return DayAheadOutcome(day, auction, result, applied["trades"], applied["first_seq"], applied["last_seq"])


def failure(folder: Path) -> str | None:
    """Why a day failed (its ``failed.json``), or None if it has not."""
    path = folder / FAILED_FILE
    return json.loads(path.read_text())["reason"] if path.exists() else None


def _pending_elsewhere(book: DayAheadBook, day: date) -> None:
    """Refuse to start a day while another is cleared but not booked: its holds are
    still in the engine, and a run releases every hold when it ends."""
    if not book.root.is_dir():
        return
    for folder in sorted(book.root.iterdir()):
        if folder.name != day.isoformat() and (folder / CLEARING_FILE).exists() and not (
                (folder / APPLIED_FILE).exists() or (folder / FAILED_FILE).exists()):
            raise DayAheadError(f"day-ahead {folder.name} is cleared but not booked: run it again first")


def _gates(node, symbols: set[str]) -> dict[str, tuple[int, int]]:
    """(engine state, gate closure ns) of each symbol; ``DayAheadError`` if one is not listed."""
    listing, catalog = node.state.listing, node.catalog
    try:
        ids = {s: listing.id_of(s) for s in symbols}
    except KeyError as error:
        raise DayAheadError(f"cannot run the day-ahead auction: {error}") from None
    states = node.read(lambda st: st.engine.instrument_states())
    return {s: (int(states[i]), catalog.gate_ts_ns(catalog.instrument(s))) for s, i in ids.items()}


def _open_long_enough(node, symbols: set[str], seconds: float) -> str | None:
    """Why the slots cannot take trades for ``seconds`` more (None if they can)."""
    now = node.sequencer.clock()
    for symbol, (state, gate) in sorted(_gates(node, symbols).items()):
        if state == InstrumentState.CLOSED or now + int(seconds * 1e9) >= gate:
            return f"{symbol} closes (gate) before the auction could be booked"
    return None


def run_day_ahead(node, book: DayAheadBook, day: date, *, time_limit: float = 60.0) -> DayAheadOutcome:
    """Clear and book ``day`` on ``node`` (see the package docstring). Idempotent: a
    booked day returns its outcome; a day cleared but not booked (a crash in between) is
    booked from its record, or just recorded as booked if the journal already booked it.
    Raises :class:`DayAheadError` (nothing changed, or the day recorded as failed) when
    the book is empty, a slot is not listed or would close before the booking, or
    another day awaits its booking; :class:`~exchange.clearing.ClearingError` on input
    the solver refuses (the holds are released and the book reopened)."""
    folder = book.day_dir(day)
    catalog, listing = node.catalog, node.state.listing
    if (folder / APPLIED_FILE).exists():
        return read_outcome(folder, day)
    if (why := failure(folder)) is not None:
        raise DayAheadError(f"the day-ahead auction of {day} failed: {why}")
    if not (folder / CLEARING_FILE).exists():
        _pending_elsewhere(book, day)
        orders = book.close(day)
        symbols = {instrument_symbol(catalog, day, product, h) for o in orders for product, h in _covered(o)}
        try:
            why = "there are no orders" if not orders else _open_long_enough(node, symbols, time_limit + RUN_MARGIN_S)
            if why:
                raise DayAheadError(f"cannot run the day-ahead auction of {day}: {why}")
        except DayAheadError:
            book.reopen(day)  # nothing was escrowed: the day takes orders again
            raise
        funds, capacity = hold_requests(orders)
        holds, keys = _hold_commands(listing, catalog, day, funds, capacity)
        events = node.execute(holds)
        try:
            funds, capacity = _caps(keys, events)
            auction = build_auction(catalog, orders, funds, capacity)
            result = clear(auction, time_limit=time_limit)
        except BaseException:
            node.execute(_release())
            book.reopen(day)
            raise
        _write_json(folder / CLEARING_FILE, {
            "day": day.isoformat(), "holds_seq": [int(events["seq"][0]), int(events["seq"][-1])],
            "auction": auction_to_json(auction), "result": result_to_json(result)})
    auction, result, _ = read_clearing(folder)
    booked = node.read(lambda st: st.dayahead_booked.get(day.isoformat()))
    if booked is None:  # not in the journal yet: book now
        trades = trade_commands(catalog, listing, day, auction, result)
        why = _open_long_enough(node, {listing.symbol(int(i)) for i in set(trades["instrument"].tolist())},
                                BOOKING_MARGIN_S)
        if why:  # never book part of a day: give the holds back and say so
            node.execute(_release())
            _write_json(folder / FAILED_FILE, {"reason": why})
            raise DayAheadError(f"the day-ahead auction of {day} cannot be booked: {why}")
        node.execute(np.concatenate([trades, _release()]))
        booked = node.read(lambda st: st.dayahead_booked.get(day.isoformat())) or [0, 0, 0]
    else:
        trades = trade_commands(catalog, listing, day, auction, result)
    first, last, n = booked
    if n != len(trades):  # the engine refused some: the day is booked in part
        why = f"booked in part: {n} of {len(trades)} trades (seq {first}..{last}); the rest were refused"
        _write_json(folder / FAILED_FILE, {"reason": why, "first_seq": first, "last_seq": last, "trades": n})
        raise DayAheadError(f"the day-ahead auction of {day} was {why}")
    _write_json(folder / APPLIED_FILE, {"first_seq": first, "last_seq": last, "trades": n})
    return DayAheadOutcome(day, auction, result, n, first, last)


def _release() -> np.ndarray:
    batch = commands(1)
    batch["kind"], batch["account"] = int(CommandKind.RELEASE_HOLDS), -1
    return batch


def verify_day_ahead(root: Path, catalog: Catalog, listing: Listing, journaled: np.ndarray,
                     events: np.ndarray, booked: dict[str, list[int]], from_seq: int = 0) -> list[date]:
    """Check every cleared day under ``root`` (``<data dir>/dayahead``) against its book,
    the journal's hold and day-ahead commands (``journaled``, with their ``events``) and
    the replayed state's bookings (``booked``, :attr:`MarketState.dayahead_booked`): the
    clearing's input is the day's book under its caps; the clearing verifies from that
    input (:func:`exchange.clearing.verify`); the journaled holds are what the book asks
    for and the caps exactly what the engine granted; the journal booked the result's
    trades, every one accepted, as ``applied.json`` says -- or nothing, for a day that
    failed -- and no other DA_TRADE. ``journaled`` and ``events`` cover the seqs after
    ``from_seq`` (a replay from a snapshot): holds or bookings before it are covered by
    the snapshot. Returns the days checked; raises :class:`DayAheadError` naming the
    first difference."""
    checked, explained = [], np.zeros(len(journaled), bool)
    root = Path(root)
    cleared = sorted(p for p in root.iterdir() if (p / CLEARING_FILE).exists()) if root.is_dir() else []
    book = DayAheadBook(root, catalog)
    for folder in cleared:
        day = date.fromisoformat(folder.name)
        applied = json.loads((folder / APPLIED_FILE).read_text()) if (folder / APPLIED_FILE).exists() else None
        failed = json.loads((folder / FAILED_FILE).read_text()) if (folder / FAILED_FILE).exists() else None
        span = booked.get(day.isoformat())
        if applied and failed:
            raise DayAheadError(f"day-ahead {day}: recorded both as booked and as failed")
        if failed and span:
            raise DayAheadError(f"day-ahead {day}: {failed['reason']}")
        if not applied and not failed:
            if span:
                raise DayAheadError(f"day-ahead {day} is booked in the journal (seq {span[0]}..{span[1]}) but "
                                    "not recorded: run the day again to record it")
            continue  # cleared, not booked yet: its holds wait in the engine
        if applied and [applied["first_seq"], applied["last_seq"], applied["trades"]] != (span or [0, 0, 0]):
            raise DayAheadError(f"day-ahead {day}: applied.json says {applied} but the journal booked "
                                f"{span or 'nothing'}")
        auction, result, (h_first, h_last) = read_clearing(folder)
        orders = book.orders(day)
        if build_auction(catalog, orders, auction.funds, auction.capacity) != auction:
            raise DayAheadError(f"day-ahead {day}: the recorded clearing's orders are not the day's book "
                                f"({folder / 'orders.jsonl'})")
        try:
            verify(auction, result)
        except (VerifyError, ClearingError) as error:
            raise DayAheadError(f"day-ahead {day}: the recorded clearing breaks a rule: {error}") from None
        checked.append(day)
        if span:
            explained |= _check_booking(catalog, listing, day, auction, result, journaled, span, from_seq)
        if h_first > from_seq:
            _check_holds(catalog, listing, day, orders, auction, journaled, events, (h_first, h_last))
    stray = journaled[~explained & (journaled["kind"] == CommandKind.DA_TRADE)]
    if len(stray):
        raise DayAheadError(f"DA_TRADE at seq {int(stray['seq'][0])} belongs to no recorded day-ahead clearing")
    return checked


def _check_booking(catalog: Catalog, listing: Listing, day: date, auction: Auction, result: ClearingResult,
                   journaled: np.ndarray, span: list[int], from_seq: int) -> np.ndarray:
    """The journal's DA_TRADE commands of a booked day (seqs ``span``, when after
    ``from_seq``) are the recorded result's trades; the journaled commands in the span."""
    in_span = (journaled["seq"] >= span[0]) & (journaled["seq"] <= span[1])
    if span[0] > from_seq:
        expected = trade_commands(catalog, listing, day, auction, result)
        found = journaled[in_span & (journaled["kind"] == CommandKind.DA_TRADE)]
        if len(found) != len(expected) or any(not np.array_equal(found[f], expected[f])
                                              for f in _TRADE_FIELDS):
            raise DayAheadError(f"day-ahead {day}: the journal's DA_TRADE commands "
                                f"(seq {span[0]}..{span[1]}) are not the recorded result's")
    return in_span


def _check_holds(catalog: Catalog, listing: Listing, day: date, orders: list[DayAheadOrder], auction: Auction,
                 journaled: np.ndarray, events: np.ndarray, seqs: tuple[int, int]) -> None:
    """The journaled holds of a day (seqs ``seqs``) are what its book asks for, and the
    clearing's caps exactly what the engine granted them."""
    h_first, h_last = seqs
    holds, keys = _hold_commands(listing, catalog, day, *hold_requests(orders))
    in_range = journaled[(journaled["seq"] >= h_first) & (journaled["seq"] <= h_last)]
    if len(in_range) != len(holds) or any(not np.array_equal(in_range[f], holds[f]) for f in _HOLD_FIELDS):
        raise DayAheadError(f"day-ahead {day}: the journaled holds (seq {h_first}..{h_last}) are not "
                            "what the day's book asks for")
    in_holds = (events["seq"] >= h_first) & (events["seq"] <= h_last)
    funds, capacity = _caps(keys, events[in_holds])
    if funds != dict(auction.funds) or capacity != dict(auction.capacity):
        raise DayAheadError(f"day-ahead {day}: the clearing's caps are not the holds the engine granted "
                            f"(seq {h_first}..{h_last})")
