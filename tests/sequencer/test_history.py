"""The order history on disk and retirement (issue 14): a market that retires its done
orders answers every client exactly as one that never forgets (reference model), old
client order ids stay exactly-once across restarts, damaged history files are named, a
crash between the history write and FORGET_DONE loses nothing, and the snapshot is
bounded by what is live."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from exchange.catalog import default_catalog
from exchange.engine.hashtable import EMPTY
from exchange.journal import FileOps
from exchange.schema import CommandKind as K, EventKind as EV, Reason, commands, concat_records
from exchange.sequencer import (
    ExchangeNode,
    MarketState,
    SyncPolicy,
    history as history_module,
)
from exchange.sequencer.history import COLUMNS, FENCE, HistoryError, OrderHistory
from exchange.sequencer.node import _listing_commands
from exchange.sequencer.orders import R_ID
from exchange.testing.workload import funding, order_flow
from tests.sequencer.test_sequencer import NOW

SYMBOLS = ["H100-80G.jiaxing.20261126T10", "H100-80G.ningbo.20261126T10"]
T = 1_795_000_000 * 10**9


def _retries(flow: np.ndarray, n: int, seed: int, clord_base: int) -> np.ndarray:
    """Commands that reuse old client order ids: repeated NEW_ORDERs, cancels and
    replaces of old orders (to new ids and to old ones)."""
    rng = np.random.default_rng(seed)
    placed = flow[flow["kind"] == K.NEW_ORDER]
    rows = placed[rng.integers(0, len(placed), n)].copy()
    what = rng.integers(0, 3, n)
    cancel, replace = what == 1, what == 2
    rows["orig_clord"][cancel | replace] = rows["clord"][cancel | replace]
    rows["kind"][cancel] = K.CANCEL
    rows["kind"][replace] = K.REPLACE
    fresh = rng.random(n) < 0.5
    rows["clord"][replace & fresh] = clord_base + np.arange(1, n + 1)[replace & fresh]
    rows["clord"][replace & ~fresh] = placed["clord"][rng.integers(0, len(placed), n)][replace & ~fresh]
    rows["qty"][replace] += 1
    return rows


def _chains(part: np.ndarray, n: int, links: int, clord_base: int) -> np.ndarray:
    """``n`` new GTC orders at the far end of the band (they rest), each replaced ``links``
    times in a row (each REPLACE from the id the one before gave it, priority kept), the
    even ones then cancelled; then a NEW_ORDER retrying an id each had in the middle."""
    band = default_catalog().gpu_class(0)
    placed = part[part["kind"] == K.NEW_ORDER][:n].copy()
    placed["tif"], placed["qty"] = 1, links + 2
    placed["price"] = np.where(placed["side"] == 1, band.band_lo_fen, band.band_hi_fen)
    placed["clord"] = ids = clord_base + np.arange(len(placed)) * (links + 1)
    steps = [placed]
    for k in range(1, links + 1):
        step = placed.copy()
        step["kind"], step["orig_clord"], step["clord"], step["qty"] = K.REPLACE, ids + k - 1, ids + k, links + 2 - k
        steps.append(step)
    cancel = placed[::2].copy()
    cancel["kind"], cancel["orig_clord"], cancel["clord"] = K.CANCEL, cancel["clord"] + links, 0
    retry = placed.copy()
    retry["clord"] += links // 2
    return concat_records([*steps, cancel, retry])


def _stream(seed: int, n: int) -> list[np.ndarray]:
    """Setup, then batches of orders mixed with retries of old ids and orders replaced
    several times."""
    catalog = default_catalog()
    state = MarketState(catalog)
    setup = concat_records([_listing_commands(state, [catalog.instrument(s) for s in SYMBOLS]),
                            funding(len(SYMBOLS), 6)])
    flow = order_flow(catalog, n, len(SYMBOLS), 6, seed, cancel_share=0.3)
    batches = [setup]
    for i in range(0, n, 200):
        part = flow[i:i + 200]
        batches.append(concat_records([part, _chains(part, 6, 3, 10**7 + i * 100),
                                       _retries(flow[: i + 200], 40, seed + i, 10**6 + i * 100)]))
    return batches


def _compare(a: MarketState, b: MarketState, ids: list[tuple[int, int]], top: int) -> None:
    """Every observable answer of the two ledgers is the same."""
    for account, clord in ids:
        assert a.orders.find(account, clord) == b.orders.find(account, clord), (account, clord)
    for order_id in range(1, top + 1):
        assert a.orders.get(order_id) == b.orders.get(order_id), order_id


@settings(max_examples=6)
@given(seed=st.integers(1, 1000), every=st.integers(1, 4))
@example(seed=445, every=1)  # a REPLACE whose new and old ids are both in the history: both marks
def test_retiring_market_answers_as_one_that_never_forgets(tmp_path_factory, seed: int, every: int) -> None:
    directory = tmp_path_factory.mktemp("history")
    catalog = default_catalog()
    remembering, retiring = MarketState(catalog), MarketState(catalog)
    retiring.orders.history = history = OrderHistory.open(directory, FileOps(), 0)
    seq, ids, forgotten = 0, [], 0
    for step, batch in enumerate(_stream(seed, 2400)):
        batch = batch.copy()
        batch["seq"] = np.arange(seq + 1, seq + 1 + len(batch))
        batch["ts"] = T
        seq += len(batch)
        marked = batch.copy()
        retiring.mark(marked)
        expected, got = remembering.apply(batch), retiring.apply(marked)
        assert got.tolist() == expected.tolist(), step
        ids += list(zip(batch["account"].tolist(), batch["clord"].tolist()))
        if step % every == 0 and retiring.orders.done:
            history.install(*history.write(retiring.orders.retiring(history.through, seq), seq))
            forget = commands(1)
            forget["kind"], forget["amount"] = K.FORGET_DONE, seq
            seq += 1
            forget["seq"], forget["ts"] = seq, T
            rejected = forget.copy()
            rejected["amount"] = seq  # BAD_AMOUNT: the same seq, nothing forgotten
            assert remembering.apply(rejected)["reason"].tolist() == [Reason.BAD_AMOUNT]
            ack = retiring.apply(forget)
            assert ack["kind"].tolist() == [EV.ACK]
            forgotten += int(ack["qty"][0])
    assert forgotten > 500 and len(history.segments) > 1
    assert retiring.orders.count < remembering.orders.count / 3
    clords = np.concatenate([s.column("clord") for s in history.segments])
    assert ((clords >= 10**7) & ((clords - 10**7) % 100 % 4 == 3)).sum() > 10  # orders replaced three
    # times were retired, with every id they had (_compare)
    hot = retiring.orders.rows[: retiring.orders.count, R_ID]
    index = retiring.orders.index
    assert np.isin(index[index[:, 0] != EMPTY, 1], hot).all()  # no key of a retired order left behind
    _compare(remembering, retiring, ids, remembering.orders.count)  # it holds every order id 1..count
    history.close()


def _node(path: Path, **kwargs) -> ExchangeNode:
    return ExchangeNode.open(path, sync=SyncPolicy.OS, clock=lambda: NOW, **kwargs)


def _market(node: ExchangeNode) -> None:
    node.list_symbols(SYMBOLS)
    node.execute(funding(len(SYMBOLS), 6))


def _place(node: ExchangeNode, clord: int, account: int = 0, price: int = 1_000, qty: int = 2) -> np.ndarray:
    order = commands(1)
    order["kind"], order["account"], order["instrument"], order["side"] = K.NEW_ORDER, account, 0, 2  # a provider sells
    order["order_type"], order["tif"], order["stp"], order["price"], order["qty"] = 1, 1, 1, price, qty
    order["clord"] = clord
    return node.execute(order)


def _cancel(node: ExchangeNode, clord: int, account: int = 0) -> np.ndarray:
    cancel = commands(1)
    cancel["kind"], cancel["account"], cancel["orig_clord"] = K.CANCEL, account, clord
    return node.execute(cancel)


def test_an_old_client_order_id_stays_exactly_once_across_retirement_and_restart(tmp_path: Path) -> None:
    node = _node(tmp_path, retire_every=0, snapshot_on_stop=True)
    _market(node)
    assert _place(node, 7)["kind"].tolist() == [EV.ACCEPTED]
    _cancel(node, 7)
    original = node.order(0, 7)
    node.close()
    assert len(list((tmp_path / "history").glob("orders-*.arrow"))) == 0  # retire_every=0: never

    node = _node(tmp_path, retire_every=1, snapshot_on_stop=True)
    _place(node, 8)
    _cancel(node, 8)  # due: retired in the background, or at the latest by the clean stop
    node.close()
    assert len(list((tmp_path / "history").glob("orders-*.arrow"))) >= 1

    node = _node(tmp_path, retire_every=1)
    try:
        assert node.state.orders.count == 0 and node.state.orders.forgotten_through > 0
        assert node.order(0, 7) == original  # from the history
        again = _place(node, 7)
        assert again["kind"].tolist() == [EV.REJECTED]
        assert again["reason"].tolist() == [Reason.DUPLICATE_CLIENT_ORDER_ID]
        assert _cancel(node, 7)["reason"].tolist() == [Reason.ORDER_DONE]
        assert node.read(lambda s: s.orders.placed(0, 7)) == 1
        assert node.read(lambda s: s.orders.get(original.order_id)) == original
    finally:
        node.close()


def test_retirement_runs_by_count_while_trading(tmp_path: Path) -> None:
    node = _node(tmp_path, retire_every=50)
    try:
        _market(node)
        for clord in range(1, 301):
            _place(node, clord)
            _cancel(node, clord)
        node.read(lambda s: None)
        deadline = time.monotonic() + 60
        while not node.read(lambda s: s.orders.forgotten_through):  # the history write runs in the
            assert time.monotonic() < deadline, "no FORGET_DONE applied"  # background, FORGET_DONE follows
            time.sleep(0.01)
        assert node.read(lambda s: s.orders.count) < 300
        assert all(_place(node, clord)["reason"].tolist() == [Reason.DUPLICATE_CLIENT_ORDER_ID]
                   for clord in (1, 150, 300))
        assert node.order(0, 1).order_id == 1 and node.order(0, 1).status.name == "CANCELED"
        assert [node.read(lambda s, c=c: s.orders.placed(0, c)) for c in (1, 150, 300)] == [1, 1, 1]
    finally:
        node.close()
    node = _node(tmp_path)  # the journal's FORGET_DONEs replayed: the same ledger, the same answers
    try:
        assert node.order(0, 1).order_id == 1
        assert _place(node, 150)["reason"].tolist() == [Reason.DUPLICATE_CLIENT_ORDER_ID]
    finally:
        node.close()


def test_a_crash_between_the_history_write_and_forget_done_loses_nothing(tmp_path: Path) -> None:
    node = _node(tmp_path, retire_every=0)
    _market(node)
    for clord in range(1, 11):
        _place(node, clord)
        _cancel(node, clord)
    through = node.read(lambda s: s.last_seq)
    rows = node.read(lambda s: s.orders.retiring(0, through))
    history = node.state.orders.history
    history.write(rows, through)  # durable; the process dies before FORGET_DONE is journaled
    node.close()
    assert (tmp_path / "history" / f"orders-{through:020d}.arrow").exists()
    node = _node(tmp_path, retire_every=0)
    try:
        assert not list((tmp_path / "history").glob("orders-*.arrow"))  # an orphan: deleted
        assert node.read(lambda s: s.orders.count) == 10  # still hot
        assert _place(node, 3)["reason"].tolist() == [Reason.DUPLICATE_CLIENT_ORDER_ID]
    finally:
        node.close()


def test_a_stop_whose_history_write_fails_keeps_the_orders_hot_and_snapshots(tmp_path: Path, monkeypatch,
                                                                              caplog) -> None:
    """The clean stop retires every done order; if that write fails it is logged, its
    orders stay hot (no FORGET_DONE) and the stop's snapshot is still written."""
    node = _node(tmp_path, retire_every=1_000, snapshot_on_stop=True)
    _market(node)
    for clord in range(1, 11):
        _place(node, clord)
        _cancel(node, clord)
    last = node.read(lambda s: s.last_seq)

    def full_disk(*_: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(OrderHistory, "write", full_disk)
    with caplog.at_level(logging.ERROR, logger="gpux.sequencer"):
        node.close()
    monkeypatch.undo()
    assert "no space left on device" in caplog.text
    assert sorted(p.name for p in (tmp_path / "snapshots").glob("*.snapshot"))[-1] == f"{last:020d}.snapshot"
    node = _node(tmp_path, retire_every=0)
    try:
        assert node.read(lambda s: s.orders.count) == 10 and node.state.orders.forgotten_through == 0
        assert _place(node, 3)["reason"].tolist() == [Reason.DUPLICATE_CLIENT_ORDER_ID]
    finally:
        node.close()


def _retired_node(path: Path) -> int:
    node = _node(path, retire_every=1, snapshot_on_stop=True)
    _market(node)
    _place(node, 5)
    _cancel(node, 5)
    node.close()
    return node.state.orders.forgotten_through


def test_a_damaged_history_file_is_named(tmp_path: Path) -> None:
    through = _retired_node(tmp_path)
    path = tmp_path / "history" / f"orders-{through:020d}.arrow"
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # torn
    with pytest.raises(HistoryError, match=path.name):
        _node(tmp_path)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    try:
        node = _node(tmp_path)  # opens (only the key column is read), but a lookup checks
    except HistoryError as error:  # the flipped byte hit what opening reads
        assert path.name in str(error)
        return
    try:
        with pytest.raises(HistoryError, match=path.name):
            node.order(0, 5)
    finally:
        node.close()


@pytest.mark.parametrize("column", ["key", "price"])
def test_a_flipped_bit_is_named_when_its_column_is_read(tmp_path: Path, column: str) -> None:
    row = np.arange(len(COLUMNS), dtype=np.int64)
    row[COLUMNS.index("key")], row[COLUMNS.index("price")] = 0x0102030405060708, 0x0A0B0C0D0E0F1011
    (segment, _) = OrderHistory.open(tmp_path, None, 0).write(row.reshape(1, -1), 5)
    data = bytearray(segment.path.read_bytes())
    at = data.index(int(row[COLUMNS.index(column)]).to_bytes(8, "little"))
    data[at] ^= 0x01
    segment.path.write_bytes(bytes(data))
    if column == "key":  # the keys decide exactly-once: checked on open
        with pytest.raises(HistoryError, match=f"{segment.path.name}: SHA-256 mismatch in its keys"):
            OrderHistory.open(tmp_path, None, 5)
        return
    history = OrderHistory.open(tmp_path, None, 5)
    assert history.contains(row[:1]).all()
    with pytest.raises(HistoryError, match=f"{segment.path.name}: SHA-256 mismatch"):
        history.find(int(row[0]))
    history.close()


def test_lookups_read_blocks_and_keep_nothing_mapped(tmp_path: Path) -> None:
    """Segments of several fence blocks answer every key and order id, present or not,
    as a plain search of their rows does; no history file stays mapped (or open)."""
    rng = np.random.default_rng(7)
    history = OrderHistory.open(tmp_path, None, 0)
    every = rng.integers(1, 1 << 40, (6 * FENCE, len(COLUMNS)), dtype=np.int64)
    every[:, 0] = rng.choice(np.arange(1, 1 << 20), len(every), replace=False) << 12 | rng.integers(0, 8, len(every))
    every[:, 1] = rng.choice(np.arange(1, 1 << 20), len(every), replace=False)
    for through, rows in enumerate(np.split(every, [1, 3 * FENCE + 5]), 1):
        history.install(*history.write(rows, through))
    probes = np.concatenate([every[:, 0], every[:, 0] + 1, every[:, 0] - (1 << 12), [0, 1 << 62]])
    assert history.contains(probes).tolist() == np.isin(probes, every[:, 0]).tolist()
    for row in every[rng.choice(len(every), 50)]:
        assert history.find(int(row[0])) == row.tolist()
        assert history.get(int(row[1])) == row.tolist()
    assert history.get(0) is None and history.get(1 << 21) is None
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert str(tmp_path) not in maps.read_text()
    history.close()


def test_an_opening_history_follows_the_replayed_journal(tmp_path: Path) -> None:
    """Recovery opens the chain the snapshot knows while it replays, then follows the
    journal's FORGET_DONEs: newer files join, a file never forgotten is deleted."""
    history = OrderHistory.open(tmp_path, None, 0)
    rows = np.arange(3 * len(COLUMNS), dtype=np.int64).reshape(3, len(COLUMNS)) + 1
    for through, row in zip((10, 20, 30), rows):
        history.install(*history.write(row.reshape(1, -1), through))
    opened = OrderHistory.opening(tmp_path, None, 10)
    assert [s.through for s in opened.segments] == [10] and len(list(tmp_path.iterdir())) == 3
    opened.follow(20)
    assert [s.through for s in opened.segments] == [10, 20]
    assert sorted(p.name for p in tmp_path.iterdir()) == [s.path.name for s in opened.segments]
    assert opened.contains(rows[:, 0]).tolist() == [True, True, False]
    with pytest.raises(HistoryError, match="forgot orders up to seq 10, the order history holds them up to 20"):
        opened.follow(10)


def test_a_missing_history_file_is_named(tmp_path: Path) -> None:
    through = _retired_node(tmp_path)
    (tmp_path / "history" / f"orders-{through:020d}.arrow").unlink()
    with pytest.raises(HistoryError, match=f"orders-{through:020d}.arrow is missing"):
        _node(tmp_path)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 5), st.integers(-3, 3)), max_size=40))
def test_a_history_table_is_what_sorting_the_rows_with_numpy_gives(picks: list[tuple[int, int, int]]) -> None:
    """The columns (sorted by key, then order id; by_id a stable order-id order) and their
    SHA-256s as a plain numpy encoding of the rows gives them, keys and ids repeated
    (an order replaced has a row per client order id)."""
    import hashlib

    rows = np.array([[key, order_id, *([filler] * (len(COLUMNS) - 2))] for key, order_id, filler in picks],
                    np.int64).reshape(-1, len(COLUMNS))
    ordered = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    columns = [np.ascontiguousarray(ordered[:, i]) for i in range(len(COLUMNS))]
    columns.append(np.argsort(columns[1], kind="stable").astype(np.int64))
    sha, keys_sha = hashlib.sha256(), hashlib.sha256(columns[0].tobytes())
    for column in columns:
        sha.update(column.tobytes())
    table = history_module.encode(rows, 3, 9)
    assert [table.column(i).to_numpy().tolist() for i in range(len(columns))] == [c.tolist() for c in columns]
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["sha256"] == sha.hexdigest() and meta["sha256_keys"] == keys_sha.hexdigest()
    assert (meta["after"], meta["through"], meta["rows"]) == ("3", "9", str(len(rows)))


def test_history_files_are_plain_arrow_and_deterministic(tmp_path: Path) -> None:
    import pyarrow as pa

    rows = np.arange(3 * len(COLUMNS), dtype=np.int64).reshape(3, len(COLUMNS))[::-1].copy()
    a, b = OrderHistory.open(tmp_path / "a", None, 0), OrderHistory.open(tmp_path / "b", None, 0)
    (sa, _), (sb, _) = a.write(rows, 99), b.write(rows.copy(), 99)
    assert sa.path.read_bytes() == sb.path.read_bytes()
    built = pa.BufferOutputStream()  # streamed to the file: the bytes of the file built in memory
    with pa.ipc.new_file(built, history_module.encode(rows, 0, 99).schema) as writer:
        writer.write_table(history_module.encode(rows, 0, 99))
    assert sa.path.read_bytes() == built.getvalue().to_pybytes()
    table = pa.ipc.open_file(pa.memory_map(str(sa.path))).read_all()
    assert table.column("key").to_pylist() == sorted(rows[:, 0].tolist())
    a.install(sa, _)
    assert a.contains(rows[:, 0]).all() and not a.contains(rows[:, 0] + 1).any()
    assert a.get(int(rows[1, 1])) == rows[1].tolist()
    a.close(), b.close()


def test_snapshot_size_does_not_grow_with_done_orders(tmp_path: Path) -> None:
    sizes = []
    node = _node(tmp_path, retire_every=100)
    try:
        _market(node)
        clord = 0
        for rounds in (200, 2_000):
            for _ in range(rounds):
                clord += 1
                _place(node, clord)
                _cancel(node, clord)
            deadline = time.monotonic() + 60  # retirements run in the background: let them catch up
            while node.read(lambda s: s.orders.done) >= 100:
                assert time.monotonic() < deadline, "retirement did not keep up"
                time.sleep(0.01)
            sizes.append(node.snapshot().stat().st_size)
    finally:
        node.close()
    assert sizes[1] < sizes[0] * 1.3, sizes  # ten times the done orders, about the same snapshot
