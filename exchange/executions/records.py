"""Execution records: one per (event, account it touches), numbered per account.

An event touches the account that owns it (every order event: accepted, rejected,
cancelled with any cause, expired, replaced, its fills) and, for a TRADE, the maker's
account too (so each fill gives two records, one per side); an ACK touches the
account of a funds, capacity, credit, hold or mass-cancel command (the account's
balance or position changed). DONE and UNCROSSED events touch nobody. Each record
carries the account's next ``exec_seq`` (1, 2, 3, ... per account, no gaps), the
event's place among its command's events, the command's kind and the event itself.
The counters live in the market state and its snapshots, so the numbering is a pure
function of the command sequence.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numba import njit

from exchange.schema import EVENT_FIELDS, C, CommandKind, E, EventKind, record_words

EXEC_FIELDS = ("exec_account", "exec_seq", "exec_index", "command", *EVENT_FIELDS, "check")
"""Execution record fields (all int64): the account touched (``exec_account``; for a
fill the event's ``account`` is the taker's), its exec_seq, the event's
place among its command's events, the command's kind, the event's fields, and a
checksum of the others (set when the record is written to the log)."""
EXEC_DTYPE = np.dtype([(name, np.int64) for name in EXEC_FIELDS])
X = IntEnum("X", {name.upper(): i for i, name in enumerate(EXEC_FIELDS)}, start=0)  # type: ignore[misc]
"""Column of each execution record field in the int64 matrix (``X.EXEC_SEQ``)."""

ACCOUNT_COMMANDS = (CommandKind.DEPOSIT_CAPACITY, CommandKind.WITHDRAW_CAPACITY, CommandKind.DEPOSIT_FUNDS,
                    CommandKind.WITHDRAW_FUNDS, CommandKind.SET_CREDIT, CommandKind.MASS_CANCEL,
                    CommandKind.HOLD_FUNDS, CommandKind.HOLD_CAPACITY, CommandKind.RELEASE_HOLDS)
"""Commands whose ACK is a change of the account's funds, capacity or orders."""
ORDER_COMMANDS = (CommandKind.NEW_ORDER, CommandKind.CANCEL, CommandKind.REPLACE)
"""Commands whose REJECTED event is reported (other rejections are answered to the caller only)."""

_ORDER_EVENT = np.zeros(16, np.bool_)
_ORDER_EVENT[[EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.EXPIRED, EventKind.REPLACED]] = True
_ACK_OF = np.zeros(64, np.bool_)
_ACK_OF[list(ACCOUNT_COMMANDS)] = True
_REJECT_OF = np.zeros(64, np.bool_)
_REJECT_OF[list(ORDER_COMMANDS)] = True
_E_SEQ, _E_KIND, _E_ACCOUNT, _E_CONTRA_ACCOUNT = int(E.SEQ), int(E.KIND), int(E.ACCOUNT), int(E.CONTRA_ACCOUNT)
_C_SEQ, _C_KIND = int(C.SEQ), int(C.KIND)
_TRADE, _ACK, _REJECTED = int(EventKind.TRADE), int(EventKind.ACK), int(EventKind.REJECTED)
_HEAD = 4  # account, exec_seq, exec_index, command: the columns before the event's
_WIDTH = len(EXEC_FIELDS)
_kernel = njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
"""Decorator of the kernels here, which never allocate: compiled without reference
counting (an array or row view passed to a call costs no atomic increments) and run
without the GIL."""


@_kernel
def _touch(out, n, account, counts, held, index, kind, ev_row):
    """Number the record of ``ev_row`` for ``account`` (if the counters cover it) and
    write it at ``out[n]`` unless ``held`` has it already; the new number written."""
    if account < 0 or account >= counts.shape[0]:
        return n
    counts[account] += 1
    if account < held.shape[0] and counts[account] <= held[account]:
        return n
    out[n, 0] = account
    out[n, 1] = counts[account]
    out[n, 2] = index
    out[n, 3] = kind
    for j in range(ev_row.shape[0]):
        out[n, _HEAD + j] = ev_row[j]
    out[n, _WIDTH - 1] = 0
    return n + 1


@_kernel
def _derive(cmds, ev, counts, held, order_event, ack_of, reject_of, out):
    """The execution records of the events ``ev`` of the commands ``cmds`` (both int64
    matrices in seq order) into ``out``, advancing ``counts``, but for those ``held``
    already; how many were written. O(events + commands)."""
    n = 0
    c = 0
    first = 0
    for i in range(ev.shape[0]):
        seq = ev[i, _E_SEQ]
        if i > 0 and seq != ev[i - 1, _E_SEQ]:
            first = i
        while c < cmds.shape[0] and cmds[c, _C_SEQ] < seq:
            c += 1
        command = cmds[c, _C_KIND] if c < cmds.shape[0] and cmds[c, _C_SEQ] == seq else 0
        if command < 0 or command >= ack_of.shape[0]:
            command = 0
        kind = ev[i, _E_KIND]
        if kind < 0 or kind >= order_event.shape[0]:
            continue
        if order_event[kind] or (kind == _REJECTED and reject_of[command]) or (kind == _ACK and ack_of[command]):
            n = _touch(out, n, ev[i, _E_ACCOUNT], counts, held, i - first, command, ev[i])
            if kind == _TRADE and ev[i, _E_CONTRA_ACCOUNT] != ev[i, _E_ACCOUNT]:
                n = _touch(out, n, ev[i, _E_CONTRA_ACCOUNT], counts, held, i - first, command, ev[i])
    return n


_NONE_HELD = np.zeros(0, np.int64)


def derive_executions(batch: np.ndarray, events: np.ndarray, counts: np.ndarray,
                      held: np.ndarray | None = None) -> np.ndarray:
    """The execution records (EXEC_DTYPE) of a sequenced ``batch`` and its ``events``, in
    event order (a fill: the taker's record, then the maker's), numbered on from
    ``counts`` (records so far per account, advanced in place). Records numbered up to
    ``held[account]`` are counted but left out (a recovery's log holds them). O(events)."""
    out = np.empty(2 * len(events), EXEC_DTYPE)  # pages never written cost nothing
    n = _derive(record_words(np.ascontiguousarray(batch)), record_words(np.ascontiguousarray(events)), counts,
                _NONE_HELD if held is None else held, _ORDER_EVENT, _ACK_OF, _REJECT_OF, record_words(out))
    return out[:n]
