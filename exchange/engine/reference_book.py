"""The reference engine's book: its state in plain Python objects and the operations on
it that the command handlers of :mod:`exchange.engine.reference` share (events, resting
and removing orders, matching, closing and uncrossing an instrument, the invariants).

State is kept in small dataclasses; each book side is a ``SortedDict`` price -> level, a
level holds its orders in an insertion-ordered ``OrderedDict`` (order id -> order), so
time priority is insertion order and removing any order is O(1). Nothing that affects
events depends on hash order: whenever several orders or instruments are processed
together they are sorted by order id or instrument id first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple, NoReturn

from sortedcontainers import SortedDict, SortedList

from exchange.auction.reference import reference_uncross
from exchange.engine.api import EngineStateError
from exchange.schema import (
    CLORD_LIMIT,
    COMMAND_FIELDS,
    CommandKind,
    EngineConfig,
    EventKind,
    InstrumentState,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

# Plain ints for the hot path (IntEnum members compare equal, but plain ints are faster).
BUY, SELL = int(Side.BUY), int(Side.SELL)
LIMIT, MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
GTC, GTD, IOC, FOK = (int(t) for t in TimeInForce)
CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH, DECREMENT = (int(s) for s in StpMode)
POST_ONLY = int(OrderFlag.POST_ONLY)
CLORD_IN_HISTORY, ORIG_IN_HISTORY = int(OrderFlag.CLORD_IN_HISTORY), int(OrderFlag.ORIG_IN_HISTORY)
OPEN, HALTED, CLOSED = int(InstrumentState.OPEN), int(InstrumentState.HALTED), int(InstrumentState.CLOSED)
CALL = int(InstrumentState.CALL)

AFTER_EVERY_ID = 1 << 63
"""Above every instrument and order id: closes ``(ts, id)`` ranges in the sorted indexes."""
EV_ACCEPTED, EV_REJECTED, EV_TRADE, EV_CANCELLED, EV_EXPIRED, EV_REPLACED, EV_DONE, EV_ACK, EV_UNCROSSED = (
    int(k) for k in EventKind
)
R = Reason


class Cmd(NamedTuple):
    """One command record as Python ints (fields of ``COMMAND_FIELDS``)."""

    seq: int
    ts: int
    kind: int
    account: int
    instrument: int
    side: int
    order_type: int
    tif: int
    flags: int
    stp: int
    price: int
    qty: int
    clord: int
    orig_clord: int
    expire_ts: int
    amount: int
    gpu_class: int
    region: int
    slot_ts: int
    contra_account: int


assert Cmd._fields == COMMAND_FIELDS


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    account: int
    instrument: int
    clord: int
    side: int
    order_type: int
    tif: int
    flags: int
    stp: int
    price: int  # the effective limit (band edge for MARKET orders)
    qty: int  # total qty == filled + leaves + removed
    leaves: int
    expire_ts: int
    filled: int = 0
    removed: int = 0  # cancelled or expired qty


@dataclass(slots=True, eq=False)
class PriceLevel:
    price: int
    qty: int = 0  # sum of the leaves of its orders
    orders: OrderedDict[int, Order] = field(default_factory=OrderedDict)  # time priority


@dataclass(slots=True, eq=False)
class Instrument:
    id: int
    gpu_class: int
    region: int
    slot_ts: int
    gate_ts: int
    tick: int
    band_lo: int
    band_hi: int
    min_qty: int
    max_qty: int
    state: int = OPEN
    last: int = 0  # last trade price, 0 before the first trade
    call_end: int = 0  # when its call phase ends (0: none, or until UNCROSS)
    bids: SortedDict = field(default_factory=SortedDict)  # price -> PriceLevel, best = last
    asks: SortedDict = field(default_factory=SortedDict)  # price -> PriceLevel, best = first
    live: dict[int, Order] = field(default_factory=dict)  # order id -> live order

    def side_book(self, side: int) -> SortedDict:
        return self.bids if side == BUY else self.asks

    def best_opposite(self, side: int) -> PriceLevel | None:
        """Best level of the side opposite to ``side`` (asks for a buy), or None."""
        if side == BUY:
            return self.asks.peekitem(0)[1] if self.asks else None
        return self.bids.peekitem(-1)[1] if self.bids else None


@dataclass(slots=True, eq=False)
class Account:
    cash: int = 0
    credit: int = 0
    reserved: int = 0
    held: int = 0


@dataclass(slots=True, eq=False)
class Position:
    capacity: int = 0
    bought: int = 0
    sold: int = 0
    ask_open: int = 0
    held: int = 0

    @property
    def free(self) -> int:
        return self.capacity + self.bought - self.sold - self.ask_open - self.held


def _crosses(side: int, limit: int, opposite_price: int) -> bool:
    """Does an order of ``side`` with ``limit`` trade against a level at ``opposite_price``?"""
    return opposite_price <= limit if side == BUY else opposite_price >= limit


class ReferenceBook:
    """The state of the reference engine and the operations its command handlers share."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._instruments: list[Instrument] = []
        self._accounts: dict[int, Account] = {}
        self._positions: dict[tuple[int, int], Position] = {}
        self._orders: dict[int, Order] = {}  # live orders by id
        self._clords: dict[tuple[int, int], int] = {}  # (account, clord) -> order id, until forgotten
        self._retired: dict[tuple[int, int], int] = {}  # (account, clord) -> seq it stopped naming a live order
        self._gtd = SortedList()  # (expire_ts, order id) of live GTD orders
        self._gates = SortedList()  # (gate_ts, instrument id) of instruments not closed
        self._next_order_id = 1
        self._next_trade_id = 1
        self._funds_net = 0  # deposits - withdrawals; equals the sum of cash
        self._out: list[tuple[int, ...]] = []
        self._seq = 0
        self._ts = 0

    # ------------------------------------------------------------------ events

    def _emit(self, kind: int, reason: int = 0, account: int = 0, instrument: int = 0,
              order_id: int = 0, clord: int = 0, side: int = 0, price: int = 0, qty: int = 0,
              leaves: int = 0, filled: int = 0) -> None:
        self._out.append((self._seq, self._ts, kind, int(reason), account, instrument,
                          order_id, clord, side, price, qty, leaves, filled, 0, 0, 0, 0, 0))

    def _order_event(self, kind: int, o: Order, qty: int, reason: int = 0,
                     contra_clord: int = 0) -> None:
        """An event about order ``o``; ``contra_clord`` is only set on REPLACED (E1)."""
        self._out.append((self._seq, self._ts, kind, int(reason), o.account, o.instrument,
                          o.order_id, o.clord, o.side, o.price, qty, o.leaves, o.filled,
                          0, 0, contra_clord, 0, 0))
        if kind == EV_DONE:
            self._retired[(o.account, o.clord)] = self._seq

    def _forget_done(self, c: Cmd) -> None:
        """FORGET_DONE: forget the clords retired at seq <= c.amount (the order history has them)."""
        if not 0 <= c.amount < c.seq:
            return self._reject(c, R.BAD_AMOUNT)
        forgotten = [key for key, seq in self._retired.items() if seq <= c.amount]
        for key in forgotten:
            del self._clords[key], self._retired[key]
        return self._ack(c, len(forgotten))

    def _reject(self, c: Cmd, reason: Reason) -> None:
        clord = c.orig_clord if c.kind == CommandKind.CANCEL else c.clord
        self._emit(EV_REJECTED, reason, c.account, c.instrument, 0, clord, c.side, c.price, c.qty)

    def _ack(self, c: Cmd, qty: int) -> None:
        self._emit(EV_ACK, 0, c.account, c.instrument, qty=qty)

    # ------------------------------------------------------------------ state helpers

    def _acct(self, account: int) -> Account:
        a = self._accounts.get(account)
        if a is None:
            a = self._accounts[account] = Account()
        return a

    def _pos(self, account: int, instrument: int) -> Position:
        p = self._positions.get((account, instrument))
        if p is None:
            p = self._positions[(account, instrument)] = Position()
        return p

    def _account_ok(self, account: int) -> bool:
        return 0 <= account < self.config.max_accounts

    def _listed(self, instrument: int) -> bool:
        return 0 <= instrument < len(self._instruments)

    def _available_funds(self, account: int) -> int:
        a = self._accounts.get(account)
        return 0 if a is None else a.cash + a.credit - a.reserved - a.held

    def _free_capacity(self, account: int, instrument: int) -> int:
        p = self._positions.get((account, instrument))
        return 0 if p is None else p.free

    def _gate_closed(self, inst: Instrument) -> bool:
        return inst.state == CLOSED or self._ts >= inst.gate_ts

    def _post_only_crosses(self, inst: Instrument, side: int, price: int) -> bool:
        best = inst.best_opposite(side)
        return best is not None and _crosses(side, price, best.price)

    def _remove_qty(self, o: Order, q: int, resting: bool) -> None:
        """Cancel or expire ``q`` of an order's leaves and release their risk."""
        o.leaves -= q
        o.removed += q
        if o.side == BUY:
            self._accounts[o.account].reserved -= o.price * q
        else:
            self._positions[(o.account, o.instrument)].ask_open -= q
        if resting:
            self._instruments[o.instrument].side_book(o.side)[o.price].qty -= q

    def _rest(self, o: Order) -> None:
        """Put a live order at the tail of its price level."""
        inst = self._instruments[o.instrument]
        book = inst.side_book(o.side)
        level = book.get(o.price)
        if level is None:
            level = book[o.price] = PriceLevel(o.price)
        level.orders[o.order_id] = o
        level.qty += o.leaves
        self._orders[o.order_id] = o
        inst.live[o.order_id] = o
        if o.tif == GTD:
            self._gtd.add((o.expire_ts, o.order_id))

    def _unlink(self, o: Order) -> None:
        """Take a live order out of the book and the indexes (its risk is not touched)."""
        inst = self._instruments[o.instrument]
        book = inst.side_book(o.side)
        level = book[o.price]
        del level.orders[o.order_id]
        level.qty -= o.leaves
        if not level.orders:
            del book[o.price]
        del self._orders[o.order_id]
        del inst.live[o.order_id]
        if o.tif == GTD:
            self._gtd.remove((o.expire_ts, o.order_id))

    def _kill(self, o: Order, kind: int, reason: Reason) -> None:
        """Cancel or expire all leaves of a resting order: event, then DONE."""
        q = o.leaves
        self._remove_qty(o, q, resting=True)
        self._order_event(kind, o, q, reason)
        self._unlink(o)
        self._order_event(EV_DONE, o, o.qty)

    def _live_by_clord(self, account: int, clord: int, marks: int) -> tuple[Reason, Order | None]:
        """The live order an (account, orig_clord) names, or the reject reason (``marks``:
        the command's flags, ORIG_IN_HISTORY when the order history knows the clord)."""
        oid = self._clords.get((account, clord))
        if oid is None:
            in_history = marks & ORIG_IN_HISTORY and 0 < clord < CLORD_LIMIT
            return (R.ORDER_DONE if in_history else R.UNKNOWN_ORDER), None
        o = self._orders.get(oid)
        if o is None or o.clord != clord:
            return R.ORDER_DONE, None
        return R.NONE, o

    # ------------------------------------------------------------------ matching

    def _match(self, inst: Instrument, t: Order, stp: int) -> None:
        """Match taker ``t`` (not in the book) against the opposite side of ``inst``."""
        ts = self._ts
        opposite = inst.asks if t.side == BUY else inst.bids
        while t.leaves > 0 and opposite:
            level: PriceLevel = opposite.peekitem(0 if t.side == BUY else -1)[1]
            if not _crosses(t.side, t.price, level.price):
                break
            m: Order = next(iter(level.orders.values()))
            if m.tif == GTD and m.expire_ts <= ts:
                self._kill(m, EV_EXPIRED, R.GTD_EXPIRY)
                continue
            if m.account == t.account:
                if stp == CANCEL_NEWEST:
                    q = t.leaves
                    self._remove_qty(t, q, resting=False)
                    self._order_event(EV_CANCELLED, t, q, R.SELF_TRADE)
                    break
                if stp == CANCEL_OLDEST:
                    self._kill(m, EV_CANCELLED, R.SELF_TRADE)
                    continue
                if stp == CANCEL_BOTH:
                    self._kill(m, EV_CANCELLED, R.SELF_TRADE)
                    q = t.leaves
                    self._remove_qty(t, q, resting=False)
                    self._order_event(EV_CANCELLED, t, q, R.SELF_TRADE)
                    break
                # DECREMENT
                d = min(t.leaves, m.leaves)
                self._remove_qty(m, d, resting=True)
                self._order_event(EV_CANCELLED, m, d, R.SELF_TRADE)
                if m.leaves == 0:
                    self._unlink(m)
                    self._order_event(EV_DONE, m, m.qty)
                self._remove_qty(t, d, resting=False)
                self._order_event(EV_CANCELLED, t, d, R.SELF_TRADE)
                continue
            self._trade(t, m, level, min(t.leaves, m.leaves), m.price)

    def _trade(self, t: Order, m: Order, level: PriceLevel, q: int, p: int, reason: int = 0) -> None:
        """Trade q at p between first party t and maker m (resting in ``level``); finish m
        if filled."""
        self._instruments[m.instrument].last = p
        t.leaves -= q
        t.filled += q
        m.leaves -= q
        m.filled += q
        level.qty -= q
        buyer, seller = (t, m) if t.side == BUY else (m, t)
        ba = self._accounts[buyer.account]
        ba.reserved -= buyer.price * q
        ba.cash -= p * q
        self._pos(buyer.account, buyer.instrument).bought += q
        sp = self._positions[(seller.account, seller.instrument)]
        sp.ask_open -= q
        sp.sold += q
        self._acct(seller.account).cash += p * q
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        self._out.append((self._seq, self._ts, EV_TRADE, reason, t.account, t.instrument, t.order_id,
                          t.clord, t.side, p, q, t.leaves, t.filled, m.order_id, m.account,
                          m.clord, m.leaves, trade_id))
        if m.leaves == 0:
            self._unlink(m)
            self._order_event(EV_DONE, m, m.qty)

    def _fok_fillable(self, inst: Instrument, t: Order) -> bool:
        """Opposite leaves crossing t's limit, of other accounts, not expired, reach t.qty?"""
        ts = self._ts
        levels = inst.asks.values() if t.side == BUY else reversed(inst.bids.values())
        total = 0
        for level in levels:
            if not _crosses(t.side, t.price, level.price):
                break
            for m in level.orders.values():
                if m.account != t.account and not (m.tif == GTD and m.expire_ts <= ts):
                    total += m.leaves
                    if total >= t.qty:
                        return True
        return False

    def _finish_taker(self, t: Order) -> None:
        """After matching: cancel an IOC/FOK/MARKET remainder or rest; DONE if leaves 0."""
        if t.leaves > 0:
            if t.tif == IOC or t.tif == FOK or t.order_type == MARKET:
                q = t.leaves
                self._remove_qty(t, q, resting=False)
                self._order_event(EV_CANCELLED, t, q, R.IOC_REMAINDER)
            else:
                self._rest(t)
        if t.leaves == 0:
            self._order_event(EV_DONE, t, t.qty)

    # ------------------------------------------------------------------ closing and uncrossing

    def _close(self, inst: Instrument) -> int:
        """Expire every live order of the instrument, close it; return how many expired."""
        victims = sorted(inst.live)
        for oid in victims:
            self._kill(inst.live[oid], EV_EXPIRED, R.GATE_CLOSURE)
        inst.state = CLOSED
        inst.call_end = 0
        self._gates.remove((inst.gate_ts, inst.id))
        return len(victims)

    def _uncross(self, inst: Instrument) -> int:
        """End the call phase of ``inst`` (rules: "Call phase and uncross") with the
        plain auction oracle; return the GPUs traded."""
        for oid in sorted(inst.live):
            o = inst.live[oid]
            if o.tif == GTD and o.expire_ts <= self._ts:
                self._kill(o, EV_EXPIRED, R.GTD_EXPIRY)
        queue = [o for level in reversed(inst.bids.values()) for o in level.orders.values()]
        queue += [o for level in inst.asks.values() for o in level.orders.values()]
        reference = inst.last or self.config.reference[inst.gpu_class]
        result = reference_uncross([o.side for o in queue], [o.price for o in queue],
                                   [o.leaves for o in queue], range(len(queue)), reference,
                                   self.config.tick[inst.gpu_class])
        self._emit(EV_UNCROSSED, 0, 0, inst.id, side=result.surplus_side, price=result.price,
                   qty=result.volume, leaves=result.surplus)
        traded = 0
        for b, a, q in result.trades.tolist():
            older, newer = sorted((queue[b], queue[a]), key=lambda o: o.order_id)
            if older.account == newer.account:
                for o in (older, newer):
                    self._remove_qty(o, q, resting=True)
                    self._order_event(EV_CANCELLED, o, q, R.SELF_TRADE)
                    if o.leaves == 0:
                        self._unlink(o)
                        self._order_event(EV_DONE, o, o.qty)
                continue
            self._trade(newer, older, inst.side_book(older.side)[older.price], q, result.price,
                        R.AUCTION)
            traded += q
            inst.side_book(newer.side)[newer.price].qty -= q
            if newer.leaves == 0:
                self._unlink(newer)
                self._order_event(EV_DONE, newer, newer.qty)
        inst.state = OPEN
        inst.call_end = 0
        return traded

    # ------------------------------------------------------------------ invariants

    def check(self) -> None:
        """Verify every internal invariant; raise EngineStateError on the first broken one."""
        seen: dict[int, Order] = {}
        reserved: dict[int, int] = {}
        ask_open: dict[tuple[int, int], int] = {}
        for inst in self._instruments:
            self._check_instrument(inst)
            for side, book in ((BUY, inst.bids), (SELL, inst.asks)):
                for price, level in book.items():
                    self._check_level(inst, side, price, level, seen, reserved, ask_open)
            if len(inst.live) != sum(1 for o in seen.values() if o.instrument == inst.id):
                _fail(f"instrument {inst.id}: live index has orders not in its book")
        self._check_order_indexes(seen)
        self._check_accounts(reserved)
        self._check_positions(ask_open)

    def _check_instrument(self, inst: Instrument) -> None:
        if inst.state not in (OPEN, HALTED, CLOSED, CALL):
            _fail(f"instrument {inst.id}: bad state {inst.state}")
        if inst.state != CALL and inst.call_end:
            _fail(f"instrument {inst.id}: a call end without a call phase")
        if inst.state == CLOSED and (inst.bids or inst.asks or inst.live):
            _fail(f"instrument {inst.id}: closed but has orders")
        if (inst.state != CLOSED) != ((inst.gate_ts, inst.id) in self._gates):
            _fail(f"instrument {inst.id}: gate index inconsistent")
        if (inst.state != CALL and inst.bids and inst.asks
                and inst.bids.peekitem(-1)[0] >= inst.asks.peekitem(0)[0]):
            _fail(f"instrument {inst.id}: book crossed")

    def _check_level(self, inst: Instrument, side: int, price: int, level: PriceLevel, seen: dict[int, Order],
                     reserved: dict[int, int], ask_open: dict[tuple[int, int], int]) -> None:
        """One price level and its queue; adds its orders to ``seen`` and their risk to
        ``reserved`` (BUY, fen) or ``ask_open`` (SELL, GPUs)."""
        if level.price != price:
            _fail(f"instrument {inst.id}: level key {price} != price {level.price}")
        if not level.orders:
            _fail(f"instrument {inst.id}: empty level {price} kept")
        if price % inst.tick or not inst.band_lo <= price <= inst.band_hi:
            _fail(f"instrument {inst.id}: level {price} off tick or band")
        total = 0
        for oid, o in level.orders.items():
            if oid != o.order_id or oid in seen:
                _fail(f"order {oid}: listed twice or under a wrong id")
            seen[oid] = o
            self._check_resting(inst, side, price, o)
            total += o.leaves
            if side == BUY:
                reserved[o.account] = reserved.get(o.account, 0) + o.price * o.leaves
            else:
                key = (o.account, o.instrument)
                ask_open[key] = ask_open.get(key, 0) + o.leaves
        if total != level.qty:
            _fail(f"instrument {inst.id}: level {price} qty {level.qty} != {total}")

    def _check_resting(self, inst: Instrument, side: int, price: int, o: Order) -> None:
        oid = o.order_id
        if self._orders.get(oid) is not o or inst.live.get(oid) is not o:
            _fail(f"order {oid}: in a queue but not indexed as live")
        if (o.instrument, o.side, o.price) != (inst.id, side, price):
            _fail(f"order {oid}: in the wrong queue")
        if o.leaves <= 0:
            _fail(f"order {oid}: live with leaves {o.leaves}")
        if min(o.filled, o.removed) < 0 or o.qty != o.filled + o.leaves + o.removed:
            _fail(f"order {oid}: qty {o.qty} != filled {o.filled} + leaves "
                  f"{o.leaves} + removed {o.removed}")
        if o.tif not in (GTC, GTD) or o.order_type != LIMIT:
            _fail(f"order {oid}: resting with tif {o.tif} type {o.order_type}")
        if (o.tif == GTD) != ((o.expire_ts, oid) in self._gtd):
            _fail(f"order {oid}: GTD index inconsistent")
        if not 0 < oid < self._next_order_id:
            _fail(f"order {oid}: id never assigned")

    def _check_order_indexes(self, seen: dict[int, Order]) -> None:
        if len(seen) != len(self._orders):
            _fail("live orders not in any queue")
        if len(self._gtd) != sum(1 for o in seen.values() if o.tif == GTD):
            _fail("GTD index has orders that are not live")
        for o in seen.values():
            if self._clords.get((o.account, o.clord)) != o.order_id:
                _fail(f"order {o.order_id}: clord index does not map {o.clord} to it")
        for (a, _clord), oid in self._clords.items():
            if not 0 < oid < self._next_order_id or not self._account_ok(a):
                _fail(f"clord index: bad entry for account {a} -> order {oid}")

    def _check_accounts(self, reserved: dict[int, int]) -> None:
        total_cash = 0
        for a, acct in self._accounts.items():
            total_cash += acct.cash
            if acct.reserved != reserved.get(a, 0):
                _fail(f"account {a}: reserved {acct.reserved} != {reserved.get(a, 0)}")
            if acct.credit < 0 or acct.reserved < 0:
                _fail(f"account {a}: negative credit or reserved")
            if acct.cash + acct.credit < acct.reserved + acct.held:
                _fail(f"account {a}: cash + credit < reserved + held")
            if acct.held < 0:
                _fail(f"account {a}: negative held")
        for a in reserved:
            if a not in self._accounts:
                _fail(f"account {a}: reserves without an account")
        if total_cash != self._funds_net:
            _fail(f"money not conserved: cash {total_cash} != deposits - withdrawals {self._funds_net}")

    def _check_positions(self, ask_open: dict[tuple[int, int], int]) -> None:
        bought: dict[int, int] = {}
        sold: dict[int, int] = {}
        for (a, i), p in self._positions.items():
            if p.ask_open != ask_open.get((a, i), 0):
                _fail(f"position {a}/{i}: ask_open {p.ask_open} != {ask_open.get((a, i), 0)}")
            if min(p.capacity, p.bought, p.sold, p.ask_open, p.held) < 0:
                _fail(f"position {a}/{i}: negative field")
            if p.sold + p.ask_open + p.held > p.capacity + p.bought:
                _fail(f"position {a}/{i}: sold + ask_open > capacity + bought")
            bought[i] = bought.get(i, 0) + p.bought
            sold[i] = sold.get(i, 0) + p.sold
        for key in ask_open:
            if key not in self._positions:
                _fail(f"position {key}: asks without a position")
        if bought != sold:
            _fail(f"GPU-hours not conserved: bought {bought} != sold {sold}")


def _fail(msg: str) -> NoReturn:
    raise EngineStateError(msg)
