"""The reference matching engine: plain Python, following :mod:`exchange.schema.rules`
to the letter. It is the oracle for the property tests and the baseline of the benchmark.

This module holds the interface and one handler per kind of command, each checking the
command in the order of the rules and rejecting with the first failing reason; the
state and the book operations the handlers share (matching, resting and removing
orders, the uncross, the invariants) are in :mod:`exchange.engine.reference_book`.

Integers are Python ints here; the spec assumes every amount fits in int64 (nothing
checks for overflow, e.g. of cash after huge deposits).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from exchange.engine.api import AccountView, BookView, Level, OrderView, PositionView, command_batch
from exchange.engine.reference_book import (
    AFTER_EVERY_ID,
    BUY,
    CALL,
    CANCEL_NEWEST,
    CANCEL_OLDEST,
    CLORD_IN_HISTORY,
    CLOSED,
    DECREMENT,
    EV_ACCEPTED,
    EV_CANCELLED,
    EV_DONE,
    EV_EXPIRED,
    EV_REPLACED,
    EV_TRADE,
    FOK,
    GTC,
    GTD,
    HALTED,
    IOC,
    LIMIT,
    MARKET,
    OPEN,
    POST_ONLY,
    SELL,
    Cmd,
    Instrument,
    Order,
    PriceLevel,
    R,
    ReferenceBook,
)
from exchange.schema import (
    CAPACITY_LIMIT,
    CLORD_LIMIT,
    EVENT_DTYPE,
    HISTORY_MARKS,
    MONEY_LIMIT,
    CommandKind,
    EngineConfig,
    InstrumentState,
    Reason,
    command,
)


class ReferenceEngine(ReferenceBook):
    """Plain-Python implementation of :class:`exchange.engine.api.MatchingEngine`."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self._handlers = {
            int(CommandKind.NEW_ORDER): self._new_order,
            int(CommandKind.CANCEL): self._cancel,
            int(CommandKind.REPLACE): self._replace,
            int(CommandKind.MASS_CANCEL): self._mass_cancel,
            int(CommandKind.DEPOSIT_CAPACITY): self._deposit_capacity,
            int(CommandKind.WITHDRAW_CAPACITY): self._withdraw_capacity,
            int(CommandKind.DEPOSIT_FUNDS): self._deposit_funds,
            int(CommandKind.WITHDRAW_FUNDS): self._withdraw_funds,
            int(CommandKind.SET_CREDIT): self._set_credit,
            int(CommandKind.LIST_INSTRUMENT): self._list_instrument,
            int(CommandKind.HALT): self._halt,
            int(CommandKind.RESUME): self._resume,
            int(CommandKind.CLOSE_GATE): self._close_gate,
            int(CommandKind.TIMER): self._timer,
            int(CommandKind.START_CALL): self._start_call,
            int(CommandKind.UNCROSS): self._uncross_command,
            int(CommandKind.HOLD_FUNDS): self._hold_funds,
            int(CommandKind.HOLD_CAPACITY): self._hold_capacity,
            int(CommandKind.DA_TRADE): self._da_trade,
            int(CommandKind.RELEASE_HOLDS): self._release_holds,
            int(CommandKind.FORGET_DONE): self._forget_done,
        }

    # ------------------------------------------------------------------ the interface

    def process(self, batch: np.ndarray) -> np.ndarray:
        """Apply a batch of commands in order; return the events they caused."""
        out: list[tuple[int, ...]] = []
        self._out = out
        for row in command_batch(batch).tolist():
            c = Cmd._make(row)
            self._seq, self._ts = c.seq, c.ts
            handler = self._handlers.get(c.kind)
            if handler is None:
                self._reject(c, R.UNKNOWN_COMMAND)
            else:
                handler(c)
        self._out = []
        if not out:
            return np.zeros(0, dtype=EVENT_DTYPE)
        return np.array(out, dtype=EVENT_DTYPE)

    def submit(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Apply one command given by its fields (others 0; see :func:`exchange.schema.command`);
        return its events."""
        return self.process(command(kind, **fields))

    @property
    def n_instruments(self) -> int:
        return len(self._instruments)

    def book(self, instrument: int, depth: int | None = None) -> BookView:
        """Aggregated levels, best first; an unlisted id gives an empty UNLISTED view."""
        if not 0 <= instrument < len(self._instruments):
            return BookView(instrument, InstrumentState.UNLISTED, (), ())
        inst = self._instruments[instrument]

        def levels(side_levels: Iterable[PriceLevel]) -> tuple[Level, ...]:
            result: list[Level] = []
            for lv in side_levels:
                if depth is not None and len(result) >= depth:
                    break
                result.append(Level(lv.price, lv.qty, len(lv.orders)))
            return tuple(result)

        return BookView(
            instrument,
            InstrumentState(inst.state),
            levels(reversed(inst.bids.values())),
            levels(inst.asks.values()),
            inst.last or self.config.reference[inst.gpu_class],
            inst.call_end if inst.state == CALL else 0,
        )

    def account(self, account: int) -> AccountView:
        a = self._accounts.get(account)
        return AccountView(0, 0, 0) if a is None else AccountView(a.cash, a.credit, a.reserved, a.held)

    def position(self, account: int, instrument: int) -> PositionView:
        p = self._positions.get((account, instrument))
        if p is None:
            return PositionView(0, 0, 0, 0)
        return PositionView(p.capacity, p.bought, p.sold, p.ask_open, p.held)

    def live_orders(self, account: int | None = None) -> list[OrderView]:
        return [
            OrderView(o.order_id, o.account, o.instrument, o.clord, o.side, o.price, o.qty,
                      o.leaves, o.filled, o.tif, o.expire_ts)
            for oid, o in sorted(self._orders.items())
            if account is None or o.account == account
        ]

    # ------------------------------------------------------------------ order commands

    def _new_order(self, c: Cmd) -> None:
        marks, c = c.flags, c._replace(flags=c.flags & ~HISTORY_MARKS)
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        inst = self._instruments[c.instrument]
        reason, limit = self._order_fields_reason(c, inst)
        if reason == R.NONE:
            reason = self._order_placing_reason(c, inst, limit, marks)
        if reason != R.NONE:
            return self._reject(c, reason)

        # accepted
        t = Order(self._next_order_id, c.account, c.instrument, c.clord, c.side, c.order_type,
                  c.tif, c.flags, c.stp, limit, c.qty, c.qty, c.expire_ts)
        self._next_order_id += 1
        self._clords[(c.account, c.clord)] = t.order_id
        self._order_event(EV_ACCEPTED, t, t.qty)
        if c.side == BUY:
            self._acct(c.account).reserved += limit * c.qty
        else:
            self._positions[(c.account, c.instrument)].ask_open += c.qty
        if inst.state == CALL:
            self._rest(t)
            return None

        stp = c.stp
        if c.tif == FOK:
            if not self._fok_fillable(inst, t):
                q = t.leaves
                self._remove_qty(t, q, resting=False)
                self._order_event(EV_CANCELLED, t, q, R.FOK_UNFILLABLE)
                self._order_event(EV_DONE, t, t.qty)
                return None
            stp = CANCEL_OLDEST
        self._match(inst, t, stp)
        self._finish_taker(t)
        return None

    def _order_fields_reason(self, c: Cmd, inst: Instrument) -> tuple[R, int]:
        """The first rule a new order's own fields break (side to price, in the order of
        the rules) or NONE; and its limit (a market order's: the band edge)."""
        if c.side != BUY and c.side != SELL:
            return R.BAD_SIDE, 0
        if c.order_type != LIMIT and c.order_type != MARKET:
            return R.BAD_ORDER_TYPE, 0
        if not GTC <= c.tif <= FOK or (c.order_type == MARKET and c.tif not in (IOC, FOK)):
            return R.BAD_TIME_IN_FORCE, 0
        if not CANCEL_NEWEST <= c.stp <= DECREMENT:
            return R.BAD_STP_MODE, 0
        if c.flags not in (0, POST_ONLY) or (
            c.flags == POST_ONLY and not (c.order_type == LIMIT and c.tif in (GTC, GTD))
        ):
            return R.BAD_FLAGS, 0
        if not 0 < c.clord < CLORD_LIMIT:
            return R.BAD_CLIENT_ORDER_ID, 0
        if not inst.min_qty <= c.qty <= inst.max_qty:
            return R.QUANTITY_OUT_OF_LIMITS, 0
        if c.order_type == LIMIT:
            if c.price % inst.tick != 0:
                return R.PRICE_NOT_ON_TICK, 0
            if not inst.band_lo <= c.price <= inst.band_hi:
                return R.PRICE_OUT_OF_BAND, 0
            return R.NONE, c.price
        if c.price != 0:
            return R.MARKET_ORDER_HAS_PRICE, 0
        return R.NONE, inst.band_hi if c.side == BUY else inst.band_lo

    def _order_placing_reason(self, c: Cmd, inst: Instrument, limit: int, marks: int) -> R:
        """The first rule against placing a well-formed new order now (expiry, client order
        id, instrument state, post-only, risk), in the order of the rules; or NONE."""
        if (c.expire_ts <= c.ts) if c.tif == GTD else (c.expire_ts != 0):
            return R.BAD_EXPIRY
        if marks & CLORD_IN_HISTORY or (c.account, c.clord) in self._clords:
            return R.DUPLICATE_CLIENT_ORDER_ID
        if self._gate_closed(inst):
            return R.GATE_CLOSED
        if inst.state == HALTED:
            return R.INSTRUMENT_HALTED
        if inst.state == CALL and (c.tif in (IOC, FOK) or c.flags == POST_ONLY):
            return R.INSTRUMENT_IN_CALL
        if c.flags == POST_ONLY and self._post_only_crosses(inst, c.side, limit):
            return R.POST_ONLY_WOULD_CROSS
        if c.side == BUY:
            if limit * c.qty > self._available_funds(c.account):
                return R.INSUFFICIENT_FUNDS
        elif c.qty > self._free_capacity(c.account, c.instrument):
            return R.INSUFFICIENT_CAPACITY
        return R.NONE

    def _cancel(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        reason, o = self._live_by_clord(c.account, c.orig_clord, c.flags)
        if o is None:
            return self._reject(c, reason)
        self._kill(o, EV_CANCELLED, R.USER_CANCEL)
        return None

    def _replace(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not 0 < c.clord < CLORD_LIMIT:
            return self._reject(c, R.BAD_CLIENT_ORDER_ID)
        reason, o = self._live_by_clord(c.account, c.orig_clord, c.flags)
        if o is None:
            return self._reject(c, reason)
        inst = self._instruments[o.instrument]
        reason, new_leaves, delta = self._replace_reason(c, o, inst)
        if reason != R.NONE:
            return self._reject(c, reason)

        # accepted: move the risk, take the new clord
        if o.side == BUY:
            self._accounts[o.account].reserved += delta
        else:
            self._positions[(o.account, o.instrument)].ask_open += delta
        self._clords[(c.account, c.clord)] = o.order_id
        orig = o.clord  # == c.orig_clord (_live_by_clord only finds the current clord)
        self._retired[(c.account, orig)] = c.seq
        if c.price == o.price and c.qty <= o.qty:
            o.clord = c.clord
            inst.side_book(o.side)[o.price].qty += new_leaves - o.leaves
            o.leaves = new_leaves
            o.qty = c.qty
            self._order_event(EV_REPLACED, o, o.qty, R.PRIORITY_KEPT, contra_clord=orig)
            return None
        self._unlink(o)
        o.clord = c.clord
        o.price = c.price
        o.qty = c.qty
        o.leaves = new_leaves
        self._order_event(EV_REPLACED, o, o.qty, R.PRIORITY_LOST, contra_clord=orig)
        if inst.state == CALL:
            self._rest(o)
            return None
        self._match(inst, o, o.stp)
        self._finish_taker(o)
        return None

    def _replace_reason(self, c: Cmd, o: Order, inst: Instrument) -> tuple[R, int, int]:
        """The first rule a cancel-replace of live order ``o`` breaks, in the order of the
        rules, or NONE; its new leaves and the change of risk (BUY: fen, SELL: GPUs)."""
        if not inst.min_qty <= c.qty <= inst.max_qty:
            return R.QUANTITY_OUT_OF_LIMITS, 0, 0
        if c.price % inst.tick != 0:
            return R.PRICE_NOT_ON_TICK, 0, 0
        if not inst.band_lo <= c.price <= inst.band_hi:
            return R.PRICE_OUT_OF_BAND, 0, 0
        if c.flags & CLORD_IN_HISTORY or (c.account, c.clord) in self._clords:
            return R.DUPLICATE_CLIENT_ORDER_ID, 0, 0
        if self._gate_closed(inst):
            return R.GATE_CLOSED, 0, 0
        if inst.state == HALTED:
            return R.INSTRUMENT_HALTED, 0, 0
        new_leaves = c.qty - o.filled - o.removed
        if new_leaves <= 0:
            return R.REPLACE_BELOW_FILLED, 0, 0
        if o.flags & POST_ONLY and inst.state != CALL and self._post_only_crosses(inst, o.side, c.price):
            return R.POST_ONLY_WOULD_CROSS, 0, 0
        if o.side == BUY:
            delta = c.price * new_leaves - o.price * o.leaves
            if delta > self._available_funds(c.account):
                return R.INSUFFICIENT_FUNDS, 0, 0
        else:
            delta = new_leaves - o.leaves
            if delta > self._free_capacity(c.account, o.instrument):
                return R.INSUFFICIENT_CAPACITY, 0, 0
        return R.NONE, new_leaves, delta

    def _mass_cancel(self, c: Cmd) -> None:
        if c.account != -1 and not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if c.instrument != -1 and not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        if c.account == -1 and c.instrument == -1:
            return self._reject(c, R.BAD_MASS_CANCEL_FILTER)
        pool = self._orders if c.instrument == -1 else self._instruments[c.instrument].live
        victims = sorted(oid for oid, o in pool.items() if c.account == -1 or o.account == c.account)
        for oid in victims:
            self._kill(self._orders[oid], EV_CANCELLED, R.MASS_CANCEL)
        self._ack(c, len(victims))
        return None

    # ------------------------------------------------------------------ account commands

    def _deposit_capacity(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        p = self._positions.get((c.account, c.instrument))
        if not 0 < c.qty <= CAPACITY_LIMIT or (p.capacity if p else 0) + c.qty > CAPACITY_LIMIT:
            return self._reject(c, R.QUANTITY_OUT_OF_LIMITS)
        if self._instruments[c.instrument].state == CLOSED:
            return self._reject(c, R.GATE_CLOSED)
        self._pos(c.account, c.instrument).capacity += c.qty
        self._ack(c, c.qty)
        return None

    def _withdraw_capacity(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        if not 0 < c.qty <= CAPACITY_LIMIT:
            return self._reject(c, R.QUANTITY_OUT_OF_LIMITS)
        if self._instruments[c.instrument].state == CLOSED:
            return self._reject(c, R.GATE_CLOSED)
        p = self._positions.get((c.account, c.instrument))
        if p is None or c.qty > p.capacity or c.qty > p.free:
            return self._reject(c, R.INSUFFICIENT_CAPACITY)
        p.capacity -= c.qty
        self._ack(c, c.qty)
        return None

    def _deposit_funds(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not 0 < c.amount <= MONEY_LIMIT or self._acct(c.account).cash + c.amount > MONEY_LIMIT:
            return self._reject(c, R.BAD_AMOUNT)
        self._acct(c.account).cash += c.amount
        self._funds_net += c.amount
        self._ack(c, c.amount)
        return None

    def _withdraw_funds(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not 0 < c.amount <= MONEY_LIMIT:
            return self._reject(c, R.BAD_AMOUNT)
        a = self._acct(c.account)
        if c.amount > a.cash or a.cash - c.amount + a.credit < a.reserved + a.held:
            return self._reject(c, R.INSUFFICIENT_FUNDS)
        a.cash -= c.amount
        self._funds_net -= c.amount
        self._ack(c, c.amount)
        return None

    def _set_credit(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not 0 <= c.amount <= MONEY_LIMIT:
            return self._reject(c, R.BAD_AMOUNT)
        a = self._acct(c.account)
        if a.cash + c.amount < a.reserved + a.held:
            return self._reject(c, R.INSUFFICIENT_FUNDS)
        a.credit = c.amount
        self._ack(c, c.amount)
        return None

    # ------------------------------------------------------------------ holds and day-ahead trades

    def _hold_funds(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not 0 < c.amount <= MONEY_LIMIT:
            return self._reject(c, R.BAD_AMOUNT)
        held = min(c.amount, max(0, self._available_funds(c.account)))
        self._acct(c.account).held += held
        self._ack(c, held)
        return None

    def _hold_capacity(self, c: Cmd) -> None:
        if not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        if not 0 < c.qty <= CAPACITY_LIMIT:
            return self._reject(c, R.QUANTITY_OUT_OF_LIMITS)
        if self._gate_closed(self._instruments[c.instrument]):
            return self._reject(c, R.GATE_CLOSED)
        held = min(c.qty, max(0, self._free_capacity(c.account, c.instrument)))
        if held:
            self._positions[(c.account, c.instrument)].held += held
        self._ack(c, held)
        return None

    def _da_trade(self, c: Cmd) -> None:
        if not (self._account_ok(c.account) and self._account_ok(c.contra_account)):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if c.account == c.contra_account:
            return self._reject(c, R.SAME_ACCOUNT)
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        inst = self._instruments[c.instrument]
        if not 0 < c.qty <= inst.max_qty:
            return self._reject(c, R.QUANTITY_OUT_OF_LIMITS)
        if c.price % inst.tick != 0:
            return self._reject(c, R.PRICE_NOT_ON_TICK)
        if not inst.band_lo <= c.price <= inst.band_hi:
            return self._reject(c, R.PRICE_OUT_OF_BAND)
        if self._gate_closed(inst):
            return self._reject(c, R.GATE_CLOSED)
        value = c.price * c.qty
        buyer = self._accounts.get(c.account)
        if buyer is None or buyer.held < value:
            return self._reject(c, R.INSUFFICIENT_FUNDS)
        sp = self._positions.get((c.contra_account, c.instrument))
        if sp is None or sp.held < c.qty:
            return self._reject(c, R.INSUFFICIENT_CAPACITY)
        buyer.held -= value
        buyer.cash -= value
        self._acct(c.contra_account).cash += value
        self._pos(c.account, c.instrument).bought += c.qty
        sp.held -= c.qty
        sp.sold += c.qty
        inst.last = c.price
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        self._out.append((self._seq, self._ts, EV_TRADE, int(R.DAY_AHEAD), c.account, c.instrument, 0,
                          c.clord, BUY, c.price, c.qty, 0, 0, 0, c.contra_account, c.orig_clord, 0,
                          trade_id))
        self._ack(c, c.qty)
        return None

    def _release_holds(self, c: Cmd) -> None:
        if c.account != -1 and not self._account_ok(c.account):
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        for a, acct in self._accounts.items():
            if c.account in (-1, a):
                acct.held = 0
        for (a, _), p in self._positions.items():
            if c.account in (-1, a):
                p.held = 0
        self._ack(c, 0)
        return None

    # ------------------------------------------------------------------ market commands

    def _list_instrument(self, c: Cmd) -> None:
        if c.instrument != len(self._instruments):
            return self._reject(c, R.BAD_INSTRUMENT_ID)
        k = c.gpu_class
        cfg = self.config
        if not 0 <= k < cfg.n_classes:
            return self._reject(c, R.UNKNOWN_GPU_CLASS)
        if c.expire_ts != 0 and c.expire_ts <= c.ts:
            return self._reject(c, R.BAD_EXPIRY)
        gate_ts = c.slot_ts - cfg.gate_closure_ns
        self._instruments.append(Instrument(
            c.instrument, k, c.region, c.slot_ts, gate_ts, cfg.tick[k], cfg.band_lo[k],
            cfg.band_hi[k], cfg.min_qty[k], cfg.max_qty[k],
            state=CALL if c.expire_ts > 0 else OPEN, call_end=c.expire_ts,
        ))
        self._gates.add((gate_ts, c.instrument))
        self._ack(c, 0)
        return None

    def _halt(self, c: Cmd) -> None:
        in_call = self._listed(c.instrument) and self._instruments[c.instrument].state == CALL
        self._set_state(c, HALTED, OPEN, R.INSTRUMENT_IN_CALL if in_call else R.INSTRUMENT_HALTED)

    def _resume(self, c: Cmd) -> None:
        if self._listed(c.instrument) and self._instruments[c.instrument].state == HALTED and (
                c.expire_ts != 0 and c.expire_ts <= c.ts):
            return self._reject(c, R.BAD_EXPIRY)
        if self._set_state(c, CALL if c.expire_ts > 0 else OPEN, HALTED, R.INSTRUMENT_NOT_HALTED):
            self._instruments[c.instrument].call_end = c.expire_ts
        return None

    def _set_state(self, c: Cmd, state: int, needed: int, wrong_state: Reason) -> bool:
        """HALT / RESUME: move a listed, unclosed instrument from ``needed`` to ``state``;
        whether it did."""
        if not self._listed(c.instrument):
            self._reject(c, R.UNKNOWN_INSTRUMENT)
            return False
        inst = self._instruments[c.instrument]
        if inst.state == CLOSED:
            self._reject(c, R.GATE_CLOSED)
            return False
        if inst.state != needed:
            self._reject(c, wrong_state)
            return False
        inst.state = state
        self._ack(c, 0)
        return True

    def _close_gate(self, c: Cmd) -> None:
        if not self._listed(c.instrument):
            return self._reject(c, R.UNKNOWN_INSTRUMENT)
        inst = self._instruments[c.instrument]
        if inst.state == CLOSED:
            return self._reject(c, R.GATE_CLOSED)
        self._ack(c, self._close(inst))
        return None

    def _timer(self, c: Cmd) -> None:
        ts = c.ts
        due = sorted(i for gate_ts, i in self._gates.irange(maximum=(ts, AFTER_EVERY_ID)))
        count = 0
        for i in due:
            count += self._close(self._instruments[i])
        expired = sorted(oid for _, oid in self._gtd.irange(maximum=(ts, AFTER_EVERY_ID)))
        for oid in expired:
            self._kill(self._orders[oid], EV_EXPIRED, R.GTD_EXPIRY)
        for inst in self._instruments:
            if inst.state == CALL and 0 < inst.call_end <= ts:
                self._uncross(inst)
        self._ack(c, count + len(expired))

    def _call_command_reason(self, c: Cmd) -> Reason | None:
        """The reject reason START_CALL and UNCROSS share, or None."""
        if not self._listed(c.instrument):
            return R.UNKNOWN_INSTRUMENT
        if self._gate_closed(self._instruments[c.instrument]):
            return R.GATE_CLOSED
        return None

    def _start_call(self, c: Cmd) -> None:
        reason = self._call_command_reason(c)
        if reason is not None:
            return self._reject(c, reason)
        inst = self._instruments[c.instrument]
        if inst.state == CALL:
            return self._reject(c, R.INSTRUMENT_IN_CALL)
        if c.expire_ts != 0 and c.expire_ts <= c.ts:
            return self._reject(c, R.BAD_EXPIRY)
        inst.state = CALL
        inst.call_end = c.expire_ts
        self._ack(c, 0)
        return None

    def _uncross_command(self, c: Cmd) -> None:
        reason = self._call_command_reason(c)
        if reason is not None:
            return self._reject(c, reason)
        inst = self._instruments[c.instrument]
        if inst.state != CALL:
            return self._reject(c, R.INSTRUMENT_NOT_IN_CALL)
        self._ack(c, self._uncross(inst))
        return None
