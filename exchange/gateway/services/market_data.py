"""MarketDataService: the catalog, instruments, books (one-off and streamed), trades and
tickers, public to every caller."""

from __future__ import annotations

import asyncio
import dataclasses

import pyarrow as pa
import pyarrow.compute as pc

from exchange.auction import indicative
from exchange.gateway.errors import invalid
from exchange.gateway.services.shared import Exchange
from exchange.proto.gpux.v1 import market_data_pb2, market_data_pb2_grpc, types_pb2
from exchange.schema import InstrumentState, Side
from exchange.sequencer import MarketState
from exchange.tradelog import days, read_day


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
        instrument = self.exchange.instrument(symbol)
        if depth < 0:
            raise invalid("depth must be positive", "depth", value=depth)
        depth = depth or 10

        def read(s: MarketState):  # the whole book only in a call phase
            book = s.engine.book(instrument, depth)
            return (s.engine.book(instrument) if book.state == InstrumentState.CALL else book), s.last_seq

        book, seq = await self.exchange.read(read)
        tick = self.exchange.catalog.gpu_class(self.exchange.listing.instrument(instrument).gpu_class).tick_fen
        return book_to_depth(book, depth), seq, _indicative(book, tick)

    async def GetBook(self, request, context):
        book, seq, ind = await self._book(request.symbol, request.depth)
        return market_data_pb2.GetBookResponse(
            symbol=request.symbol, state=int(book.state), seq=seq, indicative=ind,  # type: ignore[arg-type]
            bids=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.bids],
            asks=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.asks])

    async def StreamBook(self, request, context):
        self.exchange.book_streams += 1  # before the first read: every group applied after it is reported
        try:
            book, seq, ind = await self._book(request.symbol, request.depth)
            shown = _levels(book)
            yield market_data_pb2.StreamBookResponse(update_id=1, seq=seq, snapshot=True, state=int(book.state),  # type: ignore[arg-type]
                                                     updates=_diff({}, shown), indicative=ind)
            update_id, state, seen = 1, book.state, seq
            while True:
                seen = await self.exchange.applied_after(seen)
                book, seq, new_ind = await self._book(request.symbol, request.depth)
                now = _levels(book)
                updates = _diff(shown, now)
                if updates or book.state != state or new_ind != ind:
                    update_id += 1
                    yield market_data_pb2.StreamBookResponse(update_id=update_id, seq=seq, state=int(book.state),  # type: ignore[arg-type]
                                                             updates=updates, indicative=new_ind)
                    shown, state, ind = now, book.state, new_ind
        finally:
            self.exchange.book_streams -= 1

    async def ListTrades(self, request, context):
        """Trades of a symbol from the trade log (flushed within about two seconds)."""
        self.exchange.instrument(request.symbol)
        if request.limit < 0:
            raise invalid("limit must be positive", "limit", value=request.limit)
        limit = request.limit or 1000
        trades_root = self.exchange.node.data.trades
        symbol, after = request.symbol, request.after_trade_id
        inst = self.exchange.catalog.instrument(symbol)
        day = self.exchange.catalog.market_time(inst.slot_ts_ns).date()

        def select() -> list[types_pb2.Trade]:  # file reads run off the event loop
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


def book_to_depth(book, depth: int):
    """A book view cut to ``depth`` levels per side."""
    return dataclasses.replace(book, bids=book.bids[:depth], asks=book.asks[:depth])


def _indicative(book, tick: int) -> market_data_pb2.Indicative | None:
    """The indicative uncross of a book in a call phase (None otherwise): the auction rule
    over its levels (it depends only on the qty at each price)."""
    if book.state != InstrumentState.CALL:
        return None
    levels = [(int(Side.BUY), lv) for lv in book.bids] + [(int(Side.SELL), lv) for lv in book.asks]
    now = indicative([s for s, _ in levels], [lv.price for _, lv in levels], [lv.qty for _, lv in levels],
                     book.reference, tick)
    return market_data_pb2.Indicative(price_fen=now.price, qty=now.volume, surplus_qty=now.surplus,
                                      surplus_side=now.surplus_side, call_end_ns=book.call_end_ts)  # type: ignore[arg-type]


def _levels(book) -> dict[tuple[int, int], tuple[int, int]]:
    return {**{(Side.BUY, lv.price): (lv.qty, lv.orders) for lv in book.bids},
            **{(Side.SELL, lv.price): (lv.qty, lv.orders) for lv in book.asks}}


def _diff(old: dict, new: dict) -> list:
    """Level updates taking ``old`` to ``new`` (qty 0 removes a level), in a fixed order."""
    keys = sorted(set(old) | set(new))
    return [market_data_pb2.LevelUpdate(side=int(side), price_fen=price, qty=new.get((side, price), (0, 0))[0],  # type: ignore[arg-type]
                                        orders=new.get((side, price), (0, 0))[1])
            for side, price in keys if old.get((side, price)) != new.get((side, price))]


def public_trades(table: pa.Table) -> list[types_pb2.Trade]:
    """Trade-log rows as public trades (no accounts)."""
    ts = table["ts"].cast(pa.int64()).to_pylist()
    rows = table.select(["trade_id", "seq", "symbol", "price", "qty", "aggressor_side"]).to_pylist()
    return [types_pb2.Trade(trade_id=r["trade_id"], seq=r["seq"], time_ns=t, symbol=r["symbol"],
                            price_fen=r["price"], qty=r["qty"], auction=r["aggressor_side"] in ("AUCTION", "DAY_AHEAD"),
                            aggressor_side=_AGGRESSOR.get(r["aggressor_side"], types_pb2.SIDE_UNSPECIFIED))
            for r, t in zip(rows, ts)]


_AGGRESSOR = {"BUY": types_pb2.SIDE_BUY, "SELL": types_pb2.SIDE_SELL}
