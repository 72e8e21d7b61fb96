"""Execution reports from engine events: built in bulk as wire bytes, the same messages as
built one at a time."""

from __future__ import annotations

import numpy as np

from exchange.catalog import Listing, default_catalog
from exchange.gateway.instruments import Instruments
from exchange.gateway.reports import execution_reports, reports_message, stream_response
from exchange.proto.gpux.v1 import trading_pb2
from exchange.schema import EVENT_DTYPE, EventKind as EV, Reason
from tests.gateway_harness import listed_instruments as _instruments


def _events(rows: list[dict]) -> np.ndarray:
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, row in enumerate(rows):
        for name, value in row.items():
            out[i][name] = value
    return out


def test_reports_in_bulk_are_the_same_messages_as_one_by_one():
    """reports_message and stream_response (wire bytes from columns) == the reports built
    one message at a time, over every kind of order event, both sides of a trade, texts
    and unlisted ids."""
    rng = np.random.default_rng(5)
    me, other = 7, 8
    kinds = [EV.ACCEPTED, EV.REJECTED, EV.TRADE, EV.CANCELLED, EV.EXPIRED, EV.REPLACED, EV.DONE, EV.ACK]
    reasons = [0, int(Reason.DUPLICATE_CLIENT_ORDER_ID), int(Reason.INSUFFICIENT_FUNDS), 601, 9999]
    rows = []
    for i in range(400):
        kind = kinds[rng.integers(len(kinds))]
        taker = int(rng.choice([me, other]))
        rows.append(dict(
            seq=1000 + i // 3, ts=1_795_482_000 * 10**9 + i, kind=kind, reason=reasons[rng.integers(len(reasons))],
            account=taker, instrument=int(rng.choice([0, 1, 5, -1])), order_id=int(rng.integers(1, 2**40)),
            clord=int(rng.integers(1, 2**40)), side=int(rng.choice([1, 2])), price=int(rng.choice([0, 1800, -3])),
            qty=int(rng.integers(0, 20)), leaves=int(rng.choice([0, 0, 3])), filled=int(rng.choice([0, 2])),
            contra_order_id=int(rng.integers(1, 2**40)), contra_account=other if taker == me else me,
            contra_clord=int(rng.integers(0, 2**40)), contra_leaves=int(rng.choice([0, 4])),
            trade_id=int(rng.integers(1, 10**6)) if kind == EV.TRADE else 0))
    events = _events(rows)
    instruments = _instruments()
    for n in (0, 1, 3, 20, 400):  # below and above the bulk threshold
        part = events[:n]
        bulk = reports_message(trading_pb2.StreamOrdersResponse, part, me, instruments, batch_id=42)
        expected = trading_pb2.StreamOrdersResponse(batch_id=42,
                                                    reports=execution_reports(part.tolist(), me, instruments))
        assert bulk == expected, n
        for batch_id in (0, 42, 2**64 - 1):  # the bytes grpc sends: protobuf's own
            expected.batch_id = batch_id
            assert stream_response(part, me, instruments, batch_id) == expected.SerializeToString(), (n, batch_id)
    assert len(expected.reports) > 100 and any(r.text for r in expected.reports)
    single = reports_message(trading_pb2.PlaceOrderResponse, events, me, instruments)  # field 1, not 2
    assert list(single.reports) == execution_reports(events, me, instruments)
    added = trading_pb2.PlaceOrderResponse()  # added into a response's field: the same reports
    assert execution_reports(events.tolist(), me, instruments, added.reports) is added.reports
    assert added == trading_pb2.PlaceOrderResponse(reports=execution_reports(events.tolist(), me, instruments))


def test_reports_in_bulk_skip_kinds_the_engine_does_not_have_and_other_accounts_events():
    """The compiled report pass reads only kinds it knows (no read past its tables) and
    makes an empty message when none of the events is the account's, listed or not."""
    instruments = _instruments()
    for kind in (16, -1, -15, 2**40, -2**40, 2**63 - 1):
        events = np.zeros(10, EVENT_DTYPE)
        events["kind"], events["account"] = kind, 7
        empty = trading_pb2.StreamOrdersResponse()
        assert reports_message(trading_pb2.StreamOrdersResponse, events, 7, instruments) == empty
        assert trading_pb2.StreamOrdersResponse(reports=execution_reports(events.tolist(), 7, instruments)) == empty
        assert stream_response(events, 7, instruments, 0) == b""
    foreign = np.zeros(10, EVENT_DTYPE)
    foreign["kind"], foreign["account"], foreign["instrument"] = EV.ACCEPTED, 8, 99
    empty = Instruments(Listing(default_catalog()), default_catalog())  # nothing listed at all
    assert reports_message(trading_pb2.StreamOrdersResponse, foreign, 7, empty) == trading_pb2.StreamOrdersResponse()
