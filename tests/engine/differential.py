"""Two engines in lockstep for the differential tests: :class:`Duo` runs the reference
and the numba engine on the same batches with every check (byte-identical events,
well-formedness, the :class:`tests.helpers.Ledger`, both ``check()``s, every view), and
on a failure finds a minimal failing command sequence (:func:`minimize`) and shows it with
both engines' events and a field-by-field diff of the first differing event."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

from exchange.engine.reference import ReferenceEngine
from exchange.schema import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    EVENT_FIELDS,
    EventKind,
    Reason,
    describe,
)
from tests.helpers import (
    T0,
    Ledger,
    code_name,
    make_engine,
    rows,
    show,
    snapshot,
)
from tests.wellformed import check_wellformed


def numba_engine_cls() -> type:
    try:
        from exchange.engine.numba_engine import Engine
    except Exception as exc:  # same policy as conftest's engine_cls fixture
        if os.environ.get("GPUX_REQUIRE_NUMBA") == "1":
            raise
        pytest.skip(f"numba engine not importable: {exc!r}")
    return Engine


# ---------------------------------------------------------------------------- comparing

def fmt_command(row: Any) -> str:
    """One command as :func:`describe` prints it, its ts counted from T0."""
    relative = np.array(row, COMMAND_DTYPE).reshape(1)
    relative["ts"] -= T0
    return describe(relative)


def fmt_commands(cmds: np.ndarray) -> str:
    return "\n".join("  " + fmt_command(r) for r in cmds) or "  (none)"


def describe_event_mismatch(cmds: np.ndarray, ref: np.ndarray, nb: np.ndarray) -> str | None:
    """None if the arrays are byte-identical, else a readable account of the first
    differing event: the command, both engines' events for it, and the differing fields."""
    if ref.dtype == nb.dtype == EVENT_DTYPE and ref.shape == nb.shape and np.array_equal(ref, nb):
        assert ref.tobytes() == nb.tobytes()
        return None
    if ref.dtype != EVENT_DTYPE or nb.dtype != EVENT_DTYPE:
        return f"event dtypes: reference {ref.dtype}, numba {nb.dtype}"
    ra, rb = rows(ref), rows(nb)
    i = next((j for j, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
    first = ra[i] if i < len(ra) else rb[i]
    seq = first["seq"]
    lines = [f"engines disagree at event {i} (reference emitted {len(ra)}, numba {len(rb)})"]
    at = [c for c in cmds if int(c["seq"]) == seq]
    lines.append("command: " + (fmt_command(at[0]) if at else f"(seq {seq} not in the batch)"))
    if i < len(ra) and i < len(rb):
        for f in EVENT_FIELDS:
            x, y = ra[i][f], rb[i][f]
            if x != y:
                if f == "kind":
                    x, y = code_name(EventKind, x), code_name(EventKind, y)
                elif f == "reason":
                    x, y = code_name(Reason, x), code_name(Reason, y)
                lines.append(f"  {f}: reference={x} numba={y}")
    else:
        lines.append(f"  only {'reference' if i < len(ra) else 'numba'} has event {i}")
    lines += ["reference events of that command:", show([r for r in ra if r["seq"] == seq]),
              "numba events of that command:", show([r for r in rb if r["seq"] == seq])]
    return "\n".join(lines)


def describe_view_mismatch(ref: Any, nb: Any) -> str | None:
    a, b = snapshot(ref), snapshot(nb)
    if a == b:
        return None
    names = ("n_instruments", "books", "accounts", "positions", "live_orders")
    for name, x, y in zip(names, a, b):
        if x != y:
            if isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y):
                j = next(j for j, (u, v) in enumerate(zip(x, y)) if u != v)
                return f"views differ: {name}[{j}]\n  reference: {x[j]}\n  numba:     {y[j]}"
            return f"views differ: {name}\n  reference: {x}\n  numba:     {y}"
    return "views differ"


class Disagreement(AssertionError):
    """A failed check of :class:`Duo`; ``category`` says which (for the minimiser)."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(detail)
        self.category = category
        self.detail = detail


def _final_run() -> bool:
    """Outside hypothesis, or in the run that reports the (shrunk) failing example."""
    from hypothesis.control import current_build_context, currently_in_test_context

    return not currently_in_test_context() or current_build_context().is_final


class Duo:
    """The reference and the numba engine fed the same batches, with every check.

    On a failure in a reportable run (see :func:`_final_run`) the whole command history is
    replayed in subsets (:func:`minimize`) to find a minimal sequence that still fails the
    same way, which the failure message shows with both engines' events.
    """

    def __init__(self, initial_orders: int = 16, minimize_on_failure: bool = True,
                 show_history: bool = True) -> None:
        engine_cls = numba_engine_cls()
        self.initial_orders = initial_orders
        self.ref = make_engine(ReferenceEngine)
        self.nb = make_engine(lambda config: engine_cls(config, initial_orders=initial_orders))
        self.ledger = Ledger()
        self.history: list[np.ndarray] = []
        self.minimize_on_failure = minimize_on_failure
        self.show_history = show_history
        self.counts: dict[tuple[int, int], int] = {}  # (kind, reason) -> events, for stats

    def run(self, cmds: np.ndarray, views: bool = True) -> np.ndarray:
        self.history.append(cmds)
        try:
            return self._run(cmds, views)
        except Disagreement as exc:
            if not self.minimize_on_failure or not _final_run():
                raise
            msg = [exc.detail, "", f"failing batch {len(self.history) - 1} of the run:",
                   fmt_commands(cmds)]
            msg += ["", minimize_report(self.history, exc.category, self.initial_orders)]
            if self.show_history and sum(len(h) for h in self.history) <= 2000:
                msg += ["", "all commands of the run, after make_engine() listed "
                        f"helpers.INSTRUMENTS (T0={T0}), batches separated by '--':",
                        "\n  --\n".join(fmt_commands(h) for h in self.history)]
            raise AssertionError("\n".join(msg)) from None

    def _run(self, cmds: np.ndarray, views: bool) -> np.ndarray:
        try:
            a = self.ref.process(cmds)
        except Exception as exc:
            raise Disagreement(f"reference raised {type(exc).__name__}",
                               f"reference.process raised {exc!r}") from exc
        try:
            b = self.nb.process(cmds)
        except Exception as exc:
            raise Disagreement(f"numba raised {type(exc).__name__}",
                               f"numba process raised {exc!r}") from exc
        msg = describe_event_mismatch(cmds, a, b)
        if msg:
            raise Disagreement("events", msg)
        try:
            check_wellformed(cmds, a)
            for r in rows(a):
                key = (r["kind"], r["reason"])
                self.counts[key] = self.counts.get(key, 0) + 1
                self.ledger.apply(r)
        except AssertionError as exc:
            raise Disagreement("wellformed", f"events (both engines) not well formed: {exc}\n"
                               f"events of the batch:\n{show(a)}") from exc
        for name, engine in (("reference", self.ref), ("numba", self.nb)):
            try:
                engine.check()
            except AssertionError as exc:  # EngineStateError is an AssertionError
                raise Disagreement(f"{name}.check", f"{name} check() failed: {exc}\n"
                                   f"events of the batch:\n{show(a)}") from exc
        if views:
            msg = describe_view_mismatch(self.ref, self.nb)
            if msg:
                raise Disagreement("views", msg)
            live = [(o.order_id, o.clord, o.price, o.leaves, o.filled)
                    for o in self.ref.live_orders()]
            if live != self.ledger.live():
                raise Disagreement("ledger", f"event ledger {self.ledger.live()} != "
                                   f"live orders {live}")
        return a


def _replay(items: list[tuple[int, Any]], initial_orders: int) -> Disagreement | None:
    """Run (batch index, command row) items through a fresh Duo, batch by batch."""
    duo = Duo(initial_orders, minimize_on_failure=False)
    i = 0
    try:
        while i < len(items):
            j = i
            while j < len(items) and items[j][0] == items[i][0]:
                j += 1
            duo.run(np.array([row for _, row in items[i:j]], dtype=COMMAND_DTYPE))
            i = j
    except Disagreement as exc:
        return exc
    return None


def minimize(history: list[np.ndarray], category: str, initial_orders: int,
             budget_s: float = 60.0) -> list[tuple[int, Any]] | None:
    """Delta debugging (ddmin) over the commands of ``history``, keeping the batches they
    were in: a 1-minimal subsequence that still fails with ``category``, or None if even
    the full history does not (then the failure depends on something else)."""
    items = [(b, row) for b, h in enumerate(history) for row in h]

    def fails(cand: list[tuple[int, Any]]) -> bool:
        exc = _replay(cand, initial_orders)
        return exc is not None and exc.category == category

    if not fails(items):
        return None
    deadline = time.monotonic() + budget_s
    n = 2
    while len(items) >= 2 and time.monotonic() < deadline:
        size = -(-len(items) // n)
        for start in range(0, len(items), size):
            cand = items[:start] + items[start + size:]
            if fails(cand):
                items, n = cand, max(n - 1, 2)
                break
        else:
            if size == 1:
                break
            n = min(len(items), 2 * n)
    return items


def minimize_report(history: list[np.ndarray], category: str, initial_orders: int) -> str:
    items = minimize(history, category, initial_orders)
    if items is None:
        return "(replaying the run from scratch does not reproduce the failure)"
    exc = _replay(items, initial_orders)
    assert exc is not None
    batches: list[np.ndarray] = []
    for b in sorted({b for b, _ in items}):
        batches.append(np.array([row for bb, row in items if bb == b], dtype=COMMAND_DTYPE))
    # both engines' full output for the minimal sequence
    ref = make_engine(ReferenceEngine)
    engine_cls = numba_engine_cls()
    nb = make_engine(lambda config: engine_cls(config, initial_orders=initial_orders))
    out = [f"minimal failing sequence ({len(items)} commands, {category}), after make_engine() "
           f"listed helpers.INSTRUMENTS (T0={T0}); batches separated by '--':",
           "\n  --\n".join(fmt_commands(b) for b in batches),
           "its failure:", exc.detail]
    for name, engine in (("reference", ref), ("numba", nb)):
        out.append(f"{name} events:")
        for b in batches:
            try:
                out.append(show(engine.process(b)))
            except Exception as e:  # noqa: BLE001 -- report, do not mask the failure
                out.append(f"  raised {e!r}")
                break
    return "\n".join(out)
