"""The matching engine: continuous price-time matching with pre-trade risk and call
auctions, following the rules of :mod:`exchange.schema.rules`.

* :mod:`exchange.engine.api` — the interface both engines implement, and its views;
* :class:`Engine` (:mod:`exchange.engine.numba_engine`) — the numba engine: state in
  numpy arrays (:mod:`~exchange.engine.layout`, :mod:`~exchange.engine.hashtable`),
  jitted kernels (:mod:`~exchange.engine.process` dispatching to
  :mod:`~exchange.engine.commands` (orders) and
  :mod:`~exchange.engine.market_commands` (markets and accounts), which use :mod:`~exchange.engine.orderbook` and
  :mod:`~exchange.engine.events`);
* :class:`ReferenceEngine` (:mod:`exchange.engine.reference`, its state and book
  operations in :mod:`~exchange.engine.reference_book`) — the plain Python oracle with
  the same events.

Both are pure functions of their command sequence: no clock, no randomness. The record
types, codes and helpers a user of the engine needs are re-exported from
:mod:`exchange.schema`: ``command``/``commands``/``concat_records`` to build batches
(``command`` gives a NEW_ORDER without an stp ``DEFAULT_STP_MODE``), ``describe`` and
``named_rows`` to read events by name, ``EngineConfig.with_class_rules`` to change a
class's band or lot limits in code.
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
    DEFAULT_STP_MODE,
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
    concat_records,
    describe,
    named_rows,
)

__all__ = [
    "AccountView", "BookView", "COMMAND_DTYPE", "CommandKind", "DEFAULT_STP_MODE", "EVENT_DTYPE",
    "Engine", "EngineConfig", "EngineStateError", "EventKind", "InstrumentState", "Level",
    "MatchingEngine", "OrderFlag", "OrderType", "OrderView", "PositionView", "Reason",
    "ReferenceEngine", "Side", "StpMode", "TimeInForce", "command", "commands", "concat_records",
    "describe", "named_rows",
]
