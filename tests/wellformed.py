"""The well-formedness check every engine test runs on each command's events, whatever
the state (:func:`check_wellformed`): what the event stream of :mod:`exchange.schema.rules`
always looks like, independent of the market rules that decide which events come."""

from __future__ import annotations

import numpy as np

from exchange.schema import EVENT_FIELDS, CommandKind, EventKind, Reason, Side

K = CommandKind
EV = EventKind
R = Reason
BUY, SELL = int(Side.BUY), int(Side.SELL)


def rows(events: np.ndarray) -> list[dict[str, int]]:
    """Events as dicts of plain ints (all fields)."""
    return [dict(zip(EVENT_FIELDS, map(int, r))) for r in events.tolist()]


_REJECT_REASONS = {int(r) for r in Reason if 100 < r < 600}
_CANCEL_REASONS = {int(r) for r in (R.USER_CANCEL, R.MASS_CANCEL, R.IOC_REMAINDER,
                                    R.FOK_UNFILLABLE, R.SELF_TRADE)}
_EXPIRE_REASONS = {int(R.GATE_CLOSURE), int(R.GTD_EXPIRY)}
_REPLACE_REASONS = {int(R.PRIORITY_KEPT), int(R.PRIORITY_LOST)}
_ORDER_COMMANDS = {int(K.NEW_ORDER), int(K.CANCEL), int(K.REPLACE)}
_CONTRA = ("contra_order_id", "contra_account", "contra_clord", "contra_leaves", "trade_id")


def check_wellformed(commands: np.ndarray, events: np.ndarray) -> None:
    """Rules every event batch obeys whatever the state (commands need distinct seqs):
    events come in command order with the command's seq and ts; every command yields at
    least one event; a REJECTED is its command's only event; a successful non-order
    command ends with exactly one ACK; fields that do not apply are 0 (contra_*/trade_id
    only on TRADE, but contra_clord = the previous clord on REPLACED); reasons fit kinds.
    """
    cs = commands.tolist()
    seqs = [c[0] for c in cs]
    assert len(set(seqs)) == len(seqs), "check_wellformed needs distinct seqs"
    idx = {s: i for i, s in enumerate(seqs)}
    groups: list[list[dict[str, int]]] = [[] for _ in cs]
    last = -1
    for r in rows(events):
        assert r["seq"] in idx, f"event with unknown seq: {r}"
        i = idx[r["seq"]]
        assert i >= last, f"events out of command order at {r}"
        last = i
        assert r["ts"] == cs[i][1], f"event ts {r['ts']} != command ts {cs[i][1]}: {r}"
        groups[i].append(r)
        _check_event(r)
    for c, group in zip(cs, groups):
        assert group, f"command {c} yielded no event"
        ks = [g["kind"] for g in group]
        if EV.REJECTED in ks:
            assert ks == [EV.REJECTED], f"REJECTED with other events: {ks}"
        elif c[2] not in _ORDER_COMMANDS:
            assert ks[-1] == EV.ACK and ks.count(EV.ACK) == 1, f"non-order command events {ks}"
        else:
            assert EV.ACK not in ks, f"ACK on an order command: {ks}"


def _check_event(r: dict[str, int]) -> None:
    """One event's kind, and the fields that apply to it."""
    k, reason = r["kind"], r["reason"]
    assert k in {int(e) for e in EventKind}, f"unknown event kind: {r}"
    if k == EV.TRADE and reason == R.DAY_AHEAD:  # a DA_TRADE: no engine orders
        assert r["trade_id"] > 0 and r["qty"] > 0 and r["side"] == BUY, r
        assert r["order_id"] == r["contra_order_id"] == r["leaves"] == r["filled"] == 0, r
        assert r["contra_account"] != r["account"] and r["contra_leaves"] == 0, r
    elif k == EV.TRADE:
        assert reason in (0, R.AUCTION) and r["trade_id"] > 0 and r["contra_order_id"] > 0, r
        assert r["qty"] > 0 and r["contra_account"] != r["account"], r
    elif k == EV.REPLACED:  # contra_clord = the previous clord (orig_clord), rest 0
        assert 0 < r["contra_clord"] != r["clord"], f"REPLACED without a fresh orig clord: {r}"
        assert all(r[f] == 0 for f in _CONTRA if f != "contra_clord"), (
            f"contra/trade fields on a REPLACED: {r}")
    else:
        assert all(r[f] == 0 for f in _CONTRA), f"contra/trade fields on a non-TRADE: {r}"
    _check_reason_and_order(r)


def _check_reason_and_order(r: dict[str, int]) -> None:
    """An event's reason fits its kind; its order fields are set or 0 as the kind says."""
    k, reason = r["kind"], r["reason"]
    if k in (EV.ACCEPTED, EV.DONE, EV.ACK, EV.UNCROSSED):
        assert reason == 0, f"reason on {EventKind(k).name}: {r}"
    if k == EV.REJECTED:
        assert reason in _REJECT_REASONS or reason == R.UNKNOWN_COMMAND, r
        assert r["order_id"] == r["leaves"] == r["filled"] == 0, r
    elif k == EV.ACK:
        assert all(r[f] == 0 for f in ("order_id", "clord", "side", "price", "leaves",
                                       "filled")), r
    elif k == EV.TRADE and reason == R.DAY_AHEAD:
        pass
    elif k == EV.UNCROSSED:
        assert r["account"] == r["order_id"] == r["clord"] == r["filled"] == 0, r
        assert (r["qty"] > 0) == (r["price"] > 0) and r["leaves"] >= 0, r
        assert r["side"] in (0, BUY, SELL) and (r["side"] == 0) == (r["leaves"] == 0), r
    else:
        assert r["order_id"] > 0 and r["leaves"] >= 0 and r["filled"] >= 0, r
    if k == EV.CANCELLED:
        assert reason in _CANCEL_REASONS and r["qty"] > 0, r
    if k == EV.EXPIRED:
        assert reason in _EXPIRE_REASONS and r["qty"] > 0 and r["leaves"] == 0, r
    if k == EV.REPLACED:
        assert reason in _REPLACE_REASONS, r
    if k == EV.DONE:
        assert r["leaves"] == 0, r
