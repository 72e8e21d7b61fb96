"""The random command generator of the engine's differential tests: a tiny chooser
interface (:class:`Gen`) backed by hypothesis draws (:class:`HypGen`, shrinkable) or a
numpy ``Generator`` (:class:`RngGen`, long streams), and :class:`World`, what the
generator knows of the market, which :func:`generate` turns into command batches of a
given mix (:data:`MIXED`, :data:`ORDERS`, :data:`ADMIN`, :data:`STREAM`): every kind,
valid and invalid, prices clustered around a mid so orders cross often, cancels and
replaces aimed mostly at live client order ids, a clock that sometimes jumps to GTD
expiries or gate closures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from exchange.schema import (
    CLORD_LIMIT,
    COMMAND_DTYPE,
    CommandKind,
    InstrumentState,
    OrderFlag,
)
from tests.helpers import (
    BIG,
    BUY,
    CONFIG,
    FOK,
    GATE_TS,
    GTC,
    GTD,
    INSTRUMENTS,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    T0,
)

K = CommandKind
POST_ONLY = int(OrderFlag.POST_ONLY)
CLORD_IN_HISTORY, ORIG_IN_HISTORY = int(OrderFlag.CLORD_IN_HISTORY), int(OrderFlag.ORIG_IN_HISTORY)
SEC = 10**9
N_ACCOUNTS = 6
"""Accounts the generator trades with: 0-3 funded (0, 1 richly; 3 poor, with some credit),
4 only has capacity, 5 starts with nothing; 7 (valid, never funded) is used rarely."""
MID = (500, 200)
"""Per GPU class: the price orders cluster around (class 0: tick 5, class 1: tick 1)."""


# ---------------------------------------------------------------------------- choosers

class Gen:
    """Random choices; subclasses supply :meth:`int`. Shrinking (hypothesis) goes toward
    the low end of ``int``, so the first (most ordinary) option of every table."""

    def int(self, lo: int, hi: int) -> int:  # inclusive
        raise NotImplementedError

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.int(0, len(options) - 1)]

    def choose(self, table: Sequence[tuple[int, Any]]) -> Any:
        """Weighted choice among ``(weight, value)``; a callable value is called."""
        x = self.int(0, sum(w for w, _ in table) - 1)
        for w, v in table:
            if x < w:
                return v() if callable(v) else v
            x -= w
        raise AssertionError("unreachable")


class HypGen(Gen):
    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))


class RngGen(Gen):
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


# ---------------------------------------------------------------------------- the generator

@dataclass
class World:
    """What the generator knows of the market: the clock, listed instruments (class and
    gate), client order ids each account used and which are live (synced from the
    reference engine after every batch)."""

    max_instruments: int
    gate_jumps: int = 1
    """Weight of TIMERs that jump to the next gate closure (0 for long streams)."""
    ts: int = T0
    seq: int = 1000
    classes: list[int] = field(default_factory=list)
    gates: list[int] = field(default_factory=list)
    open: list[int] = field(default_factory=list)
    halted: list[int] = field(default_factory=list)
    best: dict[int, tuple[int, int]] = field(default_factory=dict)  # (bid, ask), 0: none
    next_clord: dict[int, int] = field(default_factory=dict)
    sent: dict[int, list[int]] = field(default_factory=dict)
    live: dict[int, list[int]] = field(default_factory=dict)
    order_inst: dict[tuple[int, int], int] = field(default_factory=dict)
    gtd: list[int] = field(default_factory=list)
    holds: list[tuple[int, int]] = field(default_factory=list)  # (account, instrument) held

    @classmethod
    def new(cls, engine: Any, max_instruments: int, gate_jumps: int = 1) -> World:
        w = cls(max_instruments, gate_jumps)
        n = engine.n_instruments
        # make_engine lists helpers.INSTRUMENTS at SLOT_TS
        w.classes = [k for k, _ in INSTRUMENTS][:n]
        w.gates = [GATE_TS] * n
        w.sync(engine)
        return w

    def sync(self, ref: Any) -> None:
        assert ref.n_instruments == len(self.classes), "generator lost track of listings"
        states = [ref.book(i).state for i in range(ref.n_instruments)]
        self.open = [i for i, s in enumerate(states) if s != InstrumentState.CLOSED]
        self.halted = [i for i, s in enumerate(states) if s == InstrumentState.HALTED]
        self.best = {}
        for i in self.open:
            b = ref.book(i, depth=1)
            self.best[i] = (b.bids[0].price if b.bids else 0, b.asks[0].price if b.asks else 0)
        self.live = {}
        self.gtd = []
        for o in ref.live_orders():
            self.live.setdefault(o.account, []).append(o.clord)
            if o.tif == GTD:
                self.gtd.append(o.expire_ts)

    # -- pieces: ``bad`` asks for an invalid value of that field

    def flaw(self, g: Gen, names: Sequence[str]) -> str:
        """Which field of a command to make invalid ('' mostly: none)."""
        return g.choose([(5 * len(names), "")] + [(1, n) for n in names])

    def account(self, g: Gen, bad: bool = False) -> int:
        if bad:
            return g.pick([CONFIG.max_accounts, -1, 1 << 20])
        return g.choose([(40, lambda: g.int(0, N_ACCOUNTS - 1)), (1, 7)])  # 7: valid, empty

    def instrument(self, g: Gen, bad: bool = False) -> int:
        n = len(self.classes)
        if bad:
            return g.pick([n, -1, 99])
        return g.choose([
            (8, lambda: g.int(0, min(n, len(INSTRUMENTS)) - 1)),  # the fixture ones
            (8, lambda: g.pick(self.open) if self.open else g.int(0, n - 1)),
            (1, lambda: g.int(0, n - 1)),
        ])

    def cls(self, instrument: int) -> int:
        return self.classes[instrument] if 0 <= instrument < len(self.classes) else 0

    def price(self, g: Gen, instrument: int, bad: bool = False, side: int = 0) -> int:
        """Around the mid; for a ``side`` often at or through the best opposite price."""
        k = self.cls(instrument)
        tick, lo, hi, mid = CONFIG.tick[k], CONFIG.band_lo[k], CONFIG.band_hi[k], MID[k]
        if bad:
            off_tick = [mid + tick * g.int(-3, 3) + 1] if tick > 1 else []
            return g.pick(off_tick + [lo - tick, hi + tick, 0, -tick])
        bid, ask = self.best.get(instrument, (0, 0))
        opposite = ask if side == BUY else bid if side == SELL else 0
        step = tick if side == BUY else -tick

        def through() -> int:  # just short of, at, or through the best opposite price
            ticks = g.int(-1, 2)
            near = opposite or mid
            return min(max(near + step * ticks, lo), hi)

        # (weights do not depend on the state, so shrinking keeps the meaning of choices)
        return g.choose([(20, lambda: mid + tick * g.int(-3, 3)), (20, through),
                         (1, lo), (1, hi)])

    def qty(self, g: Gen, bad: bool = False) -> int:
        top = CONFIG.max_qty[0]
        if bad:
            return g.pick([0, -1, top + 1])
        return g.choose([(30, lambda: g.int(1, 10)), (3, lambda: g.int(11, top)), (1, top)])

    def fresh_clord(self, g: Gen, account: int, bad: bool = False) -> int:
        """A new clord, or (bad) an invalid or duplicate one."""
        if bad:
            used = self.sent.get(account, [])
            return g.choose([(3, lambda: g.pick(used) if used else 0), (1, 0), (1, -1),
                             (1, CLORD_LIMIT)])
        c = self.next_clord.get(account, 1)
        self.next_clord[account] = c + 1
        return g.choose([(30, c), (1, CLORD_LIMIT - 1 - c)])  # the largest valid clords

    def used_clord(self, g: Gen, account: int) -> int:
        """For cancels and replaces: mostly a live clord, else any used one or unknown."""
        live, used = self.live.get(account, []), self.sent.get(account, [])
        return g.choose([
            (12, lambda: g.pick(live) if live else (g.pick(used) if used else 1)),
            (4, lambda: g.pick(used) if used else 1),
            (1, lambda: self.next_clord.get(account, 1) + 10**6),
            (1, 0),
        ])

    def _note(self, account: int, clord: int, instrument: int) -> None:
        if 0 < clord < CLORD_LIMIT:
            self.sent.setdefault(account, []).append(clord)
            self.live.setdefault(account, []).append(clord)
            self.order_inst.setdefault((account, clord), instrument)

    # -- commands

    ORDER_FIELDS = ("account", "instrument", "side", "order_type", "tif", "stp", "flags",
                    "clord", "qty", "price", "expire_ts")

    def new_order(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, self.ORDER_FIELDS)
        a, i = self.account(g, bad == "account"), self.instrument(g, bad == "instrument")
        side = g.pick([0, 3]) if bad == "side" else g.pick([BUY, SELL])
        otype = g.pick([0, 3]) if bad == "order_type" else g.choose([(4, LIMIT), (1, MARKET)])
        if bad == "tif":
            tif = g.pick([0, 5] + ([GTC, GTD] if otype == MARKET else []))
        elif otype == MARKET:
            tif = g.pick([IOC, FOK])
        else:
            tif = g.choose([(6, GTC), (4, GTD), (3, IOC), (3, FOK)])
        stp = g.pick([0, 5]) if bad == "stp" else g.int(1, 4)
        if bad == "flags":
            flags = g.pick([2, 3, POST_ONLY])  # POST_ONLY is bad unless LIMIT GTC/GTD
        elif otype == LIMIT and tif in (GTC, GTD):
            flags = g.choose([(4, 0), (1, POST_ONLY)])
        else:
            flags = 0
        flags |= g.choose([(20, 0), (1, CLORD_IN_HISTORY), (1, ORIG_IN_HISTORY)])  # marks (rule O9)
        if otype == MARKET:
            price = self.price(g, i) if bad == "price" else 0
        else:
            price = self.price(g, i, bad == "price", side)
        if tif == GTD:
            if bad == "expire_ts":
                expire = self.ts - g.pick([0, 1, SEC])
            else:
                expire = self.ts + g.choose([(3, SEC), (3, 5 * SEC), (2, 60 * SEC), (1, 1),
                                             (1, 3600 * SEC)])
        else:
            expire = self.ts + SEC if bad == "expire_ts" else 0
        c.update(account=a, instrument=i, side=side, order_type=otype, tif=tif, flags=flags,
                 stp=stp, price=price, qty=self.qty(g, bad == "qty"),
                 clord=self.fresh_clord(g, a, bad == "clord"), expire_ts=expire)
        self._note(a, c["clord"], i)

    def cancel(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account",))
        a = self.account(g, bad == "account")
        c.update(account=a, orig_clord=self.used_clord(g, a), flags=self.marks(g))

    def replace(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account", "clord", "price", "qty"))
        a = self.account(g, bad == "account")
        orig = self.used_clord(g, a)
        i = self.order_inst.get((a, orig), 0)
        new = self.fresh_clord(g, a, bad == "clord")
        if bad == "clord":
            new = g.choose([(1, new), (1, orig)])
        # qty: the new total (small ones may fall below what is already filled)
        c.update(account=a, orig_clord=orig, clord=new, price=self.price(g, i, bad == "price"),
                 qty=self.qty(g, bad == "qty"), flags=self.marks(g))
        self._note(a, new, i)

    def marks(self, g: Gen) -> int:
        """History marks (rule O9) of a cancel or replace, mostly none."""
        return g.choose([(12, 0), (1, CLORD_IN_HISTORY), (1, ORIG_IN_HISTORY),
                         (1, CLORD_IN_HISTORY | ORIG_IN_HISTORY)])

    def forget(self, g: Gen, c: dict[str, int]) -> None:
        """FORGET_DONE up to a recent seq; sometimes a bad one (its own seq, -1)."""
        c.update(amount=g.choose([(6, lambda: self.seq - g.int(1, 40)), (3, self.seq - 1),
                                  (1, self.seq), (1, -1)]))

    def mass_cancel(self, g: Gen, c: dict[str, int]) -> None:
        a, i = g.choose([
            (4, lambda: (self.account(g), -1)),
            (4, lambda: (-1, self.instrument(g))),
            (4, lambda: (self.account(g), self.instrument(g))),
            (1, (-1, -1)),
            (1, lambda: (self.account(g, True), -1)),
            (1, lambda: (-1, self.instrument(g, True))),
        ])
        c.update(account=a, instrument=i)

    def capacity(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account", "instrument", "qty"))
        qty = g.choose([(20, lambda: g.int(1, 50)), (2, lambda: g.int(51, 1000))])
        c.update(account=self.account(g, bad == "account"),
                 instrument=self.instrument(g, bad == "instrument"),
                 qty=g.pick([0, -1]) if bad == "qty" else qty)

    def funds(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account", "amount"))
        amount = g.choose([(10, lambda: g.int(1, 10**5)), (5, 10**6), (1, BIG)])
        c.update(account=self.account(g, bad == "account"),
                 amount=g.pick([0, -1]) if bad == "amount" else amount)

    def set_credit(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account", "amount"))
        amount = g.choose([(6, lambda: g.int(0, 10**5)), (2, 0), (2, 10**6)])
        c.update(account=self.account(g, bad == "account"),
                 amount=-1 if bad == "amount" else amount)

    def list_instrument(self, g: Gen, c: dict[str, int]) -> None:
        n = len(self.classes)
        slot = self.ts + g.choose([(6, 3600 * SEC), (4, 20 * 60 * SEC), (1, 16 * 60 * SEC),
                                   (1, CONFIG.gate_closure_ns), (1, 10 * 60 * SEC),
                                   (2, 86400 * SEC)])
        invalid = [(n + 1, 0), (0, 1), (n, CONFIG.n_classes), (n, -1)]
        if n < self.max_instruments:
            i, k = g.choose([(12, lambda: (n, g.int(0, 1)))] + [(1, v) for v in invalid])
        else:
            i, k = g.pick(invalid)
        c.update(instrument=i, gpu_class=k, region=g.int(1, 3), slot_ts=slot,
                 expire_ts=self.call_end(g))
        call_ok = c["expire_ts"] == 0 or c["expire_ts"] > self.ts
        if i == n and 0 <= k < CONFIG.n_classes and call_ok:  # will be listed
            self.classes.append(k)
            self.gates.append(slot - CONFIG.gate_closure_ns)

    def on_instrument(self, g: Gen, c: dict[str, int]) -> None:
        c.update(instrument=self.instrument(g, self.flaw(g, ("instrument",)) != ""))

    def call_end(self, g: Gen) -> int:
        """The end of a call phase: mostly none (continuous), some soon, a few invalid."""
        return g.choose([(6, 0), (2, lambda: self.ts + g.pick([SEC, 30 * SEC, 600 * SEC])),
                         (1, lambda: self.ts - g.int(0, 1))])

    def start_call(self, g: Gen, c: dict[str, int]) -> None:
        self.on_instrument(g, c)
        c.update(expire_ts=self.call_end(g))

    def hold(self, g: Gen, c: dict[str, int]) -> None:
        """HOLD_FUNDS / HOLD_CAPACITY (filled alike: amount for one, qty for the other)."""
        bad = self.flaw(g, ("account", "instrument", "qty"))
        c.update(account=self.account(g, bad == "account"), instrument=self.instrument(g, bad == "instrument"),
                 amount=g.choose([(4, lambda: g.int(1, 10**5)), (1, 10**7), (1, 0)]),
                 qty=g.pick([0, -1]) if bad == "qty" else g.int(1, 60))
        self.holds.append((c["account"], c["instrument"]))

    def da_trade(self, g: Gen, c: dict[str, int]) -> None:
        bad = self.flaw(g, ("account", "instrument", "price", "qty"))
        i = self.instrument(g, bad == "instrument")
        buyer, seller = self.account(g, bad == "account"), self.account(g)
        if self.holds and not bad and g.choose([(3, True), (1, False)]):  # against a hold
            seller, i = g.pick(self.holds[-20:])
            buyer = g.pick([a for a, _ in self.holds[-20:] if a != seller] or [buyer])
        c.update(account=buyer, contra_account=g.choose([(9, seller), (1, buyer)]), instrument=i,
                 price=self.price(g, i if i >= 0 else 0, bad == "price"), qty=self.qty(g, bad == "qty"),
                 clord=g.int(0, 9), orig_clord=g.int(0, 9))

    def release(self, g: Gen, c: dict[str, int]) -> None:
        c.update(account=g.choose([(3, -1), (3, lambda: self.account(g)), (1, lambda: self.account(g, True))]))

    def resume(self, g: Gen, c: dict[str, int]) -> None:
        if self.halted and g.choose([(3, True), (1, False)]):
            c.update(instrument=g.pick(self.halted))
        else:
            self.on_instrument(g, c)
        c.update(expire_ts=self.call_end(g))

    def timer(self, g: Gen, c: dict[str, int]) -> None:
        def to_gtd() -> int:
            return (g.pick(self.gtd) + g.int(-1, 1)) if self.gtd else self.ts + SEC

        def to_gate() -> int:  # the next gate closure, just before, at or after it
            ahead = [t for t in self.gates if t >= self.ts]
            return (min(ahead) + g.int(-1, 1)) if ahead else self.ts + SEC

        target = g.choose([(20, lambda: self.ts + SEC), (15, lambda: self.ts + 10 * SEC),
                           (10, lambda: self.ts + 60 * SEC), (5, lambda: self.ts + 600 * SEC),
                           (15, to_gtd), (5, self.ts), (self.gate_jumps, to_gate)])
        self.ts = max(self.ts, target)

    FILL = {
        K.NEW_ORDER: new_order, K.CANCEL: cancel, K.REPLACE: replace,
        K.MASS_CANCEL: mass_cancel, K.DEPOSIT_CAPACITY: capacity,
        K.WITHDRAW_CAPACITY: capacity, K.DEPOSIT_FUNDS: funds, K.WITHDRAW_FUNDS: funds,
        K.SET_CREDIT: set_credit, K.LIST_INSTRUMENT: list_instrument, K.HALT: on_instrument,
        K.RESUME: resume, K.CLOSE_GATE: on_instrument, K.TIMER: timer,
        K.START_CALL: start_call, K.UNCROSS: on_instrument, K.HOLD_FUNDS: hold,
        K.HOLD_CAPACITY: hold, K.DA_TRADE: da_trade, K.RELEASE_HOLDS: release,
        K.FORGET_DONE: forget,
    }

    def command(self, g: Gen, mix: Sequence[tuple[int, int]]) -> np.ndarray:
        kind = g.choose(mix)
        self.ts += g.choose([(8, 0), (4, 1), (3, 10**6), (3, SEC), (1, 30 * SEC)])
        self.seq += 1
        c: dict[str, int] = {}
        fill = self.FILL.get(kind)
        if fill is not None:
            fill(self, g, c)
        row = np.zeros(1, COMMAND_DTYPE)
        row["kind"] = int(kind)
        for name, value in c.items():
            row[name] = int(value)
        row["seq"], row["ts"] = self.seq, self.ts
        return row


def generate(g: Gen, world: World, n: int, mix: Sequence[tuple[int, int]]) -> np.ndarray:
    """``n`` commands (seq and ts increasing); updates ``world``'s clock and clords."""
    return np.concatenate([world.command(g, mix) for _ in range(n)])


MIXED = [
    (30, K.NEW_ORDER), (8, K.CANCEL), (8, K.REPLACE), (2, K.MASS_CANCEL),
    (2, K.DEPOSIT_CAPACITY), (2, K.WITHDRAW_CAPACITY), (2, K.DEPOSIT_FUNDS),
    (2, K.WITHDRAW_FUNDS), (1, K.SET_CREDIT), (1, K.LIST_INSTRUMENT), (2, K.HALT),
    (2, K.RESUME), (1, K.CLOSE_GATE), (4, K.TIMER), (1, 0), (1, 22), (2, K.START_CALL),
    (2, K.UNCROSS), (1, K.HOLD_FUNDS), (1, K.HOLD_CAPACITY), (2, K.DA_TRADE), (1, K.RELEASE_HOLDS),
    (2, K.FORGET_DONE),
]
ORDERS = [(10, K.NEW_ORDER), (3, K.CANCEL), (3, K.REPLACE), (1, K.TIMER), (1, K.FORGET_DONE)]
ADMIN = [
    (3, K.NEW_ORDER), (4, K.TIMER), (2, K.MASS_CANCEL), (3, K.DEPOSIT_CAPACITY),
    (3, K.WITHDRAW_CAPACITY), (3, K.DEPOSIT_FUNDS), (3, K.WITHDRAW_FUNDS), (2, K.SET_CREDIT), (2, K.LIST_INSTRUMENT),
    (3, K.HALT), (3, K.RESUME), (1, K.CLOSE_GATE), (2, K.START_CALL), (2, K.UNCROSS),
    (2, K.HOLD_FUNDS), (2, K.HOLD_CAPACITY), (3, K.DA_TRADE), (1, K.RELEASE_HOLDS),
]
STREAM = [
    (60, K.NEW_ORDER), (6, K.CANCEL), (8, K.REPLACE), (1, K.MASS_CANCEL),
    (4, K.DEPOSIT_CAPACITY), (1, K.WITHDRAW_CAPACITY), (3, K.DEPOSIT_FUNDS),
    (1, K.WITHDRAW_FUNDS), (1, K.SET_CREDIT), (1, K.LIST_INSTRUMENT), (1, K.HALT),
    (2, K.RESUME), (3, K.TIMER), (1, 0), (1, K.START_CALL), (1, K.UNCROSS), (2, K.HOLD_FUNDS),
    (2, K.HOLD_CAPACITY), (4, K.DA_TRADE), (1, K.RELEASE_HOLDS), (1, K.FORGET_DONE),
]
"""Long streams: mostly orders, so that many rest and the pools must grow."""


def setup_commands(world: World) -> np.ndarray:
    """Money and capacity: accounts 0-3 funded from rich to poor (3 also has credit),
    0-4 have capacity in the fixture instruments (3 only a little), 5 has nothing."""
    cmds: list[dict[str, int]] = []
    for a, amount in enumerate((BIG, BIG, 10**6, 5 * 10**4)):
        cmds.append(dict(kind=K.DEPOSIT_FUNDS, account=a, amount=amount))
    cmds.append(dict(kind=K.SET_CREDIT, account=3, amount=10**4))
    for a in range(5):
        for i in range(len(world.classes)):
            cmds.append(dict(kind=K.DEPOSIT_CAPACITY, account=a, instrument=i,
                             qty=5 if a == 3 else 50))
    b = np.zeros(len(cmds), COMMAND_DTYPE)
    for j, c in enumerate(cmds):
        for name, value in c.items():
            b[j][name] = int(value)
        world.seq += 1
        b[j]["seq"], b[j]["ts"] = world.seq, world.ts
    return b
