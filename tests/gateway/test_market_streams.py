"""The public feeds and the fan-out behind them, end to end: StreamTrades equals the trade
log and resumes from any trade id (across a restart too), StreamTickers sends every
matching ticker then changes, every changed book is read once per publish however many
streams watch it, only watchers of a changed symbol are woken, and the stream caps
refuse naming the cap."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from exchange.client import GpuxClient, error_info
from exchange.proto.gpux.v1 import audit_pb2, market_data_pb2, types_pb2
from exchange.tradelog import read_all
from tests.gateway_harness import OTHER, SYMBOL, RunningServer


def _request(**fields) -> audit_pb2.StreamTradesRequest:
    return audit_pb2.StreamTradesRequest(**fields)


class Reader:
    """A thread reading one server stream into a list."""

    def __init__(self, call) -> None:
        self.call, self.messages = call, []
        self.error: grpc.RpcError | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self.call:
                self.messages.append(message)
        except grpc.RpcError as error:
            self.error = error

    def trades(self) -> list:
        return [t for m in self.messages for t in m.trades]

    def wait(self, check, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not check(self):
            assert time.monotonic() < deadline, f"stream stopped at {len(self.messages)} messages: {self.error}"
            time.sleep(0.02)


@pytest.fixture()
def market(tmp_path):
    server = RunningServer(tmp_path, max_streams_per_account=40)
    admin = GpuxClient(server.address, server.admin_token)
    provider = GpuxClient(server.address, admin.create_account("p", "PROVIDER").token)
    buyer = GpuxClient(server.address, admin.create_account("b", "BUYER").token)
    for symbol in (SYMBOL, OTHER):
        provider.deposit_capacity(symbol, 1000)
    buyer.deposit_funds(10**9)
    yield server, admin, provider, buyer
    for c in (admin, provider, buyer):
        c.close()
    server.stop()


def _trade(provider: GpuxClient, buyer: GpuxClient, symbol: str, n: int, first: int) -> None:
    for i in range(first, first + n):
        provider.place_order(symbol, "SELL", 2, price_fen=1800 + i % 3, client_order_id=i)
        buyer.place_order(symbol, "BUY", 2, price_fen=1810, client_order_id=i, time_in_force="IOC")


def test_trade_stream_equals_the_trade_log_and_resumes(market, tmp_path):
    server, admin, provider, buyer = market
    md = buyer.market_data
    everything = Reader(md.StreamTrades(_request(), metadata=buyer.metadata))
    one = Reader(md.StreamTrades(_request(symbols=[OTHER]), metadata=buyer.metadata))
    region = Reader(md.StreamTrades(_request(region="jiaxing", day="2026-11-25"), metadata=buyer.metadata))
    everything.wait(lambda r: r.messages)  # caught up (nothing yet)
    _trade(provider, buyer, SYMBOL, 5, 1)
    _trade(provider, buyer, OTHER, 3, 100)
    everything.wait(lambda r: len(r.trades()) == 8)
    one.wait(lambda r: len(r.trades()) == 3)
    region.wait(lambda r: len(r.trades()) == 5)
    assert [t.trade_id for t in everything.trades()] == list(range(1, 9))
    assert {t.symbol for t in one.trades()} == {OTHER} and {t.symbol for t in region.trades()} == {SYMBOL}
    assert everything.messages[-1].through_trade_id == 8
    resumed = list(_take(md.StreamTrades(_request(after_trade_id=5), metadata=buyer.metadata), 1))
    assert [t.trade_id for t in resumed[0].trades] == [6, 7, 8]
    following = buyer.stream_trades(symbols=[OTHER], after_trade_id=6)  # the client's resuming iterator
    assert [next(following).trade_id for _ in range(2)] == [7, 8]
    following.close()
    streamed = [(t.trade_id, t.symbol, t.price_fen, t.qty, t.aggressor_side) for t in everything.trades()]
    for reader in (everything, one, region):
        reader.call.cancel()
    server.stop()
    log = read_all(tmp_path / "trades").select(["trade_id", "symbol", "price", "qty"]).to_pylist()
    assert [(t, s, p, q, types_pb2.SIDE_BUY) for t, s, p, q in (tuple(r.values()) for r in log)] == streamed
    again = RunningServer(tmp_path)  # after a restart: from the trade log
    try:
        with GpuxClient(again.address, buyer.metadata[0][1][7:]) as same:
            first = next(same.market_data.StreamTrades(_request(after_trade_id=2), metadata=same.metadata))
        assert [t.trade_id for t in first.trades] == list(range(3, 9))
    finally:
        again.stop()


def _take(call, n: int):
    for i, message in enumerate(call):
        yield message
        if i + 1 == n:
            call.cancel()
            return


def test_tickers_all_then_changes(market):
    _, _, provider, buyer = market
    call = buyer.market_data.StreamTickers(market_data_pb2.StreamTickersRequest(region="jiaxing", day="2026-11-25"),
                                           metadata=buyer.metadata)
    reader = Reader(call)
    reader.wait(lambda r: r.messages)
    first = {t.symbol: t for t in reader.messages[0].tickers}
    assert SYMBOL in first and OTHER not in first and all(".jiaxing.20261125" in s for s in first)
    _trade(provider, buyer, SYMBOL, 1, 1)
    reader.wait(lambda r: any(t.symbol == SYMBOL and t.volume == 2 for m in r.messages[1:] for t in m.tickers))
    latest = [t for m in reader.messages[1:] for t in m.tickers if t.symbol == SYMBOL][-1]
    assert latest.last_price_fen == 1801 and latest.last_per_pflop_hour_fen > 0
    assert all(len({t.symbol for t in m.tickers}) == len(m.tickers) for m in reader.messages)  # once per message
    call.cancel()


def test_each_changed_book_is_read_once_and_only_its_watchers_wake(market):
    server, _, provider, buyer = market
    feed = server.server.exchange.feed
    watching = [Reader(buyer.market_data.StreamBook(market_data_pb2.StreamBookRequest(symbol=s, depth=5),
                                                    metadata=buyer.metadata)) for s in [SYMBOL] * 15 + [OTHER] * 15]
    for reader in watching:
        reader.wait(lambda r: r.messages)  # each has its snapshot
    reads = feed.reads
    for i in range(1, 11):
        provider.place_order(SYMBOL, "SELL", 1, price_fen=1910 - i, client_order_id=i)  # each the new best
    for reader in watching[:15]:
        reader.wait(lambda r: any(u.price_fen == 1900 for m in r.messages for u in m.updates))
    assert feed.reads - reads <= 10  # at most one read per group for all 30 streams
    assert all(len(reader.messages) == 1 for reader in watching[15:])  # OTHER's watchers were never woken
    ids = [m.update_id for m in watching[0].messages]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive after the snapshot
    for reader in watching:
        reader.call.cancel()


def test_stream_caps_name_the_cap(tmp_path):
    server = RunningServer(tmp_path, max_streams_per_account=2, max_streams=3)
    try:
        admin = GpuxClient(server.address, server.admin_token)
        tokens = [admin.create_account(f"w{i}", "BUYER").token for i in range(2)]
        clients = [GpuxClient(server.address, t) for t in tokens]
        request = market_data_pb2.StreamBookRequest(symbol=SYMBOL)
        open_ = [Reader(clients[0].market_data.StreamBook(request, metadata=clients[0].metadata)) for _ in range(2)]
        for reader in open_:
            reader.wait(lambda r: r.messages)
        third = Reader(clients[0].market_data.StreamBook(request, metadata=clients[0].metadata))
        third.wait(lambda r: r.error is not None)
        info = error_info(third.error)
        assert third.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and info.reason == "REASON_STREAM_LIMIT"
        assert info.metadata["limit"] == "2" and "per account" in third.error.details()
        open_.append(Reader(clients[1].market_data.StreamBook(request, metadata=clients[1].metadata)))
        open_[-1].wait(lambda r: r.messages)
        fourth = Reader(clients[1].market_data.StreamBook(request, metadata=clients[1].metadata))
        fourth.wait(lambda r: r.error is not None)
        assert error_info(fourth.error).metadata["limit"] == "3" and "per server" in fourth.error.details()
        for reader in open_:
            reader.call.cancel()
        for c in (admin, *clients):
            c.close()
    finally:
        server.stop()
