"""The day-ahead auction of whole jobs, from order intake to booked trades.

Flow (one delivery day, market time):

1. **Intake** (:class:`DayAheadBook`): hourly orders (one product = GPU class x region,
   one hour) and block orders (the same GPUs over consecutive hours, all or none or a
   minimum ratio, optionally several alternative products of which at most one is
   accepted) are validated against the catalog and appended durably before they are
   acknowledged.
2. **Escrow**: the run closes the book, then one journaled batch releases any old holds
   and holds, per buying account, the most its bids can cost (limit value, the dearest
   alternative of a block) and, per selling account and instrument, the GPUs its asks
   may deliver. The engine grants what is available (``HOLD_FUNDS``/``HOLD_CAPACITY``).
3. **Clearing** (:mod:`exchange.clearing`): welfare-maximising, uniform prices per
   instrument, no paradoxically accepted block (offenders removed ``"disjoint"``ly per
   round), with the granted holds as the funds and capacity caps -- so every accepted
   order can be paid for and delivered.
4. **Record**: ``dayahead/<day>/clearing.json`` holds the input (with the caps and the
   journal range of the holds) and the result, written atomically before anything is
   booked.
5. **Booking**: one journaled batch of ``DA_TRADE`` commands -- per instrument, an
   account's own buys and sells netted, the rest paired in arrival order at the
   instrument's price -- and a ``RELEASE_HOLDS``; then ``applied.json`` records its
   journal range. The trades flow like any other: trade log, settlement, audit.

A crash between steps is safe: a day with a record but no ``applied.json`` is booked
from its record by the next run (the holds are still in the engine); a booked day is
never booked twice.

The audit (:func:`verify_day_ahead`) re-verifies each recorded clearing from its inputs,
checks that its caps are the holds the engine granted and that the journal booked
exactly its trades, and that no day-ahead trade is unexplained.
"""

from exchange.dayahead.book import (
    HOURS,
    DayAheadBook,
    DayAheadClosed,
    DayAheadCorruptError,
    DayAheadError,
    DayAheadOrder,
    DuplicateDayAheadOrder,
    InvalidDayAheadOrder,
)
from exchange.dayahead.run import (
    APPLIED_FILE,
    CLEARING_FILE,
    DayAheadOutcome,
    instrument_symbol,
    read_clearing,
    run_day_ahead,
    trade_commands,
    verify_day_ahead,
)

__all__ = [
    "APPLIED_FILE", "CLEARING_FILE", "HOURS", "DayAheadBook", "DayAheadClosed", "DayAheadCorruptError",
    "DayAheadError", "DayAheadOrder", "DayAheadOutcome", "DuplicateDayAheadOrder", "InvalidDayAheadOrder",
    "instrument_symbol", "read_clearing", "run_day_ahead", "trade_commands", "verify_day_ahead",
]
