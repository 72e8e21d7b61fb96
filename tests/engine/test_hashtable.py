"""The open-addressing tables against a dict: puts, single deletes and deletes by value
range leave exactly the dict's keys findable, whatever the order of operations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from exchange.engine.hashtable import (
    EMPTY,
    KEY,
    hash_delete,
    hash_delete_values,
    hash_find,
    hash_put,
    new_table,
)

# Keys from a small range collide and wrap around the table's end often.
keys = st.integers(0, 200)
operations = st.lists(st.one_of(
    st.tuples(st.just("put"), keys, st.integers(-50, 50)),
    st.tuples(st.just("delete"), keys, st.just(0)),
    st.tuples(st.just("delete_values"), st.integers(-50, 50), st.integers(0, 40)),
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
        elif op == "delete_values":
            gone = [k for k, v in model.items() if a <= v <= a + b]
            assert hash_delete_values(table, a, a + b) == len(gone)
            for k in gone:
                del model[k]
        _check(table, model)


@given(st.lists(st.tuples(keys, st.integers(-50, 50)), max_size=60, unique_by=lambda kv: kv[0]),
       st.integers(-50, 50))
def test_delete_values_does_not_depend_on_insertion_order(items: list[tuple[int, int]], lo: int) -> None:
    """Two tables with the same contents inserted in opposite orders end with the same
    contents (rows may differ; what is found may not)."""
    forward, backward = new_table(len(items)), new_table(len(items))
    for k, v in items:
        hash_put(forward, k, v)
    for k, v in reversed(items):
        hash_put(backward, k, v)
    assert hash_delete_values(forward, lo, lo + 20) == hash_delete_values(backward, lo, lo + 20)
    for k, _ in items:
        assert hash_find(forward, k) == hash_find(backward, k)
