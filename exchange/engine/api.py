"""The one interface both matching engines implement, and the read-only views they return.

An engine is a pure function of its command sequence: :meth:`MatchingEngine.process`
takes a batch of commands (``COMMAND_DTYPE``) and returns the events (``EVENT_DTYPE``)
they caused, following the rules in :mod:`exchange.schema.rules`. The views are for
tests, the demo and market data; they never change state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from exchange.schema import COMMAND_DTYPE, CommandKind, InstrumentState


class EngineStateError(AssertionError):
    """An internal invariant of an engine does not hold (raised by ``check()``)."""


def command_batch(batch: np.ndarray) -> np.ndarray:
    """``batch`` as the engines take it: a 1-D array of ``COMMAND_DTYPE`` records, made
    C-contiguous (a copy only if it was not); ``TypeError`` for anything else, the same
    for both engines. O(1) for a contiguous batch."""
    if not isinstance(batch, np.ndarray) or batch.dtype != COMMAND_DTYPE or batch.ndim != 1:
        got = (f"{batch.dtype} of shape {batch.shape}" if isinstance(batch, np.ndarray)
               else type(batch).__name__)
        raise TypeError("commands must be a 1-D array of COMMAND_DTYPE records (exchange.schema.commands(n) "
                        f"or command(kind, ...)), not {got}")
    return batch if batch.flags.c_contiguous else np.ascontiguousarray(batch)


@dataclass(frozen=True)
class Level:
    """One price level of a book side: price (fen), total open qty, number of orders."""

    price: int
    qty: int
    orders: int


@dataclass(frozen=True)
class BookView:
    """Both sides of an instrument's book, best first (crossed only in a CALL phase).

    ``reference`` is the price an uncross would use as its reference now (last trade,
    else the class reference); ``call_end_ts`` the end of the call phase (0: none, or
    until an UNCROSS)."""

    instrument: int
    state: InstrumentState
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    reference: int = 0
    call_end_ts: int = 0


@dataclass(frozen=True)
class AccountView:
    """Money of an account, in fen: cash may go below zero down to -credit."""

    cash: int
    credit: int
    reserved: int
    held: int = 0  # escrowed for a day-ahead auction (HOLD_FUNDS)

    @property
    def available(self) -> int:
        """What new bids may still reserve: ``cash + credit - reserved - held``."""
        return self.cash + self.credit - self.reserved - self.held


@dataclass(frozen=True)
class PositionView:
    """An account's GPUs in one instrument (slot): deposited, bought, sold, offered."""

    capacity: int
    bought: int
    sold: int
    ask_open: int
    held: int = 0  # escrowed for a day-ahead auction (HOLD_CAPACITY)

    @property
    def free(self) -> int:
        """GPUs that may still be offered: ``capacity + bought - sold - ask_open - held``."""
        return self.capacity + self.bought - self.sold - self.ask_open - self.held


@dataclass(frozen=True)
class OrderView:
    """A live order as it rests in the book."""

    order_id: int
    account: int
    instrument: int
    clord: int
    side: int
    price: int
    qty: int
    leaves: int
    filled: int
    tif: int
    expire_ts: int


class MatchingEngine(Protocol):
    """What every engine offers; see :mod:`exchange.schema.rules` for the rules."""

    def process(self, batch: np.ndarray) -> np.ndarray:
        """Apply a batch of commands in order; return the events they caused.
        ``TypeError`` unless the batch is as :func:`command_batch` takes it."""

    def submit(self, kind: CommandKind, **fields: int) -> np.ndarray:
        """Apply one command given by its fields (others 0, built by
        :func:`exchange.schema.command`: a NEW_ORDER without stp gets the default mode);
        return its events."""

    def check(self) -> None:
        """Verify every internal invariant; raise :class:`EngineStateError` if one fails."""

    def book(self, instrument: int, depth: int | None = None) -> BookView:
        """Aggregated levels of an instrument's book, best first, up to ``depth`` each."""

    def account(self, account: int) -> AccountView:
        """Money of an account."""

    def position(self, account: int, instrument: int) -> PositionView:
        """Capacity and holdings of an account in an instrument (zeros if none)."""

    def live_orders(self, account: int | None = None) -> list[OrderView]:
        """Live orders, of one account or all, ascending order id."""

    @property
    def n_instruments(self) -> int:
        """Instruments listed so far (ids ``0 .. n_instruments - 1``)."""
