"""Helpers shared by the engine tests (unit and property): a small config, command
builders, a :class:`Market` driver with automatic seq/ts, expected-event builders and an
event well-formedness check (:mod:`tests.wellformed`) that every command sent through
:class:`Market` goes through.

Typical use::

    m = Market(engine)                      # engine already has INSTRUMENTS listed
    m.fund(1); m.provide(3, I0, 50)
    s = O(3, 1, 11, SELL, 500)              # identity of the order we expect: acct, id, clord, side, limit
    assert_events(m.sell(3, 500, 10, 11), [accepted(s, 10)])
    b = O(1, 2, 21, BUY, 505)
    assert_events(m.buy(1, 505, 4, 21), [
        accepted(b, 4),
        trade(b, s, price=500, qty=4, leaves=0, filled=4, contra_leaves=6, trade_id=1),
        done(b, 4, filled=4),
    ])

Builders return one-row ``COMMAND_DTYPE`` arrays (seq = ts = 0); :func:`batch` stacks
them and stamps seq/ts, :meth:`Market.do` stamps one and sends it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from exchange.schema import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    EVENT_FIELDS,
    CommandKind,
    EngineConfig,
    EventKind,
    OrderType,
    Reason,
    StpMode,
    TimeInForce,
    command,
    describe,
)
from tests.wellformed import BUY, SELL, check_wellformed, rows

# ---------------------------------------------------------------------------- constants

LIMIT, MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
GTC, GTD, IOC, FOK = (int(t) for t in TimeInForce)
CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH, DECREMENT = (int(s) for s in StpMode)
K = CommandKind
EV = EventKind
R = Reason

CONFIG = EngineConfig(
    tick=(5, 1),
    band_lo=(100, 50),
    band_hi=(1000, 500),
    min_qty=(1, 1),
    max_qty=(100, 100),
    max_accounts=16,
)
"""Class 0: tick 5, band 100..1000; class 1: tick 1, band 50..500; qty 1..100; 16 accounts."""


def ns(iso: str) -> int:
    """ISO-8601 time with offset -> ns since the epoch (exact integer arithmetic)."""
    return int(datetime.fromisoformat(iso).timestamp()) * 10**9


SLOT_TS = ns("2026-11-25T14:00:00+08:00")
"""Delivery hour of the fixture instruments."""
GATE_TS = SLOT_TS - CONFIG.gate_closure_ns
"""Gate closure of the fixture instruments (15 minutes before the slot)."""
T0 = ns("2026-11-24T09:00:00+08:00")
"""Default command time of :class:`Market`, a day before the slot."""
LATER_SLOT_TS = SLOT_TS + 3600 * 10**9

INSTRUMENTS = ((0, 1), (0, 2), (1, 1))
"""(gpu_class, region) of the instruments the fixture lists, all at SLOT_TS."""
I0, I1, I2 = 0, 1, 2

BIG = 10**9
"""Default funds (fen) given by :meth:`Market.fund`."""


# ---------------------------------------------------------------------------- command builders

def cmd(kind: CommandKind, **fields: int) -> np.ndarray:
    """One command (a batch of length 1); unnamed fields are 0."""
    return command(kind, **fields)


def new_order(account: int, side: int, price: int, qty: int, clord: int, *, instrument: int = I0,
              order_type: int = LIMIT, tif: int = GTC, stp: int = CANCEL_NEWEST, flags: int = 0,
              expire_ts: int = 0) -> np.ndarray:
    return cmd(K.NEW_ORDER, account=account, instrument=instrument, side=side,
               order_type=order_type, tif=tif, flags=flags, stp=stp, price=price, qty=qty,
               clord=clord, expire_ts=expire_ts)


def buy(account: int, price: int, qty: int, clord: int, **kw: int) -> np.ndarray:
    """Limit buy (GTC, CANCEL_NEWEST, instrument I0 unless given)."""
    return new_order(account, BUY, price, qty, clord, **kw)


def sell(account: int, price: int, qty: int, clord: int, **kw: int) -> np.ndarray:
    """Limit sell (GTC, CANCEL_NEWEST, instrument I0 unless given)."""
    return new_order(account, SELL, price, qty, clord, **kw)


def market_buy(account: int, qty: int, clord: int, tif: int = IOC, **kw: int) -> np.ndarray:
    return new_order(account, BUY, 0, qty, clord, order_type=MARKET, tif=tif, **kw)


def market_sell(account: int, qty: int, clord: int, tif: int = IOC, **kw: int) -> np.ndarray:
    return new_order(account, SELL, 0, qty, clord, order_type=MARKET, tif=tif, **kw)


def cancel(account: int, orig_clord: int) -> np.ndarray:
    return cmd(K.CANCEL, account=account, orig_clord=orig_clord)


def replace(account: int, orig_clord: int, clord: int, price: int, qty: int) -> np.ndarray:
    return cmd(K.REPLACE, account=account, orig_clord=orig_clord, clord=clord, price=price, qty=qty)


def mass_cancel(account: int = -1, instrument: int = -1) -> np.ndarray:
    return cmd(K.MASS_CANCEL, account=account, instrument=instrument)


def deposit_capacity(account: int, instrument: int, qty: int) -> np.ndarray:
    return cmd(K.DEPOSIT_CAPACITY, account=account, instrument=instrument, qty=qty)


def withdraw_capacity(account: int, instrument: int, qty: int) -> np.ndarray:
    return cmd(K.WITHDRAW_CAPACITY, account=account, instrument=instrument, qty=qty)


def deposit_funds(account: int, amount: int) -> np.ndarray:
    return cmd(K.DEPOSIT_FUNDS, account=account, amount=amount)


def withdraw_funds(account: int, amount: int) -> np.ndarray:
    return cmd(K.WITHDRAW_FUNDS, account=account, amount=amount)


def set_credit(account: int, amount: int) -> np.ndarray:
    return cmd(K.SET_CREDIT, account=account, amount=amount)


def list_instrument(instrument: int, gpu_class: int, region: int = 1,
                    slot_ts: int = SLOT_TS, call_end: int = 0) -> np.ndarray:
    """LIST_INSTRUMENT; ``call_end`` > 0 lists it in a call phase ending then."""
    return cmd(K.LIST_INSTRUMENT, instrument=instrument, gpu_class=gpu_class, region=region,
               slot_ts=slot_ts, expire_ts=call_end)


def halt(instrument: int) -> np.ndarray:
    return cmd(K.HALT, instrument=instrument)


def resume(instrument: int, call_end: int = 0) -> np.ndarray:
    """RESUME; ``call_end`` > 0 reopens through a call phase ending then."""
    return cmd(K.RESUME, instrument=instrument, expire_ts=call_end)


def close_gate(instrument: int) -> np.ndarray:
    return cmd(K.CLOSE_GATE, instrument=instrument)


def start_call(instrument: int, call_end: int = 0) -> np.ndarray:
    return cmd(K.START_CALL, instrument=instrument, expire_ts=call_end)


def uncross(instrument: int) -> np.ndarray:
    return cmd(K.UNCROSS, instrument=instrument)


def hold_funds(account: int, amount: int) -> np.ndarray:
    return cmd(K.HOLD_FUNDS, account=account, amount=amount)


def hold_capacity(account: int, instrument: int, qty: int) -> np.ndarray:
    return cmd(K.HOLD_CAPACITY, account=account, instrument=instrument, qty=qty)


def da_trade(buyer: int, seller: int, instrument: int, price: int, qty: int, buyer_ref: int = 0,
             seller_ref: int = 0) -> np.ndarray:
    return cmd(K.DA_TRADE, account=buyer, contra_account=seller, instrument=instrument, price=price,
               qty=qty, clord=buyer_ref, orig_clord=seller_ref)


def release_holds(account: int = -1) -> np.ndarray:
    return cmd(K.RELEASE_HOLDS, account=account)


def timer() -> np.ndarray:
    """TIMER; its time is the command's ts (stamped by :func:`batch` / :meth:`Market.do`)."""
    return cmd(K.TIMER)


def batch(*cmds: np.ndarray, seq0: int = 1, ts: int = T0, dt: int = 0) -> np.ndarray:
    """Stack one-row commands; seq = seq0, seq0+1, ...; ts = ts, ts+dt, ..."""
    b = np.concatenate(cmds) if cmds else np.zeros(0, dtype=COMMAND_DTYPE)
    b["seq"] = np.arange(seq0, seq0 + len(b))
    b["ts"] = ts + dt * np.arange(len(b))
    return b


def make_engine(engine_cls: Any, config: EngineConfig = CONFIG,
                instruments: tuple[tuple[int, int], ...] = INSTRUMENTS, ts: int = T0) -> Any:
    """A new engine with ``instruments`` ((gpu_class, region), ...) listed at SLOT_TS."""
    engine = engine_cls(config)
    cmds = [list_instrument(i, k, r) for i, (k, r) in enumerate(instruments)]
    if cmds:
        events = engine.process(batch(*cmds, seq0=1, ts=ts))
        kinds = [int(k) for k in events["kind"]]
        assert kinds == [int(EV.ACK)] * len(cmds), f"listing failed:\n{show(events)}"
    return engine


# ---------------------------------------------------------------------------- reading events

FIELDS = EVENT_FIELDS[2:]
"""Event fields compared by :func:`assert_events` (all but seq and ts)."""


def code_name(enum: type, value: int) -> str:
    """The member name of ``value`` in ``enum``, or the number when it is not a member."""
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def show(events: np.ndarray | list[dict[str, int]]) -> str:
    """A readable table of events (for failure messages): :func:`describe`'s lines,
    indented; dicts (expected events) may leave fields out, which then read as 0."""
    if not isinstance(events, np.ndarray):
        events = np.array([tuple(int(r.get(f, 0)) for f in EVENT_FIELDS) for r in events], EVENT_DTYPE)
    return "\n".join("  " + line for line in describe(events).splitlines()) or "  (no events)"


def kinds(events: np.ndarray) -> list[str]:
    """Event kind names, in order."""
    return [code_name(EventKind, int(k)) for k in events["kind"]]


# ---------------------------------------------------------------------------- expected events

def O(account: int, order_id: int, clord: int, side: int, price: int,  # noqa: E743 -- O(...): an order, in event tables
      instrument: int = I0) -> dict[str, int]:
    """The identity fields of an order as events show them (price = its limit)."""
    return dict(account=account, instrument=instrument, order_id=order_id, clord=clord,
                side=side, price=price)


def ev(kind: EventKind | str, *parts: dict[str, int], **fields: int) -> dict[str, int]:
    """An expected event: every field but seq/ts; fields not given are 0."""
    k = EventKind[kind] if isinstance(kind, str) else kind
    d = dict.fromkeys(FIELDS, 0)
    d["kind"] = int(k)
    for p in (*parts, fields):
        for name, value in p.items():
            if name not in d:
                raise KeyError(f"ev(): no event field {name!r}")
            d[name] = int(value)
    return d


def accepted(o: dict[str, int], qty: int, **kw: int) -> dict[str, int]:
    return ev(EV.ACCEPTED, o, dict(qty=qty, leaves=qty), kw)


def done(o: dict[str, int], qty: int, filled: int = 0, **kw: int) -> dict[str, int]:
    """DONE: qty = the order's total qty, leaves 0."""
    return ev(EV.DONE, o, dict(qty=qty, filled=filled), kw)


def cancelled(o: dict[str, int], reason: Reason, qty: int, leaves: int = 0, filled: int = 0,
              **kw: int) -> dict[str, int]:
    return ev(EV.CANCELLED, o, dict(reason=reason, qty=qty, leaves=leaves, filled=filled), kw)


def expired(o: dict[str, int], reason: Reason, qty: int, filled: int = 0, **kw: int) -> dict[str, int]:
    return ev(EV.EXPIRED, o, dict(reason=reason, qty=qty, filled=filled), kw)


def replaced(o: dict[str, int], reason: Reason, qty: int, leaves: int, filled: int = 0, *,
             orig: int, **kw: int) -> dict[str, int]:
    """REPLACED; ``o`` must already carry the new clord and price; ``orig`` is the previous
    clord (the REPLACE's orig_clord), reported in ``contra_clord``."""
    return ev(EV.REPLACED, o, dict(reason=reason, qty=qty, leaves=leaves, filled=filled,
                                   contra_clord=orig), kw)


def trade(taker: dict[str, int], maker: dict[str, int], *, price: int, qty: int, leaves: int,
          filled: int, contra_leaves: int, trade_id: int) -> dict[str, int]:
    """TRADE: taker identity (price overridden by the trade price), maker as contra."""
    return ev(EV.TRADE, taker, dict(
        price=price, qty=qty, leaves=leaves, filled=filled,
        contra_order_id=maker["order_id"], contra_account=maker["account"],
        contra_clord=maker["clord"], contra_leaves=contra_leaves, trade_id=trade_id,
    ))


def rejected(reason: Reason, account: int = 0, instrument: int = 0, side: int = 0, price: int = 0,
             qty: int = 0, clord: int = 0) -> dict[str, int]:
    return ev(EV.REJECTED, reason=reason, account=account, instrument=instrument, side=side,
              price=price, qty=qty, clord=clord)


def ack(account: int = 0, instrument: int = 0, qty: int = 0) -> dict[str, int]:
    return ev(EV.ACK, account=account, instrument=instrument, qty=qty)


def assert_events(events: np.ndarray, expected: list[dict[str, int]]) -> None:
    """Exact comparison of every field but seq and ts (see :func:`check_wellformed`)."""
    got = [{k: r[k] for k in FIELDS} for r in rows(events)]
    if got != expected:
        lines = ["events differ", "got:", show(got), "expected:", show(expected)]
        for i, (g, e) in enumerate(zip(got, expected)):
            diff = {k: (g[k], e[k]) for k in FIELDS if g[k] != e[k]}
            if diff:
                lines.append(f"first difference at event {i}: (got, expected) {diff}")
                break
        else:
            lines.append(f"lengths differ: got {len(got)}, expected {len(expected)}")
        raise AssertionError("\n".join(lines))


def reasons(events: np.ndarray) -> list[str]:
    return [code_name(Reason, int(r)) for r in events["reason"]]


# ---------------------------------------------------------------------------- the driver

class Market:
    """Drives one engine: stamps seq (auto-increment) and ts (``self.ts`` unless given),
    checks every event batch with :func:`check_wellformed` and feeds every event to
    ``self.ledger`` (:class:`Ledger`, which checks them one by one, order and trade ids
    among them); :meth:`verify` compares the ledger with the engine."""

    def __init__(self, engine: Any, ts: int = T0, seq: int = 100) -> None:
        self.engine = engine
        self.ts = ts
        self.seq = seq
        self.ledger = Ledger()

    def verify(self) -> None:
        """The ledger's live orders are the engine's live orders; engine.check() passes."""
        assert self.ledger.live() == self.orders(), (
            f"ledger {self.ledger.live()} != engine {self.orders()}")
        self.engine.check()

    def run(self, commands: np.ndarray) -> np.ndarray:
        """Process a prepared batch (seq and ts already set) with all checks."""
        events = self.engine.process(commands)
        assert events.dtype.names == EVENT_FIELDS
        check_wellformed(commands, events)
        for r in rows(events):
            self.ledger.apply(r)
        return events

    def do(self, command_: np.ndarray, ts: int | None = None) -> np.ndarray:
        """Stamp one command (or a batch, all at one ts) and process it."""
        c = command_.copy()
        c["seq"] = np.arange(self.seq, self.seq + len(c))
        self.seq += len(c)
        c["ts"] = self.ts if ts is None else ts
        return self.run(c)

    # orders
    def buy(self, account: int, price: int, qty: int, clord: int, ts: int | None = None,
            **kw: int) -> np.ndarray:
        return self.do(buy(account, price, qty, clord, **kw), ts)

    def sell(self, account: int, price: int, qty: int, clord: int, ts: int | None = None,
             **kw: int) -> np.ndarray:
        return self.do(sell(account, price, qty, clord, **kw), ts)

    def market_buy(self, account: int, qty: int, clord: int, ts: int | None = None,
                   **kw: int) -> np.ndarray:
        return self.do(market_buy(account, qty, clord, **kw), ts)

    def market_sell(self, account: int, qty: int, clord: int, ts: int | None = None,
                    **kw: int) -> np.ndarray:
        return self.do(market_sell(account, qty, clord, **kw), ts)

    def cancel(self, account: int, orig_clord: int, ts: int | None = None) -> np.ndarray:
        return self.do(cancel(account, orig_clord), ts)

    def replace(self, account: int, orig_clord: int, clord: int, price: int, qty: int,
                ts: int | None = None) -> np.ndarray:
        return self.do(replace(account, orig_clord, clord, price, qty), ts)

    def mass_cancel(self, account: int = -1, instrument: int = -1,
                    ts: int | None = None) -> np.ndarray:
        return self.do(mass_cancel(account, instrument), ts)

    # accounts
    def deposit_funds(self, account: int, amount: int, ts: int | None = None) -> np.ndarray:
        return self.do(deposit_funds(account, amount), ts)

    def withdraw_funds(self, account: int, amount: int, ts: int | None = None) -> np.ndarray:
        return self.do(withdraw_funds(account, amount), ts)

    def set_credit(self, account: int, amount: int, ts: int | None = None) -> np.ndarray:
        return self.do(set_credit(account, amount), ts)

    def deposit_capacity(self, account: int, instrument: int, qty: int,
                         ts: int | None = None) -> np.ndarray:
        return self.do(deposit_capacity(account, instrument, qty), ts)

    def withdraw_capacity(self, account: int, instrument: int, qty: int,
                          ts: int | None = None) -> np.ndarray:
        return self.do(withdraw_capacity(account, instrument, qty), ts)

    def fund(self, account: int, amount: int = BIG) -> None:
        """Deposit funds and assert the ACK."""
        assert_events(self.deposit_funds(account, amount), [ack(account, 0, amount)])

    def provide(self, account: int, instrument: int = I0, qty: int = 100) -> None:
        """Deposit capacity and assert the ACK."""
        assert_events(self.deposit_capacity(account, instrument, qty), [ack(account, instrument, qty)])

    # market
    def list_instrument(self, instrument: int, gpu_class: int, region: int = 1,
                        slot_ts: int = SLOT_TS, ts: int | None = None,
                        call_end: int = 0) -> np.ndarray:
        return self.do(list_instrument(instrument, gpu_class, region, slot_ts, call_end), ts)

    def start_call(self, instrument: int, ts: int | None = None, call_end: int = 0) -> np.ndarray:
        return self.do(start_call(instrument, call_end), ts)

    def uncross(self, instrument: int, ts: int | None = None) -> np.ndarray:
        return self.do(uncross(instrument), ts)

    def hold_funds(self, account: int, amount: int, ts: int | None = None) -> np.ndarray:
        return self.do(hold_funds(account, amount), ts)

    def hold_capacity(self, account: int, instrument: int, qty: int, ts: int | None = None) -> np.ndarray:
        return self.do(hold_capacity(account, instrument, qty), ts)

    def da_trade(self, buyer: int, seller: int, instrument: int, price: int, qty: int,
                 buyer_ref: int = 0, seller_ref: int = 0, ts: int | None = None) -> np.ndarray:
        return self.do(da_trade(buyer, seller, instrument, price, qty, buyer_ref, seller_ref), ts)

    def release_holds(self, account: int = -1, ts: int | None = None) -> np.ndarray:
        return self.do(release_holds(account), ts)

    def halt(self, instrument: int, ts: int | None = None) -> np.ndarray:
        return self.do(halt(instrument), ts)

    def resume(self, instrument: int, ts: int | None = None, call_end: int = 0) -> np.ndarray:
        return self.do(resume(instrument, call_end), ts)

    def close_gate(self, instrument: int, ts: int | None = None) -> np.ndarray:
        return self.do(close_gate(instrument), ts)

    def timer(self, ts: int | None = None) -> np.ndarray:
        return self.do(timer(), ts)

    # views
    def levels(self, instrument: int = I0) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks) as lists of (price, qty, orders), best first."""
        b = self.engine.book(instrument)
        return ([(lv.price, lv.qty, lv.orders) for lv in b.bids],
                [(lv.price, lv.qty, lv.orders) for lv in b.asks])

    def money(self, account: int) -> tuple[int, int, int]:
        """(cash, credit, reserved) of an account."""
        a = self.engine.account(account)
        return (a.cash, a.credit, a.reserved)

    def pos(self, account: int, instrument: int = I0) -> tuple[int, int, int, int]:
        """(capacity, bought, sold, ask_open) of an account in an instrument."""
        p = self.engine.position(account, instrument)
        return (p.capacity, p.bought, p.sold, p.ask_open)

    def orders(self, account: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Live orders as (order_id, clord, price, leaves, filled), ascending id."""
        return [(o.order_id, o.clord, o.price, o.leaves, o.filled)
                for o in self.engine.live_orders(account)]


# ---------------------------------------------------------------------------- order ledger

class Ledger:
    """Follows every order through the event stream alone and checks that the events
    agree with each other: order ids and trade ids given 1, 2, 3, ... without gaps,
    leaves/filled after each event, qty == filled + leaves + removed (cancelled/expired),
    trades within both limits, nothing after DONE, TRADE contra_leaves, REPLACED
    contra_clord = the order's previous clord. ``Market`` feeds it every event;
    :meth:`live` gives the orders the events say are still live, to compare with
    ``engine.live_orders()``."""

    def __init__(self) -> None:
        self.orders: dict[int, dict[str, int]] = {}
        self.done: set[int] = set()
        self.last_order_id = 0
        self.last_trade_id = 0

    def _get(self, oid: int, r: dict[str, int]) -> dict[str, int]:
        assert oid in self.orders, f"event on an order never accepted: {r}"
        assert oid not in self.done, f"event on an order after its DONE: {r}"
        return self.orders[oid]

    def apply(self, r: dict[str, int]) -> None:
        k = r["kind"]
        if k == EV.ACCEPTED:
            assert r["order_id"] == self.last_order_id + 1, f"order id gap: {r}"
            self.last_order_id = r["order_id"]
        elif k == EV.TRADE:
            assert r["trade_id"] == self.last_trade_id + 1, f"trade id gap: {r}"
            self.last_trade_id = r["trade_id"]
        if k in (EV.REJECTED, EV.ACK, EV.UNCROSSED) or r["reason"] == R.DAY_AHEAD:
            return
        if k == EV.ACCEPTED:
            assert r["order_id"] not in self.orders, f"order id accepted twice: {r}"
            assert r["qty"] == r["leaves"] > 0 and r["filled"] == 0, r
            self.orders[r["order_id"]] = dict(
                order_id=r["order_id"], account=r["account"], instrument=r["instrument"], clord=r["clord"],
                side=r["side"], price=r["price"], qty=r["qty"], leaves=r["qty"], filled=0,
                removed=0)
            return
        o = self._get(r["order_id"], r)
        assert (o["account"], o["instrument"], o["side"]) == (r["account"], r["instrument"],
                                                              r["side"]), f"identity changed: {r}"
        if k == EV.REPLACED:
            assert r["contra_clord"] == o["clord"], (
                f"REPLACED contra_clord is not the previous clord: {r} vs {o}")
            o["clord"], o["price"], o["qty"] = r["clord"], r["price"], r["qty"]
            o["leaves"] = r["leaves"]
            assert r["filled"] == o["filled"], f"replace changed filled: {r}"
        else:
            assert r["clord"] == o["clord"], f"clord differs from the order's: {r} vs {o}"
        if k == EV.TRADE:
            q, p = r["qty"], r["price"]
            m = self._get(r["contra_order_id"], r)
            assert m["account"] == r["contra_account"] and m["clord"] == r["contra_clord"], r
            assert m["side"] != o["side"] and m["instrument"] == o["instrument"], r
            if r["reason"] == R.AUCTION:  # an uncross: one price within both limits
                assert m["order_id"] < r["order_id"], f"auction trade's first party is older: {r}"
                for x in (o, m):
                    assert (p <= x["price"]) if x["side"] == BUY else (p >= x["price"]), f"beyond limit: {r}"
            else:
                assert p == m["price"], f"trade not at the maker's price: {r}"
            assert (p <= o["price"]) if o["side"] == BUY else (p >= o["price"]), f"beyond limit: {r}"
            for x in (o, m):
                x["leaves"] -= q
                x["filled"] += q
                assert x["leaves"] >= 0, f"overfill: {r}"
            assert r["contra_leaves"] == m["leaves"], f"contra_leaves: {r} vs {m}"
        elif k in (EV.CANCELLED, EV.EXPIRED):
            o["leaves"] -= r["qty"]
            o["removed"] += r["qty"]
            assert o["leaves"] >= 0, f"removed more than the leaves: {r}"
        if k != EV.DONE:
            assert r["price"] == o["price"] or k == EV.TRADE, f"price is not the limit: {r}"
            assert (r["leaves"], r["filled"]) == (o["leaves"], o["filled"]), (
                f"leaves/filled: event {r} vs ledger {o}")
        assert o["qty"] == o["filled"] + o["leaves"] + o["removed"], f"qty not conserved: {o}"
        if k == EV.DONE:
            assert o["leaves"] == 0, f"DONE with leaves in the ledger: {o}"
            assert (r["qty"], r["filled"], r["price"]) == (o["qty"], o["filled"], o["price"]), (
                f"DONE fields: {r} vs {o}")
            self.done.add(r["order_id"])

    def live(self) -> list[tuple[int, int, int, int, int]]:
        """(order_id, clord, price, leaves, filled) of the orders without DONE, ascending id."""
        return [(oid, o["clord"], o["price"], o["leaves"], o["filled"])
                for oid, o in sorted(self.orders.items()) if oid not in self.done]


def snapshot(engine: Any, n_accounts: int | None = None) -> tuple:
    """Everything the views show (books, accounts, positions, live orders): to assert that
    a command changed nothing."""
    n_acc = n_accounts if n_accounts is not None else CONFIG.max_accounts
    n_inst = engine.n_instruments
    return (
        n_inst,
        tuple(engine.book(i) for i in range(n_inst)),
        tuple(engine.account(a) for a in range(n_acc)),
        tuple(engine.position(a, i) for a in range(n_acc) for i in range(n_inst)),
        tuple(engine.live_orders()),
    )
