"""The open-addressing tables against a dict: puts and deletes (by key, or at the row
:func:`hash_slot` finds) leave exactly the dict's keys findable, whatever the order of
operations, and leave the rows a table would have had if the deleted keys had never been
put (what FORGET_DONE's deletions in queue order rely on to leave the rows a scan did)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from exchange.engine.hashtable import (
    EMPTY,
    KEY,
    hash_delete,
    hash_delete_at,
    hash_find,
    hash_put,
    hash_slot,
    new_table,
)

# Keys from a small range collide and wrap around the table's end often.
keys = st.integers(0, 200)
operations = st.lists(st.one_of(
    st.tuples(st.just("put"), keys, st.integers(-50, 50)),
    st.tuples(st.just("delete"), keys, st.just(0)),
    st.tuples(st.just("delete_at"), keys, st.just(0)),
), max_size=300)


def _check(table: np.ndarray, model: dict[int, int]) -> None:
    assert int(np.count_nonzero(table[:, KEY] != EMPTY)) == len(model)
    for key in range(201):
        assert hash_find(table, key) == model.get(key, EMPTY), key


@settings(max_examples=300, deadline=None)
@given(operations)
def test_table_follows_a_dict(ops: list[tuple[str, int, int]]) -> None:
    table, model = new_table(8), {}  # 16 rows: kept at most half full below
    for op, a, b in ops:
        if op == "put" and (a in model or 2 * (len(model) + 1) <= len(table)):
            assert hash_put(table, a, b) == (a not in model)
            model[a] = b
        elif op == "delete" and a in model:
            hash_delete(table, a)
            del model[a]
        elif op == "delete_at":
            row = hash_slot(table, a)
            assert (row == EMPTY) == (a not in model) and (row == EMPTY or table[row, KEY] == a)
            if a in model:
                hash_delete_at(table, row)
                del model[a]
        _check(table, model)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_deleted_keys_leave_the_rows_of_never_having_been_put(ops: list[tuple[str, int, int]]) -> None:
    """After any puts and deletes, the rows are those of a fresh table given the keys
    left, in the order they were first put (since last deleted): so deletions in any
    order leave the same rows."""
    table, model = new_table(8), {}  # dicts keep insertion order: the order of first puts
    for op, a, b in ops:
        if op == "put" and (a in model or 2 * (len(model) + 1) <= len(table)):
            hash_put(table, a, b)
            model[a] = b
        elif op == "delete" and a in model:
            hash_delete(table, a)
            del model[a]
        elif op == "delete_at" and a in model:
            hash_delete_at(table, hash_slot(table, a))
            del model[a]
        fresh = new_table(8)
        for k, v in model.items():
            hash_put(fresh, k, v)
        assert table.tolist() == fresh.tolist()
