"""The day-ahead auction of whole jobs, from order intake to booked trades.

Flow (one delivery day, market time):

1. **Intake** (:class:`DayAheadBook`): hourly orders (one product = GPU class x region,
   one hour) and block orders (the same GPUs over consecutive hours, all or none or a
   minimum ratio, optionally several alternatives -- each a product and a start hour,
   inside the day -- of which at most one is accepted) are validated against the
   catalog and appended durably before they are acknowledged.
2. **Escrow**: the run closes the book -- it refuses, and reopens the book, if the book is
   empty, a slot is not listed or closes before the solver's time limit plus a minute,
   or another day is cleared but not yet booked -- then one journaled batch releases
   any stale holds and holds, per buying account, the most its bids can cost (limit
   value, the dearest alternative of a block) and, per selling account and instrument,
   the GPUs its asks may deliver (once per instrument any alternative's run covers). The engine grants what is available
   (``HOLD_FUNDS``/``HOLD_CAPACITY``). If the solver fails, the holds are released and
   the book reopened.
3. **Clearing** (:mod:`exchange.clearing`): welfare-maximising, uniform prices per
   instrument (none where nothing traded), no paradoxically accepted block (its removal
   rule), with the granted holds as the funds and capacity caps -- so every accepted
   order can be paid for and delivered; every order and block gets its fill and why.
4. **Record**: ``dayahead/<day>/clearing.json`` holds the input (with the caps and the
   journal range of the holds) and the result, written atomically before anything is
   booked.
5. **Booking**: one journaled batch (all or nothing) of ``DA_TRADE`` commands -- per
   instrument, an account's own buys and sells netted, the rest paired in arrival order
   at the instrument's price -- and a ``RELEASE_HOLDS``; then ``applied.json`` records
   the journal range of its trades. If a slot it trades has closed (or closes within
   five minutes) by then, nothing is booked: the holds are released and ``failed.json``
   says why. Only a writer stalled for longer than that between the check and the stamp
   could see the engine refuse some trades; the day is then recorded as booked in part
   (``failed.json``) and the audit fails it by name. The trades flow like any other:
   trade log, settlement, audit.

A crash between steps is safe: a day with a record but no ``applied.json`` is booked
from its record by the next run (the holds are still in the engine), unless the
journal already booked it -- the market state remembers each day's booking
(:attr:`~exchange.sequencer.MarketState.dayahead_booked`, replayed and snapshotted) --
in which case the run only records it; a day is never booked twice.

The audit (:func:`verify_day_ahead`) checks that each recorded clearing's input is the
day's book, re-verifies the clearing from it, checks that the journaled holds are what
the book asks for and the caps exactly what the engine granted, that the replayed
state's booking is what ``applied.json`` says and holds exactly the result's trades,
all accepted (nothing for a failed day), and that no day-ahead trade is unexplained.
A booking in the journal that was never recorded is named, with the remedy (run the
day again). Holds left by a run that stopped before its record stay in the engine
until that day, or another, is run again (their RELEASE_HOLDS comes first).
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
    FAILED_FILE,
    DayAheadOutcome,
    failure,
    instrument_symbol,
    read_clearing,
    read_outcome,
    run_day_ahead,
    trade_commands,
    verify_day_ahead,
)

__all__ = [
    "APPLIED_FILE", "CLEARING_FILE", "FAILED_FILE", "HOURS", "DayAheadBook", "DayAheadClosed", "DayAheadCorruptError",
    "DayAheadError", "DayAheadOrder", "DayAheadOutcome", "DuplicateDayAheadOrder", "failure", "InvalidDayAheadOrder",
    "instrument_symbol", "read_clearing", "read_outcome", "run_day_ahead", "trade_commands", "verify_day_ahead",
]
