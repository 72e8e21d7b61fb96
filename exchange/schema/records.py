"""Command and event records: numpy structured arrays whose fields are all ``int64``
(money in fen, quantities in whole GPUs, timestamps in ns since the Unix epoch), so a
batch is also a plain ``(n, fields)`` int64 matrix for the kernels, which read its
columns by name through :data:`C` and :data:`E`.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from exchange.schema.codes import DEFAULT_STP_MODE, CommandKind


class C(IntEnum):
    """Column of each command field in a command batch's int64 matrix (``C.PRICE``);
    ``AMOUNT`` is money in fen for the funds commands, ``CONTRA_ACCOUNT`` the seller of a
    DA_TRADE."""

    SEQ = 0
    TS = 1
    KIND = 2
    ACCOUNT = 3
    INSTRUMENT = 4
    SIDE = 5
    ORDER_TYPE = 6
    TIF = 7
    FLAGS = 8
    STP = 9
    PRICE = 10
    QTY = 11
    CLORD = 12
    ORIG_CLORD = 13
    EXPIRE_TS = 14
    AMOUNT = 15
    GPU_CLASS = 16
    REGION = 17
    SLOT_TS = 18
    CONTRA_ACCOUNT = 19


class E(IntEnum):
    """Column of each event field in an event batch's int64 matrix (``E.TRADE_ID``).

    For order events the first party is the order's owner; for a TRADE it is the taker
    (``SIDE`` is the aggressor side) and ``CONTRA_*`` the maker; a REPLACED carries the
    previous client order id in ``CONTRA_CLORD``. ``PRICE`` is the order's limit (trade
    price for TRADE); ``QTY`` is the order qty (ACCEPTED, REPLACED, DONE), the
    cancelled/expired qty, the traded qty, or the count or amount echoed by an ACK;
    ``LEAVES`` and ``FILLED`` are the order's after the event."""

    SEQ = 0
    TS = 1
    KIND = 2
    REASON = 3
    ACCOUNT = 4
    INSTRUMENT = 5
    ORDER_ID = 6
    CLORD = 7
    SIDE = 8
    PRICE = 9
    QTY = 10
    LEAVES = 11
    FILLED = 12
    CONTRA_ORDER_ID = 13
    CONTRA_ACCOUNT = 14
    CONTRA_CLORD = 15
    CONTRA_LEAVES = 16
    TRADE_ID = 17


COMMAND_FIELDS = tuple(c.name.lower() for c in C)
"""Command record fields, in column order."""
EVENT_FIELDS = tuple(e.name.lower() for e in E)
"""Event record fields, in column order."""

COMMAND_DTYPE = np.dtype([(name, np.int64) for name in COMMAND_FIELDS])
EVENT_DTYPE = np.dtype([(name, np.int64) for name in EVENT_FIELDS])



def commands(n: int) -> np.ndarray:
    """A zeroed command batch of length ``n``."""
    return np.zeros(n, dtype=COMMAND_DTYPE)


# The record arrays below are reinterpreted through the buffer protocol
# (np.frombuffer, np.ndarray(buffer=)) rather than ndarray.view: a view that changes a
# structured dtype runs NumPy's Python-level safety check (~0.5 µs a call; these run a
# few times per command batch); the buffer reads the same memory, writable if it is.


def record_words(records: np.ndarray) -> np.ndarray:
    """A C-contiguous 1-D record array whose fields are all int64 as its (rows, fields)
    int64 matrix: a view, no copy (what the kernels read). O(1)."""
    return np.ndarray((len(records), len(records.dtype.names or ())), np.int64, records)


def copy_records(records: np.ndarray) -> np.ndarray:
    """An equal copy, in memory of its own, of a 1-D record array whose fields are all
    int64 (commands, events), copied as one block of words instead of field by field
    as ``records.copy()`` does (about 1 µs instead of 4 µs for one record). O(n)."""
    return np.frombuffer(np.frombuffer(np.ascontiguousarray(records), np.int64).copy(), records.dtype)


def copy_reusing(array: np.ndarray, spare: np.ndarray | None, room: int = 0) -> np.ndarray:
    """A copy of ``array``, written into the memory of ``spare`` (an array nothing reads
    any more, or a view of the first rows of one) when that has its dtype, its row shape
    and room for its rows; else into a new array with room for ``max(room, len(array))``
    rows (the rows past ``array`` are never touched: no pages). Memory written before
    takes a copy without page faults: a fresh 45 MB copy costs ~50 ms of CPU, one into
    used memory ~10 ms. O(n)."""
    base = spare.base if spare is not None and isinstance(spare.base, np.ndarray) else spare
    if (base is None or base.dtype != array.dtype or base.shape[1:] != array.shape[1:] or len(base) < len(array)
            or not base.flags.c_contiguous or not base.flags.writeable):
        base = np.empty((max(room, len(array)), *array.shape[1:]), array.dtype)
    copy = base[: len(array)]
    np.copyto(copy, array)
    return copy


def concat_records(parts: list[np.ndarray]) -> np.ndarray:
    """One or more 1-D record arrays of one all-int64 dtype joined in order (what
    ``np.concatenate(parts)`` gives, without NumPy's structured-dtype promotion, about
    20 µs per part); ``TypeError`` if their dtypes differ. O(total)."""
    dtype = parts[0].dtype
    if any(part.dtype != dtype for part in parts):
        raise TypeError(f"records of different dtypes: {sorted({str(part.dtype) for part in parts})}")
    return np.frombuffer(np.concatenate([np.frombuffer(np.ascontiguousarray(part), np.int64) for part in parts]),
                         dtype)


def command(kind: CommandKind, **fields: int) -> np.ndarray:
    """One command as a batch of length 1; unnamed fields are 0, except that a NEW_ORDER
    whose ``stp`` is unnamed or 0 gets :data:`~exchange.schema.codes.DEFAULT_STP_MODE`."""
    batch = commands(1)
    batch["kind"] = int(kind)
    for name, value in fields.items():
        batch[name] = int(value)
    if kind == CommandKind.NEW_ORDER and not fields.get("stp"):
        batch["stp"] = int(DEFAULT_STP_MODE)
    return batch
