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


def _clord(value: int, field: str) -> int:
    if not 0 < value < CLORD_LIMIT:
        raise invalid(f"{field} must be in 1..{CLORD_LIMIT - 1}")
    return value


def _price_rules(cls: GpuClass, price: int, qty: int, market: bool) -> None:
    if not cls.min_qty <= qty <= cls.max_qty:
        raise invalid(f"qty {qty} is outside the lot limits of {cls.name}: {cls.min_qty}..{cls.max_qty} GPUs")
    if market:
        if price:
            raise invalid("market orders carry no price: set price_fen to 0")
        return
    if price % cls.tick_fen:
        raise invalid(f"price_fen {price} is not on the tick of {cls.name} ({cls.tick_fen} fen)")
    if not cls.band_lo_fen <= price <= cls.band_hi_fen:
        raise invalid(f"price_fen {price} is outside the band of {cls.name}: "
                      f"{cls.band_lo_fen}..{cls.band_hi_fen} fen")


def place_command(req: trading_pb2.PlaceOrderRequest, account: int, instruments: Instruments,
                  out: np.ndarray) -> None:
    """Validate a PlaceOrderRequest and write its NEW_ORDER into the record ``out``."""
    instrument = instruments.id(req.symbol)
    if req.side not in (types_pb2.SIDE_BUY, types_pb2.SIDE_SELL):
        raise invalid("side must be SIDE_BUY or SIDE_SELL")
    if req.order_type not in (types_pb2.ORDER_TYPE_LIMIT, types_pb2.ORDER_TYPE_MARKET):
        raise invalid("order_type must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET")
    if not types_pb2.TIME_IN_FORCE_GTC <= req.time_in_force <= types_pb2.TIME_IN_FORCE_FOK:
        raise invalid("time_in_force is required (GTC, GTD, IOC or FOK)")
    market = req.order_type == types_pb2.ORDER_TYPE_MARKET
    if market and req.time_in_force not in (types_pb2.TIME_IN_FORCE_IOC, types_pb2.TIME_IN_FORCE_FOK):
        raise invalid("market orders need time_in_force IOC or FOK")
    if (req.time_in_force == types_pb2.TIME_IN_FORCE_GTD) != (req.expire_time_ns != 0):
        raise invalid("expire_time_ns is required for GTD orders and must be 0 for the others")
    if req.post_only and (market or req.time_in_force not in (TimeInForce.GTC, TimeInForce.GTD)):
        raise invalid("post_only needs a limit order with GTC or GTD")
    if not 0 <= req.self_trade_prevention <= types_pb2.SELF_TRADE_PREVENTION_DECREMENT:
        raise invalid("self_trade_prevention is not a known mode")
    _price_rules(instruments.gpu_class(instrument), req.price_fen, req.qty, market)
    out["kind"] = CommandKind.NEW_ORDER
    out["account"] = account
    out["instrument"] = instrument
    out["side"] = req.side
    out["order_type"] = OrderType.MARKET if market else OrderType.LIMIT
    out["tif"] = req.time_in_force
    out["flags"] = OrderFlag.POST_ONLY if req.post_only else 0
    out["stp"] = req.self_trade_prevention or types_pb2.SELF_TRADE_PREVENTION_CANCEL_NEWEST
    out["price"] = req.price_fen
    out["qty"] = req.qty
    out["clord"] = _clord(req.client_order_id, "client_order_id")
    out["expire_ts"] = req.expire_time_ns


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
    batch = commands(len(reqs))
    problems: dict[int, str] = {}
    n = 0
    for i, cmd in enumerate(reqs):
        which = cmd.WhichOneof("command")
        out = batch[n:n + 1]
        try:
            if which == "place":
                place_command(cmd.place, account, instruments, out)
            elif which == "cancel":
                cancel_command(cmd.cancel, account, out)
            elif which == "replace":
                replace_command(cmd.replace, account, out)
            else:
                raise invalid("empty command: set place, cancel or replace")
        except GatewayError as error:
            out[:] = 0
            problems[i] = error.message
            continue
        n += 1
    return batch[:n], problems


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
