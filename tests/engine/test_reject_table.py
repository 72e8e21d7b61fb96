"""Every reject reason of :mod:`exchange.schema.rules`, one row of a table each, run
against every engine (fixture ``engine_cls``); conventions as in ``test_rules.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from exchange.schema import CLORD_LIMIT
from tests.helpers import (
    BUY,
    FOK,
    GATE_TS,
    GTD,
    I0,
    I1,
    I2,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    T0,
    K,
    Market,
    R,
    assert_events,
    cancel,
    close_gate,
    cmd,
    deposit_capacity,
    deposit_funds,
    halt,
    list_instrument,
    mass_cancel,
    rejected,
    replace,
    resume,
    set_credit,
    snapshot,
    start_call,
    uncross,
    withdraw_capacity,
    withdraw_funds,
)

nojit = pytest.mark.nojit
POST_ONLY = 1



# ============================================================================ reject table

def _base(m: Market) -> None:
    """State for the reject cases.

    bids I0: 510 x2 (acct 1, clord 3, filled 4), 500 x5 (acct 1, clord 2, post-only),
             495 x10 (acct 1, clord 1), 495 x10 (acct 4, clord 1, funds 5_000)
    asks I0: 520 x10 (acct 3, clord 2; capacity 100, sold 4)
    I1: bid 300 x1 (acct 1, clord 5); I2 (class 1): bid 60 x1 (acct 1, clord 6);
    acct 1 clord 4: cancelled.
    """
    m.fund(1)
    m.fund(4, 5_000)
    m.provide(3)
    m.sell(3, 510, 4, 1)
    m.buy(1, 510, 6, 3)
    m.sell(3, 520, 10, 2)
    m.buy(1, 495, 10, 1)
    m.buy(1, 500, 5, 2, flags=POST_ONLY)
    m.buy(1, 400, 1, 4)
    m.cancel(1, 4)
    m.buy(1, 300, 1, 5, instrument=I1)
    m.buy(4, 495, 10, 1)
    m.buy(1, 60, 1, 6, instrument=I2)
    assert m.levels() == ([(510, 2, 1), (500, 5, 1), (495, 20, 2)], [(520, 10, 1)])


def _halt1(m: Market) -> None:
    m.halt(I1)


def _close2(m: Market) -> None:
    m.close_gate(I2)


def _call1(m: Market) -> None:
    m.start_call(I1)


def _o(**kw: int) -> np.ndarray:
    """A valid buy of 10 at 505 on I0 by account 1 (clord 9), with fields overridden in
    the record itself (so an stp of 0 stays 0: ``command`` would fill in the default)."""
    record = cmd(K.NEW_ORDER, account=1, instrument=I0, side=BUY, order_type=LIMIT, tif=1, flags=0,
                 stp=1, price=505, qty=10, clord=9, expire_ts=0)
    for name, value in kw.items():
        record[name] = value
    return record


G = GATE_TS
REJECTS = [
    # name, command, reason, prep, ts
    ("account-16", _o(account=16), R.UNKNOWN_ACCOUNT, None, None),
    ("account-neg", _o(account=-1), R.UNKNOWN_ACCOUNT, None, None),
    ("account>instrument", _o(account=16, instrument=9), R.UNKNOWN_ACCOUNT, None, None),
    ("instrument-3", _o(instrument=3), R.UNKNOWN_INSTRUMENT, None, None),
    ("instrument-neg", _o(instrument=-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("instrument>side", _o(instrument=3, side=0), R.UNKNOWN_INSTRUMENT, None, None),
    ("side-0", _o(side=0), R.BAD_SIDE, None, None),
    ("side-3", _o(side=3), R.BAD_SIDE, None, None),
    ("side>type", _o(side=3, order_type=0), R.BAD_SIDE, None, None),
    ("type-0", _o(order_type=0), R.BAD_ORDER_TYPE, None, None),
    ("type-3", _o(order_type=3), R.BAD_ORDER_TYPE, None, None),
    ("type>tif", _o(order_type=3, tif=0), R.BAD_ORDER_TYPE, None, None),
    ("tif-0", _o(tif=0), R.BAD_TIME_IN_FORCE, None, None),
    ("tif-5", _o(tif=5), R.BAD_TIME_IN_FORCE, None, None),
    ("market-gtc", _o(order_type=MARKET, price=0, tif=1), R.BAD_TIME_IN_FORCE, None, None),
    ("market-gtd", _o(order_type=MARKET, price=0, tif=GTD, expire_ts=G), R.BAD_TIME_IN_FORCE, None, None),
    ("tif>stp", _o(tif=0, stp=0), R.BAD_TIME_IN_FORCE, None, None),
    ("stp-0", _o(stp=0), R.BAD_STP_MODE, None, None),
    ("stp-5", _o(stp=5), R.BAD_STP_MODE, None, None),
    ("stp>flags", _o(stp=5, flags=2), R.BAD_STP_MODE, None, None),
    ("flags-2", _o(flags=2), R.BAD_FLAGS, None, None),
    ("flags-3", _o(flags=3), R.BAD_FLAGS, None, None),
    ("flags-neg", _o(flags=-1), R.BAD_FLAGS, None, None),
    ("post-only-ioc", _o(flags=POST_ONLY, tif=IOC), R.BAD_FLAGS, None, None),
    ("post-only-fok", _o(flags=POST_ONLY, tif=FOK), R.BAD_FLAGS, None, None),
    ("post-only-market", _o(flags=POST_ONLY, order_type=MARKET, price=0, tif=IOC), R.BAD_FLAGS, None, None),
    ("flags>clord", _o(flags=2, clord=0), R.BAD_FLAGS, None, None),
    ("clord-0", _o(clord=0), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord-neg", _o(clord=-5), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord-limit", _o(clord=CLORD_LIMIT), R.BAD_CLIENT_ORDER_ID, None, None),
    ("clord>qty", _o(clord=0, qty=0), R.BAD_CLIENT_ORDER_ID, None, None),
    ("qty-0", _o(qty=0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty-101", _o(qty=101), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty-neg", _o(qty=-1), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("qty>tick", _o(qty=101, price=502), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("tick", _o(price=502), R.PRICE_NOT_ON_TICK, None, None),
    ("tick>band", _o(price=1002), R.PRICE_NOT_ON_TICK, None, None),
    ("band-lo", _o(price=95), R.PRICE_OUT_OF_BAND, None, None),
    ("band-hi", _o(price=1005), R.PRICE_OUT_OF_BAND, None, None),
    ("band-zero", _o(price=0), R.PRICE_OUT_OF_BAND, None, None),
    ("band-neg", _o(price=-5), R.PRICE_OUT_OF_BAND, None, None),
    ("band-class1", _o(instrument=I2, price=501), R.PRICE_OUT_OF_BAND, None, None),
    ("band>expiry", _o(price=1005, expire_ts=1), R.PRICE_OUT_OF_BAND, None, None),
    ("market-price", _o(order_type=MARKET, tif=IOC, price=505), R.MARKET_ORDER_HAS_PRICE, None, None),
    ("market-price>expiry", _o(order_type=MARKET, tif=IOC, price=5, expire_ts=1),
     R.MARKET_ORDER_HAS_PRICE, None, None),
    ("gtd-now", _o(tif=GTD, expire_ts=T0), R.BAD_EXPIRY, None, None),
    ("gtd-zero", _o(tif=GTD), R.BAD_EXPIRY, None, None),
    ("gtc-expiry", _o(expire_ts=T0 + 1), R.BAD_EXPIRY, None, None),
    ("ioc-expiry", _o(tif=IOC, expire_ts=T0 + 1), R.BAD_EXPIRY, None, None),
    ("expiry>dup", _o(expire_ts=1, clord=1), R.BAD_EXPIRY, None, None),
    ("dup", _o(clord=1), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("dup-done", _o(clord=4), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("dup>gate", _o(clord=1), R.DUPLICATE_CLIENT_ORDER_ID, None, G),
    ("gate-ts", _o(), R.GATE_CLOSED, None, G),
    ("gate-closed", _o(instrument=I2, price=60), R.GATE_CLOSED, _close2, None),
    ("gate>halt", _o(instrument=I1), R.GATE_CLOSED, _halt1, G),
    ("halted", _o(instrument=I1), R.INSTRUMENT_HALTED, _halt1, None),
    ("halted>post-only", _o(instrument=I1, flags=POST_ONLY), R.INSTRUMENT_HALTED, _halt1, None),
    ("call-ioc", _o(instrument=I1, tif=IOC), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-fok", _o(instrument=I1, tif=FOK), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-market", _o(instrument=I1, order_type=MARKET, price=0, tif=IOC), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-post-only", _o(instrument=I1, flags=POST_ONLY), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-post-only>funds", _o(account=2, instrument=I1, flags=POST_ONLY), R.INSTRUMENT_IN_CALL, _call1, None),
    ("gate>call", _o(instrument=I1, tif=IOC), R.GATE_CLOSED, _call1, G),
    ("call-funds", _o(account=2, instrument=I1), R.INSUFFICIENT_FUNDS, _call1, None),
    ("post-only-cross", _o(price=520, flags=POST_ONLY), R.POST_ONLY_WOULD_CROSS, None, None),
    ("post-only>funds", _o(account=2, price=520, flags=POST_ONLY), R.POST_ONLY_WOULD_CROSS, None, None),
    ("funds-none", _o(account=2), R.INSUFFICIENT_FUNDS, None, None),
    ("funds-short", _o(account=4, price=100, qty=1), R.INSUFFICIENT_FUNDS, None, None),
    ("funds-market", _o(account=4, order_type=MARKET, tif=IOC, price=0, qty=1), R.INSUFFICIENT_FUNDS, None, None),
    ("capacity-none", _o(account=2, side=SELL), R.INSUFFICIENT_CAPACITY, None, None),
    ("capacity-short", _o(account=3, side=SELL, price=600, qty=87), R.INSUFFICIENT_CAPACITY, None, None),
    # CANCEL
    ("cancel-account", cancel(16, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("cancel-unknown", cancel(1, 77), R.UNKNOWN_ORDER, None, None),
    ("cancel-unknown-big", cancel(1, CLORD_LIMIT + 1), R.UNKNOWN_ORDER, None, None),
    ("cancel-done", cancel(1, 4), R.ORDER_DONE, None, None),
    # REPLACE
    ("replace-account", replace(16, 1, 9, 495, 10), R.UNKNOWN_ACCOUNT, None, None),
    ("replace-account>clord", replace(16, 1, 0, 495, 10), R.UNKNOWN_ACCOUNT, None, None),
    ("replace-clord", replace(1, 1, 0, 495, 10), R.BAD_CLIENT_ORDER_ID, None, None),
    ("replace-clord>unknown", replace(1, 77, 0, 495, 10), R.BAD_CLIENT_ORDER_ID, None, None),
    ("replace-unknown", replace(1, 77, 9, 495, 10), R.UNKNOWN_ORDER, None, None),
    ("replace-unknown>qty", replace(1, 77, 9, 495, 0), R.UNKNOWN_ORDER, None, None),
    ("replace-done", replace(1, 4, 9, 495, 10), R.ORDER_DONE, None, None),
    ("replace-done>qty", replace(1, 4, 9, 495, 0), R.ORDER_DONE, None, None),
    ("replace-qty", replace(1, 1, 9, 495, 101), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("replace-qty>tick", replace(1, 1, 9, 492, 0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("replace-tick", replace(1, 1, 9, 492, 10), R.PRICE_NOT_ON_TICK, None, None),
    ("replace-tick>band", replace(1, 1, 9, 1002, 10), R.PRICE_NOT_ON_TICK, None, None),
    ("replace-band", replace(1, 1, 9, 1005, 10), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-band>dup", replace(1, 1, 2, 1005, 10), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-band-class1", replace(1, 6, 9, 501, 1), R.PRICE_OUT_OF_BAND, None, None),
    ("replace-dup", replace(1, 1, 2, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("replace-dup-self", replace(1, 1, 1, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, None),
    ("replace-dup>gate", replace(1, 1, 2, 495, 10), R.DUPLICATE_CLIENT_ORDER_ID, None, G),
    ("replace-gate", replace(1, 1, 9, 495, 10), R.GATE_CLOSED, None, G),
    ("replace-gate>halt", replace(1, 5, 9, 300, 1), R.GATE_CLOSED, _halt1, G),
    ("replace-halted", replace(1, 5, 9, 300, 1), R.INSTRUMENT_HALTED, _halt1, None),
    ("replace-below-filled", replace(1, 3, 9, 510, 4), R.REPLACE_BELOW_FILLED, None, None),
    ("replace-below-filled-price-up", replace(1, 3, 9, 1000, 3), R.REPLACE_BELOW_FILLED, None, None),
    ("replace-post-only", replace(1, 2, 9, 520, 5), R.POST_ONLY_WOULD_CROSS, None, None),
    ("replace-funds", replace(4, 1, 2, 505, 10), R.INSUFFICIENT_FUNDS, None, None),
    ("replace-capacity", replace(3, 2, 9, 520, 100), R.INSUFFICIENT_CAPACITY, None, None),
    # MASS_CANCEL
    ("mass-filter", mass_cancel(), R.BAD_MASS_CANCEL_FILTER, None, None),
    ("mass-account", mass_cancel(16, -1), R.UNKNOWN_ACCOUNT, None, None),
    ("mass-instrument", mass_cancel(-1, 3), R.UNKNOWN_INSTRUMENT, None, None),
    # capacity and funds
    ("deposit-cap-account", deposit_capacity(16, I0, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("deposit-cap-instrument", deposit_capacity(3, 3, 1), R.UNKNOWN_INSTRUMENT, None, None),
    ("deposit-cap-zero", deposit_capacity(3, I0, 0), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("deposit-cap-zero>closed", deposit_capacity(3, I2, 0), R.QUANTITY_OUT_OF_LIMITS, _close2, None),
    ("deposit-cap-closed", deposit_capacity(3, I2, 1), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-account", withdraw_capacity(-1, I0, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("withdraw-cap-instrument", withdraw_capacity(3, -1, 1), R.UNKNOWN_INSTRUMENT, None, None),
    ("withdraw-cap-neg", withdraw_capacity(3, I0, -1), R.QUANTITY_OUT_OF_LIMITS, None, None),
    ("withdraw-cap-closed", withdraw_capacity(3, I2, 1), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-closed>capacity", withdraw_capacity(3, I2, 99), R.GATE_CLOSED, _close2, None),
    ("withdraw-cap-over-free", withdraw_capacity(3, I0, 87), R.INSUFFICIENT_CAPACITY, None, None),
    ("withdraw-cap-over-capacity", withdraw_capacity(3, I0, 101), R.INSUFFICIENT_CAPACITY, None, None),
    ("deposit-funds-account", deposit_funds(16, 1), R.UNKNOWN_ACCOUNT, None, None),
    ("deposit-funds-zero", deposit_funds(1, 0), R.BAD_AMOUNT, None, None),
    ("withdraw-funds-zero", withdraw_funds(1, 0), R.BAD_AMOUNT, None, None),
    ("withdraw-funds-over", withdraw_funds(4, 51), R.INSUFFICIENT_FUNDS, None, None),
    ("withdraw-funds-none", withdraw_funds(2, 1), R.INSUFFICIENT_FUNDS, None, None),
    ("credit-account", set_credit(16, 0), R.UNKNOWN_ACCOUNT, None, None),
    ("credit-neg", set_credit(1, -1), R.BAD_AMOUNT, None, None),
    # market commands
    ("list-id-taken", list_instrument(2, 0), R.BAD_INSTRUMENT_ID, None, None),
    ("list-id-gap", list_instrument(4, 0), R.BAD_INSTRUMENT_ID, None, None),
    ("list-id>class", list_instrument(4, 2), R.BAD_INSTRUMENT_ID, None, None),
    ("list-class", list_instrument(3, 2), R.UNKNOWN_GPU_CLASS, None, None),
    ("list-class-neg", list_instrument(3, -1), R.UNKNOWN_GPU_CLASS, None, None),
    ("halt-unknown", halt(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("halt-halted", halt(I1), R.INSTRUMENT_HALTED, _halt1, None),
    ("halt-closed", halt(I2), R.GATE_CLOSED, _close2, None),
    ("halt-call", halt(I1), R.INSTRUMENT_IN_CALL, _call1, None),
    ("resume-call", resume(I1), R.INSTRUMENT_NOT_HALTED, _call1, None),
    ("resume-expiry", resume(I1, T0), R.BAD_EXPIRY, _halt1, None),
    ("resume-open>expiry", resume(I0, T0), R.INSTRUMENT_NOT_HALTED, None, None),
    ("list-call-now", list_instrument(3, 0, call_end=T0), R.BAD_EXPIRY, None, None),
    ("list-call-past", list_instrument(3, 0, call_end=T0 - 1), R.BAD_EXPIRY, None, None),
    ("list-class>call", list_instrument(3, 2, call_end=T0), R.UNKNOWN_GPU_CLASS, None, None),
    ("call-unknown", start_call(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("call-closed", start_call(I2), R.GATE_CLOSED, _close2, None),
    ("call-gate-ts", start_call(I0), R.GATE_CLOSED, None, G),
    ("call-call", start_call(I1), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-call>expiry", start_call(I1, T0), R.INSTRUMENT_IN_CALL, _call1, None),
    ("call-expiry", start_call(I0, T0), R.BAD_EXPIRY, None, None),
    ("call-expiry-neg", start_call(I0, -1), R.BAD_EXPIRY, None, None),
    ("uncross-unknown", uncross(-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("uncross-closed", uncross(I2), R.GATE_CLOSED, _close2, None),
    ("uncross-gate-ts", uncross(I1), R.GATE_CLOSED, _call1, G),
    ("uncross-open", uncross(I0), R.INSTRUMENT_NOT_IN_CALL, None, None),
    ("uncross-halted", uncross(I1), R.INSTRUMENT_NOT_IN_CALL, _halt1, None),
    ("resume-unknown", resume(-1), R.UNKNOWN_INSTRUMENT, None, None),
    ("resume-open", resume(I0), R.INSTRUMENT_NOT_HALTED, None, None),
    ("resume-closed", resume(I2), R.GATE_CLOSED, _close2, None),
    ("close-unknown", close_gate(3), R.UNKNOWN_INSTRUMENT, None, None),
    ("close-closed", close_gate(I2), R.GATE_CLOSED, _close2, None),
    ("kind-0", cmd(0, account=1, instrument=I0, side=BUY, price=505, qty=10, clord=9),
     R.UNKNOWN_COMMAND, None, None),
    ("kind-22", cmd(22, account=1), R.UNKNOWN_COMMAND, None, None),
    ("kind-neg", cmd(-1), R.UNKNOWN_COMMAND, None, None),
]


def test_reject_table_covers_every_reject_reason() -> None:
    from tests.engine.test_dayahead_commands import HOLD_REJECTS

    covered = {case[2] for case in REJECTS} | {case[2] for case in HOLD_REJECTS}
    wanted = {r for r in R if 100 < r < 600}
    missing = wanted - covered - {R.INSUFFICIENT_FUNDS}  # SET_CREDIT's is in the funds test
    assert not missing, sorted(missing)
    assert R.INSUFFICIENT_FUNDS in covered


@nojit
@pytest.mark.parametrize("name, command, reason, prep, ts", REJECTS, ids=[c[0] for c in REJECTS])
def test_reject(market: Market, name, command, reason, prep, ts) -> None:
    m = market
    _base(m)
    if prep is not None:
        prep(m)
    before = snapshot(m.engine)
    events = m.do(command, ts)
    c = dict(zip(command.dtype.names, map(int, command[0])))
    clord = c["orig_clord"] if c["kind"] == K.CANCEL else c["clord"]
    assert_events(events, [rejected(reason, account=c["account"], instrument=c["instrument"],
                                    side=c["side"], price=c["price"], qty=c["qty"], clord=clord)])
    assert snapshot(m.engine) == before, "a rejected command changed the state"
