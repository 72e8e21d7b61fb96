"""The matching engine: continuous price-time matching with pre-trade risk.

* :mod:`exchange.engine.schema` — command and event records, codes and the rules;
* :mod:`exchange.engine.api` — the interface both engines implement, and its views;
* :class:`Engine` — the numba engine (state in numpy arrays, jitted kernels);
* :class:`ReferenceEngine` — the plain Python oracle with the same events.

Both are pure functions of their command sequence: no clock, no randomness.
"""

from exchange.engine.api import (
    AccountView,
    BookView,
    EngineStateError,
    Level,
    MatchingEngine,
    OrderView,
    PositionView,
)
from exchange.engine.book import Engine
from exchange.engine.reference import ReferenceEngine
from exchange.engine.schema import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    CommandKind,
    EngineConfig,
    EventKind,
    InstrumentState,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
    command,
    commands,
)

__all__ = [
    "AccountView", "BookView", "COMMAND_DTYPE", "CommandKind", "EVENT_DTYPE", "Engine",
    "EngineConfig", "EngineStateError", "EventKind", "InstrumentState", "Level",
    "MatchingEngine", "OrderFlag", "OrderType", "OrderView", "PositionView", "Reason",
    "ReferenceEngine", "Side", "StpMode", "TimeInForce", "command", "commands",
]
