"""Records for people: commands and events with their fields by name and their codes by
name, so nobody has to look up what ``kind 2, reason 107`` means.

* :func:`named_rows` -- each record as a dict by field name, the code fields as enum
  members (``IntEnum``: equal to their integers, printed by name);
* :func:`describe` -- one line per record, e.g.
  ``REJECTED(BAD_STP_MODE) account=1 instrument=0 clord=7 side=BUY price=1800 qty=8``:
  the kind, the reason in brackets when there is one, then every non-zero field.

A code that is not a known member (a bad side in a rejected command, say) stays a plain
integer.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from exchange.schema.codes import CommandKind, EventKind, OrderFlag, OrderType, Reason, Side, StpMode, TimeInForce
from exchange.schema.records import COMMAND_FIELDS, EVENT_FIELDS

_CODES: dict[tuple[str, ...], dict[str, type[IntEnum]]] = {
    EVENT_FIELDS: {"kind": EventKind, "reason": Reason, "side": Side},
    COMMAND_FIELDS: {"kind": CommandKind, "side": Side, "order_type": OrderType, "tif": TimeInForce,
                     "stp": StpMode, "flags": OrderFlag},
}


def _code(enum: type[IntEnum], value: int) -> int:
    try:
        return enum(value)
    except ValueError:
        return value


def named_rows(records: np.ndarray) -> list[dict[str, int]]:
    """Commands (``COMMAND_DTYPE``) or events (``EVENT_DTYPE``), a batch or one record, as
    one dict per record by field name; ``kind``, ``reason``, ``side``, ``order_type``,
    ``tif``, ``stp`` and ``flags`` as members of their enums. ``TypeError`` for another
    dtype. O(n)."""
    records = np.asarray(records).reshape(-1)
    names = records.dtype.names or ()
    codes = _CODES.get(names)
    if codes is None:
        raise TypeError(f"named_rows() reads COMMAND_DTYPE or EVENT_DTYPE records, not {records.dtype}")
    return [{name: _code(codes[name], value) if name in codes else value for name, value in zip(names, row)}
            for row in records.tolist()]


def describe(records: np.ndarray) -> str:
    """One line per command or event: ``KIND`` (``KIND(REASON)`` when it has a reason), then
    ``field=value`` for every other field that is not 0, codes by name. O(n)."""
    lines = []
    for row in named_rows(records):
        kind, reason = row.pop("kind"), row.pop("reason", 0)
        head = f"{_name(kind)}({_name(reason)})" if reason else _name(kind)
        lines.append(" ".join([head] + [f"{name}={_name(value)}" for name, value in row.items() if value]))
    return "\n".join(lines)


def _name(value: int) -> str:
    return value.name if isinstance(value, IntEnum) else str(value)
