"""The codes of the records: what each integer in a command or event means, and the
limits that keep every amount far inside int64.

The rules that give them meaning are in :mod:`exchange.schema.rules`.
"""

from __future__ import annotations

from enum import IntEnum

CLORD_LIMIT = 1 << 43
"""Client order ids are in ``(0, CLORD_LIMIT)`` so (clord, account) packs into one int64."""
MONEY_LIMIT = 10**15
"""Largest amount (fen, ¥10 trillion) a funds command may carry or a deposit may bring a
cash balance to, so balances stay far inside int64."""
CAPACITY_LIMIT = 10**12
"""Most GPUs a capacity command may carry, and a deposit may bring a position's
capacity to, so quantities stay far inside int64."""
PRICE_LIMIT = 1 << 31
"""Prices are below ``PRICE_LIMIT`` fen (¥21 M per GPU-hour) so a price packs into 32 bits
of a price-level key and ``price * qty`` stays far inside int64."""
ACCOUNT_BITS = 20
"""Accounts are below ``2**ACCOUNT_BITS``; the limit of ``EngineConfig.max_accounts``."""


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    GTC = 1  # good till cancel (at the latest, gate closure)
    GTD = 2  # good till expire_ts
    IOC = 3  # immediate or cancel
    FOK = 4  # fill or kill


class StpMode(IntEnum):
    """What happens when an order would trade with one of its own account's orders."""

    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    CANCEL_BOTH = 3
    DECREMENT = 4


DEFAULT_STP_MODE = StpMode.CANCEL_NEWEST
"""The mode a NEW_ORDER gets when it names none (stp 0): the incoming order is cancelled
where it would trade with its own account, and the resting order keeps its place in the
queue, so an order never removes its owner's quotes. It is what the gateway gives
``SELF_TRADE_PREVENTION_UNSPECIFIED`` and what :func:`exchange.schema.command` fills in.
The engines themselves still reject a record with stp 0 (``BAD_STP_MODE``): a record
always names its mode, and journals written before the default replay unchanged."""


class OrderFlag(IntEnum):
    POST_ONLY = 1
    CLORD_IN_HISTORY = 16
    """Set by the sequencer, never by a client: the command's ``clord`` is in the order
    history (used by an order the engine has forgotten), so it is a duplicate."""
    ORIG_IN_HISTORY = 32
    """Set by the sequencer: the command's ``orig_clord`` is in the order history (its
    order is done and forgotten by the engine)."""


HISTORY_MARKS = OrderFlag.CLORD_IN_HISTORY | OrderFlag.ORIG_IN_HISTORY
"""The flags only the sequencer sets, from the order history."""


class InstrumentState(IntEnum):
    UNLISTED = 0
    OPEN = 1
    HALTED = 2
    CLOSED = 3
    CALL = 4  # call phase of an auction: orders collect, nothing matches


class CommandKind(IntEnum):
    NEW_ORDER = 1
    CANCEL = 2
    REPLACE = 3
    MASS_CANCEL = 4
    DEPOSIT_CAPACITY = 5
    WITHDRAW_CAPACITY = 6
    DEPOSIT_FUNDS = 7
    WITHDRAW_FUNDS = 8
    SET_CREDIT = 9
    LIST_INSTRUMENT = 10
    HALT = 11
    RESUME = 12
    CLOSE_GATE = 13
    TIMER = 14
    START_CALL = 15
    UNCROSS = 16
    HOLD_FUNDS = 17
    HOLD_CAPACITY = 18
    DA_TRADE = 19
    RELEASE_HOLDS = 20
    FORGET_DONE = 21


class EventKind(IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    TRADE = 3
    CANCELLED = 4
    EXPIRED = 5
    REPLACED = 6
    DONE = 7
    ACK = 8
    UNCROSSED = 9


class Reason(IntEnum):
    """Reasons, grouped by meaning: the hundreds digit says which gRPC status fits.

    1xx bad input (INVALID_ARGUMENT), 2xx wrong state (FAILED_PRECONDITION),
    3xx not found (NOT_FOUND), 4xx already exists (ALREADY_EXISTS),
    5xx pre-trade risk (FAILED_PRECONDITION), 6xx why an order was cancelled or expired,
    7xx what a replace did to priority, 8xx how a trade happened.
    """

    NONE = 0
    UNKNOWN_COMMAND = 101
    UNKNOWN_ACCOUNT = 102
    UNKNOWN_INSTRUMENT = 103
    BAD_SIDE = 104
    BAD_ORDER_TYPE = 105
    BAD_TIME_IN_FORCE = 106
    BAD_STP_MODE = 107
    BAD_FLAGS = 108
    BAD_CLIENT_ORDER_ID = 109
    QUANTITY_OUT_OF_LIMITS = 110
    PRICE_NOT_ON_TICK = 111
    PRICE_OUT_OF_BAND = 112
    MARKET_ORDER_HAS_PRICE = 113
    BAD_EXPIRY = 114
    BAD_AMOUNT = 115
    UNKNOWN_GPU_CLASS = 116
    BAD_MASS_CANCEL_FILTER = 117
    BAD_INSTRUMENT_ID = 118
    SAME_ACCOUNT = 119
    GATE_CLOSED = 201
    INSTRUMENT_HALTED = 202
    INSTRUMENT_NOT_HALTED = 203
    POST_ONLY_WOULD_CROSS = 204
    ORDER_DONE = 205
    REPLACE_BELOW_FILLED = 206
    INSTRUMENT_IN_CALL = 207
    INSTRUMENT_NOT_IN_CALL = 208
    UNKNOWN_ORDER = 301
    DUPLICATE_CLIENT_ORDER_ID = 401
    INSUFFICIENT_FUNDS = 501
    INSUFFICIENT_CAPACITY = 502
    USER_CANCEL = 601
    MASS_CANCEL = 602
    IOC_REMAINDER = 603
    FOK_UNFILLABLE = 604
    SELF_TRADE = 605
    GATE_CLOSURE = 606
    GTD_EXPIRY = 607
    PRIORITY_KEPT = 701
    PRIORITY_LOST = 702
    AUCTION = 801
    DAY_AHEAD = 802
