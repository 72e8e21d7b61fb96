"""Between the wire (``gpux.v1`` messages) and the engine's command and event records.

Validation happens here, before anything reaches the sequencer: a request that names
an unlisted symbol, leaves a required enum unset, or breaks the class's tick, band or
lot limits is refused with INVALID_ARGUMENT or NOT_FOUND and a message naming the field
and the rule. The engine checks everything again; its answer comes back as FIX
execution reports.
"""

from __future__ import annotations

import numpy as np

from exchange.catalog import Catalog, GpuClass, Listing, SymbolError
from exchange.engine.schema import (
    CLORD_LIMIT,
    CommandKind,
    EventKind,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
    commands,
)
from exchange.gateway.errors import GatewayError, explain, invalid, not_found
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from exchange.sequencer import OrderRecord

_EXEC_TYPE = {
    EventKind.ACCEPTED: types_pb2.EXEC_TYPE_NEW,
    EventKind.TRADE: types_pb2.EXEC_TYPE_TRADE,
    EventKind.CANCELLED: types_pb2.EXEC_TYPE_CANCELED,
    EventKind.EXPIRED: types_pb2.EXEC_TYPE_EXPIRED,
    EventKind.REPLACED: types_pb2.EXEC_TYPE_REPLACED,
    EventKind.REJECTED: types_pb2.EXEC_TYPE_REJECTED,
}
_ORDER_EVENTS = np.array(list(_EXEC_TYPE), np.int64)


class Instruments:
    """Symbol ↔ engine id and the class rules of each listed instrument, cached: ids are
    never reused, so an entry never goes stale. O(1) per lookup after the first."""

    def __init__(self, listing: Listing, catalog: Catalog) -> None:
        self.listing = listing
        self.catalog = catalog
        self._ids: dict[str, int] = {}
        self._symbols: list[str] = []
        self._classes: list[GpuClass] = []
        self._rules = np.zeros((0, 5), np.int64)

    def id(self, symbol: str) -> int:
        """Engine id of a symbol; INVALID_ARGUMENT if malformed, NOT_FOUND if not listed."""
        found = self._ids.get(symbol)
        if found is not None:
            return found
        if not symbol:
            raise invalid("symbol is required, e.g. H100-80G.jiaxing.20261125T14")
        try:
            inst = self.catalog.instrument(symbol)
        except SymbolError as exc:
            raise invalid(str(exc)) from None
        try:
            found = self.listing.id_of(inst.symbol)
        except KeyError:
            raise not_found(f"{inst.symbol} is not listed (slots are listed up to "
                            f"{self.catalog.market.listing_horizon_days} days ahead)") from None
        self._ids[symbol] = found
        return found

    def _fill(self, instrument: int) -> None:
        for i in range(len(self._symbols), instrument + 1):
            inst = self.listing.instrument(i)
            self._symbols.append(inst.symbol)
            self._classes.append(self.catalog.gpu_class(inst.gpu_class))

    def symbol(self, instrument: int) -> str:
        """The symbol of a listed engine id ("" for none)."""
        if instrument >= len(self._symbols):
            if not 0 <= instrument < len(self.listing):
                return ""
            self._fill(instrument)
        return self._symbols[instrument]

    def gpu_class(self, instrument: int) -> GpuClass:
        """The class (tick, band, lot limits) of a listed engine id."""
        if instrument >= len(self._classes):
            self._fill(instrument)
        return self._classes[instrument]

    def rules(self, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        """(tick, band_lo, band_hi, min_qty, max_qty) of each listed id, as arrays."""
        top = int(ids.max()) if len(ids) else 0
        if top >= len(self._rules):
            self._fill(top)
            self._rules = np.array([[c.tick_fen, c.band_lo_fen, c.band_hi_fen, c.min_qty, c.max_qty]
                                    for c in self._classes], np.int64)
        return tuple(self._rules[ids].T)


def _clord(value: int, field: str) -> int:
    if not 0 < value < CLORD_LIMIT:
        raise invalid(f"{field} must be in 1..{CLORD_LIMIT - 1}")
    return value


_PLACE_FIELDS = ("side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id",
                 "expire_time_ns", "post_only", "self_trade_prevention")
_IOC_FOK = (TimeInForce.IOC, TimeInForce.FOK)


def place_commands(reqs: list, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, GatewayError]]:
    """Validate PlaceOrderRequests as columns; the NEW_ORDER records of the valid ones (in
    order) and, by index, the error of each invalid one. Per order only the field reads
    and a cached symbol lookup run in Python; the checks run over whole columns."""
    n = len(reqs)
    problems: dict[int, GatewayError] = {}
    ids = np.zeros(n, np.int64)
    for i, req in enumerate(reqs):
        try:
            ids[i] = instruments.id(req.symbol)
        except GatewayError as error:
            problems[i] = error
    if len(problems) == n:
        return commands(0), problems
    if problems:  # rows already refused borrow a listed id so the column checks can run
        ids[list(problems)] = ids[next(i for i in range(n) if i not in problems)]
    f = {name: np.fromiter((getattr(r, name) for r in reqs), np.int64, n) for name in _PLACE_FIELDS
         if name != "client_order_id"}
    # uint64 on the wire: anything past the limit is refused below, without overflowing int64
    f["client_order_id"] = np.fromiter((min(r.client_order_id, CLORD_LIMIT) for r in reqs), np.int64, n)
    side, kind, tif, price, qty = f["side"], f["order_type"], f["time_in_force"], f["price_fen"], f["qty"]
    market = kind == OrderType.MARKET
    tick, lo, hi, min_qty, max_qty = instruments.rules(ids)
    checks = (
        (~np.isin(side, (Side.BUY, Side.SELL)), lambda i: "side must be SIDE_BUY or SIDE_SELL"),
        (~np.isin(kind, (OrderType.LIMIT, OrderType.MARKET)),
         lambda i: "order_type must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET"),
        ((tif < TimeInForce.GTC) | (tif > TimeInForce.FOK), lambda i: "time_in_force is required (GTC, GTD, IOC or FOK)"),
        (market & ~np.isin(tif, _IOC_FOK), lambda i: "market orders need time_in_force IOC or FOK"),
        ((tif == TimeInForce.GTD) != (f["expire_time_ns"] != 0),
         lambda i: "expire_time_ns is required for GTD orders and must be 0 for the others"),
        ((f["post_only"] != 0) & (market | np.isin(tif, _IOC_FOK)), lambda i: "post_only needs a limit order with GTC or GTD"),
        ((f["self_trade_prevention"] < 0) | (f["self_trade_prevention"] > StpMode.DECREMENT),
         lambda i: "self_trade_prevention is not a known mode"),
        ((qty < min_qty) | (qty > max_qty), lambda i: (
            f"qty {qty[i]} is outside the lot limits of {instruments.gpu_class(ids[i]).name}: "
            f"{min_qty[i]}..{max_qty[i]} GPUs")),
        (market & (price != 0), lambda i: "market orders carry no price: set price_fen to 0"),
        (~market & (price % tick != 0), lambda i: (
            f"price_fen {price[i]} is not on the tick of {instruments.gpu_class(ids[i]).name} ({tick[i]} fen)")),
        (~market & ((price < lo) | (price > hi)), lambda i: (
            f"price_fen {price[i]} is outside the band of {instruments.gpu_class(ids[i]).name}: {lo[i]}..{hi[i]} fen")),
        ((f["client_order_id"] <= 0) | (f["client_order_id"] >= CLORD_LIMIT),
         lambda i: f"client_order_id must be in 1..{CLORD_LIMIT - 1}"),
    )
    for bad, message in checks:
        for i in np.flatnonzero(bad).tolist():
            if i not in problems:
                problems[i] = invalid(message(i))
    batch = commands(n)
    batch["kind"] = CommandKind.NEW_ORDER
    batch["account"] = account
    batch["instrument"] = ids
    batch["side"] = side
    batch["order_type"] = kind
    batch["tif"] = tif
    batch["flags"] = np.where(f["post_only"] != 0, int(OrderFlag.POST_ONLY), 0)
    batch["stp"] = np.where(f["self_trade_prevention"] == 0, int(StpMode.CANCEL_NEWEST), f["self_trade_prevention"])
    batch["price"] = price
    batch["qty"] = qty
    batch["clord"] = f["client_order_id"]
    batch["expire_ts"] = f["expire_time_ns"]
    if problems:
        keep = np.ones(n, bool)
        keep[list(problems)] = False
        batch = batch[keep]
    return batch, problems


def cancel_command(req: trading_pb2.CancelOrderRequest, account: int, out: np.ndarray) -> None:
    """Validate a CancelOrderRequest into a CANCEL record."""
    out["kind"] = CommandKind.CANCEL
    out["account"] = account
    out["orig_clord"] = _clord(req.orig_client_order_id, "orig_client_order_id")


def replace_command(req: trading_pb2.ReplaceOrderRequest, account: int, out: np.ndarray) -> None:
    """Validate a ReplaceOrderRequest into a REPLACE record (limits are the engine's)."""
    if req.qty <= 0 or req.price_fen <= 0:
        raise invalid("replace needs the new total qty > 0 and a limit price_fen > 0")
    out["kind"] = CommandKind.REPLACE
    out["account"] = account
    out["orig_clord"] = _clord(req.orig_client_order_id, "orig_client_order_id")
    out["clord"] = _clord(req.client_order_id, "client_order_id")
    out["price"] = req.price_fen
    out["qty"] = req.qty


def stream_commands(reqs, account: int, instruments: Instruments) -> tuple[np.ndarray, dict[int, str]]:
    """The records of a stream batch's valid OrderCommands, in order, and for each
    invalid one (by its index in the batch) what is wrong with it."""
    kinds = [cmd.WhichOneof("command") for cmd in reqs]
    places = [i for i, k in enumerate(kinds) if k == "place"]
    placed, place_problems = place_commands([reqs[i].place for i in places], account, instruments)
    problems = {places[j]: error.message for j, error in place_problems.items()}
    batch = commands(len(reqs))
    valid = []
    next_place = iter(placed)
    for i, which in enumerate(kinds):
        if which == "place":
            if i not in problems:
                batch[i] = next(next_place)
                valid.append(i)
            continue
        try:
            if which == "cancel":
                cancel_command(reqs[i].cancel, account, batch[i:i + 1])
            elif which == "replace":
                replace_command(reqs[i].replace, account, batch[i:i + 1])
            else:
                raise invalid("empty command: set place, cancel or replace")
            valid.append(i)
        except GatewayError as error:
            problems[i] = error.message
    return batch[valid] if len(valid) < len(reqs) else batch, problems


def invalid_report(message: str, clord: int) -> types_pb2.ExecutionReport:
    """The report of a stream command the gateway refused before sequencing it."""
    return types_pb2.ExecutionReport(exec_type=types_pb2.EXEC_TYPE_REJECTED,
                                     order_status=types_pb2.ORDER_STATUS_REJECTED, text=message,
                                     client_order_id=clord)


def _status(kind: int, reason: int, leaves: int, filled: int) -> int:
    if kind == EventKind.REJECTED:
        return types_pb2.ORDER_STATUS_REJECTED
    if kind == EventKind.EXPIRED and leaves == 0:
        return types_pb2.ORDER_STATUS_EXPIRED
    if kind == EventKind.CANCELLED and leaves == 0:
        return types_pb2.ORDER_STATUS_CANCELED
    if leaves == 0 and filled:
        return types_pb2.ORDER_STATUS_FILLED
    return types_pb2.ORDER_STATUS_PARTIALLY_FILLED if filled else types_pb2.ORDER_STATUS_NEW


_IS_ORDER_EVENT = np.zeros(16, bool)
_IS_ORDER_EVENT[_ORDER_EVENTS] = True


def reports(events: np.ndarray, account: int, instruments: Instruments) -> list[types_pb2.ExecutionReport]:
    """The execution reports of ``account``'s orders among ``events`` (its side of a trade,
    whether it was the taker or the maker), in event order. One pass over the columns."""
    kind = events["kind"]
    mine = _IS_ORDER_EVENT[kind] & ((events["account"] == account)
                                    | ((kind == EventKind.TRADE) & (events["contra_account"] == account)))
    rows = events[mine]
    index = np.flatnonzero(mine).tolist()
    cols = {name: rows[name].tolist() for name in rows.dtype.names}
    out = []
    Report = types_pb2.ExecutionReport
    for j, k in enumerate(cols["kind"]):
        maker = k == EventKind.TRADE and cols["account"][j] != account
        leaves = cols["contra_leaves"][j] if maker else cols["leaves"][j]
        reason = cols["reason"][j]
        report = Report(seq=cols["seq"][j], exec_index=index[j], transact_time_ns=cols["ts"][j],
                        exec_type=_EXEC_TYPE[k], reason=reason, leaves_qty=leaves,
                        order_id=cols["contra_order_id"][j] if maker else cols["order_id"][j],
                        client_order_id=cols["contra_clord"][j] if maker else cols["clord"][j],
                        symbol=instruments.symbol(cols["instrument"][j]),
                        side=3 - cols["side"][j] if maker else cols["side"][j])
        if k == EventKind.TRADE:
            report.last_qty, report.last_price_fen, report.trade_id = cols["qty"][j], cols["price"][j], cols["trade_id"][j]
            filled = 0 if maker else cols["filled"][j]
            report.cum_qty = filled
            status = _status(k, reason, leaves, True)
        else:
            report.price_fen, report.order_qty, report.cum_qty = cols["price"][j], cols["qty"][j], cols["filled"][j]
            status = _status(k, reason, leaves, cols["filled"][j])
            if k == EventKind.REPLACED:
                report.orig_client_order_id = cols["contra_clord"][j]
            elif k == EventKind.REJECTED:
                report.text = explain(reason)
        report.order_status = status
        out.append(report)
    return out


def order_from_events(events: np.ndarray, instruments: Instruments) -> types_pb2.Order:
    """The order a NEW_ORDER created, as its own events leave it (no second lookup)."""
    accepted = events[events["kind"] == EventKind.ACCEPTED][0]
    oid = accepted["order_id"]
    own = events[(events["order_id"] == oid) & _IS_ORDER_EVENT[events["kind"]]]
    last = own[-1]
    trades = own[own["kind"] == EventKind.TRADE]
    filled = int(trades["filled"][-1]) if len(trades) else 0
    leaves = int(last["leaves"])
    return types_pb2.Order(
        order_id=int(oid), client_order_id=int(accepted["clord"]), first_client_order_id=int(accepted["clord"]),
        symbol=instruments.symbol(int(accepted["instrument"])), side=int(accepted["side"]),
        price_fen=int(accepted["price"]), order_qty=int(accepted["qty"]), cum_qty=filled, leaves_qty=leaves,
        order_status=_status(int(last["kind"]), 0, leaves, filled))


def order_message(record: OrderRecord, instruments: Instruments) -> types_pb2.Order:
    """An OrderRecord of the ledger as the wire's Order."""
    return types_pb2.Order(
        order_id=record.order_id, client_order_id=record.clord, first_client_order_id=record.first_clord,
        symbol=instruments.symbol(record.instrument), side=record.side, price_fen=record.price,
        order_qty=record.qty, cum_qty=record.filled, leaves_qty=record.leaves,
        order_status=int(record.status))


def first_rejection(events: np.ndarray) -> int:
    """The reason of the first REJECTED event, else Reason.NONE."""
    rejected = events["reason"][events["kind"] == EventKind.REJECTED]
    return int(rejected[0]) if len(rejected) else int(Reason.NONE)
