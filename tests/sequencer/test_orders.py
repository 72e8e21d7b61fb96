"""The order ledger and the ticker against plain-Python folds of the same events, the
engine's views, and record copies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.catalog import default_catalog
from exchange.schema import COMMAND_DTYPE, EVENT_DTYPE, EventKind as EV, concat_records, copy_records, record_words
from exchange.sequencer import MarketState, OrderLedger, OrderStatus
from exchange.sequencer.node import _listing_commands
from exchange.testing.workload import funding, order_flow

SYMBOLS = ["H100-80G.jiaxing.20261126T10", "H100-80G.ningbo.20261126T10"]
T = 1_795_000_000 * 10**9


def _stamp(batch: np.ndarray, first: int) -> np.ndarray:
    batch = batch.copy()
    batch["seq"] = np.arange(first, first + len(batch))
    batch["ts"] = T
    return batch


def _reference(events: np.ndarray) -> dict[int, dict[str, int]]:
    """The obvious fold: one dict per order id."""
    book: dict[int, dict[str, int]] = {}
    for e in events:
        kind, oid = int(e["kind"]), int(e["order_id"])
        if kind == EV.ACCEPTED:
            book[oid] = dict(account=int(e["account"]), price=int(e["price"]), qty=int(e["qty"]), filled=0,
                             leaves=int(e["leaves"]), status=OrderStatus.NEW, first_clord=int(e["clord"]),
                             clord=int(e["clord"]))
        elif kind == EV.TRADE:
            for who, leaves in ((oid, int(e["leaves"])), (int(e["contra_order_id"]), int(e["contra_leaves"]))):
                o = book[who]
                o["filled"] += int(e["qty"])
                o["leaves"] = leaves
                o["status"] = OrderStatus.FILLED if leaves == 0 else OrderStatus.PARTIALLY_FILLED
        elif kind in (EV.CANCELLED, EV.EXPIRED):
            o = book[oid]
            o["leaves"] = int(e["leaves"])
            if o["leaves"] == 0:
                o["status"] = OrderStatus.CANCELED if kind == EV.CANCELLED else OrderStatus.EXPIRED
        elif kind == EV.REPLACED:
            book[oid].update(clord=int(e["clord"]), price=int(e["price"]), qty=int(e["qty"]), leaves=int(e["leaves"]))
    return book


@pytest.mark.nojit
@pytest.mark.parametrize("seed", [1, 2])
def test_ledger_matches_the_obvious_fold_and_the_engine(seed):
    catalog = default_catalog()
    state = MarketState(catalog)
    setup = np.concatenate([_listing_commands(state, [catalog.instrument(s) for s in SYMBOLS]),
                            funding(len(SYMBOLS), 6)])
    events = [state.apply(_stamp(setup, 1))]
    flow = order_flow(catalog, 3000, len(SYMBOLS), 6, seed, cancel_share=0.3)
    for i in range(0, len(flow), 250):
        events.append(state.apply(_stamp(flow[i:i + 250], len(setup) + 1 + i)))
    expected = _reference(np.concatenate(events))
    assert state.orders.count == len(expected) > 1000
    for oid, want in expected.items():
        got = state.orders.get(oid)
        assert {k: getattr(got, k) for k in want} == want, oid
    for live in state.engine.live_orders():  # the ledger agrees with the book
        rec = state.orders.get(live.order_id)
        assert (rec.leaves, rec.filled, rec.price, rec.clord) == (live.leaves, live.filled, live.price, live.clord)
        assert rec.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
    statuses = {r.status for r in map(state.orders.get, expected)}
    assert statuses >= {OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.PARTIALLY_FILLED}
    first = next(iter(expected.values()))
    assert state.orders.find(first["account"], first["first_clord"]).order_id == next(iter(expected))
    assert state.orders.find(first["account"], 10**12) is None
    restored = OrderLedger(state.orders.rows)  # as from a snapshot
    assert restored.count == state.orders.count and restored.get(5) == state.orders.get(5)


@pytest.mark.nojit
@pytest.mark.parametrize("size", [1, 7, 250])
def test_ticker_and_trade_sink_match_the_obvious_fold(size):
    """Volume and last price per instrument, and the trades handed to the sink, against a
    fold of every TRADE event in order (batches of one command up to 250)."""
    catalog = default_catalog()
    state = MarketState(catalog)
    sunk = []
    state.trade_sink = sunk.append
    setup = np.concatenate([_listing_commands(state, [catalog.instrument(s) for s in SYMBOLS]),
                            funding(len(SYMBOLS), 6)])
    events = [state.apply(_stamp(setup, 1))]
    flow = order_flow(catalog, 1500, len(SYMBOLS), 6, 3)
    for i in range(0, len(flow), size):
        events.append(state.apply(_stamp(flow[i:i + size], len(setup) + 1 + i)))
    trades = [e for e in np.concatenate(events) if e["kind"] == EV.TRADE]
    volume, last = {}, {}
    for t in trades:
        volume[int(t["instrument"])] = volume.get(int(t["instrument"]), 0) + int(t["qty"])
        last[int(t["instrument"])] = int(t["price"])
    assert len(trades) > 100 and len(last) == len(SYMBOLS)
    for instrument in range(len(SYMBOLS)):
        assert state.traded_volume(instrument) == volume[instrument]
        assert state.last_trade_price(instrument) == last[instrument]
    assert np.concatenate(sunk).tolist() == np.array(trades).tolist()


@pytest.mark.nojit
def test_a_replay_hands_the_sink_only_batches_with_trades_not_logged_yet():
    """With the trade log holding trades up to ``trades_through`` (a restart), a batch
    whose trades are all logged is not handed over; one with any newer trade is, whole."""
    catalog = default_catalog()
    setup = np.concatenate([_listing_commands(MarketState(catalog), [catalog.instrument(s) for s in SYMBOLS]),
                            funding(len(SYMBOLS), 6)])
    flow = order_flow(catalog, 1500, len(SYMBOLS), 6, 3)
    batches = [_stamp(setup, 1)] + [_stamp(flow[i:i + 50], len(setup) + 1 + i) for i in range(0, len(flow), 50)]
    first = MarketState(catalog)
    traded = []
    for batch in batches:
        events = first.apply(batch)
        traded.append(events["trade_id"][events["kind"] == EV.TRADE])
    middle = next(t for t in traded[len(traded) // 2:] if len(t) > 1)
    through = int(middle[0])  # logged up to the first trade of a batch in the middle
    state, sunk = MarketState(catalog), []
    state.trade_sink, state.trades_through = sunk.append, through
    for batch in batches:
        state.apply(batch)
    expected = [t.tolist() for t in traded if len(t) and t[-1] > through]
    assert [s["trade_id"].tolist() for s in sunk] == expected and expected[0][0] <= through < expected[0][-1]


@pytest.mark.parametrize("instrument", [-1, 2, 64, 2**40])
def test_a_trade_of_an_unlisted_instrument_is_refused(instrument):
    catalog = default_catalog()
    state = MarketState(catalog)
    state.apply(_stamp(_listing_commands(state, [catalog.instrument(s) for s in SYMBOLS]), 1))
    events = np.zeros(3, EVENT_DTYPE)
    events["kind"], events["instrument"], events["qty"] = EV.TRADE, [0, instrument, 1], 1
    with pytest.raises(AssertionError, match="not listed"):
        state._follow_trades(events)
    assert not state.ticker.any()  # nothing changed


def test_engine_bulk_views_agree_with_the_single_views():
    catalog = default_catalog()
    state = MarketState(catalog)
    setup = np.concatenate([_listing_commands(state, [catalog.instrument(s) for s in SYMBOLS]),
                            funding(len(SYMBOLS), 6)])
    state.apply(_stamp(setup, 1))
    state.apply(_stamp(order_flow(catalog, 500, len(SYMBOLS), 6, 3), len(setup) + 1))
    engine = state.engine
    for account in range(6):
        bulk = engine.positions_of(account)
        assert bulk == {i: engine.position(account, i) for i in range(len(SYMBOLS))
                        if engine.position(account, i) != engine.position(99, i)}
    assert engine.instrument_states().tolist() == [engine.book(i).state for i in range(len(SYMBOLS))]
    top = engine.top_of_book()
    for i in range(len(SYMBOLS)):
        book = engine.book(i, 1)
        best_bid = (book.bids[0].price, book.bids[0].qty) if book.bids else (0, 0)
        best_ask = (book.asks[0].price, book.asks[0].qty) if book.asks else (0, 0)
        assert (top["bid_price"][i], top["bid_qty"][i]) == best_bid
        assert (top["ask_price"][i], top["ask_qty"][i]) == best_ask
    assert top["state"].tolist() == engine.instrument_states().tolist() and (top["ask_qty"] > 0).sum() >= 2


@pytest.mark.parametrize("dtype", [COMMAND_DTYPE, EVENT_DTYPE])
def test_record_copies_and_joins_equal_numpys(dtype):
    rng = np.random.default_rng(7)
    parts = [np.frombuffer(rng.integers(-2**63, 2**63, n * dtype.itemsize // 8, dtype=np.int64).tobytes(), dtype)
             for n in (1, 0, 3, 5)]
    strided = np.concatenate(parts)[::2]
    for part in [*parts, strided]:
        copied = copy_records(part)
        assert copied.dtype == dtype and copied.tolist() == part.tolist()
        assert not np.shares_memory(copied, part)
    joined = concat_records([*parts, strided])
    assert joined.dtype == dtype and joined.tolist() == np.concatenate([*parts, strided]).tolist()
    assert record_words(parts[2]).tolist() == [list(r) for r in parts[2].tolist()]
    with pytest.raises(ValueError):  # a strided view has no matrix view: callers pass contiguous records
        record_words(strided)
    with pytest.raises(TypeError, match="different dtypes"):
        concat_records([np.zeros(1, COMMAND_DTYPE), np.zeros(1, EVENT_DTYPE)])


@pytest.mark.parametrize("sizes", [[2, 3, 4], [250], [100_000]])
def test_the_state_does_not_depend_on_how_the_commands_were_batched(sizes):
    """A replay joins the journal's groups into larger batches: every snapshot array
    (engine, order ledger and its index, ticker) comes out as from one command a batch,
    across doublings of the ledger and of the ticker (past 64 instruments, listed in
    three steps, trading after the first two)."""
    catalog = default_catalog()
    days = [f"H100-80G.{region}.202611{day}T{hour:02d}" for day in (26, 27) for hour in range(24)
            for region in ("jiaxing", "ningbo", "huzhou")]
    listing = _listing_commands(MarketState(catalog), [catalog.instrument(s) for s in days])
    stream = np.concatenate([listing[:40], funding(40, 8), order_flow(catalog, 1500, 40, 8, 4),
                             listing[40:72], funding(72, 8), order_flow(catalog, 2500, 72, 8, 5, clord_base=10**6),
                             listing[72:]])
    stream = _stamp(stream, 1)

    def snapshot(sizes: list[int]) -> dict[str, np.ndarray]:
        state, at, i = MarketState(catalog), 0, 0
        while at < len(stream):
            state.apply(stream[at:at + sizes[i % len(sizes)]])
            at, i = at + sizes[i % len(sizes)], i + 1
        assert state.traded_volume(70) > 0 and len(state.ticker) == 128 and len(state.orders.index) >= 8192
        return state.snapshot().arrays

    one_by_one, batched = snapshot([1]), snapshot(sizes)
    assert one_by_one.keys() == batched.keys()
    for name, array in one_by_one.items():
        assert array.shape == batched[name].shape and np.array_equal(array, batched[name]), name


@pytest.mark.nojit
@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(1, 40_000), min_size=0, max_size=60, unique=True),
       queried=st.lists(st.integers(-5, 40_005), max_size=40), replaced=st.integers(0, 3))
def test_retirement_kernels_do_what_sets_of_keys_would(ids, queried, replaced):
    """The retirement's kernels against sets: a restore finds the spent keys (replaced
    away from, or of a done order) by a map over the id range when the ids are dense, else
    by binary search (ids spread over up to 40,000 reach both); a retirement gathers the
    rows of the orders done in its range, one per key; FORGET_DONE moves the kept rows
    up in order, and deleting the retired keys leaves the index exactly as if they had
    never been put in (so the order of the deletions does not matter)."""
    from exchange.engine.hashtable import EMPTY, KEY, VALUE, clord_key, hash_put
    from exchange.sequencer.orders import (
        R_ACCOUNT,
        R_CLORD,
        R_DONE,
        R_ID,
        S_KEY,
        S_ROW,
        _compact,
        _forget_spent,
        _id_map,
        _position,
        _retiring,
        _spent_of,
    )
    ids_sorted = np.array(sorted(ids), np.int64)
    where = {oid: p for p, oid in enumerate(ids_sorted.tolist())}
    at = _id_map(ids_sorted)
    assert [int(_position(ids_sorted, at, q)) for q in queried] == [where.get(q, -1) for q in queried]
    # order i: done at seq i when i is odd; client order ids 10 * i .. 10 * i + replaced, the last current
    rows = np.zeros((len(ids_sorted) + 1, 13), np.int64)
    rows[: len(ids_sorted), R_ID] = ids_sorted
    rows[: len(ids_sorted), R_DONE] = np.where(ids_sorted % 2 == 1, ids_sorted, 0)
    rows[: len(ids_sorted), R_CLORD] = 10 * ids_sorted + replaced
    rows[: len(ids_sorted), R_ACCOUNT] = 3
    index = np.full((1024, 2), EMPTY, np.int64)
    keys = {oid: [int(clord_key(10 * oid + k, 3)) for k in range(replaced + 1)] for oid in ids_sorted.tolist()}
    for oid in ids_sorted.tolist():
        for key in keys[oid]:
            hash_put(index, key, oid)
    spent = np.empty((len(ids_sorted) * (replaced + 1) + 1, 2), np.int64)
    n = _spent_of(index, rows, len(ids_sorted), spent)
    expected = {(key, where[oid]) for oid in ids_sorted.tolist()
                for key in (keys[oid] if oid % 2 else keys[oid][:-1])}
    assert set(map(tuple, spent[:n].tolist())) == expected and n == len(expected)

    after, through = 100, 20_000
    columns = np.array([R_ID, R_DONE], np.int64)
    gathered = _retiring(spent, n, rows, after, through, columns)
    assert sorted(gathered.tolist()) == sorted([key, oid, oid] for oid in ids_sorted.tolist() if oid % 2
                                               and after < oid <= through for key in keys[oid])
    moved = np.empty(len(ids_sorted), np.int64)
    kept, done = _compact(rows, len(ids_sorted), through, moved)
    survivors = [o for o in ids_sorted.tolist() if not (o % 2 and o <= through)]
    assert rows[:kept, R_ID].tolist() == survivors and not rows[kept:].any()
    assert moved.tolist() == [survivors.index(o) if o in survivors else -1 for o in ids_sorted.tolist()]
    assert done == sum(1 for o in survivors if o % 2)
    left, deleted = _forget_spent(spent, n, moved, index)
    retired = [o for o in ids_sorted.tolist() if o not in survivors]
    assert deleted == sum(len(keys[o]) for o in retired)
    assert {(k, int(rows[r, R_ID])) for k, r in spent[:left, [S_KEY, S_ROW]].tolist()} == {
        (key, oid) for oid in survivors for key in (keys[oid] if oid % 2 else keys[oid][:-1])}
    never = np.full((1024, 2), EMPTY, np.int64)
    for oid in survivors:
        for key in keys[oid]:
            hash_put(never, key, oid)
    assert np.array_equal(index, never)
    assert set(index[index[:, KEY] != EMPTY, VALUE].tolist()) == set(survivors)


@pytest.mark.nojit
@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.sampled_from([1, 1, 1, 2, 7, 300]), max_size=80), first=st.integers(1, 50),
       queried=st.lists(st.integers(-5, 30_000), max_size=40))
def test_an_event_finds_its_order_row_as_a_dict_of_the_rows_would(gaps, first, queried):
    """The ledger finds an order's row from the newest id back (a dense run of ids, as the
    engine gives them out, at once) else by binary search: either way the row a dict of
    the hot rows gives, -1 for an id that is not hot (rows past ``count`` ignored)."""
    from exchange.sequencer.orders import R_ID, _prefetch_order, _row_of
    ids = np.cumsum([first, *gaps])
    rows = np.zeros((len(ids) + 3, 13), np.int64)
    rows[: len(ids), R_ID] = ids
    rows[len(ids):, R_ID] = ids[-1] + 1  # beyond count: never found
    where = {oid: r for r, oid in enumerate(ids.tolist())}
    before = rows.copy()
    for oid in [*queried, *ids.tolist(), int(ids[-1]) + 1]:
        assert _row_of(rows, len(ids), oid) == where.get(oid, -1), oid
        _prefetch_order(rows, len(ids), oid)  # a hint only, whatever the id
    assert _row_of(rows, 0, int(ids[0])) == -1
    _prefetch_order(rows, 0, int(ids[0]))
    assert np.array_equal(rows, before)
