"""Numba kernels of the matching engine: plain functions over int64 arrays.

The rules are those of :mod:`exchange.schema.rules`; :class:`exchange.engine.book.Engine`
is the typed wrapper in front. State is a tuple of arrays (``_State`` below names its
parts) so every kernel takes the same first argument:

* ``orders``  (cap, O_FIELDS) order pool; free slots are chained through O_NEXT.
* ``levels``  (cap, L_FIELDS) price levels; each book side is a doubly linked list of
  levels sorted best first, each level a FIFO of orders (O_NEXT/O_PREV).
* ``insts``   (cap, I_FIELDS) instruments: state, limits, best level of each side, last
  trade price and the end of a call phase.
* ``accts``   (max_accounts, A_FIELDS) cash, credit, reserved, held.
* ``pos``     (cap, P_FIELDS) positions of (account, instrument), with GPUs held.
* three hash tables (:mod:`exchange.engine.hashtable`):
  (clord, account) → order slot (or DONE for finished orders), (instrument, account) →
  position row, (instrument, side, price) → level.
* ``ctr``     counters (next ids, free-list heads, table counts).

Capacity: :func:`process` only starts a command when every pool and table has room
for what one command can add (one order, one level, one position, one listing) and the
event buffer has room for the most events one command can emit (8 + 3 per live order
+ 1 per instrument);
else it returns ``NEED_ROOM`` and the index to resume at, and the wrapper grows the
arrays (the event buffer with ``np.empty``, so unused room costs no memory).

Speed: the kernels on the order path are compiled without numba's reference counting
(``_kernel``: they never allocate), which makes a call between them as cheap as in C;
only the rare commands that collect orders (mass cancel, gate closure, TIMER, uncross)
allocate.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from exchange.auction._uncross import book_kernel as _uncross_price
from exchange.engine.hashtable import (
    EMPTY,
    clord_key,
    hash_delete,
    hash_find,
    hash_put,
    home_slot,
    level_key,
    position_key,
)
from exchange.schema import (
    CAPACITY_LIMIT,
    CLORD_LIMIT,
    MONEY_LIMIT,
    C,
    E,
    CommandKind as K,
    EventKind as EV,
    InstrumentState as IS,
    OrderFlag,
    OrderType,
    Reason as R,
    Side,
    StpMode,
    TimeInForce as TIF,
)

# Plain ints for the kernels (numba treats them as compile-time constants).
(O_ID, O_ACCOUNT, O_INSTRUMENT, O_TERMS, O_PRICE, O_QTY, O_LEAVES, O_FILLED, O_REMOVED,
 O_EXPIRE, O_CLORD, O_NEXT, O_PREV, O_LEVEL) = range(14)
O_FIELDS = 14
SIDE_SHIFT, TIF_SHIFT, STP_SHIFT, FLAGS_SHIFT = 0, 4, 8, 12
"""An order's side, time in force, stp mode and flags share the O_TERMS field, 4 bits
each, at these shifts (it keeps an order row at 112 bytes)."""
(L_PRICE, L_QTY, L_COUNT, L_HEAD, L_TAIL, L_NEXT, L_PREV, L_INSTRUMENT, L_SIDE) = range(9)
L_FIELDS = 9
(I_STATE, I_CLASS, I_REGION, I_SLOT, I_GATE, I_TICK, I_LO, I_HI, I_MIN_QTY, I_MAX_QTY,
 I_BEST_BID, I_BEST_ASK, I_LAST, I_CALL_END) = range(14)
I_FIELDS = 14
CL_TICK, CL_LO, CL_HI, CL_MIN_QTY, CL_MAX_QTY, CL_GATE, CL_REFERENCE = range(7)
"""Columns of the per-class ``classes`` rows the wrapper passes to :func:`process`."""
A_CASH, A_CREDIT, A_RESERVED, A_HELD = range(4)
A_FIELDS = 4
P_CAPACITY, P_BOUGHT, P_SOLD, P_ASK_OPEN, P_ACCOUNT, P_INSTRUMENT, P_HELD = range(7)
P_FIELDS = 7
(CT_INSTRUMENTS, CT_NEXT_ORDER_ID, CT_NEXT_TRADE_ID, CT_ORDER_FREE, CT_LEVEL_FREE,
 CT_POSITIONS, CT_CLORD_N, CT_POS_N, CT_LEVEL_N, CT_LIVE) = range(10)
CT_FIELDS = 10

DONE = -2  # clord hash value of an order that is no longer live

OK = 0
NEED_ROOM = 1

_BUY, _SELL = int(Side.BUY), int(Side.SELL)
_LIMIT, _MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
_GTC, _GTD, _IOC, _FOK = int(TIF.GTC), int(TIF.GTD), int(TIF.IOC), int(TIF.FOK)
_NEWEST, _OLDEST = int(StpMode.CANCEL_NEWEST), int(StpMode.CANCEL_OLDEST)
_BOTH, _DECREMENT = int(StpMode.CANCEL_BOTH), int(StpMode.DECREMENT)
_POST_ONLY = int(OrderFlag.POST_ONLY)
_UNLISTED, _OPEN, _HALTED, _CLOSED = int(IS.UNLISTED), int(IS.OPEN), int(IS.HALTED), int(IS.CLOSED)
_CALL = int(IS.CALL)
_CLORD_LIMIT = CLORD_LIMIT
_MONEY_LIMIT = MONEY_LIMIT
_CAPACITY_LIMIT = CAPACITY_LIMIT
_C_SEQ, _C_TS, _C_KIND, _C_ACCOUNT, _C_INSTRUMENT = int(C.SEQ), int(C.TS), int(C.KIND), int(C.ACCOUNT), int(C.INSTRUMENT)
_C_SIDE, _C_TYPE, _C_TIF, _C_FLAGS, _C_STP = int(C.SIDE), int(C.ORDER_TYPE), int(C.TIF), int(C.FLAGS), int(C.STP)
_C_PRICE, _C_QTY, _C_CLORD, _C_ORIG, _C_EXPIRE = int(C.PRICE), int(C.QTY), int(C.CLORD), int(C.ORIG_CLORD), int(C.EXPIRE_TS)
_C_AMOUNT, _C_CLASS, _C_REGION, _C_SLOT = int(C.AMOUNT), int(C.GPU_CLASS), int(C.REGION), int(C.SLOT_TS)
_C_CONTRA = int(C.CONTRA_ACCOUNT)
_E_FIELDS = len(E)

_kernel = njit(cache=True, _nrt=False)
"""Decorator of the kernels that never allocate: compiled without reference counting."""


# ---------------------------------------------------------------- order terms

@_kernel
def _side(o):
    return (o[O_TERMS] >> SIDE_SHIFT) & 15


@_kernel
def _tif(o):
    return (o[O_TERMS] >> TIF_SHIFT) & 15


@_kernel
def _stp(o):
    return (o[O_TERMS] >> STP_SHIFT) & 15


@_kernel
def _flags(o):
    return (o[O_TERMS] >> FLAGS_SHIFT) & 15


# ---------------------------------------------------------------- events

@_kernel
def _emit(ev, n, seq, ts, kind, reason, account, instrument, order_id, clord, side,
          price, qty, leaves, filled):
    """Write event number n (the buffer has room); return n + 1."""
    row = ev[n]
    row[0] = seq
    row[1] = ts
    row[2] = kind
    row[3] = reason
    row[4] = account
    row[5] = instrument
    row[6] = order_id
    row[7] = clord
    row[8] = side
    row[9] = price
    row[10] = qty
    row[11] = leaves
    row[12] = filled
    for f in range(13, _E_FIELDS):
        row[f] = 0
    return n + 1


@_kernel
def _emit_order(ev, n, orders, slot, seq, ts, kind, reason, qty):
    """Write an event about an order, with its identity, limit, leaves and filled."""
    o = orders[slot]
    return _emit(ev, n, seq, ts, kind, reason, o[O_ACCOUNT], o[O_INSTRUMENT], o[O_ID],
                 o[O_CLORD], _side(o), o[O_PRICE], qty, o[O_LEAVES], o[O_FILLED])


@_kernel
def _reject(ev, n, cmd, reason):
    """Write a REJECTED event echoing the command; its clord is the one the command is
    about (a CANCEL's orig_clord, else the command's clord)."""
    clord = cmd[_C_ORIG] if cmd[_C_KIND] == K.CANCEL else cmd[_C_CLORD]
    return _emit(ev, n, cmd[_C_SEQ], cmd[_C_TS], EV.REJECTED, reason, cmd[_C_ACCOUNT],
                 cmd[_C_INSTRUMENT], 0, clord, cmd[_C_SIDE], cmd[_C_PRICE], cmd[_C_QTY], 0, 0)


@_kernel
def _ack(ev, n, cmd, qty):
    """Append the ACK that ends a successful non-order command."""
    return _emit(ev, n, cmd[_C_SEQ], cmd[_C_TS], EV.ACK, 0, cmd[_C_ACCOUNT],
                 cmd[_C_INSTRUMENT], 0, 0, 0, 0, qty, 0, 0)


# ---------------------------------------------------------------- positions

@_kernel
def _position(st, account, instrument, create):
    """Row of (account, instrument) in the position table, or EMPTY; creates it if asked."""
    pos, pt, ctr = st[4], st[6], st[8]
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


@_kernel
def _free_capacity(st, account, instrument):
    """GPUs the account may still offer in the instrument."""
    row = _position(st, account, instrument, False)
    if row == EMPTY:
        return 0
    p = st[4][row]
    return p[P_CAPACITY] + p[P_BOUGHT] - p[P_SOLD] - p[P_ASK_OPEN] - p[P_HELD]


@_kernel
def _available_funds(st, account):
    a = st[3][account]
    return a[A_CASH] + a[A_CREDIT] - a[A_RESERVED] - a[A_HELD]


# ---------------------------------------------------------------- book structure

@_kernel
def _best(st, instrument, side):
    """Best level of a side, or EMPTY."""
    return st[2][instrument, I_BEST_BID if side == _BUY else I_BEST_ASK]


@_kernel
def _crosses(side, limit, level_price):
    """Whether an order of ``side`` at ``limit`` trades with a level of the other side."""
    return level_price <= limit if side == _BUY else level_price >= limit


@_kernel
def _rest(st, slot):
    """Append a live order at the tail of its price level, creating the level if needed."""
    orders, levels, insts, lt, ctr = st[0], st[1], st[2], st[7], st[8]
    o = orders[slot]
    inst, side, price = o[O_INSTRUMENT], _side(o), o[O_PRICE]
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
        best_col = I_BEST_BID if side == _BUY else I_BEST_ASK
        prev = EMPTY
        cur = insts[inst, best_col]
        while cur != EMPTY and (levels[cur, L_PRICE] > price if side == _BUY else levels[cur, L_PRICE] < price):
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


@_kernel
def _unlink(st, slot):
    """Take a resting order out of its level; drop the level when it becomes empty."""
    orders, levels, insts, lt, ctr = st[0], st[1], st[2], st[7], st[8]
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
            insts[inst, I_BEST_BID if side == _BUY else I_BEST_ASK] = lnext
        else:
            levels[lprev, L_NEXT] = lnext
        if lnext != EMPTY:
            levels[lnext, L_PREV] = lprev
        ctr[CT_LEVEL_N] -= 1
        hash_delete(lt, level_key(inst, side, levels[lvl, L_PRICE]))
        levels[lvl, :] = EMPTY
        levels[lvl, L_NEXT] = ctr[CT_LEVEL_FREE]
        ctr[CT_LEVEL_FREE] = lvl


@_kernel
def _finish(st, ev, n, slot, seq, ts):
    """Emit DONE for an order whose leaves are 0 and free its slot."""
    orders, ct, ctr = st[0], st[5], st[8]
    o = orders[slot]
    n = _emit_order(ev, n, orders, slot, seq, ts, EV.DONE, 0, o[O_QTY])
    hash_put(ct, clord_key(o[O_CLORD], o[O_ACCOUNT]), DONE)
    ctr[CT_LIVE] -= 1
    o[:] = 0
    o[O_LEVEL] = EMPTY
    o[O_NEXT] = ctr[CT_ORDER_FREE]
    ctr[CT_ORDER_FREE] = slot
    return n


@_kernel
def _release(st, slot, q):
    """Release the risk held by q GPUs of an order that will not trade."""
    o = st[0][slot]
    if _side(o) == _BUY:
        st[3][o[O_ACCOUNT], A_RESERVED] -= o[O_PRICE] * q
    else:
        row = _position(st, o[O_ACCOUNT], o[O_INSTRUMENT], False)
        st[4][row, P_ASK_OPEN] -= q


@_kernel
def _remove(st, ev, n, slot, q, kind, reason, seq, ts):
    """Cancel or expire q of an order's leaves; finish it when nothing is left."""
    orders, levels = st[0], st[1]
    o = orders[slot]
    _release(st, slot, q)
    o[O_LEAVES] -= q
    o[O_REMOVED] += q
    if o[O_LEVEL] != EMPTY:
        levels[o[O_LEVEL], L_QTY] -= q
    n = _emit_order(ev, n, orders, slot, seq, ts, kind, reason, q)
    if o[O_LEAVES] == 0:
        if o[O_LEVEL] != EMPTY:
            _unlink(st, slot)
        n = _finish(st, ev, n, slot, seq, ts)
    return n


@_kernel
def _trade(st, ev, n, taker, maker, q, price, reason, seq, ts):
    """Trade q at ``price`` between a taker (the event's first party) and a resting
    maker; finish the maker if it is filled."""
    orders, levels, accts, pos, ctr = st[0], st[1], st[3], st[4], st[8]
    t, m = orders[taker], orders[maker]
    inst = m[O_INSTRUMENT]
    st[2][inst, I_LAST] = price
    buyer, seller = (taker, maker) if _side(t) == _BUY else (maker, taker)
    b, s = orders[buyer], orders[seller]
    accts[b[O_ACCOUNT], A_RESERVED] -= b[O_PRICE] * q
    accts[b[O_ACCOUNT], A_CASH] -= price * q
    accts[s[O_ACCOUNT], A_CASH] += price * q
    pos[_position(st, b[O_ACCOUNT], inst, False), P_BOUGHT] += q
    srow = _position(st, s[O_ACCOUNT], inst, False)
    pos[srow, P_SOLD] += q
    pos[srow, P_ASK_OPEN] -= q
    for o in (t, m):
        o[O_LEAVES] -= q
        o[O_FILLED] += q
    levels[m[O_LEVEL], L_QTY] -= q
    trade_id = ctr[CT_NEXT_TRADE_ID]
    ctr[CT_NEXT_TRADE_ID] += 1
    n = _emit(ev, n, seq, ts, EV.TRADE, reason, t[O_ACCOUNT], inst, t[O_ID], t[O_CLORD],
                  _side(t), price, q, t[O_LEAVES], t[O_FILLED])
    row = ev[n - 1]
    row[13] = m[O_ID]
    row[14] = m[O_ACCOUNT]
    row[15] = m[O_CLORD]
    row[16] = m[O_LEAVES]
    row[17] = trade_id
    if m[O_LEAVES] == 0:
        _unlink(st, maker)
        n = _finish(st, ev, n, maker, seq, ts)
    return n


@_kernel
def _expired(o, ts):
    return _tif(o) == _GTD and o[O_EXPIRE] <= ts


@_kernel
def _fillable(st, slot, ts, need):
    """Whether other accounts' live, unexpired crossing orders hold ``need`` GPUs."""
    orders, levels = st[0], st[1]
    t = orders[slot]
    side = _side(t)
    lvl = _best(st, t[O_INSTRUMENT], _SELL if side == _BUY else _BUY)
    total = 0
    while lvl != EMPTY and _crosses(side, t[O_PRICE], levels[lvl, L_PRICE]):
        m = levels[lvl, L_HEAD]
        while m != EMPTY:
            o = orders[m]
            if o[O_ACCOUNT] != t[O_ACCOUNT] and not _expired(o, ts):
                total += o[O_LEAVES]
                if total >= need:
                    return True
            m = o[O_NEXT]
        lvl = levels[lvl, L_NEXT]
    return False


@_kernel
def _match(st, ev, n, taker, seq, ts):
    """Match an order against the book, then rest, cancel or finish it."""
    orders, levels = st[0], st[1]
    t = orders[taker]
    side, limit, inst, tif = _side(t), t[O_PRICE], t[O_INSTRUMENT], _tif(t)
    stp = _OLDEST if tif == _FOK else _stp(t)
    if tif == _FOK and not _fillable(st, taker, ts, t[O_LEAVES]):
        return _remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.FOK_UNFILLABLE, seq, ts)
    other = _SELL if side == _BUY else _BUY
    while t[O_LEAVES] > 0:
        lvl = _best(st, inst, other)
        if lvl == EMPTY or not _crosses(side, limit, levels[lvl, L_PRICE]):
            break
        maker = levels[lvl, L_HEAD]
        m = orders[maker]
        if _expired(m, ts):
            n = _remove(st, ev, n, maker, m[O_LEAVES], EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
        elif m[O_ACCOUNT] == t[O_ACCOUNT]:
            if stp == _NEWEST:
                n = _remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                return n
            if stp == _OLDEST:
                n = _remove(st, ev, n, maker, m[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
            elif stp == _BOTH:
                n = _remove(st, ev, n, maker, m[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                n = _remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.SELF_TRADE, seq, ts)
                return n
            else:
                d = min(t[O_LEAVES], m[O_LEAVES])
                n = _remove(st, ev, n, maker, d, EV.CANCELLED, R.SELF_TRADE, seq, ts)
                n = _remove(st, ev, n, taker, d, EV.CANCELLED, R.SELF_TRADE, seq, ts)
                if t[O_ID] == 0:  # the taker was finished by the decrement
                    return n
        else:
            n = _trade(st, ev, n, taker, maker, min(t[O_LEAVES], m[O_LEAVES]), m[O_PRICE], 0, seq, ts)
    if t[O_LEAVES] > 0:
        if tif == _GTC or tif == _GTD:
            _rest(st, taker)
            return n
        return _remove(st, ev, n, taker, t[O_LEAVES], EV.CANCELLED, R.IOC_REMAINDER, seq, ts)
    return _finish(st, ev, n, taker, seq, ts)


# ---------------------------------------------------------------- commands

@_kernel
def _account_ok(st, account):
    """Whether an account id is in range."""
    return 0 <= account < st[3].shape[0]


@_kernel
def _instrument_reason(st, instrument):
    """NONE if the instrument id is listed, else UNKNOWN_INSTRUMENT."""
    if instrument < 0 or instrument >= st[8][CT_INSTRUMENTS]:
        return R.UNKNOWN_INSTRUMENT
    return R.NONE


@_kernel
def _trading_reason(st, instrument, ts):
    """Why new orders or replaces cannot enter an instrument now (NONE if they can)."""
    i = st[2][instrument]
    if i[I_STATE] == _CLOSED or ts >= i[I_GATE]:
        return R.GATE_CLOSED
    if i[I_STATE] == _HALTED:
        return R.INSTRUMENT_HALTED
    return R.NONE


@_kernel
def _price_reason(i, price):
    """Why a limit price is not acceptable for an instrument (NONE if it is)."""
    if price % i[I_TICK] != 0:
        return R.PRICE_NOT_ON_TICK
    if price < i[I_LO] or price > i[I_HI]:
        return R.PRICE_OUT_OF_BAND
    return R.NONE


@_kernel
def _would_cross(st, instrument, side, price):
    lvl = _best(st, instrument, _SELL if side == _BUY else _BUY)
    return lvl != EMPTY and _crosses(side, price, st[1][lvl, L_PRICE])


@_kernel
def _new_order(st, ev, n, cmd):
    orders, insts, ct, ctr = st[0], st[2], st[5], st[8]
    seq, ts = cmd[_C_SEQ], cmd[_C_TS]
    account, inst, side = cmd[_C_ACCOUNT], cmd[_C_INSTRUMENT], cmd[_C_SIDE]
    otype, tif, flags, stp = cmd[_C_TYPE], cmd[_C_TIF], cmd[_C_FLAGS], cmd[_C_STP]
    price, qty, clord, expire = cmd[_C_PRICE], cmd[_C_QTY], cmd[_C_CLORD], cmd[_C_EXPIRE]
    reason = R.NONE
    if not _account_ok(st, account):
        reason = R.UNKNOWN_ACCOUNT
    else:
        reason = _instrument_reason(st, inst)
    if reason == R.NONE:
        i = insts[inst]
        if side != _BUY and side != _SELL:
            reason = R.BAD_SIDE
        elif otype != _LIMIT and otype != _MARKET:
            reason = R.BAD_ORDER_TYPE
        elif tif < _GTC or tif > _FOK or (otype == _MARKET and tif != _IOC and tif != _FOK):
            reason = R.BAD_TIME_IN_FORCE
        elif stp < _NEWEST or stp > _DECREMENT:
            reason = R.BAD_STP_MODE
        elif (flags & ~_POST_ONLY) != 0 or (
                flags == _POST_ONLY and (otype != _LIMIT or (tif != _GTC and tif != _GTD))):
            reason = R.BAD_FLAGS
        elif clord <= 0 or clord >= _CLORD_LIMIT:
            reason = R.BAD_CLIENT_ORDER_ID
        elif qty < i[I_MIN_QTY] or qty > i[I_MAX_QTY]:
            reason = R.QUANTITY_OUT_OF_LIMITS
        elif otype == _LIMIT and _price_reason(i, price) != R.NONE:
            reason = _price_reason(i, price)
        elif otype == _MARKET and price != 0:
            reason = R.MARKET_ORDER_HAS_PRICE
        elif (expire <= ts) if tif == _GTD else (expire != 0):
            reason = R.BAD_EXPIRY
        elif hash_find(ct, clord_key(clord, account)) != EMPTY:
            reason = R.DUPLICATE_CLIENT_ORDER_ID
        else:
            reason = _trading_reason(st, inst, ts)
        if reason == R.NONE and i[I_STATE] == _CALL and (tif == _IOC or tif == _FOK or flags == _POST_ONLY):
            reason = R.INSTRUMENT_IN_CALL
        if reason == R.NONE:
            if otype == _MARKET:
                price = i[I_HI] if side == _BUY else i[I_LO]
            if flags == _POST_ONLY and _would_cross(st, inst, side, price):
                reason = R.POST_ONLY_WOULD_CROSS
            elif side == _BUY and price * qty > _available_funds(st, account):
                reason = R.INSUFFICIENT_FUNDS
            elif side == _SELL and qty > _free_capacity(st, account, inst):
                reason = R.INSUFFICIENT_CAPACITY
    if reason != R.NONE:
        return _reject(ev, n, cmd, reason)
    slot = ctr[CT_ORDER_FREE]
    o = orders[slot]
    ctr[CT_ORDER_FREE] = o[O_NEXT]
    o[O_ID] = ctr[CT_NEXT_ORDER_ID]
    ctr[CT_NEXT_ORDER_ID] += 1
    ctr[CT_LIVE] += 1
    o[O_ACCOUNT] = account
    o[O_INSTRUMENT] = inst
    o[O_TERMS] = (side << SIDE_SHIFT) | (tif << TIF_SHIFT) | (stp << STP_SHIFT) | (flags << FLAGS_SHIFT)
    o[O_PRICE] = price
    o[O_QTY] = qty
    o[O_LEAVES] = qty
    o[O_FILLED] = 0
    o[O_REMOVED] = 0
    o[O_EXPIRE] = expire
    o[O_CLORD] = clord
    o[O_NEXT] = EMPTY
    o[O_PREV] = EMPTY
    o[O_LEVEL] = EMPTY
    ctr[CT_CLORD_N] += hash_put(ct, clord_key(clord, account), slot)
    if side == _BUY:
        st[3][account, A_RESERVED] += price * qty
        _position(st, account, inst, True)
    else:
        st[4][_position(st, account, inst, False), P_ASK_OPEN] += qty
    n = _emit_order(ev, n, orders, slot, seq, ts, EV.ACCEPTED, 0, qty)
    if insts[inst, I_STATE] == _CALL:
        _rest(st, slot)
        return n
    return _match(st, ev, n, slot, seq, ts)


@_kernel
def _live_slot(st, account, clord):
    """(slot, reason): the live order of (account, clord), or UNKNOWN_ORDER / ORDER_DONE."""
    if clord <= 0 or clord >= _CLORD_LIMIT:
        return EMPTY, R.UNKNOWN_ORDER
    slot = hash_find(st[5], clord_key(clord, account))
    if slot == EMPTY:
        return EMPTY, R.UNKNOWN_ORDER
    if slot == DONE:
        return EMPTY, R.ORDER_DONE
    return slot, R.NONE


@_kernel
def _cancel(st, ev, n, cmd):
    account, orig = cmd[_C_ACCOUNT], cmd[_C_ORIG]
    if not _account_ok(st, account):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    slot, reason = _live_slot(st, account, orig)
    if reason != R.NONE:
        return _reject(ev, n, cmd, reason)
    return _remove(st, ev, n, slot, st[0][slot, O_LEAVES], EV.CANCELLED, R.USER_CANCEL,
                   cmd[_C_SEQ], cmd[_C_TS])


@_kernel
def _replace(st, ev, n, cmd):
    orders, levels, insts, ct = st[0], st[1], st[2], st[5]
    seq, ts = cmd[_C_SEQ], cmd[_C_TS]
    account, orig, clord = cmd[_C_ACCOUNT], cmd[_C_ORIG], cmd[_C_CLORD]
    price, qty = cmd[_C_PRICE], cmd[_C_QTY]
    slot = EMPTY
    if not _account_ok(st, account):
        reason = R.UNKNOWN_ACCOUNT
    elif clord <= 0 or clord >= _CLORD_LIMIT:
        reason = R.BAD_CLIENT_ORDER_ID
    else:
        slot, reason = _live_slot(st, account, orig)
    if reason == R.NONE:
        o = orders[slot]
        i = insts[o[O_INSTRUMENT]]
        side = _side(o)
        new_leaves = qty - o[O_FILLED] - o[O_REMOVED]
        if qty < i[I_MIN_QTY] or qty > i[I_MAX_QTY]:
            reason = R.QUANTITY_OUT_OF_LIMITS
        elif _price_reason(i, price) != R.NONE:
            reason = _price_reason(i, price)
        elif hash_find(ct, clord_key(clord, account)) != EMPTY:
            reason = R.DUPLICATE_CLIENT_ORDER_ID
        elif _trading_reason(st, o[O_INSTRUMENT], ts) != R.NONE:
            reason = _trading_reason(st, o[O_INSTRUMENT], ts)
        elif new_leaves <= 0:
            reason = R.REPLACE_BELOW_FILLED
        elif (_flags(o) == _POST_ONLY and i[I_STATE] != _CALL
              and _would_cross(st, o[O_INSTRUMENT], side, price)):
            reason = R.POST_ONLY_WOULD_CROSS
        elif side == _BUY and price * new_leaves - o[O_PRICE] * o[O_LEAVES] > _available_funds(st, account):
            reason = R.INSUFFICIENT_FUNDS
        elif side == _SELL and new_leaves - o[O_LEAVES] > _free_capacity(st, account, o[O_INSTRUMENT]):
            reason = R.INSUFFICIENT_CAPACITY
    if reason != R.NONE:
        return _reject(ev, n, cmd, reason)
    o = orders[slot]
    keep = price == o[O_PRICE] and qty <= o[O_QTY]
    _release(st, slot, o[O_LEAVES])
    if keep:
        levels[o[O_LEVEL], L_QTY] += new_leaves - o[O_LEAVES]
    else:
        _unlink(st, slot)
    hash_put(ct, clord_key(o[O_CLORD], account), DONE)
    st[8][CT_CLORD_N] += hash_put(ct, clord_key(clord, account), slot)
    o[O_CLORD] = clord
    o[O_PRICE] = price
    o[O_QTY] = qty
    o[O_LEAVES] = new_leaves
    if _side(o) == _BUY:
        st[3][account, A_RESERVED] += price * new_leaves
    else:
        st[4][_position(st, account, o[O_INSTRUMENT], False), P_ASK_OPEN] += new_leaves
    n = _emit_order(ev, n, orders, slot, seq, ts, EV.REPLACED,
                        R.PRIORITY_KEPT if keep else R.PRIORITY_LOST, qty)
    ev[n - 1, 15] = orig
    if keep:
        return n
    if insts[o[O_INSTRUMENT], I_STATE] == _CALL:
        _rest(st, slot)
        return n
    return _match(st, ev, n, slot, seq, ts)


@njit(cache=True)
def _instrument_slots(st, instrument, account):
    """Slots of the live orders of an instrument (of one account unless -1), by order id."""
    orders, levels, insts = st[0], st[1], st[2]
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
def _pool_slots(st, account, gtd_before):
    """Slots of all live orders (of one account unless -1; only GTD ones expiring at or
    before ``gtd_before`` unless -1), by order id. O(pool)."""
    orders = st[0]
    found = np.empty(orders.shape[0], np.int64)
    k = 0
    for s in range(orders.shape[0]):
        o = orders[s]
        if o[O_ID] == 0 or o[O_LEVEL] == EMPTY:
            continue
        if account != EMPTY and o[O_ACCOUNT] != account:
            continue
        if gtd_before != EMPTY and not _expired(o, gtd_before):
            continue
        found[k] = s
        k += 1
    return _by_order_id(orders, found[:k])


@_kernel
def _remove_all(st, ev, n, slots, kind, reason, seq, ts):
    for s in slots:
        n = _remove(st, ev, n, s, st[0][s, O_LEAVES], kind, reason, seq, ts)
    return n


@njit(cache=True)
def _mass_cancel(st, ev, n, cmd):
    account, inst = cmd[_C_ACCOUNT], cmd[_C_INSTRUMENT]
    if account != EMPTY and not _account_ok(st, account):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if inst != EMPTY and _instrument_reason(st, inst) != R.NONE:
        return _reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    if account == EMPTY and inst == EMPTY:
        return _reject(ev, n, cmd, R.BAD_MASS_CANCEL_FILTER)
    if inst == EMPTY:
        slots = _pool_slots(st, account, EMPTY)
    else:
        slots = _instrument_slots(st, inst, account)
    n = _remove_all(st, ev, n, slots, EV.CANCELLED, R.MASS_CANCEL, cmd[_C_SEQ], cmd[_C_TS])
    return _ack(ev, n, cmd, slots.shape[0])


@njit(cache=True)
def _close(st, ev, n, inst, seq, ts):
    """Expire every live order of an instrument and close it for good; return the count."""
    slots = _instrument_slots(st, inst, EMPTY)
    n = _remove_all(st, ev, n, slots, EV.EXPIRED, R.GATE_CLOSURE, seq, ts)
    st[2][inst, I_STATE] = _CLOSED
    st[2][inst, I_CALL_END] = 0
    return n, slots.shape[0]


@njit(cache=True)
def _timer(st, ev, n, cmd, classes):
    seq, ts = cmd[_C_SEQ], cmd[_C_TS]
    total = 0
    insts = st[2]
    for inst in range(st[8][CT_INSTRUMENTS]):
        if insts[inst, I_STATE] != _CLOSED and insts[inst, I_GATE] <= ts:
            n, count = _close(st, ev, n, inst, seq, ts)
            total += count
    slots = _pool_slots(st, EMPTY, ts)
    n = _remove_all(st, ev, n, slots, EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
    for inst in range(st[8][CT_INSTRUMENTS]):
        if insts[inst, I_STATE] == _CALL and 0 < insts[inst, I_CALL_END] <= ts:
            n, _ = _uncross(st, ev, n, inst, seq, ts, classes)
    return _ack(ev, n, cmd, total + slots.shape[0])


@njit(cache=True)
def _book_levels(st, inst, side):
    """(prices, qtys) of one side's levels, best first."""
    levels = st[1]
    col = I_BEST_BID if side == _BUY else I_BEST_ASK
    count = 0
    lvl = st[2][inst, col]
    while lvl != EMPTY:
        count += 1
        lvl = levels[lvl, L_NEXT]
    prices = np.empty(count, np.int64)
    qtys = np.empty(count, np.int64)
    lvl = st[2][inst, col]
    for j in range(count):
        prices[j] = levels[lvl, L_PRICE]
        qtys[j] = levels[lvl, L_QTY]
        lvl = levels[lvl, L_NEXT]
    return prices, qtys


@njit(cache=True)
def _uncross(st, ev, n, inst, seq, ts, classes):
    """End an instrument's call phase (rules: "Call phase and uncross"); return
    ``(n, GPUs traded)``. O(orders of the instrument + levels)."""
    orders, levels, insts = st[0], st[1], st[2]
    for s in _instrument_slots(st, inst, EMPTY):
        if _expired(orders[s], ts):
            n = _remove(st, ev, n, s, orders[s, O_LEAVES], EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
    bid_p, bid_q = _book_levels(st, inst, _BUY)
    ask_p, ask_q = _book_levels(st, inst, _SELL)
    reference = insts[inst, I_LAST]
    if reference == 0:
        reference = classes[insts[inst, I_CLASS], CL_REFERENCE]
    price, volume, signed, _ = _uncross_price(bid_p, bid_q, ask_p, ask_q, reference)
    surplus_side = _BUY if signed > 0 else (_SELL if signed < 0 else 0)
    n = _emit(ev, n, seq, ts, EV.UNCROSSED, 0, 0, inst, 0, 0, surplus_side, price, volume,
              abs(signed), 0)
    left = volume
    traded = 0
    while left > 0:
        b = levels[insts[inst, I_BEST_BID], L_HEAD]
        a = levels[insts[inst, I_BEST_ASK], L_HEAD]
        q = min(orders[b, O_LEAVES], orders[a, O_LEAVES], left)
        newer, older = (b, a) if orders[b, O_ID] > orders[a, O_ID] else (a, b)
        if orders[b, O_ACCOUNT] == orders[a, O_ACCOUNT]:
            n = _remove(st, ev, n, older, q, EV.CANCELLED, R.SELF_TRADE, seq, ts)
            n = _remove(st, ev, n, newer, q, EV.CANCELLED, R.SELF_TRADE, seq, ts)
        else:
            n = _trade(st, ev, n, newer, older, q, price, R.AUCTION, seq, ts)
            traded += q
            levels[orders[newer, O_LEVEL], L_QTY] -= q
            if orders[newer, O_LEAVES] == 0:
                _unlink(st, newer)
                n = _finish(st, ev, n, newer, seq, ts)
        left -= q
    insts[inst, I_STATE] = _OPEN
    insts[inst, I_CALL_END] = 0
    return n, traded


@njit(cache=True)
def _market_command(st, ev, n, cmd, classes):
    """LIST_INSTRUMENT, HALT, RESUME, CLOSE_GATE, START_CALL and UNCROSS."""
    kind, inst, ts, expire = cmd[_C_KIND], cmd[_C_INSTRUMENT], cmd[_C_TS], cmd[_C_EXPIRE]
    insts, ctr = st[2], st[8]
    bad_expiry = expire != 0 and expire <= ts
    if kind == K.LIST_INSTRUMENT:
        c = cmd[_C_CLASS]
        if inst != ctr[CT_INSTRUMENTS]:
            return _reject(ev, n, cmd, R.BAD_INSTRUMENT_ID)
        if c < 0 or c >= classes.shape[0]:
            return _reject(ev, n, cmd, R.UNKNOWN_GPU_CLASS)
        if bad_expiry:
            return _reject(ev, n, cmd, R.BAD_EXPIRY)
        i = insts[inst]
        i[I_STATE] = _CALL if expire > 0 else _OPEN
        i[I_CLASS] = c
        i[I_REGION] = cmd[_C_REGION]
        i[I_SLOT] = cmd[_C_SLOT]
        i[I_GATE] = cmd[_C_SLOT] - classes[c, CL_GATE]
        i[I_TICK] = classes[c, CL_TICK]
        i[I_LO] = classes[c, CL_LO]
        i[I_HI] = classes[c, CL_HI]
        i[I_MIN_QTY] = classes[c, CL_MIN_QTY]
        i[I_MAX_QTY] = classes[c, CL_MAX_QTY]
        i[I_BEST_BID] = EMPTY
        i[I_BEST_ASK] = EMPTY
        i[I_LAST] = 0
        i[I_CALL_END] = expire
        ctr[CT_INSTRUMENTS] += 1
        return _ack(ev, n, cmd, 0)
    if _instrument_reason(st, inst) != R.NONE:
        return _reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    state = insts[inst, I_STATE]
    if state == _CLOSED:
        return _reject(ev, n, cmd, R.GATE_CLOSED)
    if kind == K.HALT:
        if state != _OPEN:
            return _reject(ev, n, cmd, R.INSTRUMENT_HALTED if state == _HALTED else R.INSTRUMENT_IN_CALL)
        insts[inst, I_STATE] = _HALTED
        return _ack(ev, n, cmd, 0)
    if kind == K.RESUME:
        if state != _HALTED:
            return _reject(ev, n, cmd, R.INSTRUMENT_NOT_HALTED)
        if bad_expiry:
            return _reject(ev, n, cmd, R.BAD_EXPIRY)
        insts[inst, I_STATE] = _CALL if expire > 0 else _OPEN
        insts[inst, I_CALL_END] = expire
        return _ack(ev, n, cmd, 0)
    if kind == K.START_CALL or kind == K.UNCROSS:
        if ts >= insts[inst, I_GATE]:
            return _reject(ev, n, cmd, R.GATE_CLOSED)
        if kind == K.START_CALL:
            if state == _CALL:
                return _reject(ev, n, cmd, R.INSTRUMENT_IN_CALL)
            if bad_expiry:
                return _reject(ev, n, cmd, R.BAD_EXPIRY)
            insts[inst, I_STATE] = _CALL
            insts[inst, I_CALL_END] = expire
            return _ack(ev, n, cmd, 0)
        if state != _CALL:
            return _reject(ev, n, cmd, R.INSTRUMENT_NOT_IN_CALL)
        n, traded = _uncross(st, ev, n, inst, cmd[_C_SEQ], ts, classes)
        return _ack(ev, n, cmd, traded)
    n, count = _close(st, ev, n, inst, cmd[_C_SEQ], ts)
    return _ack(ev, n, cmd, count)


@_kernel
def _capacity_command(st, ev, n, cmd):
    """DEPOSIT_CAPACITY and WITHDRAW_CAPACITY."""
    account, inst, qty = cmd[_C_ACCOUNT], cmd[_C_INSTRUMENT], cmd[_C_QTY]
    if not _account_ok(st, account):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if _instrument_reason(st, inst) != R.NONE:
        return _reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    row = _position(st, account, inst, False)
    held = 0 if row == EMPTY else st[4][row, P_CAPACITY]
    if qty <= 0 or qty > _CAPACITY_LIMIT or (
            cmd[_C_KIND] == K.DEPOSIT_CAPACITY and held + qty > _CAPACITY_LIMIT):
        return _reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if st[2][inst, I_STATE] == _CLOSED:
        return _reject(ev, n, cmd, R.GATE_CLOSED)
    if cmd[_C_KIND] == K.DEPOSIT_CAPACITY:
        st[4][_position(st, account, inst, True), P_CAPACITY] += qty
        return _ack(ev, n, cmd, qty)
    if row == EMPTY or qty > held or qty > _free_capacity(st, account, inst):
        return _reject(ev, n, cmd, R.INSUFFICIENT_CAPACITY)
    st[4][row, P_CAPACITY] -= qty
    return _ack(ev, n, cmd, qty)


@_kernel
def _funds_command(st, ev, n, cmd):
    """DEPOSIT_FUNDS, WITHDRAW_FUNDS and SET_CREDIT."""
    kind, account, amount = cmd[_C_KIND], cmd[_C_ACCOUNT], cmd[_C_AMOUNT]
    if not _account_ok(st, account):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    a = st[3][account]
    if (amount < 0 or amount > _MONEY_LIMIT or (amount == 0 and kind != K.SET_CREDIT)
            or (kind == K.DEPOSIT_FUNDS and a[A_CASH] + amount > _MONEY_LIMIT)):
        return _reject(ev, n, cmd, R.BAD_AMOUNT)
    if kind == K.DEPOSIT_FUNDS:
        a[A_CASH] += amount
    elif kind == K.WITHDRAW_FUNDS:
        if amount > a[A_CASH] or a[A_CASH] - amount + a[A_CREDIT] < a[A_RESERVED] + a[A_HELD]:
            return _reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
        a[A_CASH] -= amount
    else:
        if a[A_CASH] + amount < a[A_RESERVED] + a[A_HELD]:
            return _reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
        a[A_CREDIT] = amount
    return _ack(ev, n, cmd, amount)


@_kernel
def _hold_command(st, ev, n, cmd):
    """HOLD_FUNDS, HOLD_CAPACITY and RELEASE_HOLDS."""
    kind, account, inst = cmd[_C_KIND], cmd[_C_ACCOUNT], cmd[_C_INSTRUMENT]
    if kind == K.RELEASE_HOLDS:
        if account != EMPTY and not _account_ok(st, account):
            return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
        accts, pos = st[3], st[4]
        for a in range(accts.shape[0]):
            if account == EMPTY or a == account:
                accts[a, A_HELD] = 0
        for row in range(st[8][CT_POSITIONS]):
            if account == EMPTY or pos[row, P_ACCOUNT] == account:
                pos[row, P_HELD] = 0
        return _ack(ev, n, cmd, 0)
    if not _account_ok(st, account):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if kind == K.HOLD_FUNDS:
        amount = cmd[_C_AMOUNT]
        if amount <= 0 or amount > _MONEY_LIMIT:
            return _reject(ev, n, cmd, R.BAD_AMOUNT)
        held = min(amount, max(0, _available_funds(st, account)))
        st[3][account, A_HELD] += held
        return _ack(ev, n, cmd, held)
    if _instrument_reason(st, inst) != R.NONE:
        return _reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    qty = cmd[_C_QTY]
    if qty <= 0 or qty > _CAPACITY_LIMIT:
        return _reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if st[2][inst, I_STATE] == _CLOSED or cmd[_C_TS] >= st[2][inst, I_GATE]:
        return _reject(ev, n, cmd, R.GATE_CLOSED)
    held = min(qty, max(0, _free_capacity(st, account, inst)))
    if held > 0:
        st[4][_position(st, account, inst, False), P_HELD] += held
    return _ack(ev, n, cmd, held)


@_kernel
def _da_trade(st, ev, n, cmd):
    """DA_TRADE: book a trade of the day-ahead auction against both parties' holds."""
    buyer, seller, inst = cmd[_C_ACCOUNT], cmd[_C_CONTRA], cmd[_C_INSTRUMENT]
    price, qty = cmd[_C_PRICE], cmd[_C_QTY]
    if not _account_ok(st, buyer) or not _account_ok(st, seller):
        return _reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if buyer == seller:
        return _reject(ev, n, cmd, R.SAME_ACCOUNT)
    if _instrument_reason(st, inst) != R.NONE:
        return _reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    i = st[2][inst]
    if qty <= 0 or qty > i[I_MAX_QTY]:
        return _reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if _price_reason(i, price) != R.NONE:
        return _reject(ev, n, cmd, _price_reason(i, price))
    if i[I_STATE] == _CLOSED or cmd[_C_TS] >= i[I_GATE]:
        return _reject(ev, n, cmd, R.GATE_CLOSED)
    accts, pos = st[3], st[4]
    if accts[buyer, A_HELD] < price * qty:
        return _reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
    srow = _position(st, seller, inst, False)
    if srow == EMPTY or pos[srow, P_HELD] < qty:
        return _reject(ev, n, cmd, R.INSUFFICIENT_CAPACITY)
    accts[buyer, A_HELD] -= price * qty
    accts[buyer, A_CASH] -= price * qty
    accts[seller, A_CASH] += price * qty
    pos[_position(st, buyer, inst, True), P_BOUGHT] += qty
    pos[srow, P_HELD] -= qty
    pos[srow, P_SOLD] += qty
    i[I_LAST] = price
    trade_id = st[8][CT_NEXT_TRADE_ID]
    st[8][CT_NEXT_TRADE_ID] += 1
    n = _emit(ev, n, cmd[_C_SEQ], cmd[_C_TS], EV.TRADE, R.DAY_AHEAD, buyer, inst, 0, cmd[_C_CLORD],
              _BUY, price, qty, 0, 0)
    row = ev[n - 1]
    row[14] = seller
    row[15] = cmd[_C_ORIG]
    row[17] = trade_id
    return _ack(ev, n, cmd, qty)


PREFETCH_DISTANCE = 8
"""How many commands ahead :func:`process` prefetches the client order id table."""


@intrinsic
def _prefetch_row(typingctx, table, row):
    """Hint the CPU to load ``table[row]`` into cache (``llvm.prefetch``); no effect on
    results. The engine's client order id table is far larger than the caches and is
    read at random, and each command is too long for the CPU to overlap that miss by
    itself."""

    def codegen(context, builder, signature, args):
        table_type = signature.args[0]
        array = context.make_array(table_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, table_type, array, [args[1], zero],
                                       wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(table, row), codegen


if config.DISABLE_JIT:  # the kernels run as Python: a cache hint means nothing there
    def _prefetch_row(table, row):  # noqa: F811
        return None


@_kernel
def _prefetch_clord_slot(table, cmd):
    """Prefetch the home slot of a later command's client order id."""
    kind = cmd[_C_KIND]
    clord = cmd[_C_ORIG] if kind == K.CANCEL else cmd[_C_CLORD]
    if 0 < clord < _CLORD_LIMIT and cmd[_C_ACCOUNT] >= 0:
        _prefetch_row(table, home_slot(clord_key(clord, cmd[_C_ACCOUNT]), table.shape[0] - 1))


@_kernel
def _room(st):
    """Whether every pool and table has room for what one command can add."""
    insts, pos, ct, pt, lt, ctr = st[2], st[4], st[5], st[6], st[7], st[8]
    return (ctr[CT_ORDER_FREE] != EMPTY and ctr[CT_LEVEL_FREE] != EMPTY
            and ctr[CT_INSTRUMENTS] < insts.shape[0] and ctr[CT_POSITIONS] < pos.shape[0]
            and 2 * (ctr[CT_CLORD_N] + 1) <= ct.shape[0]
            and 2 * (ctr[CT_POS_N] + 1) <= pt.shape[0]
            and 2 * (ctr[CT_LEVEL_N] + 1) <= lt.shape[0])


@njit(cache=True, nogil=True)
def process(st, classes, cmds, start, ev, n):
    """Apply commands ``cmds[start:]`` (rows of COMMAND fields) to the state.

    Returns ``(status, next_index, n_events)``: status OK when all were applied,
    NEED_ROOM when the pools must grow before ``cmds[next_index]`` can run.
    ``classes`` rows are (tick, band_lo, band_hi, min_qty, max_qty, gate_closure_ns).
    """
    for k in range(start, cmds.shape[0]):
        if not _room(st) or n + 8 + 3 * st[8][CT_LIVE] + st[8][CT_INSTRUMENTS] > ev.shape[0]:
            return NEED_ROOM, k, n
        if k + PREFETCH_DISTANCE < cmds.shape[0]:
            _prefetch_clord_slot(st[5], cmds[k + PREFETCH_DISTANCE])
        cmd = cmds[k]
        kind = cmd[_C_KIND]
        if kind == K.NEW_ORDER:
            n = _new_order(st, ev, n, cmd)
        elif kind == K.CANCEL:
            n = _cancel(st, ev, n, cmd)
        elif kind == K.REPLACE:
            n = _replace(st, ev, n, cmd)
        elif kind == K.MASS_CANCEL:
            n = _mass_cancel(st, ev, n, cmd)
        elif kind == K.DEPOSIT_CAPACITY or kind == K.WITHDRAW_CAPACITY:
            n = _capacity_command(st, ev, n, cmd)
        elif kind == K.DEPOSIT_FUNDS or kind == K.WITHDRAW_FUNDS or kind == K.SET_CREDIT:
            n = _funds_command(st, ev, n, cmd)
        elif (kind >= K.LIST_INSTRUMENT and kind <= K.CLOSE_GATE) or kind == K.START_CALL or kind == K.UNCROSS:
            n = _market_command(st, ev, n, cmd, classes)
        elif kind == K.TIMER:
            n = _timer(st, ev, n, cmd, classes)
        elif kind == K.HOLD_FUNDS or kind == K.HOLD_CAPACITY or kind == K.RELEASE_HOLDS:
            n = _hold_command(st, ev, n, cmd)
        elif kind == K.DA_TRADE:
            n = _da_trade(st, ev, n, cmd)
        else:
            n = _reject(ev, n, cmd, R.UNKNOWN_COMMAND)
    return OK, cmds.shape[0], n
