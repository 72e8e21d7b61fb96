"""The records every part of the exchange passes along, and their meaning.

* :mod:`exchange.schema.records` — command and event records (``COMMAND_DTYPE``,
  ``EVENT_DTYPE``, all int64), their columns by name (``C``, ``E``) and batch helpers;
* :mod:`exchange.schema.codes` — what each integer means (``CommandKind``, ``EventKind``,
  ``Reason``, ``Side``, ...), the default self-trade prevention mode and the limits that
  keep amounts inside int64;
* :mod:`exchange.schema.describe` — records for people: ``describe`` prints
  ``REJECTED(BAD_STP_MODE) account=1 ...``, ``named_rows`` gives dicts with enum codes;
* :mod:`exchange.schema.config` — ``EngineConfig``, the market parameters per GPU class;
* :mod:`exchange.schema.rules` — the market rules both matching engines follow, field by
  field, and the most events one command can emit.

Plain Python and numpy only (no numba), so the catalog, the gateway or a client may
import it without loading the engine.
"""

from exchange.schema.codes import (
    ACCOUNT_BITS,
    CAPACITY_LIMIT,
    CLORD_LIMIT,
    DEFAULT_STP_MODE,
    HISTORY_MARKS,
    MONEY_LIMIT,
    PRICE_LIMIT,
    CommandKind,
    EventKind,
    InstrumentState,
    OrderFlag,
    OrderType,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)
from exchange.schema.config import EngineConfig
from exchange.schema.describe import describe, named_rows
from exchange.schema.records import (
    COMMAND_DTYPE,
    COMMAND_FIELDS,
    EVENT_DTYPE,
    EVENT_FIELDS,
    C,
    E,
    command,
    commands,
    concat_records,
    copy_records,
    copy_reusing,
    record_words,
)
from exchange.schema.rules import events_bound

__all__ = [
    "ACCOUNT_BITS", "C", "CAPACITY_LIMIT", "CLORD_LIMIT", "COMMAND_DTYPE", "COMMAND_FIELDS",
    "CommandKind", "DEFAULT_STP_MODE", "E", "HISTORY_MARKS", "EVENT_DTYPE", "EVENT_FIELDS", "EngineConfig",
    "EventKind", "InstrumentState", "MONEY_LIMIT", "OrderFlag", "OrderType", "PRICE_LIMIT",
    "Reason", "Side", "StpMode", "TimeInForce", "command", "commands", "concat_records",
    "copy_records", "copy_reusing", "describe", "events_bound", "named_rows", "record_words",
]
