"""The fan-out's pieces on their own: messages encoded once are the messages protobuf
would write, and an outbox that overflows ends its stream with the resume point."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from exchange.gateway.errors import GatewayError, GatewayReason
from exchange.gateway.feed import Outbox, field_bytes, varint_field
from exchange.proto.gpux.v1 import audit_pb2, market_data_pb2, types_pb2


def test_entries_encoded_once_join_into_the_message():
    trades = [types_pb2.Trade(trade_id=i, symbol="H100-80G.jiaxing.20261125T14", price_fen=1800 + i, qty=i)
              for i in (1, 2, 300)]
    joined = b"".join(field_bytes(audit_pb2.StreamTradesResponse, "trades", t.SerializeToString()) for t in trades)
    message = audit_pb2.StreamTradesResponse.FromString(
        joined + varint_field(audit_pb2.StreamTradesResponse, "through_trade_id", 300))
    assert message == audit_pb2.StreamTradesResponse(trades=trades, through_trade_id=300)
    ticker = market_data_pb2.Ticker(symbol="X", best_ask_fen=1800)
    entry = field_bytes(market_data_pb2.StreamTickersResponse, "tickers", ticker.SerializeToString())
    assert market_data_pb2.StreamTickersResponse.FromString(entry * 2).tickers == [ticker, ticker]
    assert varint_field(audit_pb2.StreamTradesResponse, "through_trade_id", 0) == b""


def test_an_outbox_past_its_bound_ends_with_the_resume_point():
    async def scenario():
        outbox = Outbox(2)
        assert outbox.put(b"a") and outbox.put(b"b")
        assert await outbox.__anext__() == b"a"
        outbox.resume_after = 7  # the last trade the stream sent
        assert outbox.put(b"c") and not outbox.put(b"d")  # over the bound: everything held is dropped
        with pytest.raises(GatewayError) as error:
            await outbox.__anext__()
        return error.value

    error = asyncio.run(scenario())
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == GatewayReason.SLOW_CONSUMER
    assert error.metadata == {"limit": "2", "resume_after": "7"} and "after_trade_id=7" in error.message
