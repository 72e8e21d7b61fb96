"""Kernels that write events into the engine's event buffer, field by field.

The buffer is an ``(room, len(EVENT_FIELDS))`` int64 matrix; ``n`` is the number of
events written so far, and each writer returns the new count. The caller has made sure
there is room (:func:`exchange.schema.events_bound` per command). Which fields each
event kind carries is rule E1-E7 of :mod:`exchange.schema.rules`.
"""

from __future__ import annotations

from exchange.engine.layout import (
    O_ACCOUNT,
    O_CLORD,
    O_FILLED,
    O_ID,
    O_INSTRUMENT,
    O_LEAVES,
    O_PRICE,
    kernel,
    order_side,
)
from exchange.schema import C, CommandKind as K, E, EventKind as EV


@kernel
def emit(ev, n, seq, ts, kind, reason, account, instrument, order_id, clord, side,
         price, qty, leaves, filled):
    """Write event number n with these fields and the ``contra_*`` fields and
    ``trade_id`` 0; return n + 1."""
    row = ev[n]
    row[E.SEQ] = seq
    row[E.TS] = ts
    row[E.KIND] = kind
    row[E.REASON] = reason
    row[E.ACCOUNT] = account
    row[E.INSTRUMENT] = instrument
    row[E.ORDER_ID] = order_id
    row[E.CLORD] = clord
    row[E.SIDE] = side
    row[E.PRICE] = price
    row[E.QTY] = qty
    row[E.LEAVES] = leaves
    row[E.FILLED] = filled
    row[E.CONTRA_ORDER_ID] = 0
    row[E.CONTRA_ACCOUNT] = 0
    row[E.CONTRA_CLORD] = 0
    row[E.CONTRA_LEAVES] = 0
    row[E.TRADE_ID] = 0
    return n + 1


@kernel
def emit_order(ev, n, orders, slot, seq, ts, kind, reason, qty):
    """Write an event about an order, with its identity, limit, leaves and filled."""
    o = orders[slot]
    return emit(ev, n, seq, ts, kind, reason, o[O_ACCOUNT], o[O_INSTRUMENT], o[O_ID],
                o[O_CLORD], order_side(o), o[O_PRICE], qty, o[O_LEAVES], o[O_FILLED])


@kernel
def reject(ev, n, cmd, reason):
    """Write a REJECTED event echoing the command; its clord is the one the command is
    about (a CANCEL's orig_clord, else the command's clord)."""
    clord = cmd[C.ORIG_CLORD] if cmd[C.KIND] == K.CANCEL else cmd[C.CLORD]
    return emit(ev, n, cmd[C.SEQ], cmd[C.TS], EV.REJECTED, reason, cmd[C.ACCOUNT],
                cmd[C.INSTRUMENT], 0, clord, cmd[C.SIDE], cmd[C.PRICE], cmd[C.QTY], 0, 0)


@kernel
def ack(ev, n, cmd, qty):
    """Write the ACK that ends a successful non-order command."""
    return emit(ev, n, cmd[C.SEQ], cmd[C.TS], EV.ACK, 0, cmd[C.ACCOUNT],
                cmd[C.INSTRUMENT], 0, 0, 0, 0, qty, 0, 0)
