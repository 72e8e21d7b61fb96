"""The numba engine's entry point: :func:`process` applies a batch of commands to a
:class:`exchange.engine.layout.State`, one command after the other, each through its
handler in :mod:`exchange.engine.commands` (orders) or
:mod:`exchange.engine.market_commands` (markets and accounts).

Capacity: a command only starts when every pool and table has room for what one command
can add (:func:`exchange.engine.layout.has_room`) and the event buffer has room for the
most events one command can emit (:func:`exchange.schema.events_bound`); else
:func:`process` returns ``NEED_ROOM`` and the index to resume at, and the wrapper
(:class:`exchange.engine.Engine`) grows the arrays and calls it again.

Speed: while one command runs, the client order id of a command a few rows ahead is
prefetched into cache (the table is far larger than the caches and read at random).
"""

from __future__ import annotations

from numba import njit

from exchange.engine.commands import cancel, forget_done, mass_cancel, new_order, replace
from exchange.engine.events import reject
from exchange.engine.hashtable import clord_key, prefetch_home
from exchange.engine.layout import CT_INSTRUMENTS, CT_LIVE, has_room, kernel
from exchange.engine.market_commands import (
    capacity_command,
    da_trade,
    funds_command,
    hold_command,
    market_command,
    timer,
)
from exchange.schema import CLORD_LIMIT, C, CommandKind as K, Reason as R, events_bound

OK = 0
NEED_ROOM = 1

_events_bound = kernel(events_bound)
"""The rules' bound on one command's events, compiled for :func:`process`."""

PREFETCH_DISTANCE = 8
"""How many commands ahead :func:`process` prefetches the client order id table."""


@kernel
def _prefetch_clord_slot(table, cmd):
    """Prefetch the home slot of a later command's client order id."""
    kind = cmd[C.KIND]
    clord = cmd[C.ORIG_CLORD] if kind == K.CANCEL else cmd[C.CLORD]
    if 0 < clord < CLORD_LIMIT and cmd[C.ACCOUNT] >= 0:
        prefetch_home(table, clord_key(clord, cmd[C.ACCOUNT]))


@njit(cache=True, nogil=True)
def process(st, classes, cmds, start, ev, n):
    """Apply commands ``cmds[start:]`` (rows of COMMAND fields) to the state.

    Returns ``(status, next_index, n_events)``: status OK when all were applied,
    NEED_ROOM when the pools must grow before ``cmds[next_index]`` can run.
    ``classes`` is :func:`exchange.engine.layout.class_table` of the engine's config.
    """
    for k in range(start, cmds.shape[0]):
        if not has_room(st) or n + _events_bound(st.counters[CT_LIVE], st.counters[CT_INSTRUMENTS]) > ev.shape[0]:
            return NEED_ROOM, k, n
        if k + PREFETCH_DISTANCE < cmds.shape[0]:
            _prefetch_clord_slot(st.clord_index, cmds[k + PREFETCH_DISTANCE])
        cmd = cmds[k]
        kind = cmd[C.KIND]
        if kind == K.NEW_ORDER:
            n = new_order(st, ev, n, cmd)
        elif kind == K.CANCEL:
            n = cancel(st, ev, n, cmd)
        elif kind == K.REPLACE:
            n = replace(st, ev, n, cmd)
        elif kind == K.MASS_CANCEL:
            n = mass_cancel(st, ev, n, cmd)
        elif kind == K.DEPOSIT_CAPACITY or kind == K.WITHDRAW_CAPACITY:
            n = capacity_command(st, ev, n, cmd)
        elif kind == K.DEPOSIT_FUNDS or kind == K.WITHDRAW_FUNDS or kind == K.SET_CREDIT:
            n = funds_command(st, ev, n, cmd)
        elif (kind >= K.LIST_INSTRUMENT and kind <= K.CLOSE_GATE) or kind == K.START_CALL or kind == K.UNCROSS:
            n = market_command(st, ev, n, cmd, classes)
        elif kind == K.TIMER:
            n = timer(st, ev, n, cmd, classes)
        elif kind == K.HOLD_FUNDS or kind == K.HOLD_CAPACITY or kind == K.RELEASE_HOLDS:
            n = hold_command(st, ev, n, cmd)
        elif kind == K.DA_TRADE:
            n = da_trade(st, ev, n, cmd)
        elif kind == K.FORGET_DONE:
            n = forget_done(st, ev, n, cmd)
        else:
            n = reject(ev, n, cmd, R.UNKNOWN_COMMAND)
    return OK, cmds.shape[0], n
