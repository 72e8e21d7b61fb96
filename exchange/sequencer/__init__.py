"""Sequencing: the single writer that turns submitted commands into durable, applied ones.

* :class:`Sequencer` — the writer thread: stamp seq and ts, journal, sync, apply, acknowledge;
  :class:`LoopSequencer` — the same, run by an asyncio event loop (the gateway's);
* :class:`MarketState` — the deterministic state machine it drives (engine, listing,
  order ledger, trade output), also used by recovery and the audit;
* :class:`OrderLedger` — the latest state of the live and recently done orders, for
  queries and retries; :class:`OrderHistory` — the older ones, retired to Arrow files,
  with a Bloom filter over their client order ids (:mod:`~exchange.sequencer.keyfilter`);
* :class:`ExchangeNode` — a data directory recovered (snapshot + journal tail) with a
  sequencer running on it.
"""

from exchange.sequencer.history import OrderHistory
from exchange.sequencer.loop import LoopSequencer
from exchange.sequencer.node import ExchangeNode, RecoveryReport, recover
from exchange.sequencer.orders import OrderLedger, OrderRecord, OrderStatus
from exchange.sequencer.sequencer import (
    GroupObserver,
    Sequencer,
    SequencerStoppedError,
    SyncPolicy,
)
from exchange.sequencer.state import MarketState

__all__ = [
    "ExchangeNode", "GroupObserver", "LoopSequencer", "MarketState", "OrderHistory", "OrderLedger", "OrderRecord",
    "OrderStatus",
    "RecoveryReport", "Sequencer", "SequencerStoppedError", "SyncPolicy", "recover",
]
