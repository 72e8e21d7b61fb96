"""The engine's events as the wire's FIX execution reports and orders.

A unary call's few events are read as Python rows (``events.tolist()``) and built one
message at a time (:func:`execution_reports`); a stream batch's many are computed as
columns by a compiled pass and written as wire bytes
(:func:`exchange.gateway.wire.encode_reports`) that grpc sends as they are
(:func:`stream_response`) or protobuf parses in one call (:func:`reports_message`): the
same messages.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numba import njit

from exchange.gateway.errors import GatewayError, explain, quote
from exchange.gateway.instruments import Instruments
from exchange.gateway.wire import REPORT_COLUMNS, encode_reports, length_delimited_key, varint_field
from exchange.proto.gpux.v1 import trading_pb2, types_pb2
from exchange.schema import EVENT_FIELDS, E, EventKind, Reason, record_words
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


def invalid_report(error: GatewayError, cmd) -> types_pb2.ExecutionReport:
    """The report of a stream command (an OrderCommand) the gateway refused before
    sequencing it: the error's reason and message, the command's symbol, side and client
    order id (a cancel's: the order it names)."""
    which = cmd.WhichOneof("command")
    body: Any = getattr(cmd, which) if which else None
    report = types_pb2.ExecutionReport(exec_type=types_pb2.EXEC_TYPE_REJECTED, reason=error.reason,  # type: ignore[arg-type]
                                       order_status=types_pb2.ORDER_STATUS_REJECTED, text=error.message)
    if which == "place":
        report.symbol, report.side = quote(body.symbol, marks=False), body.side
        report.price_fen, report.order_qty = body.price_fen, body.qty
    if which in ("place", "replace"):
        report.client_order_id = body.client_order_id
    if which in ("cancel", "replace"):
        report.orig_client_order_id = body.orig_client_order_id
    if which == "cancel":
        report.client_order_id = body.orig_client_order_id
    return report


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
_EXEC_TYPE_OF_KIND = {int(k): int(v) for k, v in _EXEC_TYPE.items()}
_E_SEQ, _E_TS, _E_KIND, _E_REASON, _E_ACCOUNT, _E_INSTRUMENT, _E_ORDER_ID, _E_CLORD, _E_SIDE, _E_PRICE, _E_QTY, \
    _E_LEAVES, _E_FILLED, _E_CONTRA_ORDER_ID, _E_CONTRA_ACCOUNT, _E_CONTRA_CLORD, _E_CONTRA_LEAVES, _E_TRADE_ID = (
        int(E[name]) for name in ("SEQ", "TS", "KIND", "REASON", "ACCOUNT", "INSTRUMENT", "ORDER_ID", "CLORD", "SIDE",
                                  "PRICE", "QTY", "LEAVES", "FILLED", "CONTRA_ORDER_ID", "CONTRA_ACCOUNT",
                                  "CONTRA_CLORD", "CONTRA_LEAVES", "TRADE_ID"))
assert EVENT_FIELDS == ("seq", "ts", "kind", "reason", "account", "instrument", "order_id", "clord", "side",
                        "price", "qty", "leaves", "filled", "contra_order_id", "contra_account",
                        "contra_clord", "contra_leaves", "trade_id"), "execution_reports unpacks rows in this order"
_E_TRADE, _E_ACCEPTED, _E_CANCELLED, _E_EXPIRED, _E_REJECTED, _E_REPLACED = (int(k) for k in (
    EventKind.TRADE, EventKind.ACCEPTED, EventKind.CANCELLED, EventKind.EXPIRED, EventKind.REJECTED,
    EventKind.REPLACED))
_NO_REASON = int(Reason.NONE)
_OS_NEW, _OS_PARTIAL, _OS_FILLED, _OS_CANCELED, _OS_EXPIRED, _OS_REJECTED = (
    types_pb2.ORDER_STATUS_NEW, types_pb2.ORDER_STATUS_PARTIALLY_FILLED, types_pb2.ORDER_STATUS_FILLED,
    types_pb2.ORDER_STATUS_CANCELED, types_pb2.ORDER_STATUS_EXPIRED, types_pb2.ORDER_STATUS_REJECTED)


def execution_reports(rows: list[tuple], account: int, instruments: Instruments, into: Any = None) -> Any:
    """The execution reports of ``account``'s orders among event ``rows`` (``events.tolist()``:
    its side of a trade, whether it was the taker or the maker), in event order: a list,
    or added to ``into`` (a response's repeated ``reports`` field, which a message made
    with a list would copy it into). One pass over Python tuples (few rows: a unary
    call's; :func:`reports_message` does many)."""
    out = [] if into is None else into
    Report = types_pb2.ExecutionReport if into is None else into.add
    first, first_seq = 0, None  # where the events of the current command start
    for i, (seq, ts, k, reason, owner, instrument, order_id, clord, side, price, qty, leaves, filled,
            contra_order_id, contra_account, contra_clord, contra_leaves, trade_id) in enumerate(rows):
        if seq != first_seq:
            first, first_seq = i, seq
        index = i - first
        exec_type = _EXEC_TYPE_OF_KIND.get(k)
        if exec_type is None or (owner != account and (k != _E_TRADE or contra_account != account)):
            continue
        maker = k == _E_TRADE and owner != account
        if maker:
            leaves, order_id, clord, side = contra_leaves, contra_order_id, contra_clord, 3 - side
        report = Report(seq=seq, exec_index=index, transact_time_ns=ts, exec_type=exec_type, reason=reason,  # type: ignore[arg-type]
                        leaves_qty=leaves, order_id=order_id, client_order_id=clord,
                        symbol=instruments.symbol(instrument), side=side)
        if k == _E_TRADE:
            report.last_qty, report.last_price_fen, report.trade_id = qty, price, trade_id
            report.cum_qty = 0 if maker else filled
            report.order_status = _status(k, reason, leaves, True)
        else:
            report.price_fen, report.order_qty, report.cum_qty = price, qty, filled
            report.order_status = _status(k, reason, leaves, filled)
            if k == _E_REPLACED:
                report.orig_client_order_id = contra_clord
            elif k == _E_REJECTED:
                report.text = explain(reason)
        if into is None:
            out.append(report)
    return out


# ---------------------------------------------------------------- reports in bulk

_BULK_FROM = 8
"""Below this many events the per-message path of :func:`execution_reports` is cheaper."""
_EXEC_TYPE_OF = np.zeros(len(_IS_ORDER_EVENT), np.int64)
_EXEC_TYPE_OF[_ORDER_EVENTS] = [int(v) for v in _EXEC_TYPE.values()]
_R_SEQ, _R_EXEC_INDEX, _R_TIME, _R_EXEC_TYPE, _R_STATUS, _R_REASON, _R_TEXT, _R_ORDER_ID, _R_CLORD, _R_ORIG_CLORD, \
    _R_SYMBOL, _R_SIDE, _R_PRICE, _R_ORDER_QTY, _R_LAST_QTY, _R_LAST_PRICE, _R_LEAVES, _R_CUM_QTY, _R_TRADE_ID = (
        REPORT_COLUMNS.index(name) for name in (
            "seq", "exec_index", "transact_time_ns", "exec_type", "order_status", "reason", "text", "order_id",
            "client_order_id", "orig_client_order_id", "symbol", "side", "price_fen", "order_qty", "last_qty",
            "last_price_fen", "leaves_qty", "cum_qty", "trade_id"))


@njit(cache=True)
def _report_values(ev, account, is_order_event, exec_type_of, n_listed, out):
    """Fill ``out`` (one row per report, the columns of
    :func:`~exchange.gateway.wire.encode_reports`, the text column left 0) from the event
    rows ``ev`` that are ``account``'s order events; the number of rows written, how many
    of them are rejections and the highest symbol column value (0: none). The rules of
    :func:`execution_reports`. O(events)."""
    n = 0
    rejections = 0
    top_symbol = 0
    first = 0  # where the events of the current command start
    for i in range(ev.shape[0]):
        if i > 0 and ev[i, _E_SEQ] != ev[i - 1, _E_SEQ]:
            first = i
        kind = ev[i, _E_KIND]
        trade = kind == _E_TRADE
        if kind < 0 or kind >= is_order_event.shape[0] or not is_order_event[kind] or (ev[i, _E_ACCOUNT] != account
                                        and not (trade and ev[i, _E_CONTRA_ACCOUNT] == account)):
            continue
        maker = trade and ev[i, _E_ACCOUNT] != account
        leaves = ev[i, _E_CONTRA_LEAVES] if maker else ev[i, _E_LEAVES]
        filled = ev[i, _E_FILLED]
        worked = trade or filled != 0
        status = _OS_PARTIAL if worked else _OS_NEW
        if leaves == 0 and worked:
            status = _OS_FILLED
        if kind == _E_CANCELLED and leaves == 0:
            status = _OS_CANCELED
        if kind == _E_EXPIRED and leaves == 0:
            status = _OS_EXPIRED
        if kind == _E_REJECTED:
            status = _OS_REJECTED
        instrument = ev[i, _E_INSTRUMENT]
        row = out[n]
        row[_R_SEQ] = ev[i, _E_SEQ]
        row[_R_EXEC_INDEX] = i - first
        row[_R_TIME] = ev[i, _E_TS]
        row[_R_EXEC_TYPE] = exec_type_of[kind]
        row[_R_STATUS] = status
        row[_R_REASON] = ev[i, _E_REASON]
        row[_R_TEXT] = 0  # set by the caller for rejections
        row[_R_ORDER_ID] = ev[i, _E_CONTRA_ORDER_ID] if maker else ev[i, _E_ORDER_ID]
        row[_R_CLORD] = ev[i, _E_CONTRA_CLORD] if maker else ev[i, _E_CLORD]
        row[_R_ORIG_CLORD] = ev[i, _E_CONTRA_CLORD] if kind == _E_REPLACED else 0
        row[_R_SYMBOL] = instrument + 1 if 0 <= instrument < n_listed else 0
        row[_R_SIDE] = 3 - ev[i, _E_SIDE] if maker else ev[i, _E_SIDE]
        row[_R_PRICE] = 0 if trade else ev[i, _E_PRICE]
        row[_R_ORDER_QTY] = 0 if trade else ev[i, _E_QTY]
        row[_R_LAST_QTY] = ev[i, _E_QTY] if trade else 0
        row[_R_LAST_PRICE] = ev[i, _E_PRICE] if trade else 0
        row[_R_LEAVES] = leaves
        row[_R_CUM_QTY] = 0 if maker else filled
        row[_R_TRADE_ID] = ev[i, _E_TRADE_ID] if trade else 0
        rejections += kind == _E_REJECTED
        top_symbol = max(top_symbol, row[_R_SYMBOL])
        n += 1
    return n, rejections, top_symbol


def _report_columns(events: np.ndarray, account: int, instruments: Instruments
                    ) -> tuple[np.ndarray, list[str], tuple[np.ndarray, np.ndarray]]:
    """The fields of :func:`execution_reports` over the event rows
    (:func:`_report_values`): values as for :func:`~exchange.gateway.wire.encode_reports`,
    the texts of the rejections, the symbol table."""
    values = np.empty((len(events), len(REPORT_COLUMNS)), np.int64)
    n, rejections, top_symbol = _report_values(record_words(events), account, _IS_ORDER_EVENT,
                                               _EXEC_TYPE_OF, len(instruments.listing), values)
    values = values[:n]
    texts: list[str] = []
    if rejections:
        rejected = values[:, _R_EXEC_TYPE] == types_pb2.EXEC_TYPE_REJECTED
        reasons = np.unique(values[rejected, _R_REASON])
        texts = [explain(r) for r in reasons.tolist()]
        values[rejected, _R_TEXT] = np.searchsorted(reasons, values[rejected, _R_REASON]) + 1  # texts[k - 1]
    top = top_symbol - 1  # the highest listed id among them
    table = instruments.symbol_table(top) if top >= 0 else (np.zeros(0, np.uint8), np.zeros(1, np.int64))
    return values, texts, table


@cache
def _reports_key(cls: type) -> int:
    """The wire key of ``cls``'s ``reports`` field (one descriptor lookup per class)."""
    return length_delimited_key(cls, "reports")


def _encoded_reports(cls: type, events: np.ndarray, account: int, instruments: Instruments) -> np.ndarray:
    """The wire bytes (uint8) of ``cls``'s ``reports`` field holding
    :func:`execution_reports` of ``events``, written by a compiled kernel from columns."""
    values, texts, (symbol_buf, symbol_at) = _report_columns(events, account, instruments)
    if texts:
        encoded = [t.encode() for t in texts]
        text_at = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=text_at[1:])
        text_buf = np.frombuffer(b"".join(encoded), np.uint8)
    else:
        text_buf, text_at = _NO_TEXT
    return encode_reports(values.view(np.uint64), text_buf, text_at, symbol_buf, symbol_at, _reports_key(cls))


_NO_TEXT = (np.zeros(0, np.uint8), np.zeros(1, np.int64))


def reports_message(cls, events: np.ndarray | None, account: int, instruments: Instruments, **fields):
    """A ``cls`` message (a response with ``repeated ExecutionReport reports``) holding
    :func:`execution_reports` of ``events`` and the other ``fields`` given. Many reports
    are written as wire bytes by a compiled kernel and parsed in one call (the same
    messages)."""
    if events is None or len(events) < _BULK_FROM:
        return cls(reports=execution_reports(events.tolist(), account, instruments) if events is not None else [],
                   **fields)
    message = cls.FromString(_encoded_reports(cls, events, account, instruments).tobytes())
    for name, value in fields.items():
        setattr(message, name, value)
    return message


_BATCH_ID_NUMBER = trading_pb2.StreamOrdersResponse.DESCRIPTOR.fields_by_name["batch_id"].number


def stream_response(events: np.ndarray | None, account: int, instruments: Instruments, batch_id: int) -> bytes:
    """The wire bytes of the StreamOrdersResponse to a batch: ``batch_id`` and
    :func:`execution_reports` of its ``events``, in field-number order as protobuf writes
    them (the same bytes); many reports written by a compiled kernel, with no message
    made (grpc sends the bytes as they are)."""
    if events is None or len(events) < _BULK_FROM:
        return reports_message(trading_pb2.StreamOrdersResponse, events, account, instruments,
                               batch_id=batch_id).SerializeToString()
    encoded = _encoded_reports(trading_pb2.StreamOrdersResponse, events, account, instruments)
    return b"".join((varint_field(_BATCH_ID_NUMBER, batch_id), encoded.data))  # one copy of the bytes


def order_fields(rows: list[tuple], instruments: Instruments) -> dict[str, Any]:
    """The fields of the Order a NEW_ORDER created, as its own event ``rows``
    (``events.tolist()``) leave it (no second lookup); a message made with them as its
    ``order`` field takes them without a copy of an Order message."""
    accepted = next(row for row in rows if row[_E_KIND] == _E_ACCEPTED)
    oid = accepted[_E_ORDER_ID]
    own = [row for row in rows if row[_E_ORDER_ID] == oid and row[_E_KIND] in _EXEC_TYPE_OF_KIND]
    filled = next((row[_E_FILLED] for row in reversed(own) if row[_E_KIND] == _E_TRADE), 0)
    leaves = own[-1][_E_LEAVES]
    return dict(
        order_id=oid, client_order_id=accepted[_E_CLORD], first_client_order_id=accepted[_E_CLORD],
        symbol=instruments.symbol(accepted[_E_INSTRUMENT]), side=accepted[_E_SIDE], price_fen=accepted[_E_PRICE],
        order_qty=accepted[_E_QTY], cum_qty=filled, leaves_qty=leaves,
        order_status=_status(own[-1][_E_KIND], 0, leaves, filled))


def order_message(record: OrderRecord, instruments: Instruments) -> types_pb2.Order:
    """An OrderRecord of the ledger as the wire's Order."""
    return types_pb2.Order(
        order_id=record.order_id, client_order_id=record.clord, first_client_order_id=record.first_clord,
        symbol=instruments.symbol(record.instrument), side=record.side, price_fen=record.price,  # type: ignore[arg-type]
        order_qty=record.qty, cum_qty=record.filled, leaves_qty=record.leaves,
        order_status=int(record.status))  # type: ignore[arg-type]


def first_rejection(rows: list[tuple]) -> int:
    """The reason of the first REJECTED event among ``rows`` (``events.tolist()``), else
    Reason.NONE. A few rows (one command's) as tuples: no numpy call, which matters in a
    server whose caches the network work keeps cold."""
    return next((row[_E_REASON] for row in rows if row[_E_KIND] == _E_REJECTED), _NO_REASON)
