"""Open-addressing hash tables of int64 keys to int64 values, as numba kernels.

A table is an ``(size, 2)`` int64 array of (key, value) rows, so one probe touches one
cache line; ``size`` is a power of two, probing is linear, keys are >= 0 and an empty
row holds :data:`EMPTY` in both columns. Callers keep a table at most half full (they
count the keys :func:`hash_put` adds and :func:`rehash` into a bigger one in time), so
every operation is O(1) expected.

The engine indexes orders, positions and price levels this way; the sequencer's order
ledger indexes client order ids with the same kernels and :func:`clord_key`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from exchange.schema import ACCOUNT_BITS

KEY, VALUE = 0, 1
"""Columns of a table row."""
EMPTY = -1
"""An empty row's key and value, and what :func:`hash_find` returns for a missing key."""

_kernel = njit(cache=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
"""Decorator of the kernels that never allocate: compiled without reference counting."""


def new_table(entries: int) -> np.ndarray:
    """An empty table with room for ``entries`` keys at most half full (at least 16 rows)."""
    return np.full((1 << max(4, (2 * entries - 1).bit_length()), 2), EMPTY, np.int64)


@_kernel
def home_slot(key, mask):
    """Start row of a key in a table of ``mask + 1`` rows: a multiply-xorshift mix that
    cannot overflow int64."""
    x = key ^ (key >> 31)
    h = (x & 0xFFFFFF) * 0x9E3779 + ((x >> 24) & 0xFFFFFF) * 0x85EBCB + (x >> 48) * 0xC2B2AF
    h ^= h >> 17
    return h & mask


@intrinsic
def prefetch(typingctx, table, row, column):
    """Hint the CPU to load the cache line of ``table[row, column]`` (a 2-D array;
    ``llvm.prefetch``); no effect on results, none on memory for an index out of range
    (a hint is never a load), though the callers keep theirs in range."""

    def codegen(context, builder, signature, args):
        table_type = signature.args[0]
        array = context.make_array(table_type)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, table_type, array, [args[1], args[2]],
                                       wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(table, row, column), codegen


def _no_prefetch(table, row, column):
    return None


if config.DISABLE_JIT:  # type: ignore[attr-defined]  # numba's config is set at run time
    prefetch = _no_prefetch  # type: ignore[assignment]  # the kernels run as Python: no cache hint there


@_kernel
def prefetch_home(table, key):
    """Hint the CPU to load a key's home row into cache; no effect on results. A table far
    larger than the caches, read at random, misses there once a key: a kernel that knows
    a key some steps ahead overlaps that miss with the steps in between."""
    prefetch(table, home_slot(key, table.shape[0] - 1), 0)  # type: ignore[call-arg]


@_kernel
def hash_find(table, key):
    """Value stored for key, or EMPTY."""
    mask = table.shape[0] - 1
    i = home_slot(key, mask)
    while True:
        k = table[i, KEY]
        if k == key:
            return table[i, VALUE]
        if k == EMPTY:
            return EMPTY
        i = (i + 1) & mask


@_kernel
def hash_put(table, key, val):
    """Set key to val; return 1 if the key is new, 0 if it was updated."""
    mask = table.shape[0] - 1
    i = home_slot(key, mask)
    while True:
        k = table[i, KEY]
        if k == key:
            table[i, VALUE] = val
            return 0
        if k == EMPTY:
            table[i, KEY] = key
            table[i, VALUE] = val
            return 1
        i = (i + 1) & mask


@_kernel
def hash_slot(table, key):
    """Row holding key, or EMPTY."""
    mask = table.shape[0] - 1
    i = home_slot(key, mask)
    while True:
        k = table[i, KEY]
        if k == key:
            return i
        if k == EMPTY:
            return EMPTY
        i = (i + 1) & mask


@_kernel
def hash_delete(table, key):
    """Remove key (which must be present) by backward-shift deletion."""
    hash_delete_at(table, hash_slot(table, key))


@_kernel
def hash_delete_at(table, i):
    """Empty row i (a key's row, :func:`hash_slot`) and shift later rows of its cluster
    back so every key stays reachable. The table is then exactly the one the other keys
    would have made had the deleted key never been put (linear probing with backward
    shifts), so deletions in any order leave the same rows."""
    mask = table.shape[0] - 1
    j = i
    while True:
        j = (j + 1) & mask
        if table[j, KEY] == EMPTY:
            break
        home = home_slot(table[j, KEY], mask)
        # The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            table[i, KEY] = table[j, KEY]
            table[i, VALUE] = table[j, VALUE]
            i = j
    table[i, KEY] = EMPTY
    table[i, VALUE] = EMPTY


@njit(cache=True, nogil=True)
def rehash(table, new_size):
    """A copy of a table with ``new_size`` (a power of two) rows. O(size). Runs without
    the GIL: a doubling of a large table (10-100 ms) does not hold up other threads (a
    replay's engine and the rest of it)."""
    return rehash_into(table, np.full((new_size, 2), EMPTY, np.int64))


@njit(cache=True, nogil=True)
def rehash_into(table, grown):
    """Put every key of a table into ``grown``, an empty table (e.g. :func:`new_table`,
    made ahead) with room for them, and return it: the rows :func:`rehash` gives for its
    size. O(size), without the GIL."""
    for i in range(table.shape[0]):
        if table[i, KEY] != EMPTY:
            hash_put(grown, table[i, KEY], table[i, VALUE])
    return grown


# ---------------------------------------------------------------- keys

@_kernel
def clord_key(clord, account):
    """Key of an account's client order id: ``clord < CLORD_LIMIT`` (2**43) and the
    account below ``2**ACCOUNT_BITS`` pack into one int64 >= 0."""
    return (clord << ACCOUNT_BITS) | account


@_kernel
def position_key(instrument, account):
    """Key of an account's position in an instrument."""
    return (instrument << ACCOUNT_BITS) | account


@_kernel
def level_key(instrument, side, price):
    """Key of a price level of one side (1 BUY, 2 SELL) of an instrument's book: prices
    are below ``PRICE_LIMIT`` (2**31), so they fit the low 32 bits."""
    return ((instrument * 2 + side - 1) << 32) | price
