"""Command handlers of the numba engine: one kernel per kind of command (or group of
kinds), which checks the command in the order of :mod:`exchange.schema.rules`, emits a
REJECTED with the first failing reason, or applies it through the book operations of
:mod:`exchange.engine.orderbook`.

Every handler takes the state, the event buffer ``ev``, the count ``n`` of events written
so far and the command (a row of the command matrix, read by :data:`exchange.schema.C`),
and returns the new count; :func:`exchange.engine.process.process` dispatches to them.
Only the handlers that collect orders (mass cancel, gate closure, TIMER, uncross)
allocate.
"""

from __future__ import annotations

from numba import njit

from exchange.engine.events import ack, emit, emit_order, reject
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
    A_CASH,
    A_CREDIT,
    A_HELD,
    A_RESERVED,
    CL_GATE,
    CL_HI,
    CL_LO,
    CL_MAX_QTY,
    CL_MIN_QTY,
    CL_TICK,
    CT_CLORD_N,
    CT_INSTRUMENTS,
    CT_LIVE,
    CT_NEXT_ORDER_ID,
    CT_NEXT_TRADE_ID,
    CT_ORDER_FREE,
    CT_POSITIONS,
    DONE,
    I_BEST_ASK,
    I_BEST_BID,
    I_CALL_END,
    I_CLASS,
    I_GATE,
    I_HI,
    I_LAST,
    I_LO,
    I_MAX_QTY,
    I_MIN_QTY,
    I_REGION,
    I_SLOT,
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
    P_ACCOUNT,
    P_ASK_OPEN,
    P_BOUGHT,
    P_CAPACITY,
    P_HELD,
    P_SOLD,
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
    close_instrument,
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
    uncross,
    unlink,
)
from exchange.schema import (
    CAPACITY_LIMIT,
    CLORD_LIMIT,
    HISTORY_MARKS,
    MONEY_LIMIT,
    C,
    CommandKind as K,
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


# ---------------------------------------------------------------- market commands

@njit(cache=True)
def timer(st, ev, n, cmd, classes):
    seq, ts = cmd[C.SEQ], cmd[C.TS]
    total = 0
    insts = st.instruments
    for inst in range(st.counters[CT_INSTRUMENTS]):
        if insts[inst, I_STATE] != IS.CLOSED and insts[inst, I_GATE] <= ts:
            n, count = close_instrument(st, ev, n, inst, seq, ts)
            total += count
    slots = pool_slots(st, EMPTY, ts)
    n = remove_all(st, ev, n, slots, EV.EXPIRED, R.GTD_EXPIRY, seq, ts)
    for inst in range(st.counters[CT_INSTRUMENTS]):
        if insts[inst, I_STATE] == IS.CALL and 0 < insts[inst, I_CALL_END] <= ts:
            n, _ = uncross(st, ev, n, inst, seq, ts, classes)
    return ack(ev, n, cmd, total + slots.shape[0])


@kernel
def list_instrument(st, ev, n, cmd, classes):
    """LIST_INSTRUMENT: the next instrument id, in state OPEN (CALL with an expiry)."""
    inst, ts, expire, c = cmd[C.INSTRUMENT], cmd[C.TS], cmd[C.EXPIRE_TS], cmd[C.GPU_CLASS]
    insts, ctr = st.instruments, st.counters
    if inst != ctr[CT_INSTRUMENTS]:
        return reject(ev, n, cmd, R.BAD_INSTRUMENT_ID)
    if c < 0 or c >= classes.shape[0]:
        return reject(ev, n, cmd, R.UNKNOWN_GPU_CLASS)
    if expire != 0 and expire <= ts:
        return reject(ev, n, cmd, R.BAD_EXPIRY)
    i = insts[inst]
    i[I_STATE] = IS.CALL if expire > 0 else IS.OPEN
    i[I_CLASS] = c
    i[I_REGION] = cmd[C.REGION]
    i[I_SLOT] = cmd[C.SLOT_TS]
    i[I_GATE] = cmd[C.SLOT_TS] - classes[c, CL_GATE]
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
    return ack(ev, n, cmd, 0)


@njit(cache=True)
def market_command(st, ev, n, cmd, classes):
    """LIST_INSTRUMENT, HALT, RESUME, CLOSE_GATE, START_CALL and UNCROSS."""
    kind, inst, ts, expire = cmd[C.KIND], cmd[C.INSTRUMENT], cmd[C.TS], cmd[C.EXPIRE_TS]
    if kind == K.LIST_INSTRUMENT:
        return list_instrument(st, ev, n, cmd, classes)
    insts = st.instruments
    bad_expiry = expire != 0 and expire <= ts
    if instrument_reason(st, inst) != R.NONE:
        return reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    state = insts[inst, I_STATE]
    if state == IS.CLOSED:
        return reject(ev, n, cmd, R.GATE_CLOSED)
    if kind == K.HALT:
        if state != IS.OPEN:
            return reject(ev, n, cmd, R.INSTRUMENT_HALTED if state == IS.HALTED else R.INSTRUMENT_IN_CALL)
        insts[inst, I_STATE] = IS.HALTED
        return ack(ev, n, cmd, 0)
    if kind == K.RESUME:
        if state != IS.HALTED:
            return reject(ev, n, cmd, R.INSTRUMENT_NOT_HALTED)
        if bad_expiry:
            return reject(ev, n, cmd, R.BAD_EXPIRY)
        insts[inst, I_STATE] = IS.CALL if expire > 0 else IS.OPEN
        insts[inst, I_CALL_END] = expire
        return ack(ev, n, cmd, 0)
    if kind == K.START_CALL or kind == K.UNCROSS:
        if ts >= insts[inst, I_GATE]:
            return reject(ev, n, cmd, R.GATE_CLOSED)
        if kind == K.START_CALL:
            if state == IS.CALL:
                return reject(ev, n, cmd, R.INSTRUMENT_IN_CALL)
            if bad_expiry:
                return reject(ev, n, cmd, R.BAD_EXPIRY)
            insts[inst, I_STATE] = IS.CALL
            insts[inst, I_CALL_END] = expire
            return ack(ev, n, cmd, 0)
        if state != IS.CALL:
            return reject(ev, n, cmd, R.INSTRUMENT_NOT_IN_CALL)
        n, traded = uncross(st, ev, n, inst, cmd[C.SEQ], ts, classes)
        return ack(ev, n, cmd, traded)
    n, count = close_instrument(st, ev, n, inst, cmd[C.SEQ], ts)
    return ack(ev, n, cmd, count)


@kernel
def capacity_command(st, ev, n, cmd):
    """DEPOSIT_CAPACITY and WITHDRAW_CAPACITY."""
    account, inst, qty = cmd[C.ACCOUNT], cmd[C.INSTRUMENT], cmd[C.QTY]
    if not account_ok(st, account):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if instrument_reason(st, inst) != R.NONE:
        return reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    row = position_row(st, account, inst, False)
    held = 0 if row == EMPTY else st.positions[row, P_CAPACITY]
    if qty <= 0 or qty > CAPACITY_LIMIT or (
            cmd[C.KIND] == K.DEPOSIT_CAPACITY and held + qty > CAPACITY_LIMIT):
        return reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if st.instruments[inst, I_STATE] == IS.CLOSED:
        return reject(ev, n, cmd, R.GATE_CLOSED)
    if cmd[C.KIND] == K.DEPOSIT_CAPACITY:
        st.positions[position_row(st, account, inst, True), P_CAPACITY] += qty
        return ack(ev, n, cmd, qty)
    if row == EMPTY or qty > held or qty > free_capacity(st, account, inst):
        return reject(ev, n, cmd, R.INSUFFICIENT_CAPACITY)
    st.positions[row, P_CAPACITY] -= qty
    return ack(ev, n, cmd, qty)


@kernel
def funds_command(st, ev, n, cmd):
    """DEPOSIT_FUNDS, WITHDRAW_FUNDS and SET_CREDIT."""
    kind, account, amount = cmd[C.KIND], cmd[C.ACCOUNT], cmd[C.AMOUNT]
    if not account_ok(st, account):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    a = st.accounts[account]
    if (amount < 0 or amount > MONEY_LIMIT or (amount == 0 and kind != K.SET_CREDIT)
            or (kind == K.DEPOSIT_FUNDS and a[A_CASH] + amount > MONEY_LIMIT)):
        return reject(ev, n, cmd, R.BAD_AMOUNT)
    if kind == K.DEPOSIT_FUNDS:
        a[A_CASH] += amount
    elif kind == K.WITHDRAW_FUNDS:
        if amount > a[A_CASH] or a[A_CASH] - amount + a[A_CREDIT] < a[A_RESERVED] + a[A_HELD]:
            return reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
        a[A_CASH] -= amount
    else:
        if a[A_CASH] + amount < a[A_RESERVED] + a[A_HELD]:
            return reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
        a[A_CREDIT] = amount
    return ack(ev, n, cmd, amount)


@kernel
def hold_command(st, ev, n, cmd):
    """HOLD_FUNDS, HOLD_CAPACITY and RELEASE_HOLDS."""
    kind, account, inst = cmd[C.KIND], cmd[C.ACCOUNT], cmd[C.INSTRUMENT]
    if kind == K.RELEASE_HOLDS:
        if account != EMPTY and not account_ok(st, account):
            return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
        accts, pos = st.accounts, st.positions
        for a in range(accts.shape[0]):
            if account == EMPTY or a == account:
                accts[a, A_HELD] = 0
        for row in range(st.counters[CT_POSITIONS]):
            if account == EMPTY or pos[row, P_ACCOUNT] == account:
                pos[row, P_HELD] = 0
        return ack(ev, n, cmd, 0)
    if not account_ok(st, account):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if kind == K.HOLD_FUNDS:
        amount = cmd[C.AMOUNT]
        if amount <= 0 or amount > MONEY_LIMIT:
            return reject(ev, n, cmd, R.BAD_AMOUNT)
        held = min(amount, max(0, available_funds(st, account)))
        st.accounts[account, A_HELD] += held
        return ack(ev, n, cmd, held)
    if instrument_reason(st, inst) != R.NONE:
        return reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    qty = cmd[C.QTY]
    if qty <= 0 or qty > CAPACITY_LIMIT:
        return reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if st.instruments[inst, I_STATE] == IS.CLOSED or cmd[C.TS] >= st.instruments[inst, I_GATE]:
        return reject(ev, n, cmd, R.GATE_CLOSED)
    held = min(qty, max(0, free_capacity(st, account, inst)))
    if held > 0:
        st.positions[position_row(st, account, inst, False), P_HELD] += held
    return ack(ev, n, cmd, held)


@kernel
def da_trade(st, ev, n, cmd):
    """DA_TRADE: book a trade of the day-ahead auction against both parties' holds."""
    buyer, seller, inst = cmd[C.ACCOUNT], cmd[C.CONTRA_ACCOUNT], cmd[C.INSTRUMENT]
    price, qty = cmd[C.PRICE], cmd[C.QTY]
    if not account_ok(st, buyer) or not account_ok(st, seller):
        return reject(ev, n, cmd, R.UNKNOWN_ACCOUNT)
    if buyer == seller:
        return reject(ev, n, cmd, R.SAME_ACCOUNT)
    if instrument_reason(st, inst) != R.NONE:
        return reject(ev, n, cmd, R.UNKNOWN_INSTRUMENT)
    i = st.instruments[inst]
    if qty <= 0 or qty > i[I_MAX_QTY]:
        return reject(ev, n, cmd, R.QUANTITY_OUT_OF_LIMITS)
    if price_reason(i, price) != R.NONE:
        return reject(ev, n, cmd, price_reason(i, price))
    if i[I_STATE] == IS.CLOSED or cmd[C.TS] >= i[I_GATE]:
        return reject(ev, n, cmd, R.GATE_CLOSED)
    accts, pos = st.accounts, st.positions
    if accts[buyer, A_HELD] < price * qty:
        return reject(ev, n, cmd, R.INSUFFICIENT_FUNDS)
    srow = position_row(st, seller, inst, False)
    if srow == EMPTY or pos[srow, P_HELD] < qty:
        return reject(ev, n, cmd, R.INSUFFICIENT_CAPACITY)
    accts[buyer, A_HELD] -= price * qty
    accts[buyer, A_CASH] -= price * qty
    accts[seller, A_CASH] += price * qty
    pos[position_row(st, buyer, inst, True), P_BOUGHT] += qty
    pos[srow, P_HELD] -= qty
    pos[srow, P_SOLD] += qty
    i[I_LAST] = price
    trade_id = st.counters[CT_NEXT_TRADE_ID]
    st.counters[CT_NEXT_TRADE_ID] += 1
    n = emit(ev, n, cmd[C.SEQ], cmd[C.TS], EV.TRADE, R.DAY_AHEAD, buyer, inst, 0, cmd[C.CLORD],
             Side.BUY, price, qty, 0, 0)
    row = ev[n - 1]
    row[E.CONTRA_ACCOUNT] = seller
    row[E.CONTRA_CLORD] = cmd[C.ORIG_CLORD]
    row[E.TRADE_ID] = trade_id
    return ack(ev, n, cmd, qty)
