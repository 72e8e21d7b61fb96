"""The market-data fan-out: one reader of the market shared by every public stream.

:class:`MarketFeed` is the gateway's documented API for anyone who pushes market data
(the gRPC ``MarketDataService`` streams; other consumers such as a market page can use
it the same way):

* ``feed.book(instrument, depth)`` — a :class:`Outbox` of serialized ``StreamBookResponse``
  messages: a snapshot, then level updates;
* ``feed.tickers(wanted)`` — of serialized ``StreamTickersResponse`` messages: every
  wanted instrument's ticker, then the changed ones;
* ``feed.trades(wanted)`` — of serialized ``StreamTradesResponse`` messages: each new
  trade of a wanted instrument once (history is read by the caller, see
  :meth:`MarketFeed.trades_through`);

each used as ``with feed.book(...) as outbox: async for message in outbox: ...``, where
``wanted(Instrument) -> bool`` chooses instruments (also those listed later).

How it scales: the market state calls :meth:`MarketFeed.on_events` with every applied
group (in the writer). Trades are encoded once each and handed to the subscribers of
their instrument only. The instruments a group changed are marked; a single task reads
each changed book once (one read between groups, at most every ``interval`` seconds, so
busy groups are conflated) and encodes one message per book view (instrument, depth) and
one ticker entry per instrument, shared by all their subscribers; only subscribers of
changed instruments are woken, a slice at a time; when a publish's fan-out takes long, the
next waits twice as long (so the fan-out keeps at most a third of the event loop, the
orders the rest). A subscriber's outbox holds at most ``bound`` messages:
one that would hold more is ended (SLOW_CONSUMER), the writer never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import deque
from collections.abc import Callable, Iterator

import grpc
import numpy as np
from google.protobuf.message import Message

from exchange.auction import indicative
from exchange.catalog import Instrument
from exchange.gateway import wire
from exchange.gateway.errors import GatewayError, GatewayReason
from exchange.gateway.wire import varint_bytes
from exchange.proto.gpux.v1 import audit_pb2, market_data_pb2, types_pb2
from exchange.schema import EventKind, InstrumentState, Reason, Side

WAKE_SLICE = 50
"""Subscribers woken per turn of the event loop when a publish wakes many: an order that
arrives meanwhile waits for one slice, not for all of them."""
Wanted = Callable[[Instrument], bool]
"""Chooses instruments for a ticker or trade subscription."""
_TRADE = int(EventKind.TRADE)
_AUCTION = (int(Reason.AUCTION), int(Reason.DAY_AHEAD))


def field_bytes(message_cls: type[Message], field: str, payload: bytes) -> bytes:
    """The wire bytes of one entry of a length-delimited field: a repeated field's entries
    joined are the field, so an entry encoded once serves every message holding it."""
    number = message_cls.DESCRIPTOR.fields_by_name[field].number
    return varint_bytes(number << 3 | 2) + varint_bytes(len(payload)) + payload


def varint_field(message_cls: type[Message], field: str, value: int) -> bytes:
    """The wire bytes of a varint field (nothing for 0, as proto3 writes it)."""
    return wire.varint_field(message_cls.DESCRIPTOR.fields_by_name[field].number, value)


class Outbox:
    """Serialized messages waiting for one stream, at most ``bound``; iterate it."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.messages: deque[bytes] = deque()
        self.overflowed = False
        self.ready = asyncio.Event()
        self.resume_after = 0
        """For trade streams: the last trade id sent (the resume point if it is ended)."""
        self.instruments: set[int] = set()
        """For ticker and trade streams: the instruments it is indexed under."""

    def put(self, message: bytes, wake: bool = True) -> bool:
        """Queue a message (in the loop) and wake the stream, unless ``wake`` is False (the
        caller wakes it later); False, and the outbox ended, if it is full."""
        if len(self.messages) >= self.bound:
            self.messages.clear()
            self.overflowed = True
            self.ready.set()
            return False
        self.messages.append(message)
        if wake:
            self.ready.set()
        return True

    def __aiter__(self) -> Outbox:
        return self

    async def __anext__(self) -> bytes:
        while not self.messages and not self.overflowed:
            self.ready.clear()
            await self.ready.wait()
        if self.overflowed:
            raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"this stream fell more than {self.bound} messages behind and was ended; call again"
                               + (f" with after_trade_id={self.resume_after}" if self.resume_after else ""),
                               GatewayReason.SLOW_CONSUMER, limit=self.bound,
                               resume_after=self.resume_after or None)
        return self.messages.popleft()


@dataclasses.dataclass
class BookView:
    """One (instrument, depth) as its subscribers were last shown it."""

    instrument: int
    depth: int
    outboxes: set[Outbox] = dataclasses.field(default_factory=set)
    levels: dict | None = None  # (side, price) -> (qty, orders); None until the first read
    state: int = 0
    indicative: market_data_pb2.Indicative | None = None
    seq: int = 0
    update_id: int = 0

    def snapshot(self) -> bytes:
        """The view now as a snapshot message (a new subscriber's first)."""
        return market_data_pb2.StreamBookResponse(
            update_id=self.update_id, seq=self.seq, snapshot=True, state=self.state, indicative=self.indicative,  # type: ignore[arg-type]
            updates=level_updates({}, self.levels or {})).SerializeToString()


def book_levels(book) -> dict[tuple[int, int], tuple[int, int]]:
    """A book view's levels as {(side, price): (qty, orders)}."""
    return {**{(Side.BUY, lv.price): (lv.qty, lv.orders) for lv in book.bids},
            **{(Side.SELL, lv.price): (lv.qty, lv.orders) for lv in book.asks}}


def level_updates(old: dict, new: dict) -> list[market_data_pb2.LevelUpdate]:
    """Level updates taking ``old`` to ``new`` (qty 0 removes a level), in a fixed order."""
    keys = sorted(set(old) | set(new))
    return [market_data_pb2.LevelUpdate(side=int(side), price_fen=price, qty=new.get((side, price), (0, 0))[0],  # type: ignore[arg-type]
                                        orders=new.get((side, price), (0, 0))[1])
            for side, price in keys if old.get((side, price)) != new.get((side, price))]


def book_to_depth(book, depth: int):
    """A book view cut to ``depth`` levels per side."""
    return dataclasses.replace(book, bids=book.bids[:depth], asks=book.asks[:depth])


def indicative_of(book, tick: int) -> market_data_pb2.Indicative | None:
    """The indicative uncross of a book in a call phase (None otherwise): the auction rule
    over its levels (it depends only on the qty at each price)."""
    if book.state != InstrumentState.CALL:
        return None
    levels = [(int(Side.BUY), lv) for lv in book.bids] + [(int(Side.SELL), lv) for lv in book.asks]
    now = indicative([s for s, _ in levels], [lv.price for _, lv in levels], [lv.qty for _, lv in levels],
                     book.reference, tick)
    return market_data_pb2.Indicative(price_fen=now.price, qty=now.volume, surplus_qty=now.surplus,
                                      surplus_side=now.surplus_side, call_end_ns=book.call_end_ts)  # type: ignore[arg-type]


def trade_message(row: tuple, symbol: str) -> types_pb2.Trade:
    """A TRADE event (``events.tolist()`` row, EVENT_FIELDS order) as a public trade."""
    seq, ts, _, reason, _, _, _, _, side, price, qty, *_, trade_id = row
    auction = reason in _AUCTION
    return types_pb2.Trade(trade_id=trade_id, seq=seq, time_ns=ts, symbol=symbol, price_fen=price, qty=qty,
                           aggressor_side=0 if auction else side, auction=auction)  # type: ignore[arg-type]


class MarketFeed:
    """The fan-out of one gateway (see the module docstring)."""

    def __init__(self, exchange, interval: float = 0.05, bound: int = 1000, recent_trades: int = 100_000) -> None:
        self.exchange = exchange
        self.interval = interval
        """Most often the books and tickers are read and published, seconds."""
        self.bound = bound
        """Messages one stream may fall behind by before it is ended."""
        self._views: dict[int, dict[int, BookView]] = {}  # instrument -> depth -> view
        self._ticker_outboxes: dict[Outbox, Wanted] = {}
        self._trade_outboxes: dict[Outbox, Wanted] = {}
        self._tickers_of: dict[int, set[Outbox]] = {}  # instrument -> ticker subscribers
        self._trades_of: dict[int, set[Outbox]] = {}
        self._indexed = 0  # instruments 0.._indexed-1 are in the two indexes above
        self._tickers: dict[int, bytes] = {}  # instrument -> its last ticker, encoded as a StreamTickersResponse entry
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self.recent: deque[np.ndarray] = deque()  # TRADE events of the latest groups
        self._recent_rows = 0
        self.recent_limit = recent_trades
        self.recent_from = exchange.node.trades.writer.logged_through + 1
        """The first trade id :attr:`recent` holds (or will hold); older ones are in the trade log."""
        self.last_trade_id = self.recent_from - 1
        self.reads = 0
        """Reads of the market for books and tickers so far (one per publish)."""
        self._task: asyncio.Task | None = None
        exchange.node.state.listeners.append(self.on_events)

    # ------------------------------------------------------------------ in the writer

    def on_events(self, batch: np.ndarray, events: np.ndarray) -> None:
        """Take an applied group's trades and changed instruments (in the writer). O(events)."""
        kinds = events["kind"]
        if len(self.exchange.listing) > self._indexed:
            self._index()
        traded = kinds == _TRADE
        if traded.any():
            self._trade(events[traded])
        if self._views or self._tickers_of:
            for instrument in np.unique(events["instrument"]).tolist():
                if instrument in self._views or instrument in self._tickers_of:
                    self._dirty.add(instrument)
            if self._dirty:
                self._wake.set()

    def _trade(self, trades: np.ndarray) -> None:
        self.recent.append(trades)
        self._recent_rows += len(trades)
        while self._recent_rows - len(self.recent[0]) >= self.recent_limit:
            dropped = self.recent.popleft()
            self._recent_rows -= len(dropped)
            self.recent_from = int(dropped["trade_id"][-1]) + 1
        self.last_trade_id = int(trades["trade_id"][-1])
        if not self._trades_of:
            return
        entries: dict[Outbox, list[bytes]] = {}
        symbol = self.exchange.instruments.symbol
        for row in trades.tolist():
            outboxes = self._trades_of.get(row[5])
            if outboxes:
                entry = field_bytes(audit_pb2.StreamTradesResponse, "trades",
                                    trade_message(row, symbol(row[5])).SerializeToString())
                for outbox in outboxes:
                    entries.setdefault(outbox, []).append(entry)
        through = varint_field(audit_pb2.StreamTradesResponse, "through_trade_id", self.last_trade_id)
        for outbox, chosen in entries.items():
            if outbox.put(b"".join(chosen) + through):
                outbox.resume_after = self.last_trade_id
            else:
                self._forget(outbox)

    def _index(self) -> None:
        """Add newly listed instruments to the ticker and trade indexes."""
        listing = self.exchange.listing
        for instrument in range(self._indexed, len(listing)):
            inst = listing.instrument(instrument)
            for wanted_by, index in ((self._ticker_outboxes, self._tickers_of),
                                     (self._trade_outboxes, self._trades_of)):
                chosen = {outbox for outbox, wanted in wanted_by.items() if wanted(inst)}
                for outbox in chosen:
                    outbox.instruments.add(instrument)
                if chosen:
                    index[instrument] = chosen
        self._indexed = len(listing)

    # ------------------------------------------------------------------ subscriptions

    @contextlib.contextmanager
    def book(self, instrument: int, depth: int) -> Iterator[Outbox]:
        """Book messages of ``instrument`` to ``depth`` levels: a snapshot, then updates."""
        outbox = Outbox(self.bound)
        view = self._views.setdefault(instrument, {}).get(depth)
        if view is None:
            view = self._views[instrument][depth] = BookView(instrument, depth)
            self._dirty.add(instrument)  # its first read gives the snapshot
            self._start()
            self._wake.set()
        elif view.levels is not None:
            outbox.put(view.snapshot())
        view.outboxes.add(outbox)
        try:
            yield outbox
        finally:
            view.outboxes.discard(outbox)
            if not view.outboxes:
                del self._views[instrument][depth]
                if not self._views[instrument]:
                    del self._views[instrument]

    @contextlib.contextmanager
    def tickers(self, wanted: Wanted) -> Iterator[Outbox]:
        """Ticker messages of the instruments ``wanted`` chooses: all of them, then changes."""
        outbox = Outbox(self.bound)
        chosen = self._subscribe(outbox, wanted, self._ticker_outboxes, self._tickers_of)
        self._dirty.update(i for i in chosen if i not in self._tickers)  # never read yet
        ready = [self._tickers[i] for i in chosen if i in self._tickers]
        if ready:
            outbox.put(b"".join(ready))
        self._start()
        if self._dirty:
            self._wake.set()
        try:
            yield outbox
        finally:
            self._ticker_outboxes.pop(outbox, None)
            self._forget(outbox)

    @contextlib.contextmanager
    def trades(self, wanted: Wanted) -> Iterator[Outbox]:
        """Trade messages of each new trade of an instrument ``wanted`` chooses (those after
        :attr:`last_trade_id` at the time of the call)."""
        outbox = Outbox(self.bound)
        self._subscribe(outbox, wanted, self._trade_outboxes, self._trades_of)
        try:
            yield outbox
        finally:
            self._trade_outboxes.pop(outbox, None)
            self._forget(outbox)

    def _subscribe(self, outbox: Outbox, wanted: Wanted, wanted_by: dict, index: dict) -> list[int]:
        if len(self.exchange.listing) > self._indexed:
            self._index()
        wanted_by[outbox] = wanted
        chosen = [i for i, inst in enumerate(self.exchange.listing) if i < self._indexed and wanted(inst)]
        for instrument in chosen:
            index.setdefault(instrument, set()).add(outbox)
        outbox.instruments.update(chosen)
        return chosen

    def _forget(self, outbox: Outbox) -> None:
        """Stop feeding a ticker or trade outbox (it left, or overflowed: its stream ends
        when it next looks). O(its instruments)."""
        for index in (self._tickers_of, self._trades_of):
            for instrument in outbox.instruments:
                outboxes = index.get(instrument)
                if outboxes is not None and outbox in outboxes:
                    outboxes.discard(outbox)
                    if not outboxes:
                        del index[instrument]

    # ------------------------------------------------------------------ the reader task

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        """Stop the reader task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._dirty:
                self._wake.clear()
                await self._wake.wait()
            started = loop.time()
            dirty, self._dirty = self._dirty, set()
            await self._publish(dirty)
            busy = loop.time() - started
            # conflate: at least `interval` between publishes, and the fan-out takes at most
            # a third of the loop (orders keep the rest), however many subscribers wait
            await asyncio.sleep(max(self.interval - busy, 2 * busy))

    async def _publish(self, dirty: set[int]) -> None:
        """Read every dirty instrument once (one read between groups), then send each book
        view's update and each ticker to their subscribers."""
        wanted = {i: max(self._views[i], default=0) if i in self._views else 1 for i in dirty}

        def read(state):
            books = {}
            for instrument, depth in wanted.items():
                book = state.engine.book(instrument, max(depth, 1))
                if book.state == InstrumentState.CALL and instrument in self._views:
                    book = state.engine.book(instrument)  # the indicative price needs the whole book
                books[instrument] = book
            return books, {i: (state.last_trade_price(i), state.traded_volume(i)) for i in wanted}, state.last_seq

        books, traded, seq = await self.exchange.read(read)
        self.reads += 1
        ticker_entries: dict[Outbox, list[bytes]] = {}
        woken: list[Outbox] = []
        for instrument, book in books.items():
            for view in list(self._views.get(instrument, {}).values()):
                woken.extend(self._publish_view(view, book, seq))
            if instrument in self._tickers_of or instrument not in self._tickers:
                entry = self._ticker_entry(instrument, book, *traded[instrument])
                if self._tickers.get(instrument) != entry:
                    self._tickers[instrument] = entry
                    for outbox in self._tickers_of.get(instrument, ()):
                        ticker_entries.setdefault(outbox, []).append(entry)
        for outbox, entries in ticker_entries.items():
            if outbox.put(b"".join(entries), wake=False):
                woken.append(outbox)
            else:
                self._forget(outbox)
        for start in range(0, len(woken), WAKE_SLICE):  # orders get the loop between slices
            for outbox in woken[start:start + WAKE_SLICE]:
                outbox.ready.set()
            await asyncio.sleep(0)

    def _publish_view(self, view: BookView, book, seq: int) -> list[Outbox]:
        """Queue the view's update (if it changed) for its subscribers, unwoken; them."""
        tick = self.exchange.instruments.gpu_class(view.instrument).tick_fen
        ind = indicative_of(book, tick)
        shown = book_levels(book_to_depth(book, view.depth))
        if view.levels is None:
            view.levels, view.state, view.indicative, view.seq, view.update_id = shown, int(book.state), ind, seq, 1
            message = view.snapshot()
        else:
            updates = level_updates(view.levels, shown)
            if not updates and int(book.state) == view.state and ind == view.indicative:
                return []
            view.levels, view.state, view.indicative, view.seq = shown, int(book.state), ind, seq
            view.update_id += 1
            message = market_data_pb2.StreamBookResponse(update_id=view.update_id, seq=seq, state=view.state,  # type: ignore[arg-type]
                                                         updates=updates, indicative=ind).SerializeToString()
        queued = []
        for outbox in list(view.outboxes):
            if outbox.put(message, wake=False):
                queued.append(outbox)
            else:
                view.outboxes.discard(outbox)
        return queued

    def _ticker_entry(self, instrument: int, book, last: int, volume: int) -> bytes:
        inst = self.exchange.listing.instrument(instrument)
        bid, ask = (book.bids[0] if book.bids else None), (book.asks[0] if book.asks else None)
        per_pflop = self.exchange.catalog.price_per_pflop_hour
        ticker = market_data_pb2.Ticker(
            symbol=inst.symbol, state=int(book.state), best_bid_fen=bid.price if bid else 0,  # type: ignore[arg-type]
            best_bid_qty=bid.qty if bid else 0, best_ask_fen=ask.price if ask else 0,
            best_ask_qty=ask.qty if ask else 0, last_price_fen=last, volume=volume,
            best_ask_per_pflop_hour_fen=per_pflop(inst.gpu_class, ask.price) if ask else 0,
            last_per_pflop_hour_fen=per_pflop(inst.gpu_class, last) if last else 0)
        return field_bytes(market_data_pb2.StreamTickersResponse, "tickers", ticker.SerializeToString())
