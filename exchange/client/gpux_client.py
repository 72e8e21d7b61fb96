"""A typed Python client of the gpux.v1 API: one object, a method per call, for every role.

Every call has a deadline (``timeout`` seconds). Placing, cancelling and replacing
orders is retried on UNAVAILABLE and DEADLINE_EXCEEDED with the same client order id,
which makes the retry safe: if the first attempt did reach the journal, the retry is
answered ALREADY_EXISTS and :meth:`GpuxClient.place_order` returns the original order
instead of placing a second one. Errors surface as ``grpc.RpcError`` with the status and
message the gateway chose; :func:`error_info` reads the ``google.rpc.ErrorInfo`` every
gpux error carries (its ``reason`` is a ``gpux.v1.Reason`` name, ``metadata`` names the
field at fault).

    client = GpuxClient("127.0.0.1:50051", token)
    client.deposit_funds(1_000_000)
    order = client.place_order("H100-80G.jiaxing.20261126T14", "BUY", 8, price_fen=1800, client_order_id=1)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from exchange.proto.gpux.v1 import (
    account_pb2,
    account_pb2_grpc,
    admin_pb2,
    admin_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    capacity_pb2,
    capacity_pb2_grpc,
    day_ahead_pb2,
    day_ahead_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    trading_pb2,
    trading_pb2_grpc,
    types_pb2,
)

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_SIDES = {"BUY": types_pb2.SIDE_BUY, "SELL": types_pb2.SIDE_SELL}
_TIF = {"GTC": types_pb2.TIME_IN_FORCE_GTC, "GTD": types_pb2.TIME_IN_FORCE_GTD,
        "IOC": types_pb2.TIME_IN_FORCE_IOC, "FOK": types_pb2.TIME_IN_FORCE_FOK}


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` of a failed call (domain ``gpux``), or None if the
    status carries none (a transport failure)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return None


class GpuxClient:
    """A connection to a gpux gateway as one account (its bearer token)."""

    def __init__(self, address: str, token: str, *, root_certificate: bytes | None = None,
                 timeout: float = 5.0, retries: int = 3, backoff: float = 0.2) -> None:
        if root_certificate is not None:
            self.channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificate))
        else:
            self.channel = grpc.insecure_channel(address)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.trading = trading_pb2_grpc.TradingServiceStub(self.channel)
        self.market_data = market_data_pb2_grpc.MarketDataServiceStub(self.channel)
        self.capacity = capacity_pb2_grpc.CapacityServiceStub(self.channel)
        self.accounts = account_pb2_grpc.AccountServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.day_ahead = day_ahead_pb2_grpc.DayAheadServiceStub(self.channel)

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def __enter__(self) -> GpuxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable, request, timeout: float | None = None):
        return method(request, timeout=timeout or self.timeout, metadata=self.metadata)

    def _retried(self, method: Callable, request):
        """Call, retrying transport failures with the same request (same client order id)."""
        for attempt in range(self.retries + 1):
            try:
                return self._call(method, request), attempt
            except grpc.RpcError as error:
                if error.code() not in _RETRYABLE or attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- trading

    def place_order(self, symbol: str, side: str, qty: int, *, price_fen: int = 0, client_order_id: int,
                    time_in_force: str = "GTC", expire_time_ns: int = 0, post_only: bool = False
                    ) -> types_pb2.Order:
        """Place a limit order (or a market order with ``price_fen=0`` and IOC/FOK); the order."""
        request = trading_pb2.PlaceOrderRequest(
            symbol=symbol, side=_SIDES[side], time_in_force=_TIF[time_in_force], price_fen=price_fen, qty=qty,
            order_type=types_pb2.ORDER_TYPE_LIMIT if price_fen else types_pb2.ORDER_TYPE_MARKET,
            client_order_id=client_order_id, expire_time_ns=expire_time_ns, post_only=post_only)
        try:
            response, _ = self._retried(self.trading.PlaceOrder, request)
            return response.order
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            return self.get_order(client_order_id)  # an earlier attempt got through: the original

    def cancel_order(self, client_order_id: int) -> list[types_pb2.ExecutionReport]:
        """Cancel a live order; its reports."""
        response, _ = self._retried(self.trading.CancelOrder,
                                    trading_pb2.CancelOrderRequest(orig_client_order_id=client_order_id))
        return list(response.reports)

    def replace_order(self, client_order_id: int, new_client_order_id: int, price_fen: int, qty: int
                      ) -> list[types_pb2.ExecutionReport]:
        """Cancel-replace to a new limit and total quantity; the reports."""
        response, _ = self._retried(self.trading.ReplaceOrder, trading_pb2.ReplaceOrderRequest(
            orig_client_order_id=client_order_id, client_order_id=new_client_order_id, price_fen=price_fen, qty=qty))
        return list(response.reports)

    def mass_cancel(self, symbol: str = "") -> int:
        """Cancel the account's live orders (of one symbol); how many."""
        return self._call(self.trading.MassCancel, trading_pb2.MassCancelRequest(symbol=symbol)).cancelled

    def get_order(self, client_order_id: int) -> types_pb2.Order:
        """The account's order placed under a client order id."""
        return self._call(self.trading.GetOrder, trading_pb2.GetOrderRequest(client_order_id=client_order_id)).order

    def list_orders(self, open_only: bool = False, symbol: str = "", limit: int = 1000) -> list[types_pb2.Order]:
        """The account's orders, newest first."""
        return list(self._call(self.trading.ListOrders, trading_pb2.ListOrdersRequest(
            open_only=open_only, symbol=symbol, limit=limit)).orders)

    def stream_orders(self, batches: Iterable[list[trading_pb2.OrderCommand]], cancel_on_disconnect: bool = False,
                      timeout: float | None = None) -> Iterator[trading_pb2.StreamOrdersResponse]:
        """Send batches of commands on one stream; yields each batch's reports in order."""
        requests = (trading_pb2.StreamOrdersRequest(batch_id=i, commands=b, cancel_on_disconnect=cancel_on_disconnect)
                    for i, b in enumerate(batches))
        return self.trading.StreamOrders(requests, timeout=timeout or 10 * self.timeout, metadata=self.metadata)

    def stream_executions(self, after: int = 0, *, give_up_after: float = 60.0) -> Iterator[trading_pb2.AccountEvent]:
        """Every event of the account with an exec_seq above ``after`` (order reports,
        both sides of fills, funds and capacity changes), then each new one as it
        happens, without end (stop iterating to stop). When the connection drops or the
        server restarts, or the server ends the stream because it was read too slowly,
        it calls again after the last exec_seq received: no event is missed or repeated.
        Raises once reconnecting has failed for ``give_up_after`` seconds."""
        def call():  # from the last event received
            return self.trading.StreamExecutionReports(
                trading_pb2.StreamExecutionReportsRequest(after_exec_seq=after), metadata=self.metadata)

        for response in self._resumed(call, give_up_after):
            for event in response.events:
                after = event.exec_seq
                yield event

    def _resumed(self, call: Callable[[], Any], give_up_after: float) -> Iterator:
        """The messages of the server stream ``call()`` opens, calling it again (it resumes
        from what was received) after a dropped connection or a server restart, and at once
        after the server cut the stream for being read too slowly (REASON_SLOW_CONSUMER).
        Raises once reconnecting has failed for ``give_up_after`` seconds, or on any other
        error."""
        failing_since = None
        while True:
            stream = call()
            try:
                for response in stream:
                    failing_since = None
                    yield response
            except grpc.RpcError as error:
                info = error_info(error)
                slow = info is not None and info.reason == "REASON_SLOW_CONSUMER"
                if not slow and error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    raise
                failing_since = failing_since or time.monotonic()
                if not slow and time.monotonic() - failing_since > give_up_after:
                    raise
                time.sleep(0 if slow else self.backoff)
            finally:
                stream.cancel()

    def executions(self, after: int = 0) -> list[trading_pb2.AccountEvent]:
        """The account's events with an exec_seq above ``after``, up to its latest one now."""
        call = self.trading.StreamExecutionReports(trading_pb2.StreamExecutionReportsRequest(after_exec_seq=after),
                                                   timeout=10 * self.timeout, metadata=self.metadata)
        events: list[trading_pb2.AccountEvent] = []
        try:
            for response in call:
                events.extend(response.events)
                if (events[-1].exec_seq if events else after) >= response.last_exec_seq:
                    return events
        finally:
            call.cancel()
        return events

    # ---------------------------------------------------------------- money and capacity

    def deposit_funds(self, amount_fen: int) -> account_pb2.Balance:
        return self._call(self.accounts.DepositFunds, account_pb2.DepositFundsRequest(amount_fen=amount_fen)).balance

    def withdraw_funds(self, amount_fen: int) -> account_pb2.Balance:
        return self._call(self.accounts.WithdrawFunds, account_pb2.WithdrawFundsRequest(amount_fen=amount_fen)).balance

    def balance(self) -> account_pb2.Balance:
        return self._call(self.accounts.GetBalance, account_pb2.GetBalanceRequest()).balance

    def statement(self, day: str) -> account_pb2.GetStatementResponse:
        return self._call(self.accounts.GetStatement, account_pb2.GetStatementRequest(day=day))

    def deposit_capacity(self, symbol: str, qty: int) -> capacity_pb2.Position:
        return self._call(self.capacity.DepositCapacity,
                          capacity_pb2.DepositCapacityRequest(symbol=symbol, qty=qty)).position

    def withdraw_capacity(self, symbol: str, qty: int) -> capacity_pb2.Position:
        return self._call(self.capacity.WithdrawCapacity,
                          capacity_pb2.WithdrawCapacityRequest(symbol=symbol, qty=qty)).position

    def positions(self, symbol: str = "") -> list[capacity_pb2.Position]:
        return list(self._call(self.capacity.GetCapacity, capacity_pb2.GetCapacityRequest(symbol=symbol)).positions)

    # ---------------------------------------------------------------- market data

    def catalog(self) -> market_data_pb2.GetCatalogResponse:
        return self._call(self.market_data.GetCatalog, market_data_pb2.GetCatalogRequest())

    def instruments(self, gpu_class: str = "", region: str = "", open_only: bool = False) -> list[types_pb2.Instrument]:
        return list(self._call(self.market_data.ListInstruments, market_data_pb2.ListInstrumentsRequest(
            gpu_class=gpu_class, region=region, open_only=open_only)).instruments)

    def book(self, symbol: str, depth: int = 10) -> market_data_pb2.GetBookResponse:
        return self._call(self.market_data.GetBook, market_data_pb2.GetBookRequest(symbol=symbol, depth=depth))

    def price_to_fill(self, symbol: str, qty: int) -> int:
        """The lowest limit that reaches ``qty`` GPUs of the asks now in the book (the
        deepest ask if there are fewer; 0 if none)."""
        price = 0
        for level in self.book(symbol, depth=50).asks:
            price, qty = level.price_fen, qty - level.qty
            if qty <= 0:
                break
        return price

    def stream_book(self, symbol: str, depth: int = 10, timeout: float | None = None):
        """A snapshot, then level updates with increasing update ids (iterate; cancel() to stop)."""
        return self.market_data.StreamBook(market_data_pb2.StreamBookRequest(symbol=symbol, depth=depth),
                                           timeout=timeout, metadata=self.metadata)

    def trades(self, symbol: str, after_trade_id: int = 0, limit: int = 1000) -> list[types_pb2.Trade]:
        return list(self._call(self.market_data.ListTrades, market_data_pb2.ListTradesRequest(
            symbol=symbol, after_trade_id=after_trade_id, limit=limit)).trades)

    def stream_trades(self, symbols: Iterable[str] = (), gpu_class: str = "", region: str = "", day: str = "",
                      after_trade_id: int = 0, *, give_up_after: float = 60.0) -> Iterator[types_pb2.Trade]:
        """Public trades matching the filters (they combine; none: all) with an id above
        ``after_trade_id``, then each new one, without end; after a dropped connection, a
        server restart or a cut for reading slowly it resumes from the last trade received."""
        def call():  # from the last trade received
            return self.market_data.StreamTrades(audit_pb2.StreamTradesRequest(
                symbols=list(symbols), gpu_class=gpu_class, region=region, day=day, after_trade_id=after_trade_id),
                metadata=self.metadata)

        for response in self._resumed(call, give_up_after):
            for trade in response.trades:
                after_trade_id = trade.trade_id
                yield trade
            after_trade_id = max(after_trade_id, response.through_trade_id)

    def stream_tickers(self, symbols: Iterable[str] = (), gpu_class: str = "", region: str = "", day: str = ""):
        """Tickers of the listed instruments matching the filters: all, then changes
        (iterate the StreamTickersResponse messages; cancel() to stop)."""
        return self.market_data.StreamTickers(market_data_pb2.StreamTickersRequest(
            symbols=list(symbols), gpu_class=gpu_class, region=region, day=day), metadata=self.metadata)

    def ticker(self, symbol: str) -> market_data_pb2.GetTickerResponse:
        return self._call(self.market_data.GetTicker, market_data_pb2.GetTickerRequest(symbol=symbol))

    # ---------------------------------------------------------------- audit

    def trade_files(self, day: str = "") -> audit_pb2.ListTradeFilesResponse:
        return self._call(self.audit.ListTradeFiles, audit_pb2.ListTradeFilesRequest(day=day))

    def download_trade_file(self, path: str) -> bytes:
        chunks = self.audit.DownloadTradeFile(audit_pb2.DownloadTradeFileRequest(path=path),
                                              timeout=10 * self.timeout, metadata=self.metadata)
        return b"".join(c.chunk for c in chunks)

    # ---------------------------------------------------------------- admin

    def create_account(self, name: str, role: str, request_id: str = "") -> admin_pb2.CreateAccountResponse:
        """Create an account (role PROVIDER, BUYER, AUDITOR or ADMIN); its id and first
        token. With a ``request_id`` the call is retried safely: a repeat answers the same
        account (with a new token)."""
        request = admin_pb2.CreateAccountRequest(name=name, role=admin_pb2.Role.Value(f"ROLE_{role}"),
                                                 request_id=request_id)
        return (self._retried(self.admin.CreateAccount, request)[0] if request_id
                else self._call(self.admin.CreateAccount, request))

    def halt(self, symbol: str) -> None:
        self._call(self.admin.HaltInstrument, admin_pb2.HaltInstrumentRequest(symbol=symbol))

    def resume(self, symbol: str, call_seconds: int = 0) -> None:
        """Reopen a halted instrument: at once, or through a call phase of ``call_seconds``."""
        self._call(self.admin.ResumeInstrument, admin_pb2.ResumeInstrumentRequest(
            symbol=symbol, call_seconds=call_seconds))

    def start_call(self, symbol: str, call_seconds: int = 0) -> None:
        """Start a call phase (0 seconds: until :meth:`uncross`)."""
        self._call(self.admin.StartCall, admin_pb2.StartCallRequest(symbol=symbol, call_seconds=call_seconds))

    def uncross(self, symbol: str) -> admin_pb2.UncrossResponse:
        """End a call phase now: the auction price and the GPUs traded."""
        return self._call(self.admin.Uncross, admin_pb2.UncrossRequest(symbol=symbol))

    def kill_switch(self, account: int) -> int:
        return self._call(self.admin.KillSwitch, admin_pb2.KillSwitchRequest(account=account)).cancelled

    def set_credit(self, account: int, credit_fen: int) -> None:
        self._call(self.admin.SetCredit, admin_pb2.SetCreditRequest(account=account, credit_fen=credit_fen))

    def grant_voucher(self, grant_id: str, issuer: str, account: int, rate_bps: int, valid_from: str,
                      valid_to: str, cap_fen: int = 0) -> None:
        self._call(self.admin.GrantVoucher, admin_pb2.GrantVoucherRequest(
            grant_id=grant_id, issuer=issuer, account=account, rate_bps=rate_bps, cap_fen=cap_fen,
            valid_from=valid_from, valid_to=valid_to))

    def list_slots(self) -> int:
        return self._call(self.admin.ListSlots, admin_pb2.ListSlotsRequest()).listed

    # ---------------------------------------------------------------- day-ahead

    def submit_day_ahead(self, delivery_day: str, side: str, start_hour: int, qty: int,
                         alternatives: list[tuple], *, client_order_id: int, hours: int = 0,
                         min_ratio_percent: int = 100) -> day_ahead_pb2.DayAheadOrder:
        """Enter a day-ahead order: hourly (``hours`` 0) at one (gpu_class, region, limit_fen),
        or a block of ``qty`` GPUs for ``hours`` consecutive hours in any one of
        ``alternatives``: (gpu_class, region, limit_fen), starting at ``start_hour``, or
        (gpu_class, region, limit_fen, start) with a start of its own (see
        :func:`~exchange.client.windows.window_alternatives`). Retried safely: the
        client order id is unique per day."""
        block = hours > 0
        request = day_ahead_pb2.SubmitDayAheadOrderRequest(delivery_day=delivery_day, order=day_ahead_pb2.DayAheadOrder(
            client_order_id=client_order_id, side=_SIDES[side], start_hour=start_hour, hours=hours or 1, qty=qty,
            order_type=day_ahead_pb2.DAY_AHEAD_ORDER_TYPE_BLOCK if block else day_ahead_pb2.DAY_AHEAD_ORDER_TYPE_HOURLY,
            min_ratio_percent=min_ratio_percent,
            alternatives=[day_ahead_pb2.DayAheadAlternative(gpu_class=c, region=r, limit_fen=p,
                                                            start_hour=start[0] if start else None)
                          for c, r, p, *start in alternatives]))
        return self._call(self.day_ahead.SubmitDayAheadOrder, request).order

    def day_ahead_orders(self, delivery_day: str) -> day_ahead_pb2.ListDayAheadOrdersResponse:
        """The caller's day-ahead orders of a day, with outcomes once it has cleared."""
        return self._call(self.day_ahead.ListDayAheadOrders,
                          day_ahead_pb2.ListDayAheadOrdersRequest(delivery_day=delivery_day))

    def day_ahead_result(self, delivery_day: str) -> day_ahead_pb2.GetDayAheadResultResponse:
        return self._call(self.day_ahead.GetDayAheadResult,
                          day_ahead_pb2.GetDayAheadResultRequest(delivery_day=delivery_day))

    def run_day_ahead(self, delivery_day: str, time_limit_seconds: int = 60) -> day_ahead_pb2.GetDayAheadResultResponse:
        """Operators: run a day's auction; its result (the deadline covers the solver)."""
        return self._call(self.day_ahead.RunDayAhead, day_ahead_pb2.RunDayAheadRequest(
            delivery_day=delivery_day, time_limit_seconds=time_limit_seconds), timeout=time_limit_seconds + 60).result
