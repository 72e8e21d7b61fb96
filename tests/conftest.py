"""Fixtures shared by the engine tests.

* ``engine_cls`` -- parametrized over the implementations: ``reference`` (always) and
  ``numba`` (:class:`exchange.engine.numba_engine.Engine`; skipped if it cannot be imported,
  unless ``GPUX_REQUIRE_NUMBA=1`` is set, which turns the skip into a failure).
* ``config`` -- the small :data:`tests.helpers.CONFIG`.
* ``engine`` -- ``engine_cls(config)`` with :data:`tests.helpers.INSTRUMENTS` listed;
  ``engine.check()`` runs after the test.
* ``market`` -- a :class:`tests.helpers.Market` driving ``engine`` at ``T0``; after a
  passing test its event ledger must agree with ``engine.live_orders()``.

Marker ``nojit`` (registered in pyproject.toml): fast tests that are also run with
``NUMBA_DISABLE_JIT=1`` (``pytest -m nojit``).

Hypothesis runs without per-example deadlines: speed is measured in ``bench/``, never
asserted, and a loaded CI machine must not turn a slow example into a failure.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest.register_assert_rewrite("tests.helpers")
settings.register_profile("gpux", deadline=None)
settings.load_profile("gpux")

from exchange.engine.reference import ReferenceEngine  # noqa: E402
from tests.helpers import CONFIG, Market, make_engine  # noqa: E402


def _numba_engine_cls() -> type:
    try:
        from exchange.engine.numba_engine import Engine
    except Exception as exc:  # the numba engine is optional until it exists
        if os.environ.get("GPUX_REQUIRE_NUMBA") == "1":
            raise
        pytest.skip(f"numba engine not importable: {exc!r}")
    return Engine


@pytest.fixture(params=["reference", "numba"])
def engine_cls(request: pytest.FixtureRequest) -> type:
    if request.param == "reference":
        return ReferenceEngine
    return _numba_engine_cls()


@pytest.fixture
def config():
    return CONFIG


@pytest.fixture
def engine(engine_cls, config):
    e = make_engine(engine_cls, config)
    yield e
    e.check()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.gpux_call_failed = report.failed
    return report


@pytest.fixture
def market(request, engine):
    m = Market(engine)
    yield m
    if not getattr(request.node, "gpux_call_failed", False):  # else it would only echo the failure
        m.verify()
