"""The demo market runs end to end, tells the story it claims, and conserves money."""

import io

import numpy as np
from rich.console import Console

from exchange.cli import demo
from exchange.engine import CommandKind, EventKind as EV, Reason, ReferenceEngine, Side


def test_demo_market_trades_rejects_expires_and_conserves_money():
    market = demo.run_market()
    market.engine.check()
    events = market.all_events()
    trades = events[events["kind"] == EV.TRADE]
    assert len(trades) >= 8
    assert set(events["reason"][events["kind"] == EV.REJECTED]) == {
        Reason.INSUFFICIENT_CAPACITY, Reason.INSUFFICIENT_FUNDS}
    expired = events[events["kind"] == EV.EXPIRED]
    assert len(expired) > 0 and set(expired["reason"]) == {Reason.GATE_CLOSURE}
    # Resale: the render farm sold hours it had bought, to the startup.
    sellers = np.where(trades["side"] == Side.SELL, trades["account"], trades["contra_account"])
    assert demo.RENDER_FARM in sellers
    # Trades move cash between accounts: the total is what was deposited.
    commands = np.concatenate(market.commands)
    deposited = int(commands["amount"][commands["kind"] == CommandKind.DEPOSIT_FUNDS].sum())
    cash = sum(market.engine.account(a).cash for a in range(len(demo.ACCOUNTS)))
    assert cash == deposited == 20_000_000 + 200_000 + 5_000_000
    # The 14:00 slots are closed with empty books, the 15:00 ones still trade.
    states = {inst.symbol: market.engine.book(i).state.name for i, inst in enumerate(market.listing)}
    assert states["H100-80G.jiaxing.20261125T14"] == "CLOSED"
    assert states["H100-80G.jiaxing.20261125T15"] == "OPEN"


def test_demo_prints_books_trades_outcomes_accounts_settlement_and_audit(tmp_path):
    out = io.StringIO()
    assert demo.main(Console(file=out, width=160), data_dir=tmp_path / "demo") == 0
    text = out.getvalue()
    for expected in ("Order books", "Trades", "INSUFFICIENT_CAPACITY", "GATE_CLOSURE",
                     "render-farm", "H100-80G.jiaxing.20261125T15", "¥17.75", "8 trades",
                     "Settlement of delivery day 2026-11-25", "hangzhou-city-fund owes", "AUDIT PASSED"):
        assert expected in text
    assert (tmp_path / "demo" / "trades" / "date=2026-11-25" / "_SEALED.json").exists()
    # a second run starts a new market in the same place
    assert demo.main(Console(file=io.StringIO(), width=160), data_dir=tmp_path / "demo") == 0


def test_the_durable_demo_gives_the_same_events_as_the_bare_engine(tmp_path):
    durable = demo.run_market(data_dir=tmp_path / "d")
    durable.node.close()
    bare = demo.run_market()
    assert np.array_equal(durable.all_events(), bare.all_events())  # same seqs and stamps too


def test_demo_is_deterministic_and_the_reference_engine_agrees():
    first, again = demo.run_market(), demo.run_market()
    reference = demo.run_market(engine_cls=ReferenceEngine)
    reference.engine.check()
    assert np.array_equal(first.all_events(), again.all_events())
    assert np.array_equal(first.all_events(), reference.all_events())
