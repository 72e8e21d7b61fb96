"""MarketDataService: the catalog, instruments, books, trades and tickers, polled or
streamed. The streams come from the gateway's shared fan-out
(:class:`~exchange.gateway.feed.MarketFeed`): one read of each changed book per publish,
whatever the number of subscribers; StreamTrades also catches up from the trade log and
the feed's recent trades, so it resumes from any trade id.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from exchange.catalog import Instrument
from exchange.gateway.errors import invalid
from exchange.gateway.feed import Wanted, book_to_depth, indicative_of, trade_message
from exchange.gateway.services.shared import Exchange
from exchange.gateway.validation import parse_day
from exchange.proto.gpux.v1 import audit_pb2, market_data_pb2, market_data_pb2_grpc, types_pb2
from exchange.schema import InstrumentState
from exchange.sequencer import MarketState
from exchange.tradelog import days, read_day

_HISTORY_CHUNK = 1000  # trades per message while a trade stream catches up
_AGGRESSOR = {"BUY": types_pb2.SIDE_BUY, "SELL": types_pb2.SIDE_SELL}


def public_trades(table: pa.Table) -> list[types_pb2.Trade]:
    """Trade-log rows as public trades (no accounts)."""
    ts = table["ts"].cast(pa.int64()).to_pylist()
    rows = table.select(["trade_id", "seq", "symbol", "price", "qty", "aggressor_side"]).to_pylist()
    return [types_pb2.Trade(trade_id=r["trade_id"], seq=r["seq"], time_ns=t, symbol=r["symbol"],
                            price_fen=r["price"], qty=r["qty"], auction=r["aggressor_side"] in ("AUCTION", "DAY_AHEAD"),
                            aggressor_side=_AGGRESSOR.get(r["aggressor_side"], types_pb2.SIDE_UNSPECIFIED))
            for r, t in zip(rows, ts)]


def _depth(depth: int) -> int:
    if depth < 0:
        raise invalid("depth must be positive", "depth", value=depth)
    return depth or 10


class MarketDataService(market_data_pb2_grpc.MarketDataServiceServicer):
    """Public market data."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def GetCatalog(self, request, context):
        c = self.exchange.catalog
        return market_data_pb2.GetCatalogResponse(
            classes=[market_data_pb2.GpuClass(
                name=k.name, memory_gb=k.memory_gb, fp16_tflops_centi=k.fp16_tflops_centi,
                interconnect=k.interconnect, tick_fen=k.tick_fen, band_lo_fen=k.band_lo_fen,
                band_hi_fen=k.band_hi_fen, reference_fen=k.reference_fen, min_qty=k.min_qty,
                max_qty=k.max_qty, maker_fee_bps=k.maker_fee_bps, taker_fee_bps=k.taker_fee_bps)
                for k in c.classes],
            regions=[market_data_pb2.Region(name=r.name, display_name=r.display_name) for r in c.regions],
            utc_offset_hours=c.market.utc_offset_hours, gate_closure_minutes=c.market.gate_closure_minutes,
            listing_horizon_days=c.market.listing_horizon_days)

    async def ListInstruments(self, request, context):
        listed = list(self.exchange.listing)
        found = (await self.exchange.read(lambda state: state.engine.instrument_states())).tolist()
        out = []
        for inst, st in zip(listed, found):
            if request.gpu_class and inst.gpu_class != request.gpu_class:
                continue
            if request.region and inst.region != request.region:
                continue
            if request.open_only and st not in (InstrumentState.OPEN, InstrumentState.CALL):
                continue
            out.append(types_pb2.Instrument(symbol=inst.symbol, gpu_class=inst.gpu_class, region=inst.region,
                                            slot_start_ns=inst.slot_ts_ns,
                                            gate_closure_ns=self.exchange.catalog.gate_ts_ns(inst), state=st))
        return market_data_pb2.ListInstrumentsResponse(instruments=out)

    async def _book(self, symbol: str, depth: int):
        """(book to ``depth``, seq, indicative uncross or None): in a call phase the
        indicative price is computed over the whole book, whatever the depth shown."""
        instrument, depth = self.exchange.instrument(symbol), _depth(depth)

        def read(s: MarketState):  # the whole book only in a call phase
            book = s.engine.book(instrument, depth)
            return (s.engine.book(instrument) if book.state == InstrumentState.CALL else book), s.last_seq

        book, seq = await self.exchange.read(read)
        tick = self.exchange.catalog.gpu_class(self.exchange.listing.instrument(instrument).gpu_class).tick_fen
        return book_to_depth(book, depth), seq, indicative_of(book, tick)

    async def GetBook(self, request, context):
        book, seq, ind = await self._book(request.symbol, request.depth)
        return market_data_pb2.GetBookResponse(
            symbol=request.symbol, state=int(book.state), seq=seq, indicative=ind,  # type: ignore[arg-type]
            bids=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.bids],
            asks=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.asks])

    async def StreamBook(self, request, context):
        instrument, depth = self.exchange.instrument(request.symbol), _depth(request.depth)
        with self.exchange.feed.book(instrument, depth) as outbox:
            async for message in outbox:
                yield message

    async def ListTrades(self, request, context):
        """Trades of a symbol from the trade log, every trade acknowledged before the call in it."""
        self.exchange.instrument(request.symbol)
        if request.limit < 0:
            raise invalid("limit must be positive", "limit", value=request.limit)
        limit = request.limit or 1000
        trades_root = self.exchange.node.data.trades
        symbol, after = request.symbol, request.after_trade_id
        inst = self.exchange.catalog.instrument(symbol)
        day = self.exchange.catalog.market_time(inst.slot_ts_ns).date()

        def select() -> list[types_pb2.Trade]:  # file reads run off the event loop
            self.exchange.trades_written_out()
            if day not in days(trades_root):
                return []
            table = read_day(trades_root, day)
            mask = pc.and_(pc.equal(table["symbol"], symbol), pc.greater(table["trade_id"], after))
            return public_trades(table.filter(mask).slice(0, limit))

        return market_data_pb2.ListTradesResponse(trades=await asyncio.to_thread(select))

    async def GetTicker(self, request, context):
        instrument = self.exchange.instrument(request.symbol)
        inst = self.exchange.listing.instrument(instrument)

        def ticker(state: MarketState):
            book = state.engine.book(instrument, 1)
            return book, state.last_trade_price(instrument), state.traded_volume(instrument)

        book, last, volume = await self.exchange.read(ticker)
        bid = book.bids[0].price if book.bids else 0
        ask = book.asks[0].price if book.asks else 0
        per_pflop = self.exchange.catalog.price_per_pflop_hour
        return market_data_pb2.GetTickerResponse(
            symbol=request.symbol, best_bid_fen=bid, best_ask_fen=ask, last_price_fen=last, volume=volume,
            best_ask_per_pflop_hour_fen=per_pflop(inst.gpu_class, ask) if ask else 0,
            last_per_pflop_hour_fen=per_pflop(inst.gpu_class, last) if last else 0)

    def _wanted(self, request, day_field: str = "day") -> tuple[Wanted, date | None]:
        """The instruments a stream request's filters choose (they combine), and its day."""
        catalog = self.exchange.catalog
        symbols = set(request.symbols)
        for symbol in symbols:
            self.exchange.instruments.check(symbol)
        if request.gpu_class and request.gpu_class not in {c.name for c in catalog.classes}:
            raise invalid(f"unknown gpu_class; known: {', '.join(c.name for c in catalog.classes)}", "gpu_class",
                          value=request.gpu_class)
        if request.region and request.region not in {r.name for r in catalog.regions}:
            raise invalid(f"unknown region; known: {', '.join(r.name for r in catalog.regions)}", "region",
                          value=request.region)
        day = parse_day(getattr(request, day_field), day_field) if getattr(request, day_field) else None
        gpu_class, region = request.gpu_class, request.region

        def wanted(inst: Instrument) -> bool:
            return ((not symbols or inst.symbol in symbols) and (not gpu_class or inst.gpu_class == gpu_class)
                    and (not region or inst.region == region)
                    and (day is None or catalog.market_time(inst.slot_ts_ns).date() == day))
        return wanted, day

    async def StreamTrades(self, request, context):
        wanted, day = self._wanted(request)
        feed, after = self.exchange.feed, request.after_trade_id
        response = audit_pb2.StreamTradesResponse
        with feed.trades(wanted) as live:  # before the history's end is read: nothing falls between
            through = feed.last_trade_id
            if after > through:
                raise invalid(f"after_trade_id {after} is beyond the last trade {through}", "after_trade_id",
                              limit=through, value=after)
            if after + 1 < feed.recent_from:  # older trades: from the trade log
                logged = await asyncio.to_thread(self._logged_trades, wanted, day, after, feed.recent_from - 1)
                for start in range(0, len(logged), _HISTORY_CHUNK):
                    chunk = logged[start:start + _HISTORY_CHUNK]
                    yield response(trades=chunk, through_trade_id=chunk[-1].trade_id)
            symbol, listing = self.exchange.instruments.symbol, self.exchange.listing
            recent = [trade_message(row, symbol(row[5])) for trades in list(feed.recent)
                      for row in trades.tolist() if after < row[-1] <= through and wanted(listing.instrument(row[5]))]
            for start in range(0, len(recent), _HISTORY_CHUNK):
                chunk = recent[start:start + _HISTORY_CHUNK]
                yield response(trades=chunk, through_trade_id=chunk[-1].trade_id)
            yield response(through_trade_id=through)  # caught up
            live.resume_after = through
            async for message in live:
                yield message

    def _logged_trades(self, wanted: Wanted, day: date | None, after: int, upto: int) -> list[types_pb2.Trade]:
        """The trade log's trades with ids in ``after+1..upto`` of the instruments ``wanted`` chooses."""
        root, catalog = self.exchange.node.data.trades, self.exchange.catalog
        out = []
        for logged_day in [day] if day is not None else days(root):
            if logged_day not in days(root):
                continue
            table = read_day(root, logged_day)
            table = table.filter(pc.and_(pc.greater(table["trade_id"], after), pc.less_equal(table["trade_id"], upto)))
            chosen = [s for s in pc.unique(table["symbol"]).to_pylist() if wanted(catalog.instrument(s))]
            out.extend(public_trades(table.filter(pc.is_in(table["symbol"], pa.array(chosen, pa.string())))))
        return sorted(out, key=lambda t: t.trade_id)

    async def StreamTickers(self, request, context):
        wanted, _ = self._wanted(request)
        with self.exchange.feed.tickers(wanted) as outbox:
            async for message in outbox:
                yield message
