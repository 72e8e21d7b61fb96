"""Order command handlers of the numba engine (new, cancel, replace, mass cancel, the
forgetting of done orders) and the checks they share with the market and account
commands of :mod:`exchange.engine.market_commands`: one kernel per kind of command (or
group of kinds), which checks the command in the order of :mod:`exchange.schema.rules`,
emits a REJECTED with the first failing reason, or applies it through the book
operations of :mod:`exchange.engine.orderbook`.

Every handler takes the state, the event buffer ``ev``, the count ``n`` of events written
so far and the command (a row of the command matrix, read by :data:`exchange.schema.C`),
and returns the new count; :func:`exchange.engine.process.process` dispatches to them.
Only the handlers that collect orders allocate: mass cancel here, and in
:mod:`~exchange.engine.market_commands` the TIMER, CLOSE_GATE and UNCROSS.
"""

from __future__ import annotations

from numba import njit

from exchange.engine.events import ack, emit_order, reject
from exchange.engine.hashtable import (
    EMPTY,
    VALUE,
    clord_key,
    hash_delete_at,
    hash_find,
    hash_put,
    hash_slot,
    prefetch_home,
)
from exchange.engine.layout import (
    A_RESERVED,
    CT_CLORD_N,
    CT_INSTRUMENTS,
    CT_LIVE,
    CT_NEXT_ORDER_ID,
    CT_ORDER_FREE,
    DONE,
    I_GATE,
    I_HI,
    I_LO,
    I_MAX_QTY,
    I_MIN_QTY,
    I_STATE,
    I_TICK,
    L_PRICE,
    L_QTY,
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
    O_TERMS,
    P_ASK_OPEN,
    RQ_HEAD,
    RQ_KEYS,
    RQ_TAIL,
    done_mark,
    kernel,
    order_flags,
    order_side,
    order_terms,
    retire_clord,
)
from exchange.engine.orderbook import (
    available_funds,
    best_level,
    crosses,
    free_capacity,
    instrument_slots,
    match,
    pool_slots,
    position_row,
    release,
    remove,
    remove_all,
    rest,
    unlink,
)
from exchange.schema import (
    CLORD_LIMIT,
    HISTORY_MARKS,
    C,
    E,
    EventKind as EV,
    InstrumentState as IS,
    OrderFlag,
    OrderType,
    Reason as R,
    Side,
    StpMode,
    TimeInForce as TIF,
)

PREFETCH_KEYS = 8
"""How many keys ahead :func:`forget_retired` prefetches the rows of the client order id table."""


# ---------------------------------------------------------------- checks

@kernel
def account_ok(st, account):
    """Whether an account id is in range."""
    return 0 <= account < st.accounts.shape[0]


@kernel
def instrument_reason(st, instrument):
    """NONE if the instrument id is listed, else UNKNOWN_INSTRUMENT."""
    if instrument < 0 or instrument >= st.counters[CT_INSTRUMENTS]:
        return R.UNKNOWN_INSTRUMENT
    return R.NONE


@kernel
def trading_reason(st, instrument, ts):
    """Why new orders or replaces cannot enter an instrument now (NONE if they can)."""
    i = st.instruments[instrument]
    if i[I_STATE] == IS.CLOSED or ts >= i[I_GATE]:
        return R.GATE_CLOSED
    if i[I_STATE] == IS.HALTED:
        return R.INSTRUMENT_HALTED
    return R.NONE


@kernel
def price_reason(i, price):
    """Why a limit price is not acceptable for an instrument (NONE if it is)."""
    if price % i[I_TICK] != 0:
        return R.PRICE_NOT_ON_TICK
    if price < i[I_LO] or price > i[I_HI]:
        return R.PRICE_OUT_OF_BAND
    return R.NONE


@kernel
def would_cross(st, instrument, side, price):
    lvl = best_level(st, instrument, Side.SELL if side == Side.BUY else Side.BUY)
    return lvl != EMPTY and crosses(side, price, st.levels[lvl, L_PRICE])


# ---------------------------------------------------------------- order commands

@kernel
def new_order(st, ev, n, cmd):  # noqa: C901 - the rules in order in one kernel: a call per step costs on the order path
    orders, insts, ct, ctr = st.orders, st.instruments, st.clord_index, st.counters
    seq, ts = cmd[C.SEQ], cmd[C.TS]
    account, inst, side = cmd[C.ACCOUNT], cmd[C.INSTRUMENT], cmd[C.SIDE]
    marks, stp = cmd[C.FLAGS], cmd[C.STP]
    otype, tif, flags = cmd[C.ORDER_TYPE], cmd[C.TIF], marks & ~HISTORY_MARKS
    price, qty, clord, expire = cmd[C.PRICE], cmd[C.QTY], cmd[C.CLORD], cmd[C.EXPIRE_TS]
    reason = R.NONE
    if not account_ok(st, account):
        reason = R.UNKNOWN_ACCOUNT
    else:
        reason = instrument_reason(st, inst)
    if reason == R.NONE:
        i = insts[inst]
        if side != Side.BUY and side != Side.SELL:
            reason = R.BAD_SIDE
        elif otype != OrderType.LIMIT and otype != OrderType.MARKET:
            reason = R.BAD_ORDER_TYPE
        elif tif < TIF.GTC or tif > TIF.FOK or (otype == OrderType.MARKET and tif != TIF.IOC and tif != TIF.FOK):
            reason = R.BAD_TIME_IN_FORCE
        elif stp < StpMode.CANCEL_NEWEST or stp > StpMode.DECREMENT:
            reason = R.BAD_STP_MODE
        elif (flags & ~OrderFlag.POST_ONLY) != 0 or (
                flags == OrderFlag.POST_ONLY and (otype != OrderType.LIMIT or (tif != TIF.GTC and tif != TIF.GTD))):
            reason = R.BAD_FLAGS
        elif clord <= 0 or clord >= CLORD_LIMIT:
            reason = R.BAD_CLIENT_ORDER_ID
        elif qty < i[I_MIN_QTY] or qty > i[I_MAX_QTY]:
            reason = R.QUANTITY_OUT_OF_LIMITS
        elif otype == OrderType.LIMIT and price_reason(i, price) != R.NONE:
            reason = price_reason(i, price)
        elif otype == OrderType.MARKET and price != 0:
            reason = R.MARKET_ORDER_HAS_PRICE
        elif (expire <= ts) if tif == TIF.GTD else (expire != 0):
            reason = R.BAD_EXPIRY
        elif marks & OrderFlag.CLORD_IN_HISTORY or hash_find(ct, clord_key(clord, account)) != EMPTY:
            reason = R.DUPLICATE_CLIENT_ORDER_ID
        else:
            reason = trading_reason(st, inst, ts)
        immediate = tif == TIF.IOC or tif == TIF.FOK or flags == OrderFlag.POST_ONLY
        if reason == R.NONE and i[I_STATE] == IS.CALL and immediate:
            reason = R.INSTRUMENT_IN_CALL
        if reason == R.NONE:
            if otype == OrderType.MARKET:
                price = i[I_HI] if side == Side.BUY else i[I_LO]
            if flags == OrderFlag.POST_ONLY and would_cross(st, inst, side, price):
                reason = R.POST_ONLY_WOULD_CROSS
            elif side == Side.BUY and price * qty > available_funds(st, account):
                reason = R.INSUFFICIENT_FUNDS
            elif side == Side.SELL and qty > free_capacity(st, account, inst):
                reason = R.INSUFFICIENT_CAPACITY
    if reason != R.NONE:
        return reject(ev, n, cmd, reason)
    slot = ctr[CT_ORDER_FREE]
    o = orders[slot]
    ctr[CT_ORDER_FREE] = o[O_NEXT]
    o[O_ID] = ctr[CT_NEXT_ORDER_ID]
    ctr[CT_NEXT_ORDER_ID] += 1
    ctr[CT_LIVE] += 1
    o[O_ACCOUNT] = account
    o[O_INSTRUMENT] = inst
    o[O_TERMS] = order_terms(side, tif, stp, flags)
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
    if side == Side.BUY:
        st.accounts[account, A_RESERVED] += price * qty
        position_row(st, account, inst, True)
    else:
        st.positions[position_row(st, account, inst, False), P_ASK_OPEN] += qty
    n = emit_order(ev, n, orders, slot, seq, ts, EV.ACCEPTED, 0, qty)
    if insts[inst, I_STATE] == IS.CALL:
        rest(st, slot)
        return n
    return match(st, ev, n, slot, seq, ts)


@kernel
def live_slot(st, account, clord, marks):
    """(slot, reason): the live order of (account, clord), or UNKNOWN_ORDER / ORDER_DONE
    (also when ``marks`` say the clord is in the order history)."""
    if clord <= 0 or clord >= CLORD_LIMIT:
        return EMPTY, R.UNKNOWN_ORDER
    slot = hash_find(st.clord_index, clord_key(clord, account))
    if slot == EMPTY:
        return EMPTY, R.ORDER_DONE if marks & OrderFlag.ORIG_IN_HISTORY else R.UNKNOWN_ORDER
    if slot <= DONE:
        return EMPTY, R.ORDER_DONE
    return slot, R.NONE


@kernel
def forget_done(st, ev, n, cmd):
    """FORGET_DONE(amount): forget the client order ids retired at seq <= amount (the
    order history holds them now); ACK with how many. BAD_AMOUNT unless 0 <= amount < seq."""
    if cmd[C.AMOUNT] < 0 or cmd[C.AMOUNT] >= cmd[C.SEQ]:
        return reject(ev, n, cmd, R.BAD_AMOUNT)
    forgotten = forget_retired(st.clord_index, st.retired, done_mark(cmd[C.AMOUNT]))
    st.counters[CT_CLORD_N] -= forgotten
    return ack(ev, n, cmd, forgotten)


@kernel
def forget_retired(ct, queue, mark):
    """Delete from ``ct`` the oldest keys of the ``retired`` queue while their value is
    at least ``mark`` (retired at a seq up to ``mark``'s: commands come in increasing seq,
    so the queue is in seq order) and drop them from the queue; how many. O(keys
    deleted), their rows prefetched a few keys ahead (the table is read at random)."""
    head, tail = queue[RQ_HEAD], queue[RQ_TAIL]
    start = head
    while head < tail:
        if head + PREFETCH_KEYS < tail:
            prefetch_home(ct, queue[head + PREFETCH_KEYS])
        row = hash_slot(ct, queue[head])
        if ct[row, VALUE] < mark:
            break
        hash_delete_at(ct, row)
        head += 1
    forgotten = head - start
    if head == tail:
        head = tail = RQ_KEYS
    queue[RQ_HEAD], queue[RQ_TAIL] = head, tail
    return forgotten


@kernel
def cancel(st, ev, n, cmd):
    account, orig = cmd[C.ACCOUNT], cmd[C.ORIG_CLORD]
    if not account_ok(st, account):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    slot, reason = live_slot(st, account, orig, cmd[C.FLAGS])
    if reason != R.NONE:
        return reject(ev, n, cmd, reason)
    return remove(st, ev, n, slot, st.orders[slot, O_LEAVES], EV.CANCELLED, R.USER_CANCEL,
                   cmd[C.SEQ], cmd[C.TS])


@kernel
def replace(st, ev, n, cmd):  # noqa: C901 - the rules in order in one kernel: a call per step costs on the order path
    orders, levels, insts, ct = st.orders, st.levels, st.instruments, st.clord_index
    seq, ts = cmd[C.SEQ], cmd[C.TS]
    account, orig, clord = cmd[C.ACCOUNT], cmd[C.ORIG_CLORD], cmd[C.CLORD]
    price, qty = cmd[C.PRICE], cmd[C.QTY]
    slot = EMPTY
    if not account_ok(st, account):
        reason = R.UNKNOWN_ACCOUNT
    elif clord <= 0 or clord >= CLORD_LIMIT:
        reason = R.BAD_CLIENT_ORDER_ID
    else:
        slot, reason = live_slot(st, account, orig, cmd[C.FLAGS])
    if reason == R.NONE:
        o = orders[slot]
        i = insts[o[O_INSTRUMENT]]
        side = order_side(o)
        new_leaves = qty - o[O_FILLED] - o[O_REMOVED]
        if qty < i[I_MIN_QTY] or qty > i[I_MAX_QTY]:
            reason = R.QUANTITY_OUT_OF_LIMITS
        elif price_reason(i, price) != R.NONE:
            reason = price_reason(i, price)
        elif cmd[C.FLAGS] & OrderFlag.CLORD_IN_HISTORY or hash_find(ct, clord_key(clord, account)) != EMPTY:
            reason = R.DUPLICATE_CLIENT_ORDER_ID
        elif trading_reason(st, o[O_INSTRUMENT], ts) != R.NONE:
            reason = trading_reason(st, o[O_INSTRUMENT], ts)
        elif new_leaves <= 0:
            reason = R.REPLACE_BELOW_FILLED
        elif (order_flags(o) == OrderFlag.POST_ONLY and i[I_STATE] != IS.CALL
              and would_cross(st, o[O_INSTRUMENT], side, price)):
            reason = R.POST_ONLY_WOULD_CROSS
        elif side == Side.BUY and price * new_leaves - o[O_PRICE] * o[O_LEAVES] > available_funds(st, account):
            reason = R.INSUFFICIENT_FUNDS
        elif side == Side.SELL and new_leaves - o[O_LEAVES] > free_capacity(st, account, o[O_INSTRUMENT]):
            reason = R.INSUFFICIENT_CAPACITY
    if reason != R.NONE:
        return reject(ev, n, cmd, reason)
    o = orders[slot]
    keep = price == o[O_PRICE] and qty <= o[O_QTY]
    release(st, slot, o[O_LEAVES])
    if keep:
        levels[o[O_LEVEL], L_QTY] += new_leaves - o[O_LEAVES]
    else:
        unlink(st, slot)
    retire_clord(st, clord_key(o[O_CLORD], account), seq)
    st.counters[CT_CLORD_N] += hash_put(ct, clord_key(clord, account), slot)
    o[O_CLORD] = clord
    o[O_PRICE] = price
    o[O_QTY] = qty
    o[O_LEAVES] = new_leaves
    if order_side(o) == Side.BUY:
        st.accounts[account, A_RESERVED] += price * new_leaves
    else:
        st.positions[position_row(st, account, o[O_INSTRUMENT], False), P_ASK_OPEN] += new_leaves
    n = emit_order(ev, n, orders, slot, seq, ts, EV.REPLACED,
                   R.PRIORITY_KEPT if keep else R.PRIORITY_LOST, qty)
    ev[n - 1, E.CONTRA_CLORD] = orig
    if keep:
        return n
    if insts[o[O_INSTRUMENT], I_STATE] == IS.CALL:
        rest(st, slot)
        return n
    return match(st, ev, n, slot, seq, ts)


@njit(cache=True)
def mass_cancel(st, ev, n, cmd):
    account, inst = cmd[C.ACCOUNT], cmd[C.INSTRUMENT]
    if account != EMPTY and not account_ok(st, account):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if inst != EMPTY and instrument_reason(st, inst) != R.NONE:
        return reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    if account == EMPTY and inst == EMPTY:
        return reject(ev, n, cmd, R.BAD_MASS_CANCEL_FILTER)
    if inst == EMPTY:
        slots = pool_slots(st, account, EMPTY)
    else:
        slots = instrument_slots(st, inst, account)
    n = remove_all(st, ev, n, slots, EV.CANCELLED, R.MASS_CANCEL, cmd[C.SEQ], cmd[C.TS])
    return ack(ev, n, cmd, slots.shape[0])
