"""Market and account command handlers of the numba engine: the TIMER (gate closures,
GTD expiries, calls that end), listing an instrument and its state changes (halt, resume,
gate closure, call, uncross), capacity and funds deposits and withdrawals, credit, holds,
and the day-ahead auction's trades.

Each takes the state, the event buffer ``ev``, the count ``n`` of events written so far and
the command, and returns the new count, as the order commands of
:mod:`exchange.engine.commands` do (whose checks they share);
:func:`exchange.engine.process.process` dispatches to them.
"""

from __future__ import annotations

from numba import njit

from exchange.engine.commands import account_ok, instrument_reason, price_reason
from exchange.engine.events import ack, emit, reject
from exchange.engine.hashtable import EMPTY
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
    CT_INSTRUMENTS,
    CT_NEXT_TRADE_ID,
    CT_POSITIONS,
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
    P_ACCOUNT,
    P_BOUGHT,
    P_CAPACITY,
    P_HELD,
    P_SOLD,
    kernel,
)
from exchange.engine.orderbook import (
    available_funds,
    close_instrument,
    free_capacity,
    pool_slots,
    position_row,
    remove_all,
    uncross,
)
from exchange.schema import (
    CAPACITY_LIMIT,
    MONEY_LIMIT,
    C,
    CommandKind as K,
    E,
    EventKind as EV,
    InstrumentState as IS,
    Reason as R,
    Side,
)


@njit(cache=True)
def timer(st, ev, n, cmd, classes):
    """TIMER at ``ts``: close the instruments whose gate has come, expire the GTD orders
    due, then uncross the calls whose end has come; its ACK counts the orders removed."""
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
