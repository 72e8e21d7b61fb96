"""The gpux.v1 services over an exchange node.

Every handler turns its request into command records (validated in
:mod:`exchange.gateway.validation`), hands them to the node's sequencer, which runs in the
event loop (:class:`~exchange.sequencer.LoopSequencer`), and answers once the journal
holds them and the engine has applied them; reads run in the loop between groups, so
they see a consistent state. The caller is :data:`CALLER`, set by
the interceptor; commands always carry the caller's own account.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.auction import indicative
from exchange.gateway.accounts import AccountRegistry, Role
from exchange.gateway.dayahead import add_day_ahead
from exchange.gateway.errors import GatewayError, GatewayReason, invalid, not_found, quote, rejection
from exchange.gateway.executions import ExecutionHub, stream_executions
from exchange.gateway.instruments import Instruments
from exchange.gateway.interceptors import CALLER, TokenBucket
from exchange.gateway.reports import (
    execution_reports,
    first_rejection,
    invalid_report,
    order_from_rows,
    order_message,
    reports_message,
)
from exchange.gateway.validation import cancel_command, parse_day, place_commands, replace_command, stream_commands
from exchange.proto.gpux.v1 import (
    account_pb2,
    account_pb2_grpc,
    admin_pb2,
    admin_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    capacity_pb2,
    capacity_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
    types_pb2,
)
from exchange.schema import (
    CAPACITY_LIMIT,
    MONEY_LIMIT,
    CommandKind,
    EventKind,
    InstrumentState,
    Reason,
    Side,
    command,
    commands,
)
from exchange.sequencer import ExchangeNode, LoopSequencer, MarketState, OrderStatus
from exchange.sequencer.orders import R_ACCOUNT, R_INSTRUMENT, R_STATUS
from exchange.settlement import SettlementError, VoucherBook, VoucherGrant, read_settlement
from exchange.tradelog import day_files, days, read_day, read_seal

_CHUNK = 64 * 1024
_NAME_CHARS = 64  # most characters of a voucher grant id or issuer
_PATH_CHARS, _PART_CHARS = 1024, 255  # a trade-log path, and one name in it (the file systems' limits)
_DISCONNECT_GRACE = 0.05  # seconds a stream's end waits to tell a client cancel from a close
_LIVE = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class Exchange:
    """What every service shares: the node, the accounts, the rate limiter."""

    def __init__(self, node: ExchangeNode, accounts: AccountRegistry, limiter: TokenBucket,
                 opening_call_ns: int = 0, exec_buffer: int = 10_000) -> None:
        if not isinstance(node.sequencer, LoopSequencer):
            raise TypeError("the gateway runs its node's sequencer in the event loop: open it with loop=")
        self.node = node
        self.catalog = node.catalog
        self.listing = node.state.listing
        self.instruments = Instruments(self.listing, self.catalog)
        self.accounts = accounts
        self.limiter = limiter
        self.opening_call_ns = opening_call_ns
        """Length of the call phase new slots open with (0: none)."""
        self.executions = ExecutionHub(node.executions, exec_buffer)
        """The private execution streams (:mod:`exchange.gateway.executions`)."""
        self.book_changed = asyncio.Condition()
        self.notified_seq = 0
        """The last sequence number the node reported applied (book streams wait on it)."""
        self.book_streams = 0
        """Book streams open now (the live market page counts as one while it has
        clients): the node reports applied groups only while there are some."""
        self.metrics = None
        """The operator metrics (:class:`exchange.web.ExchangeMetrics`) when served."""

    async def execute(self, batch: np.ndarray) -> np.ndarray:
        """Sequence, journal and apply a batch (in one group with the rest of this loop
        turn's); its events. With metrics, the time to the answer is recorded."""
        if self.metrics is None:
            return await self.node.sequencer.submit_async(batch)
        started = time.perf_counter()
        events = await self.node.sequencer.submit_async(batch)
        self.metrics.acked(time.perf_counter() - started)
        return events

    async def read(self, work):
        """Run ``work(state)`` between groups, once every group submitted before it is applied."""
        return await self.node.sequencer.call_async(work)

    async def one(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Execute one command; a rejection becomes its gRPC status."""
        events = await self.execute(command(kind, **fields))
        reason = first_rejection(events.tolist())
        if reason:
            raise rejection(reason)
        return events

    def instrument(self, symbol: str) -> int:
        """Engine id of a listed symbol (INVALID_ARGUMENT / NOT_FOUND otherwise)."""
        return self.instruments.id(symbol)


def _account() -> int:
    return CALLER.get().account


class TradingService(trading_pb2_grpc.TradingServiceServicer):
    """Orders of the caller's account."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _order_call(self, batch: np.ndarray, account: int) -> tuple[list[tuple], list]:
        """Execute one order command; its event rows and the caller's reports (a rejection
        becomes its gRPC status)."""
        rows = (await self.exchange.execute(batch)).tolist()
        reason = first_rejection(rows)
        if reason == Reason.DUPLICATE_CLIENT_ORDER_ID:
            clord = int(batch["clord"][0])
            original = await self.exchange.read(lambda s: s.orders.find(account, clord))
            which = f"by order {original.order_id} ({original.status.name}); GetOrder returns it" if original \
                else "(by a command that was rejected or has not been applied)"
            raise GatewayError(grpc.StatusCode.ALREADY_EXISTS, f"client_order_id {clord} was used before {which}",
                               Reason.DUPLICATE_CLIENT_ORDER_ID, field="client_order_id", value=clord)
        if reason:
            raise rejection(reason)
        return rows, execution_reports(rows, account, self.exchange.instruments)

    async def PlaceOrder(self, request, context):
        account = _account()
        batch, problems = place_commands([request], account, self.exchange.instruments)
        if problems:
            raise problems[0]
        rows, reports = await self._order_call(batch, account)
        return trading_pb2.PlaceOrderResponse(reports=reports, order=order_from_rows(rows, self.exchange.instruments))

    async def CancelOrder(self, request, context):
        batch = commands(1)
        cancel_command(request, _account(), batch)
        _, reports = await self._order_call(batch, _account())
        return trading_pb2.CancelOrderResponse(reports=reports)

    async def ReplaceOrder(self, request, context):
        batch = commands(1)
        replace_command(request, _account(), batch)
        _, reports = await self._order_call(batch, _account())
        return trading_pb2.ReplaceOrderResponse(reports=reports)

    async def MassCancel(self, request, context):
        account = _account()
        instrument = self.exchange.instrument(request.symbol) if request.symbol else -1
        events = await self.exchange.one(CommandKind.MASS_CANCEL, account=account, instrument=instrument)
        ack = events[events["kind"] == EventKind.ACK]
        reports = execution_reports(events.tolist(), account, self.exchange.instruments)
        return trading_pb2.MassCancelResponse(reports=reports, cancelled=int(ack["qty"][0]))

    async def GetOrder(self, request, context):
        account, clord = _account(), request.client_order_id
        record = await self.exchange.read(lambda s: s.orders.find(account, clord))
        if record is None:
            raise not_found(f"no order with client_order_id {clord}", "client_order_id", Reason.UNKNOWN_ORDER,
                            value=clord)
        return trading_pb2.GetOrderResponse(order=order_message(record, self.exchange.instruments))

    async def ListOrders(self, request, context):
        account = _account()
        instrument = self.exchange.instrument(request.symbol) if request.symbol else -1
        limit = request.limit or 1000
        if limit < 0:
            raise invalid("limit must be positive", "limit", value=limit)

        def select(state: MarketState) -> list:
            rows = state.orders.rows[: state.orders.count + 1]
            mask = (rows[:, R_ACCOUNT] == account) & (rows[:, R_STATUS] != 0)
            if instrument >= 0:
                mask &= rows[:, R_INSTRUMENT] == instrument
            if request.open_only:
                mask &= np.isin(rows[:, R_STATUS], _LIVE)
            ids = np.flatnonzero(mask)[::-1][:limit]
            return [state.orders.get(int(i)) for i in ids]

        records = await self.exchange.read(select)
        return trading_pb2.ListOrdersResponse(orders=[order_message(r, self.exchange.instruments) for r in records])

    async def StreamOrders(self, request_iterator, context):
        account = _account()
        armed = clean = False
        try:
            async for message in request_iterator:
                armed |= message.cancel_on_disconnect
                if not self.exchange.limiter.take(account):
                    raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                       f"rate limit of {self.exchange.limiter.rate:g} batches/s exceeded",
                                       GatewayReason.RATE_LIMITED, limit=f"{self.exchange.limiter.rate:g}/s")
                batch, problems = stream_commands(message, account, self.exchange.instruments)
                events = await self.exchange.execute(batch) if len(batch) else None
                if problems:
                    yield trading_pb2.StreamOrdersResponse(
                        batch_id=message.batch_id, reports=self._in_order(message.commands, events, problems, account))
                else:  # the reports in bulk (reports_message)
                    yield reports_message(trading_pb2.StreamOrdersResponse, events, account,
                                                  self.exchange.instruments, batch_id=message.batch_id)
            if armed:  # a client cancel can end the request stream like a half-close; it surfaces here
                await asyncio.sleep(_DISCONNECT_GRACE)
            clean = True
        finally:
            if armed and not clean:  # opt-in cancel on disconnect
                self.exchange.node.submit(command(CommandKind.MASS_CANCEL, account=account, instrument=-1))

    async def StreamExecutionReports(self, request, context):
        async for message in stream_executions(self.exchange.executions, _account(), request.after_exec_seq,
                                               self.exchange.instruments):
            yield message

    def _in_order(self, cmds, events, problems: dict[int, GatewayError], account: int) -> list:
        """Reports of a stream batch, command by command (refused ones in their place)."""
        made = execution_reports(events.tolist(), account, self.exchange.instruments) if events is not None else []
        if not problems:
            return made
        seqs = [r.seq for r in made]
        first_seq = int(events["seq"][0]) if events is not None and len(events) else 0
        out, at, valid = [], 0, 0
        for i, cmd in enumerate(cmds):
            if i in problems:
                out.append(invalid_report(problems[i], cmd))
                continue
            seq = first_seq + valid
            while at < len(made) and seqs[at] == seq:
                out.append(made[at])
                at += 1
            valid += 1
        return out


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
            symbol=request.symbol, state=int(book.state), seq=seq, indicative=ind,
            bids=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.bids],
            asks=[market_data_pb2.Level(price_fen=lv.price, qty=lv.qty, orders=lv.orders) for lv in book.asks])

    async def StreamBook(self, request, context):
        self.exchange.book_streams += 1  # before the first read: every group applied after it is reported
        try:
            book, seq, ind = await self._book(request.symbol, request.depth)
            shown = _levels(book)
            yield market_data_pb2.StreamBookResponse(update_id=1, seq=seq, snapshot=True, state=int(book.state),
                                                     updates=_diff({}, shown), indicative=ind)
            update_id, state, seen = 1, book.state, seq
            while True:
                async with self.exchange.book_changed:  # no wakeup is lost: wait for a seq not yet seen
                    await self.exchange.book_changed.wait_for(lambda: self.exchange.notified_seq > seen)
                    seen = self.exchange.notified_seq
                book, seq, new_ind = await self._book(request.symbol, request.depth)
                now = _levels(book)
                updates = _diff(shown, now)
                if updates or book.state != state or new_ind != ind:
                    update_id += 1
                    yield market_data_pb2.StreamBookResponse(update_id=update_id, seq=seq, state=int(book.state),
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
            return _trades(table.filter(mask).slice(0, limit))

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
                                      surplus_side=now.surplus_side, call_end_ns=book.call_end_ts)


def _levels(book) -> dict[tuple[int, int], tuple[int, int]]:
    return {**{(Side.BUY, lv.price): (lv.qty, lv.orders) for lv in book.bids},
            **{(Side.SELL, lv.price): (lv.qty, lv.orders) for lv in book.asks}}


def _diff(old: dict, new: dict) -> list:
    """Level updates taking ``old`` to ``new`` (qty 0 removes a level), in a fixed order."""
    keys = sorted(set(old) | set(new))
    return [market_data_pb2.LevelUpdate(side=int(side), price_fen=price, qty=new.get((side, price), (0, 0))[0],
                                        orders=new.get((side, price), (0, 0))[1])
            for side, price in keys if old.get((side, price)) != new.get((side, price))]


def _trades(table: pa.Table) -> list[types_pb2.Trade]:
    """Trade-log rows as public trades (no accounts)."""
    ts = table["ts"].cast(pa.int64()).to_pylist()
    return [types_pb2.Trade(trade_id=r["trade_id"], seq=r["seq"], time_ns=t, symbol=r["symbol"],
                            price_fen=r["price"], qty=r["qty"], auction=r["aggressor_side"] in ("AUCTION", "DAY_AHEAD"),
                            aggressor_side=_AGGRESSOR.get(r["aggressor_side"], types_pb2.SIDE_UNSPECIFIED))
            for r, t in zip(table.select(["trade_id", "seq", "symbol", "price", "qty", "aggressor_side"]).to_pylist(), ts)]


_AGGRESSOR = {"BUY": types_pb2.SIDE_BUY, "SELL": types_pb2.SIDE_SELL}


def _position_message(symbol: str, p) -> capacity_pb2.Position:
    return capacity_pb2.Position(symbol=symbol, capacity=p.capacity, bought=p.bought, sold=p.sold,
                                 ask_open=p.ask_open, free=p.free)


class CapacityService(capacity_pb2_grpc.CapacityServiceServicer):
    """Providers' GPUs per slot."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _change(self, kind: CommandKind, request) -> capacity_pb2.Position:
        account, instrument = _account(), self.exchange.instrument(request.symbol)
        if not 0 < request.qty <= CAPACITY_LIMIT:
            raise invalid(f"qty must be a number of GPUs in 1..{CAPACITY_LIMIT}", "qty", Reason.QUANTITY_OUT_OF_LIMITS,
                          limit=f"1..{CAPACITY_LIMIT}", value=request.qty)
        events = await self.exchange.execute(command(kind, account=account, instrument=instrument, qty=request.qty))
        reason = first_rejection(events.tolist())
        if reason == Reason.QUANTITY_OUT_OF_LIMITS and kind == CommandKind.DEPOSIT_CAPACITY:
            raise rejection(reason, f"rejected, QUANTITY_OUT_OF_LIMITS: the deposit would lift the capacity in "
                                    f"{request.symbol} over {CAPACITY_LIMIT} GPUs", field="qty",
                            limit=CAPACITY_LIMIT, value=request.qty)
        if reason:
            raise rejection(reason)
        p = await self.exchange.read(lambda s: s.engine.position(account, instrument))
        return _position_message(request.symbol, p)

    async def DepositCapacity(self, request, context):
        return capacity_pb2.DepositCapacityResponse(position=await self._change(CommandKind.DEPOSIT_CAPACITY, request))

    async def WithdrawCapacity(self, request, context):
        return capacity_pb2.WithdrawCapacityResponse(position=await self._change(CommandKind.WITHDRAW_CAPACITY, request))

    async def GetCapacity(self, request, context):
        account = _account()
        if request.symbol:
            instrument = self.exchange.instrument(request.symbol)
            found = {instrument: await self.exchange.read(lambda s: s.engine.position(account, instrument))}
        else:
            found = await self.exchange.read(lambda s: s.engine.positions_of(account))
        return capacity_pb2.GetCapacityResponse(positions=[
            _position_message(self.exchange.instruments.symbol(i), p) for i, p in sorted(found.items())])


def _balance(a) -> account_pb2.Balance:
    return account_pb2.Balance(cash_fen=a.cash, credit_fen=a.credit, reserved_fen=a.reserved,
                               available_fen=a.available, held_fen=a.held)


class AccountService(account_pb2_grpc.AccountServiceServicer):
    """The caller's money."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def _funds(self, kind: CommandKind, amount: int) -> account_pb2.Balance:
        account = _account()
        if not 0 < amount <= MONEY_LIMIT:
            raise invalid(f"amount_fen must be positive and at most {MONEY_LIMIT}", "amount_fen", Reason.BAD_AMOUNT,
                          limit=f"1..{MONEY_LIMIT}", value=amount)
        events = await self.exchange.execute(command(kind, account=account, amount=amount))
        reason = first_rejection(events.tolist())
        balance = await self.exchange.read(lambda s: s.engine.account(account))
        if reason == Reason.BAD_AMOUNT and kind == CommandKind.DEPOSIT_FUNDS:  # the amount itself was checked above
            raise rejection(reason, f"rejected, BAD_AMOUNT: the deposit would lift the cash balance "
                                    f"({balance.cash} fen) over {MONEY_LIMIT} fen: at most "
                                    f"{MONEY_LIMIT - balance.cash} fen more can be deposited",
                            field="amount_fen", limit=MONEY_LIMIT, value=amount)
        if reason:
            raise rejection(reason)
        return _balance(balance)

    async def DepositFunds(self, request, context):
        return account_pb2.DepositFundsResponse(balance=await self._funds(CommandKind.DEPOSIT_FUNDS, request.amount_fen))

    async def WithdrawFunds(self, request, context):
        return account_pb2.WithdrawFundsResponse(balance=await self._funds(CommandKind.WITHDRAW_FUNDS, request.amount_fen))

    async def GetBalance(self, request, context):
        account = _account()
        balance = await self.exchange.read(lambda s: s.engine.account(account))
        return account_pb2.GetBalanceResponse(balance=_balance(balance))

    async def GetStatement(self, request, context):
        day = parse_day(request.day)
        try:
            result = read_settlement(self.exchange.node.data.root, day)
        except SettlementError:
            raise not_found(f"delivery day {day} has not been settled", "day", value=request.day) from None
        rows = [r for r in result.statements.to_pylist() if r["account"] == _account()]
        r = rows[0] if rows else {}
        return account_pb2.GetStatementResponse(
            provisional=read_seal(self.exchange.node.data.trades, day) is None, day=day.isoformat(),
            bought_qty=r.get("bought_qty", 0), bought_value_fen=r.get("bought_value", 0),
            sold_qty=r.get("sold_qty", 0), sold_value_fen=r.get("sold_value", 0), fees_fen=r.get("fees", 0),
            subsidy_fen=r.get("subsidy", 0), net_fen=r.get("net", 0))


class AuditService(audit_pb2_grpc.AuditServiceServicer):
    """The trade log as it is on disk."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.root = exchange.node.data.trades

    async def ListTradeFiles(self, request, context):
        chosen = [parse_day(request.day)] if request.day else None

        def listing() -> audit_pb2.ListTradeFilesResponse:  # file reads run off the event loop
            files = []
            for day in chosen or days(self.root):
                for path in day_files(self.root, day):
                    data = path.read_bytes()
                    files.append(audit_pb2.TradeFile(path=str(path.relative_to(self.root)), size_bytes=len(data),
                                                     sha256=hashlib.sha256(data).hexdigest()))
            sealed = [d.isoformat() for d in days(self.root) if read_seal(self.root, d) is not None]
            return audit_pb2.ListTradeFilesResponse(files=files, sealed_days=sealed)

        return await asyncio.to_thread(listing)

    async def DownloadTradeFile(self, request, context):
        name = request.path
        wrong = invalid(f"path {quote(name)} must be a file of the trade log, as ListTradeFiles gives it",
                        "path", value=name)
        too_long = len(name) > _PATH_CHARS or any(len(part.encode()) > _PART_CHARS for part in name.split("/"))
        if not name or "\0" in name or too_long:
            raise wrong
        path = (self.root / name).resolve()
        if ".." in Path(name).parts or not path.is_relative_to(self.root.resolve()):
            raise wrong
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise not_found(f"no trade-log file {quote(name)}", "path", value=name) from None
        for start in range(0, len(data), _CHUNK):
            yield audit_pb2.DownloadTradeFileResponse(chunk=data[start:start + _CHUNK])

    async def StreamTrades(self, request, context):
        day = parse_day(request.day)
        table = await asyncio.to_thread(read_day, self.root, day)
        for start in range(0, table.num_rows, 1000):
            yield audit_pb2.StreamTradesResponse(trades=_trades(table.slice(start, 1000)))


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    """Operators' controls."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def CreateAccount(self, request, context):
        if request.role not in (Role.PROVIDER, Role.BUYER, Role.AUDITOR, Role.ADMIN):
            raise invalid("role must be ROLE_PROVIDER, ROLE_BUYER, ROLE_AUDITOR or ROLE_ADMIN", "role",
                          value=request.role)
        account, token = self.exchange.accounts.create(request.name, Role(request.role), request.request_id)
        return admin_pb2.CreateAccountResponse(account=account, token=token)

    async def IssueToken(self, request, context):
        self._known(request.account)
        return admin_pb2.IssueTokenResponse(token=self.exchange.accounts.issue(request.account))

    def _known(self, account: int) -> int:
        """``account`` if the registry has it, else NOT_FOUND."""
        if not self.exchange.accounts.exists(account):
            raise not_found(f"no account {account}", "account", Reason.UNKNOWN_ACCOUNT, value=account)
        return account

    async def HaltInstrument(self, request, context):
        await self.exchange.one(CommandKind.HALT, instrument=self.exchange.instrument(request.symbol))
        return admin_pb2.HaltInstrumentResponse()

    async def ResumeInstrument(self, request, context):
        await self.exchange.one(CommandKind.RESUME, instrument=self.exchange.instrument(request.symbol),
                         expire_ts=self._call_end(request.call_seconds))
        return admin_pb2.ResumeInstrumentResponse()

    async def StartCall(self, request, context):
        await self.exchange.one(CommandKind.START_CALL, instrument=self.exchange.instrument(request.symbol),
                         expire_ts=self._call_end(request.call_seconds))
        return admin_pb2.StartCallResponse()

    async def Uncross(self, request, context):
        events = await self.exchange.one(CommandKind.UNCROSS, instrument=self.exchange.instrument(request.symbol))
        head = events[events["kind"] == EventKind.UNCROSSED][0]
        traded = int(events["qty"][events["kind"] == EventKind.ACK][0])
        return admin_pb2.UncrossResponse(price_fen=int(head["price"]), qty=traded)

    def _call_end(self, seconds: int) -> int:
        """The end of a call phase of ``seconds`` from now (0: none); the gateway reads the
        sequencer's clock, the engine only sees the time in the command."""
        if seconds < 0:
            raise invalid("call_seconds must be 0 or positive", "call_seconds", value=seconds)
        return self.exchange.node.sequencer.clock() + seconds * 10**9 if seconds else 0

    async def KillSwitch(self, request, context):
        events = await self.exchange.one(CommandKind.MASS_CANCEL, account=self._known(request.account), instrument=-1)
        return admin_pb2.KillSwitchResponse(cancelled=int(events["qty"][events["kind"] == EventKind.ACK][0]))

    async def SetCredit(self, request, context):
        await self.exchange.one(CommandKind.SET_CREDIT, account=self._known(request.account), amount=request.credit_fen)
        return admin_pb2.SetCreditResponse()

    async def GrantVoucher(self, request, context):
        self._known(request.account)
        for field in ("grant_id", "issuer"):
            if len(getattr(request, field)) > _NAME_CHARS:
                raise invalid(f"{field} must be at most {_NAME_CHARS} characters", field, limit=_NAME_CHARS,
                              value=getattr(request, field))
        try:
            grant = VoucherGrant(request.grant_id, request.issuer, request.account, request.rate_bps,
                                 request.cap_fen or None, parse_day(request.valid_from, "valid_from"),
                                 parse_day(request.valid_to, "valid_to"))
            VoucherBook(self.exchange.node.data.root).grant(grant)
        except ValueError as exc:
            if "already exists" in str(exc):
                raise GatewayError(grpc.StatusCode.ALREADY_EXISTS, str(exc), GatewayReason.ALREADY_EXISTS,
                                   field="grant_id") from None
            raise invalid(str(exc)) from None
        return admin_pb2.GrantVoucherResponse()

    async def ListSlots(self, request, context):
        node = self.exchange.node
        listed = await asyncio.to_thread(node.list_due, node.sequencer.clock(), self.exchange.opening_call_ns)
        return admin_pb2.ListSlotsResponse(listed=listed)


def add_services(server: grpc.aio.Server, exchange: Exchange) -> list[str]:
    """Register every gpux.v1 service; their full names (for reflection)."""
    trading_pb2_grpc.add_TradingServiceServicer_to_server(TradingService(exchange), server)
    market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(MarketDataService(exchange), server)
    capacity_pb2_grpc.add_CapacityServiceServicer_to_server(CapacityService(exchange), server)
    account_pb2_grpc.add_AccountServiceServicer_to_server(AccountService(exchange), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditService(exchange), server)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(exchange), server)
    names = ("TradingService", "MarketDataService", "CapacityService", "AccountService", "AuditService", "AdminService")
    return [f"gpux.v1.{name}" for name in names] + [add_day_ahead(server, exchange)]

