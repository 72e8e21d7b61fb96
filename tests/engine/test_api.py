"""The engine API as a newcomer meets it (issue 14, "Engine API a newcomer can use"),
against both engines:

* :func:`describe` / :func:`named_rows`: events and commands readable without a lookup;
* a NEW_ORDER built by :func:`command` (so by ``submit``) without an stp gets
  :data:`DEFAULT_STP_MODE`, while a record whose stp is 0 is still rejected, so journals
  written before the default replay unchanged;
* :meth:`EngineConfig.with_class_rules` widens a band or changes lot limits, validated;
* ``concat_records`` from :mod:`exchange.engine`;
* both engines refuse a batch that is not 1-D ``COMMAND_DTYPE`` with the same TypeError.
"""

from __future__ import annotations

import numpy as np
import pytest

from exchange.engine import (
    COMMAND_DTYPE,
    DEFAULT_STP_MODE,
    EVENT_DTYPE,
    CommandKind as K,
    Engine,
    EngineConfig,
    EventKind,
    OrderType,
    Reason,
    ReferenceEngine,
    Side,
    StpMode,
    TimeInForce,
    command,
    commands,
    concat_records,
    describe,
    named_rows,
    numba_engine,
)
from exchange.engine.hashtable import new_table
from tests.helpers import CONFIG, T0, make_engine

nojit = pytest.mark.nojit

SELL_8 = dict(account=1, instrument=0, side=Side.SELL, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
              price=500, qty=8, clord=1)


def _with_capacity(engine_cls, config: EngineConfig = CONFIG):
    engine = make_engine(engine_cls, config)
    engine.submit(K.DEPOSIT_CAPACITY, account=1, instrument=0, qty=100, ts=T0)
    engine.submit(K.DEPOSIT_FUNDS, account=1, amount=10**9, ts=T0)
    return engine


# ------------------------------------------------------------------ reading events

@nojit
def test_describe_names_the_kind_the_reason_and_the_fields(engine_cls) -> None:
    engine = _with_capacity(engine_cls)
    bad = command(K.NEW_ORDER, **SELL_8, stp=StpMode.CANCEL_NEWEST)
    bad["stp"] = 9
    assert describe(engine.process(bad)) == (
        "REJECTED(BAD_STP_MODE) account=1 clord=1 side=SELL price=500 qty=8")
    events = engine.submit(K.NEW_ORDER, **SELL_8)
    assert describe(events) == (
        "ACCEPTED account=1 order_id=1 clord=1 side=SELL price=500 qty=8 leaves=8")
    assert describe(events[0]) == describe(events)  # one record as well as a batch
    assert describe(events[:0]) == ""


@nojit
def test_named_rows_are_enum_members_equal_to_their_codes() -> None:
    events = np.zeros(2, EVENT_DTYPE)
    events["kind"] = [EventKind.REJECTED, EventKind.TRADE]
    events["reason"] = [Reason.BAD_STP_MODE, 0]
    events["side"] = [3, Side.BUY]  # 3 is no side: it stays an integer
    rows = named_rows(events)
    assert rows[0]["kind"] is EventKind.REJECTED and rows[0]["reason"] is Reason.BAD_STP_MODE
    assert rows[0]["side"] == 3 and type(rows[0]["side"]) is int
    assert rows[1]["side"] is Side.BUY and rows[1]["reason"] == 0
    assert list(rows[0]) == list(EVENT_DTYPE.names)
    assert describe(events) == "REJECTED(BAD_STP_MODE) side=3\nTRADE side=BUY"


@nojit
def test_describe_reads_commands_too() -> None:
    batch = concat_records([command(K.NEW_ORDER, **SELL_8), command(K.TIMER, ts=T0)])
    assert describe(batch) == (
        "NEW_ORDER account=1 side=SELL order_type=LIMIT tif=GTC stp=CANCEL_NEWEST price=500 qty=8 clord=1\n"
        f"TIMER ts={T0}")
    assert named_rows(batch)[0]["tif"] is TimeInForce.GTC


@nojit
def test_describe_refuses_other_records() -> None:
    with pytest.raises(TypeError, match="COMMAND_DTYPE or EVENT_DTYPE"):
        describe(np.zeros(2, np.int64))


# ------------------------------------------------------------------ the default stp mode

@nojit
def test_command_fills_in_the_default_stp_mode() -> None:
    assert DEFAULT_STP_MODE == StpMode.CANCEL_NEWEST
    assert command(K.NEW_ORDER, **SELL_8)["stp"][0] == DEFAULT_STP_MODE
    assert command(K.NEW_ORDER, **SELL_8, stp=0)["stp"][0] == DEFAULT_STP_MODE
    assert command(K.NEW_ORDER, **SELL_8, stp=StpMode.DECREMENT)["stp"][0] == StpMode.DECREMENT
    assert command(K.REPLACE, account=1, orig_clord=1, clord=2, price=505, qty=8)["stp"][0] == 0
    assert commands(1)["stp"][0] == 0  # a zeroed batch is left zero: set stp yourself


@nojit
def test_submit_without_stp_cancels_the_newest(engine_cls) -> None:
    engine = _with_capacity(engine_cls)
    engine.submit(K.NEW_ORDER, **SELL_8)
    events = engine.submit(K.NEW_ORDER, **{**SELL_8, "side": Side.BUY, "clord": 2})
    assert describe(events).splitlines() == [
        "ACCEPTED account=1 order_id=2 clord=2 side=BUY price=500 qty=8 leaves=8",
        "CANCELLED(SELF_TRADE) account=1 order_id=2 clord=2 side=BUY price=500 qty=8",
        "DONE account=1 order_id=2 clord=2 side=BUY price=500 qty=8",
    ]
    assert [o.clord for o in engine.live_orders()] == [1]  # the resting sell keeps its place


@nojit
def test_a_record_with_stp_0_is_still_rejected(engine_cls) -> None:
    """The engines' rule is unchanged, so a journal holding such a record replays as before."""
    engine = _with_capacity(engine_cls)
    record = command(K.NEW_ORDER, **SELL_8)
    record["stp"] = 0
    assert named_rows(engine.process(record))[0]["reason"] is Reason.BAD_STP_MODE


# ------------------------------------------------------------------ class rules in code

@nojit
def test_with_class_rules_widens_a_band_and_changes_lot_limits(engine_cls) -> None:
    high = {**SELL_8, "price": 2_000}
    engine = _with_capacity(engine_cls)
    assert named_rows(engine.submit(K.NEW_ORDER, **high))[0]["reason"] is Reason.PRICE_OUT_OF_BAND
    config = CONFIG.with_class_rules(0, band_hi=5_000, max_qty=4)
    assert (config.band_hi, config.max_qty) == ((5_000, 500), (4, 100))
    assert (CONFIG.band_hi, CONFIG.max_qty) == ((1_000, 500), (100, 100))  # a copy
    engine = _with_capacity(engine_cls, config)
    assert named_rows(engine.submit(K.NEW_ORDER, **high))[0]["reason"] is Reason.QUANTITY_OUT_OF_LIMITS
    assert named_rows(engine.submit(K.NEW_ORDER, **{**high, "qty": 4}))[0]["kind"] is EventKind.ACCEPTED


@nojit
@pytest.mark.parametrize("change, message", [
    (dict(gpu_class=2), r"no GPU class 2 \(classes 0\.\.1\)"),
    (dict(band_lo=600), r"class 0 needs tick > 0 and 0 < band_lo <= band_hi: tick 5, band 600\.\.500"),
    (dict(band_hi=502), r"class 0 band edges must lie on the tick 5"),
    (dict(min_qty=5, max_qty=4), r"class 0 needs 1 <= min_qty <= max_qty: 5\.\.4"),
    (dict(band_hi=400), r"class 0 reference 550 must lie on the tick in the band 100\.\.400"),
])
def test_with_class_rules_says_what_is_wrong(change, message) -> None:
    change = {"gpu_class": 0, "band_hi": 500, **change}
    with pytest.raises(ValueError, match=message):
        CONFIG.with_class_rules(**change)


@nojit
def test_narrowing_a_band_moves_the_reference_with_it() -> None:
    assert CONFIG.with_class_rules(0, band_hi=400, reference=400).reference == (400, 275)


# ------------------------------------------------------------------ batches

@nojit
@pytest.mark.parametrize("bad", [
    np.zeros(1, EVENT_DTYPE),
    np.zeros(1, [(name, np.int32) for name in COMMAND_DTYPE.names]),
    np.zeros((1, 1), COMMAND_DTYPE),
    [tuple([0] * len(COMMAND_DTYPE.names))],
], ids=["events", "int32-fields", "2-d", "list"])
def test_both_engines_refuse_a_batch_of_the_wrong_dtype_alike(bad) -> None:
    messages = []
    for engine_cls in (ReferenceEngine, Engine):
        with pytest.raises(TypeError, match="COMMAND_DTYPE") as refused:
            engine_cls(CONFIG).process(bad)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]


@nojit
def test_concat_records_from_the_engine_package(engine_cls) -> None:
    engine = make_engine(engine_cls)
    batch = concat_records([command(K.DEPOSIT_FUNDS, account=1, amount=5),
                            command(K.DEPOSIT_FUNDS, account=2, amount=7)])
    assert [r["kind"] for r in named_rows(engine.process(batch))] == [EventKind.ACK, EventKind.ACK]


def test_events_in_one_buffer_outlive_a_batch_written_to_the_other() -> None:
    """What MarketState.replay relies on: no copy, the engine a batch ahead."""
    engine = _with_capacity(Engine)
    orders = commands(5000)
    orders["kind"], orders["account"], orders["side"], orders["order_type"] = K.NEW_ORDER, 1, Side.SELL, OrderType.LIMIT
    orders["tif"], orders["stp"], orders["price"], orders["qty"] = TimeInForce.GTC, StpMode.CANCEL_NEWEST, 500, 1
    orders["clord"] = np.arange(1, 5001)
    orders["seq"], orders["ts"] = np.arange(100, 5100), T0
    first = engine.process(orders[:100], copy=False, buffer=0)
    kept = first.copy()
    second = engine.process(orders[100:], copy=False, buffer=1)  # more events than its first 4,096 rows
    assert np.array_equal(first, kept) and np.array_equal(np.unique(second["seq"]), np.arange(200, 5100))
    assert np.array_equal(np.unique(first["seq"]), np.arange(100, 200))


def test_tables_made_ahead_leave_the_same_events_and_state(monkeypatch) -> None:
    """prepare_growth (as a replay calls it after each piece) changes where the client
    order id table's next table is made, not a row of it nor an event."""
    made = []
    monkeypatch.setattr(numba_engine, "new_table", lambda entries: made.append(entries) or new_table(entries))
    plain, ahead = _with_capacity(Engine), _with_capacity(Engine)
    for engine in (plain, ahead):
        engine.submit(K.DEPOSIT_CAPACITY, account=1, instrument=0, qty=10**6, ts=T0)
        engine.submit(K.DEPOSIT_FUNDS, account=2, amount=10**9, ts=T0)
    orders = commands(5000)  # 5,000 client order ids: the table (2,048 rows) doubles twice
    sells = np.arange(5000) % 3 > 0  # account 1 sells, 2 buys: some trade, some rest
    orders["kind"], orders["order_type"], orders["stp"] = K.NEW_ORDER, OrderType.LIMIT, 1
    orders["account"], orders["side"] = np.where(sells, 1, 2), np.where(sells, Side.SELL, Side.BUY)
    orders["tif"], orders["price"], orders["qty"] = TimeInForce.GTC, 500, 1 + np.arange(5000) % 4
    orders["clord"], orders["seq"], orders["ts"] = np.arange(1, 5001), np.arange(100, 5100), T0
    for start in range(0, 5000, 100):
        expected = plain.process(orders[start:start + 100])
        assert ahead.process(orders[start:start + 100]).tobytes() == expected.tobytes()
        ahead.prepare_growth()
    assert made == [2048, 4096, 8192]  # (the last one made ahead for a doubling still to come)
    want, got = plain.export_state(), ahead.export_state()
    assert all(want[name].tobytes() == got[name].tobytes() and want[name].shape == got[name].shape for name in want)
