"""Book operations of the numba engine: positions, resting and unlinking orders, trades,
the matching loop and the uncross of a call phase, as kernels over a
:class:`exchange.engine.layout.State`.

The command handlers (:mod:`exchange.engine.commands`,
:mod:`exchange.engine.market_commands`) check a command against the rules
of :mod:`exchange.schema.rules` and then call these, which trust their arguments. Each
kernel that emits events takes the event buffer ``ev`` and the count ``n`` written so
far and returns the new count.

Cost: resting an order walks from the best level to its price (O(1) near the top of the
book); the rest is O(1) per order touched, except the collections of orders (mass
cancel, gate closure, TIMER, uncross), which sort the slots they collect by order id and
are the only kernels here that allocate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exchange.auction._uncross import book_kernel as uncross_book
from exchange.engine.events import emit, emit_order
from exchange.engine.hashtable import EMPTY, clord_key, hash_delete, hash_find, hash_put, level_key, position_key
from exchange.engine.layout import (
    A_CASH,
    A_CREDIT,
    A_HELD,
    A_RESERVED,
    CL_REFERENCE,
    CL_TICK,
    CT_LEVEL_FREE,
    CT_LEVEL_N,
    CT_LIVE,
    CT_NEXT_TRADE_ID,
    CT_ORDER_FREE,
    CT_POS_N,
    CT_POSITIONS,
    I_BEST_ASK,
    I_BEST_BID,
    I_CALL_END,
    I_CLASS,
    I_LAST,
    I_STATE,
    L_COUNT,
    L_HEAD,
    L_INSTRUMENT,
    L_NEXT,
    L_PREV,
    L_PRICE,
    L_QTY,
    L_SIDE,
    L_TAIL,
    O_ACCOUNT,
    O_CLORD,
    O_EXPIRE,
    O_FILLED,
    O_ID,
    O_INSTRUMENT,
    O_LEAVES,
    O_LEVEL,
    O_NEXT,
    O_PREV,
    O_PRICE,
    O_QTY,
    O_REMOVED,
    P_ACCOUNT,
    P_ASK_OPEN,
    P_BOUGHT,
    P_CAPACITY,
    P_HELD,
    P_INSTRUMENT,
    P_SOLD,
    kernel,
    order_side,
    order_stp,
    order_tif,
    retire_clord,
)
from exchange.schema import E, EventKind as EV, InstrumentState as IS, Reason as R, Side, StpMode, TimeInForce as TIF

# ---------------------------------------------------------------- positions

@kernel
def position_row(st, account, instrument, create):
    """Row of (account, instrument) in the position table, or EMPTY; creates it if asked."""
    pos, pt, ctr = st.positions, st.position_index, st.counters
    key = position_key(instrument, account)
    row = hash_find(pt, key)
    if row == EMPTY and create:
        row = ctr[CT_POSITIONS]
        ctr[CT_POSITIONS] += 1
        pos[row, :] = 0
        pos[row, P_ACCOUNT] = account
        pos[row, P_INSTRUMENT] = instrument
        ctr[CT_POS_N] += hash_put(pt, key, row)
    return row


@kernel
def free_capacity(st, account, instrument):
    """GPUs the account may still offer in the instrument."""
    row = position_row(st, account, instrument, False)
    if row == EMPTY:
        return 0
    p = st.positions[row]
    return p[P_CAPACITY] + p[P_BOUGHT] - p[P_SOLD] - p[P_ASK_OPEN] - p[P_HELD]


@kernel
def available_funds(st, account):
    a = st.accounts[account]
    return a[A_CASH] + a[A_CREDIT] - a[A_RESERVED] - a[A_HELD]


# ---------------------------------------------------------------- book structure

@kernel
def best_level(st, instrument, side):
    """Best level of a side, or EMPTY."""
    return st.instruments[instrument, I_BEST_BID if side == Side.BUY else I_BEST_ASK]


@kernel
def crosses(side, limit, level_price):
    """Whether an order of ``side`` at ``limit`` trades with a level of the other side."""
    return level_price <= limit if side == Side.BUY else level_price >= limit


@kernel
def rest(st, slot):
    """Append a live order at the tail of its price level, creating the level if needed."""
    orders, levels, insts, lt, ctr = st.orders, st.levels, st.instruments, st.level_index, st.counters
    o = orders[slot]
    inst, side, price = o[O_INSTRUMENT], order_side(o), o[O_PRICE]
    key = level_key(inst, side, price)
    lvl = hash_find(lt, key)
    if lvl == EMPTY:
        lvl = ctr[CT_LEVEL_FREE]
        ctr[CT_LEVEL_FREE] = levels[lvl, L_NEXT]
        ctr[CT_LEVEL_N] += hash_put(lt, key, lvl)
        levels[lvl, :] = EMPTY
        levels[lvl, L_PRICE] = price
        levels[lvl, L_QTY] = 0
        levels[lvl, L_COUNT] = 0
        levels[lvl, L_INSTRUMENT] = inst
        levels[lvl, L_SIDE] = side
        # Walk from the best level to the first one that is worse than price.
        best_col = I_BEST_BID if side == Side.BUY else I_BEST_ASK
        prev = EMPTY
        cur = insts[inst, best_col]
        while cur != EMPTY and (levels[cur, L_PRICE] > price if side == Side.BUY else levels[cur, L_PRICE] < price):
            prev = cur
            cur = levels[cur, L_NEXT]
        levels[lvl, L_PREV] = prev
        levels[lvl, L_NEXT] = cur
        if prev == EMPTY:
            insts[inst, best_col] = lvl
        else:
            levels[prev, L_NEXT] = lvl
        if cur != EMPTY:
            levels[cur, L_PREV] = lvl
    tail = levels[lvl, L_TAIL]
    o[O_PREV] = tail
    o[O_NEXT] = EMPTY
    if tail == EMPTY:
        levels[lvl, L_HEAD] = slot
    else:
        orders[tail, O_NEXT] = slot
    levels[lvl, L_TAIL] = slot
    levels[lvl, L_QTY] += o[O_LEAVES]
    levels[lvl, L_COUNT] += 1
    o[O_LEVEL] = lvl


@kernel
def unlink(st, slot):
    """Take a resting order out of its level; drop the level when it becomes empty."""
    orders, levels, insts, lt, ctr = st.orders, st.levels, st.instruments, st.level_index, st.counters
    o = orders[slot]
    lvl = o[O_LEVEL]
    nxt, prv = o[O_NEXT], o[O_PREV]
    if prv == EMPTY:
        levels[lvl, L_HEAD] = nxt
    else:
        orders[prv, O_NEXT] = nxt
    if nxt == EMPTY:
        levels[lvl, L_TAIL] = prv
    else:
        orders[nxt, O_PREV] = prv
    levels[lvl, L_QTY] -= o[O_LEAVES]
    levels[lvl, L_COUNT] -= 1
    o[O_LEVEL] = EMPTY
    o[O_NEXT] = EMPTY
    o[O_PREV] = EMPTY
    if levels[lvl, L_COUNT] == 0:
        inst, side = levels[lvl, L_INSTRUMENT], levels[lvl, L_SIDE]
        lnext, lprev = levels[lvl, L_NEXT], levels[lvl, L_PREV]
        if lprev == EMPTY:
            insts[inst, I_BEST_BID if side == Side.BUY else I_BEST_ASK] = lnext
        else:
            levels[lprev, L_NEXT] = lnext
        if lnext != EMPTY:
            levels[lnext, L_PREV] = lprev
        ctr[CT_LEVEL_N] -= 1
        hash_delete(lt, level_key(inst, side, levels[lvl, L_PRICE]))
        levels[lvl, :] = EMPTY
        levels[lvl, L_NEXT] = ctr[CT_LEVEL_FREE]
        ctr[CT_LEVEL_FREE] = lvl


@kernel
def finish(st, ev, n, slot, seq, ts):
    """Emit DONE for an order whose leaves are 0 and free its slot."""
    orders, ctr = st.orders, st.counters
    o = orders[slot]
    n = emit_order(ev, n, orders, slot, seq, ts, EV.DONE, 0, o[O_QTY])
    retire_clord(st, clord_key(o[O_CLORD], o[O_ACCOUNT]), seq)
    ctr[CT_LIVE] -= 1
    o[:] = 0
    o[O_LEVEL] = EMPTY
    o[O_NEXT] = ctr[CT_ORDER_FREE]
    ctr[CT_ORDER_FREE] = slot
    return n


@kernel
def release(st, slot, q):
    """Release the risk held by q GPUs of an order that will not trade."""
    o = st.orders[slot]
    if order_side(o) == Side.BUY:
        st.accounts[o[O_ACCOUNT], A_RESERVED] -= o[O_PRICE] * q
    else:
        row = position_row(st, o[O_ACCOUNT], o[O_INSTRUMENT], False)
        st.positions[row, P_ASK_OPEN] -= q


@kernel
def remove(st, ev, n, slot, q, kind, reason, seq, ts):
    """Cancel or expire q of an order's leaves; finish it when nothing is left."""
    orders, levels = st.orders, st.levels
    o = orders[slot]
    release(st, slot, q)
    o[O_LEAVES] -= q
    o[O_REMOVED] += q
    if o[O_LEVEL] != EMPTY:
        levels[o[O_LEVEL], L_QTY] -= q
    n = emit_order(ev, n, orders, slot, seq, ts, kind, reason, q)
    if o[O_LEAVES] == 0:
        if o[O_LEVEL] != EMPTY:
            unlink(st, slot)
        n = finish(st, ev, n, slot, seq, ts)
    return n


@kernel
def trade(st, ev, n, taker, maker, q, price, reason, seq, ts):
    """Trade q at ``price`` between a taker (the event's first party) and a resting
    maker; finish the maker if it is filled."""
    orders, levels, accts, pos, ctr = st.orders, st.levels, st.accounts, st.positions, st.counters
    t, m = orders[taker], orders[maker]
    inst = m[O_INSTRUMENT]
    st.instruments[inst, I_LAST] = price
    buyer, seller = (taker, maker) if order_side(t) == Side.BUY else (maker, taker)
    b, s = orders[buyer], orders[seller]
    accts[b[O_ACCOUNT], A_RESERVED] -= b[O_PRICE] * q
    accts[b[O_ACCOUNT], A_CASH] -= price * q
    accts[s[O_ACCOUNT], A_CASH] += price * q
    pos[position_row(st, b[O_ACCOUNT], inst, False), P_BOUGHT] += q
    srow = position_row(st, s[O_ACCOUNT], inst, False)
    pos[srow, P_SOLD] += q
    pos[srow, P_ASK_OPEN] -= q
    for o in (t, m):
        o[O_LEAVES] -= q
        o[O_FILLED] += q
    levels[m[O_LEVEL], L_QTY] -= q
    trade_id = ctr[CT_NEXT_TRADE_ID]
    ctr[CT_NEXT_TRADE_ID] += 1
    n = emit(ev, n, seq, ts, EV.TRADE, reason, t[O_ACCOUNT], inst, t[O_ID], t[O_CLORD],
             order_side(t), price, q, t[O_LEAVES], t[O_FILLED])
    row = ev[n - 1]
    row[E.CONTRA_ORDER_ID] = m[O_ID]
    row[E.CONTRA_ACCOUNT] = m[O_ACCOUNT]
    row[E.CONTRA_CLORD] = m[O_CLORD]
    row[E.CONTRA_LEAVES] = m[O_LEAVES]
    row[E.TRADE_ID] = trade_id
    if m[O_LEAVES] == 0:
        unlink(st, maker)
        n = finish(st, ev, n, maker, seq, ts)
    return n


@kernel
def expired(o, ts):
    return order_tif(o) == TIF.GTD and o[O_EXPIRE] <= ts


@kernel
def fok_fillable(st, slot, ts, need):
    """Whether other accounts' live, unexpired crossing orders hold ``need`` GPUs."""
    orders, levels = st.orders, st.levels
    t = orders[slot]
    side = order_side(t)
    lvl = best_level(st, t[O_INSTRUMENT], Side.SELL if side == Side.BUY else Side.BUY)
    total = 0
    while lvl != EMPTY and crosses(side, t[O_PRICE], levels[lvl, L_PRICE]):
        m = levels[lvl, L_HEAD]
        while m != EMPTY:
            o = orders[m]
            if o[O_ACCOUNT] != t[O_ACCOUNT] and not expired(o, ts):
                total += o[O_LEAVES]
                if total >= need:
                    return True
            m = o[O_NEXT]
        lvl = levels[lvl, L_NEXT]
    return False


@kernel
def match(st, ev, n, taker, seq, ts):
    """Match an order against the book, then rest, cancel or finish it."""
    orders, levels = st.orders, st.levels
    t = orders[taker]
    side, limit, inst, tif = order_side(t), t[O_PRICE], t[O_INSTRUMENT], order_tif(t)
    stp = StpMode.CANCEL_OLDEST if tif == TIF.FOK else order_stp(t)
    if tif == TIF.FOK and not fok_fillable(st, taker, ts, t[O_LEAVES]):
        return remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.FOK_UNFILLABLE, seq, ts)
    other = Side.SELL if side == Side.BUY else Side.BUY
    while t[O_LEAVES] > 0:
        lvl = best_level(st, inst, other)
        if lvl == EMPTY or not crosses(side, limit, levels[lvl, L_PRICE]):
            break
        maker = levels[lvl, L_HEAD]
        m = orders[maker]
        if expired(m, ts):
            n = remove(st, ev, n, maker, m[O_LEAVES], EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
        elif m[O_ACCOUNT] == t[O_ACCOUNT]:
            if stp == StpMode.CANCEL_NEWEST:
                n = remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                return n
            if stp == StpMode.CANCEL_OLDEST:
                n = remove(st, ev, n, maker, m[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
            elif stp == StpMode.CANCEL_BOTH:
                n = remove(st, ev, n, maker, m[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                n = remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                return n
            else:
                d = min(t[O_LEAVES], m[O_LEAVES])
                n = remove(st, ev, n, maker, d, EV.CANCELLED, R.SELF_TRADE, seq, ts)
                n = remove(st, ev, n, taker, d, EV.CANCELLED, R.SELF_TRADE, seq, ts)
                if t[O_ID] == 0:  # the taker was finished by the decrement
                    return n
        else:
            n = trade(st, ev, n, taker, maker, min(t[O_LEAVES], m[O_LEAVES]), m[O_PRICE], 0, seq, ts)
    if t[O_LEAVES] > 0:
        if tif == TIF.GTC or tif == TIF.GTD:
            rest(st, taker)
            return n
        return remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.IOC_REMAINDER, seq, ts)
    return finish(st, ev, n, taker, seq, ts)


# ---------------------------------------------------------------- collections of orders

@njit(cache=True)
def instrument_slots(st, instrument, account):
    """Slots of the live orders of an instrument (of one account unless -1), by order id."""
    orders, levels, insts = st.orders, st.levels, st.instruments
    count = 0
    for col in (I_BEST_BID, I_BEST_ASK):
        lvl = insts[instrument, col]
        while lvl != EMPTY:
            count += levels[lvl, L_COUNT]
            lvl = levels[lvl, L_NEXT]
    found = np.empty(count, np.int64)
    k = 0
    for col in (I_BEST_BID, I_BEST_ASK):
        lvl = insts[instrument, col]
        while lvl != EMPTY:
            s = levels[lvl, L_HEAD]
            while s != EMPTY:
                if account == EMPTY or orders[s, O_ACCOUNT] == account:
                    found[k] = s
                    k += 1
                s = orders[s, O_NEXT]
            lvl = levels[lvl, L_NEXT]
    return _by_order_id(orders, found[:k])


@njit(cache=True)
def _by_order_id(orders, slots):
    ids = np.empty(slots.shape[0], np.int64)
    for k in range(slots.shape[0]):
        ids[k] = orders[slots[k], O_ID]
    return slots[np.argsort(ids)]


@njit(cache=True)
def pool_slots(st, account, gtd_before):
    """Slots of all live orders (of one account unless -1; only GTD ones expiring at or
    before ``gtd_before`` unless -1), by order id. O(pool)."""
    orders = st.orders
    found = np.empty(orders.shape[0], np.int64)
    k = 0
    for s in range(orders.shape[0]):
        o = orders[s]
        if o[O_ID] == 0 or o[O_LEVEL] == EMPTY:
            continue
        if account != EMPTY and o[O_ACCOUNT] != account:
            continue
        if gtd_before != EMPTY and not expired(o, gtd_before):
            continue
        found[k] = s
        k += 1
    return _by_order_id(orders, found[:k])


@kernel
def remove_all(st, ev, n, slots, kind, reason, seq, ts):
    for s in slots:
        n = remove(st, ev, n, s, st.orders[s, O_LEAVES], kind, reason, seq, ts)
    return n


@njit(cache=True)
def close_instrument(st, ev, n, inst, seq, ts):
    """Expire every live order of an instrument and close it for good; return the count."""
    slots = instrument_slots(st, inst, EMPTY)
    n = remove_all(st, ev, n, slots, EV.EXPIRED, R.GATE_CLOSURE, seq, ts)
    st.instruments[inst, I_STATE] = IS.CLOSED
    st.instruments[inst, I_CALL_END] = 0
    return n, slots.shape[0]


@njit(cache=True)
def _book_levels(st, inst, side):
    """(prices, qtys) of one side's levels, best first."""
    levels = st.levels
    col = I_BEST_BID if side == Side.BUY else I_BEST_ASK
    count = 0
    lvl = st.instruments[inst, col]
    while lvl != EMPTY:
        count += 1
        lvl = levels[lvl, L_NEXT]
    prices = np.empty(count, np.int64)
    qtys = np.empty(count, np.int64)
    lvl = st.instruments[inst, col]
    for j in range(count):
        prices[j] = levels[lvl, L_PRICE]
        qtys[j] = levels[lvl, L_QTY]
        lvl = levels[lvl, L_NEXT]
    return prices, qtys


@njit(cache=True)
def uncross(st, ev, n, inst, seq, ts, classes):
    """End an instrument's call phase (rules: "Call phase and uncross"); return
    ``(n, GPUs traded)``. O(orders of the instrument + levels)."""
    orders, levels, insts = st.orders, st.levels, st.instruments
    for s in instrument_slots(st, inst, EMPTY):
        if expired(orders[s], ts):
            n = remove(st, ev, n, s, orders[s, O_LEAVES], EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
    bid_p, bid_q = _book_levels(st, inst, Side.BUY)
    ask_p, ask_q = _book_levels(st, inst, Side.SELL)
    reference = insts[inst, I_LAST]
    if reference == 0:
        reference = classes[insts[inst, I_CLASS], CL_REFERENCE]
    tick = classes[insts[inst, I_CLASS], CL_TICK]
    price, volume, signed, _ = uncross_book(bid_p, bid_q, ask_p, ask_q, reference, tick)
    surplus_side = Side.BUY if signed > 0 else (Side.SELL if signed < 0 else 0)
    n = emit(ev, n, seq, ts, EV.UNCROSSED, 0, 0, inst, 0, 0, surplus_side, price, volume,
             abs(signed), 0)
    left = volume
    traded = 0
    while left > 0:
        b = levels[insts[inst, I_BEST_BID], L_HEAD]
        a = levels[insts[inst, I_BEST_ASK], L_HEAD]
        q = min(orders[b, O_LEAVES], orders[a, O_LEAVES], left)
        newer, older = (b, a) if orders[b, O_ID] > orders[a, O_ID] else (a, b)
        if orders[b, O_ACCOUNT] == orders[a, O_ACCOUNT]:
            n = remove(st, ev, n, older, q, EV.CANCELLED, R.SELF_TRADE, seq, ts)
            n = remove(st, ev, n, newer, q, EV.CANCELLED, R.SELF_TRADE, seq, ts)
        else:
            n = trade(st, ev, n, newer, older, q, price, R.AUCTION, seq, ts)
            traded += q
            levels[orders[newer, O_LEVEL], L_QTY] -= q
            if orders[newer, O_LEAVES] == 0:
                unlink(st, newer)
                n = finish(st, ev, n, newer, seq, ts)
        left -= q
    insts[inst, I_STATE] = IS.OPEN
    insts[inst, I_CALL_END] = 0
    return n, traded
