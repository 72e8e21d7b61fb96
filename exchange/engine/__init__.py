"""The matching engine: continuous price-time matching with pre-trade risk and call
auctions, following the rules of :mod:`exchange.schema.rules`.

* :mod:`exchange.engine.api` — the interface both engines implement, and its views;
* :class:`Engine` (:mod:`exchange.engine.numba_engine`) — the numba engine: state in
  numpy arrays (:mod:`~exchange.engine.layout`, :mod:`~exchange.engine.hashtable`),
  jitted kernels (:mod:`~exchange.engine.process` dispatching to
  :mod:`~exchange.engine.commands`, which use :mod:`~exchange.engine.orderbook` and
  :mod:`~exchange.engine.events`);
* :class:`ReferenceEngine` (:mod:`exchange.engine.reference`, its state and book
  operations in :mod:`~exchange.engine.reference_book`) — the plain Python oracle with
  the same events.

Both are pure functions of their command sequence: no clock, no randomness. The record
types and codes are re-exported from :mod:`exchange.schema` for convenience.
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
from exchange.engine.numba_engine import Engine
from exchange.engine.reference import ReferenceEngine
from exchange.schema import (
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
