"""The engine's contract: command and event records, their codes, and the market rules.

Both engines (the numba one in :mod:`exchange.engine.book` and the plain Python
oracle in :mod:`exchange.engine.reference`) implement exactly these rules and must
emit byte-identical event arrays for the same command array.

Records
-------
Commands and events are numpy structured arrays whose fields are all ``int64``
(money in fen, quantities in whole GPUs, timestamps in ns since the Unix epoch),
so a batch is also a plain ``(n, fields)`` int64 matrix for the kernels.

Every command yields at least one event: ``REJECTED`` (with a :class:`Reason`), or the
events of its effect. Non-order commands that succeed end with one ``ACK``.

Identifiers
-----------
* accounts are dense ints ``0 <= account < config.max_accounts``;
* instruments are dense ints given in listing order (``LIST_INSTRUMENT`` must use the
  next free id); the catalog maps symbols to them;
* order ids are assigned by the engine, 1, 2, 3, ... in acceptance order;
  trade ids likewise;
* client order ids are chosen by the account, ``0 < clord < 2**43``, unique per
  account among all orders ever accepted (a duplicate is rejected).

Order rules (checked in this order; the first failing check is the reject reason)
----------------------------------------------------------------------------
NEW_ORDER(account, instrument, side, order_type, tif, flags, stp, price, qty, clord,
expire_ts):

1. account in range                              else UNKNOWN_ACCOUNT
2. instrument listed                             else UNKNOWN_INSTRUMENT
3. side BUY/SELL                                 else BAD_SIDE
4. order_type LIMIT/MARKET                       else BAD_ORDER_TYPE
5. tif in GTC/GTD/IOC/FOK; MARKET needs IOC/FOK  else BAD_TIME_IN_FORCE
6. stp in 1..4                                   else BAD_STP_MODE
7. flags only POST_ONLY; POST_ONLY needs LIMIT with GTC/GTD   else BAD_FLAGS
8. 0 < clord < 2**43                             else BAD_CLIENT_ORDER_ID
9. min_qty <= qty <= max_qty of the class        else QUANTITY_OUT_OF_LIMITS
10. LIMIT: price % tick == 0                     else PRICE_NOT_ON_TICK
    LIMIT: band_lo <= price <= band_hi           else PRICE_OUT_OF_BAND
    MARKET: price == 0                           else MARKET_ORDER_HAS_PRICE
11. GTD: expire_ts > ts; other tif: expire_ts == 0   else BAD_EXPIRY
12. (account, clord) never accepted before       else DUPLICATE_CLIENT_ORDER_ID
13. instrument not CLOSED and ts < gate_ts       else GATE_CLOSED
    instrument not HALTED                        else INSTRUMENT_HALTED
    instrument in CALL: tif GTC/GTD and no POST_ONLY   else INSTRUMENT_IN_CALL
14. POST_ONLY: does not cross the best opposite price   else POST_ONLY_WOULD_CROSS
15. risk, BUY: limit * qty <= cash + credit - reserved - held  else INSUFFICIENT_FUNDS
    risk, SELL: qty <= capacity + bought - sold - ask_open - held (of account, instrument)
                                                        else INSUFFICIENT_CAPACITY

A MARKET order's limit is the band edge (BUY: band_hi, SELL: band_lo); it never rests.

On acceptance: order id assigned, ``ACCEPTED`` emitted (price = effective limit,
qty = leaves = order qty), risk reserved (BUY: ``reserved += limit * qty``;
SELL: ``ask_open += qty``), then, in CALL, it rests at the tail of its level (nothing
matches during a call); otherwise matching:

* FOK: first sums the leaves of opposite resting orders whose price crosses the limit,
  that belong to other accounts and are not expired GTD orders (expire_ts <= ts). If
  that is below qty: ``CANCELLED(FOK_UNFILLABLE)`` for the whole qty, then ``DONE``.
  A FOK order resolves self-trades as CANCEL_OLDEST whatever its stp, so it fills
  entirely or not at all.
* Matching loop while leaves > 0 and the best opposite level crosses the limit
  (BUY: ask <= limit; SELL: bid >= limit), taking the head (oldest) order ``m`` of the
  best level:

  - ``m`` is GTD with expire_ts <= ts: ``EXPIRED(GTD_EXPIRY)`` + ``DONE`` for m; next.
  - ``m`` has the taker's account (self-trade prevention, taker's mode):
      CANCEL_NEWEST: ``CANCELLED(SELF_TRADE)`` of taker leaves; stop.
      CANCEL_OLDEST: ``CANCELLED(SELF_TRADE)`` + ``DONE`` of m; next.
      CANCEL_BOTH:   ``CANCELLED`` + ``DONE`` of m, then ``CANCELLED`` of taker leaves; stop.
      DECREMENT:     d = min(taker leaves, m leaves); ``CANCELLED(SELF_TRADE)`` of d on
                     m (+ ``DONE`` of m if its leaves reach 0), then ``CANCELLED`` of d
                     on the taker; next.
  - otherwise trade q = min(leaves, m leaves) at m's price: ``TRADE`` (taker fields,
    contra = maker), then ``DONE`` of m if filled.
* After the loop, leaves > 0: IOC, FOK and MARKET → ``CANCELLED(IOC_REMAINDER)``;
  GTC/GTD rest at the tail of their price level. Taker's ``DONE`` comes last, once its
  leaves are 0.

Trades print at the resting order's price (an uncross: at the auction price). On a trade of q at price p: the buyer's
``reserved -= buyer_limit * q``, ``cash -= p * q``, position ``bought += q``; the seller's
``ask_open -= q``, ``sold += q``, ``cash += p * q``. A cancel or expiry of q releases
``limit * q`` of reserved (BUY) or q of ask_open (SELL).

CANCEL(account, orig_clord): UNKNOWN_ACCOUNT; UNKNOWN_ORDER if never accepted;
ORDER_DONE if no longer live; else ``CANCELLED(USER_CANCEL)`` + ``DONE``. Allowed while
halted.

REPLACE(account, orig_clord, clord, price, qty): cancel-replace to a new total qty and
limit price, keeping tif, flags, stp and expiry; the order keeps its order id and is
known by the new clord afterwards (orig_clord then answers ORDER_DONE). New leaves are
``qty - filled - removed`` (removed: cancelled by a DECREMENT self-trade). Checks: UNKNOWN_ACCOUNT, BAD_CLIENT_ORDER_ID (new clord),
UNKNOWN_ORDER / ORDER_DONE (orig), QUANTITY_OUT_OF_LIMITS, PRICE_NOT_ON_TICK,
PRICE_OUT_OF_BAND, DUPLICATE_CLIENT_ORDER_ID (new clord), GATE_CLOSED, INSTRUMENT_HALTED,
REPLACE_BELOW_FILLED (new leaves <= 0), POST_ONLY_WOULD_CROSS (not in CALL), then risk on the change
(BUY: new price * new leaves - old price * old leaves; SELL: new leaves - old leaves).
Emits ``REPLACED`` (``contra_clord`` = orig_clord; reason PRIORITY_KEPT when the price is unchanged and qty not
increased, else PRIORITY_LOST: the order moves to the tail of its new level, and if it
now crosses it matches as a taker with its own tif and stp, then rests or is done; in
CALL it only moves to the tail of its new level).

MASS_CANCEL(account or -1, instrument or -1; checked UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT,
then BAD_MASS_CANCEL_FILTER if both are -1): cancels every live order
matching both filters, ascending order id, ``CANCELLED(MASS_CANCEL)`` + ``DONE`` each,
then ``ACK`` with qty = number of orders cancelled.

Account and market commands
---------------------------
* DEPOSIT_CAPACITY(account, instrument, qty): provider capacity in that slot. Checks
  UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT, QUANTITY_OUT_OF_LIMITS (qty <= 0 or above
  CAPACITY_LIMIT, or a deposit taking capacity above it), GATE_CLOSED (state CLOSED).  WITHDRAW_CAPACITY: qty <= capacity and
  qty <= capacity + bought - sold - ask_open - held, else INSUFFICIENT_CAPACITY.
* DEPOSIT_FUNDS(account, amount > 0); WITHDRAW_FUNDS(account, amount > 0) needs
  amount <= cash and cash - amount + credit >= reserved + held; SET_CREDIT(account,
  amount >= 0) needs cash + amount >= reserved + held. Else INSUFFICIENT_FUNDS; BAD_AMOUNT when the amount is
  not positive (negative for SET_CREDIT), above MONEY_LIMIT, or a deposit would take
  cash above MONEY_LIMIT.
* LIST_INSTRUMENT(instrument = next id, gpu_class, region, slot_ts, expire_ts): gate_ts =
  slot_ts - config.gate_closure_ns; tick, band and lot limits come from the class.
  expire_ts 0: the instrument opens for continuous trading (OPEN); expire_ts > ts: it
  opens with a call phase (CALL) that ends at expire_ts; else BAD_EXPIRY.
* HALT / RESUME(instrument): HALT needs OPEN (else INSTRUMENT_HALTED, INSTRUMENT_IN_CALL
  or GATE_CLOSED). RESUME(instrument, expire_ts) needs HALTED (else
  INSTRUMENT_NOT_HALTED or GATE_CLOSED) and reopens for continuous trading (expire_ts 0)
  or through a call phase ending at expire_ts (> ts, else BAD_EXPIRY). Halted: no new
  orders or replaces; cancels are fine.
* START_CALL(instrument, expire_ts): an admin's call phase, to reopen after a halt or on
  demand: needs OPEN or HALTED (else GATE_CLOSED, INSTRUMENT_IN_CALL); expire_ts 0 (the
  call lasts until UNCROSS) or > ts (TIMER uncrosses it then), else BAD_EXPIRY.
* UNCROSS(instrument): ends a call phase now: needs CALL (else GATE_CLOSED,
  INSTRUMENT_NOT_IN_CALL); ``ACK`` with qty = the GPUs traded (the auction volume less
  self-trade cancels).
* CLOSE_GATE(instrument): every live order of it ``EXPIRED(GATE_CLOSURE)`` + ``DONE``,
  ascending order id; the instrument is CLOSED for good.
* TIMER(ts): closes, in ascending instrument id, every listed instrument not yet closed
  whose gate_ts <= ts (as CLOSE_GATE; a call phase then ends without an uncross), then
  expires every live GTD order with expire_ts <= ts, ascending order id
  (``EXPIRED(GTD_EXPIRY)`` + ``DONE``), then uncrosses, in ascending instrument id, every
  instrument in CALL whose call ends (0 < expire_ts of the call <= ts).

Call phase and uncross
----------------------
In CALL, orders collect and nothing matches, so the book may be crossed. The uncross of
an instrument (UNCROSS, or TIMER at the call's end):

1. expires its GTD orders with expire_ts <= ts, ascending order id (``EXPIRED`` + ``DONE``);
2. finds the price p and volume V by the rule of :mod:`exchange.auction` over the live
   orders (limit, leaves), with the reference price = the instrument's last trade price,
   else the class reference (``EngineConfig.reference``);
3. emits ``UNCROSSED`` (price p, qty V, side and leaves = the surplus side and qty at p;
   all 0 when nothing crosses);
4. allocates V on each side in price-time priority (best level first, head of the queue
   first) and pairs the allocated buys and sells greedily, in that order; for each pair
   of q GPUs, the *newer* order (higher order id) is the first party, the older the contra:
   different accounts: ``TRADE`` of q at p (reason AUCTION), then ``DONE`` of the contra,
   then of the first party, each if its leaves are 0; the same account (self-trade): no
   trade, q is cancelled on both (``CANCELLED(SELF_TRADE)`` contra first, each followed
   by its ``DONE`` if its leaves are 0);
5. the instrument is OPEN; the rest of the orders rest where they were (the book no
   longer crosses: any crossing pair left would raise the volume above V).

Risk is the same as in continuous trading: orders entered in a call reserve on entry,
and a trade at p <= the buyer's limit releases ``limit * q`` and charges ``p * q``.

Holds and day-ahead trades
--------------------------
The day-ahead auction (:mod:`exchange.dayahead`) is cleared outside the engine; the
engine escrows what it may use and books its result:

* HOLD_FUNDS(account, amount): holds ``h = min(amount, cash + credit - reserved - held)``
  of the account's money (``held += h``); ACK qty = h. UNKNOWN_ACCOUNT, BAD_AMOUNT
  (amount <= 0 or above MONEY_LIMIT).
* HOLD_CAPACITY(account, instrument, qty): holds ``h = min(qty, free)`` GPUs of the
  position (``held += h``); ACK qty = h. UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT,
  QUANTITY_OUT_OF_LIMITS (qty <= 0 or above CAPACITY_LIMIT), GATE_CLOSED (CLOSED or
  ts >= gate_ts).
* DA_TRADE(account = buyer, contra_account = seller, instrument, price, qty, clord =
  the buyer's day-ahead order, orig_clord = the seller's): UNKNOWN_ACCOUNT (either),
  SAME_ACCOUNT, UNKNOWN_INSTRUMENT, QUANTITY_OUT_OF_LIMITS (qty <= 0 or above the class's
  max_qty: each trade pairs parts of two orders, so price * qty stays small), PRICE_NOT_ON_TICK,
  PRICE_OUT_OF_BAND, GATE_CLOSED (as HOLD_CAPACITY), INSUFFICIENT_FUNDS (buyer's held
  < price * qty), INSUFFICIENT_CAPACITY (seller's held GPUs in the instrument < qty).
  The trade consumes both holds: buyer ``held -= p * q``, ``cash -= p * q``,
  ``bought += q``; seller ``held -= q``, ``sold += q``, ``cash += p * q``. Emits
  ``TRADE`` (reason DAY_AHEAD; first party the buyer, side BUY; order ids 0, leaves and
  filled 0; ``clord``/``contra_clord`` the day-ahead order references) and ``ACK``
  (qty = q).
* RELEASE_HOLDS(account or -1): releases every hold of the account (or of all): money
  and GPUs; ACK qty 0. UNKNOWN_ACCOUNT.

Held money and GPUs count against new orders and withdrawals as reservations do: funds
available = ``cash + credit - reserved - held``, free GPUs = ``capacity + bought - sold
- ask_open - held``.

Event fields in detail (E1-E7, O1-O8 in :mod:`exchange.engine.reference` spell out every
field of every event kind); in short: REJECTED echoes the command (clord: a CANCEL's
orig_clord, else its clord) with order_id 0; ACK echoes account and instrument, with qty =
orders cancelled or expired (MASS_CANCEL, CLOSE_GATE, TIMER), the qty (capacity) or the
amount (funds) of the command, else 0.

Positions and accounts are never negative except cash, which may go below zero down
to -credit through purchases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

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


class OrderFlag(IntEnum):
    POST_ONLY = 1


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


COMMAND_FIELDS = (
    "seq", "ts", "kind", "account", "instrument", "side", "order_type", "tif", "flags",
    "stp", "price", "qty", "clord", "orig_clord", "expire_ts", "amount", "gpu_class",
    "region", "slot_ts", "contra_account",
)
"""Command record fields; ``amount`` is money in fen for the funds commands,
``contra_account`` the seller of a DA_TRADE."""

EVENT_FIELDS = (
    "seq", "ts", "kind", "reason", "account", "instrument", "order_id", "clord", "side",
    "price", "qty", "leaves", "filled", "contra_order_id", "contra_account",
    "contra_clord", "contra_leaves", "trade_id",
)
"""Event record fields. For order events the first party is the order's owner; for a
TRADE it is the taker (``side`` is the aggressor side) and ``contra_*`` the maker; a
REPLACED carries the previous client order id in ``contra_clord``.
``price`` is the order's limit (trade price for TRADE); ``qty`` is the order qty
(ACCEPTED, REPLACED, DONE), the cancelled/expired qty, the traded qty, or the count or
amount echoed by an ACK; ``leaves`` and ``filled`` are the order's after the event."""

COMMAND_DTYPE = np.dtype([(name, np.int64) for name in COMMAND_FIELDS])
EVENT_DTYPE = np.dtype([(name, np.int64) for name in EVENT_FIELDS])

# Column indices for the kernels, which see records as rows of an int64 matrix.
C = IntEnum("C", {name.upper(): i for i, name in enumerate(COMMAND_FIELDS)}, start=0)
E = IntEnum("E", {name.upper(): i for i, name in enumerate(EVENT_FIELDS)}, start=0)


@dataclass(frozen=True)
class EngineConfig:
    """Static market parameters, per GPU class index, that the engine enforces.

    Prices in fen per GPU-hour, quantities in GPUs, times in ns.
    """

    tick: tuple[int, ...]
    band_lo: tuple[int, ...]
    band_hi: tuple[int, ...]
    min_qty: tuple[int, ...]
    max_qty: tuple[int, ...]
    gate_closure_ns: int = 15 * 60 * 10**9
    max_accounts: int = 4096
    reference: tuple[int, ...] = ()
    """Reference price per class for an uncross with no last trade (catalog
    ``reference_fen``); empty: the tick nearest the middle of each band, rounding down."""

    def __post_init__(self) -> None:
        n = len(self.tick)
        if not n or any(len(v) != n for v in (self.band_lo, self.band_hi, self.min_qty, self.max_qty)):
            raise ValueError("EngineConfig: every per-class tuple needs one entry per GPU class")
        for c in range(n):
            if self.tick[c] <= 0 or self.band_lo[c] <= 0 or self.band_lo[c] > self.band_hi[c]:
                raise ValueError(f"EngineConfig: class {c} needs tick > 0 and 0 < band_lo <= band_hi")
            if self.band_hi[c] >= PRICE_LIMIT:
                raise ValueError(f"EngineConfig: class {c} band_hi must be below {PRICE_LIMIT} fen")
            if self.band_lo[c] % self.tick[c] or self.band_hi[c] % self.tick[c]:
                raise ValueError(f"EngineConfig: class {c} band edges must lie on the tick")
            if not 1 <= self.min_qty[c] <= self.max_qty[c]:
                raise ValueError(f"EngineConfig: class {c} needs 1 <= min_qty <= max_qty")
        if not self.reference:
            object.__setattr__(self, "reference", tuple(
                self.band_lo[c] + (self.band_hi[c] - self.band_lo[c]) // (2 * self.tick[c]) * self.tick[c]
                for c in range(n)))
        for c, ref in enumerate(self.reference):
            if len(self.reference) != n or not self.band_lo[c] <= ref <= self.band_hi[c] or ref % self.tick[c]:
                raise ValueError(f"EngineConfig: class {c} reference must lie on the tick in the band")
        if not 1 <= self.max_accounts <= 1 << ACCOUNT_BITS:
            raise ValueError(f"EngineConfig: max_accounts must be in 1..{1 << ACCOUNT_BITS}")

    @property
    def n_classes(self) -> int:
        """Number of GPU classes."""
        return len(self.tick)

    def levels(self, gpu_class: int) -> int:
        """Price levels in the band of a class: ``(band_hi - band_lo) // tick + 1``."""
        return (self.band_hi[gpu_class] - self.band_lo[gpu_class]) // self.tick[gpu_class] + 1


def commands(n: int) -> np.ndarray:
    """A zeroed command batch of length ``n``."""
    return np.zeros(n, dtype=COMMAND_DTYPE)


def record_words(records: np.ndarray) -> np.ndarray:
    """A C-contiguous 1-D record array whose fields are all int64 as its (rows, fields)
    int64 matrix: a view, no copy (what the kernels read). O(1)."""
    return records.view(np.int64).reshape(len(records), len(records.dtype.names))


def copy_records(records: np.ndarray) -> np.ndarray:
    """An equal copy, in memory of its own, of a 1-D record array whose fields are all
    int64 (commands, events), copied as one block of words instead of field by field
    as ``records.copy()`` does (about 1 µs instead of 4 µs for one record). O(n)."""
    return np.ascontiguousarray(records).view(np.int64).copy().view(records.dtype)


def concat_records(parts: list[np.ndarray]) -> np.ndarray:
    """One or more 1-D record arrays of one all-int64 dtype joined in order (what
    ``np.concatenate(parts)`` gives, without NumPy's structured-dtype promotion, about
    20 µs per part); ``TypeError`` if their dtypes differ. O(total)."""
    dtype = parts[0].dtype
    if any(part.dtype != dtype for part in parts):
        raise TypeError(f"records of different dtypes: {sorted({str(part.dtype) for part in parts})}")
    return np.concatenate([np.ascontiguousarray(part).view(np.int64) for part in parts]).view(dtype)


def command(kind: CommandKind, **fields: int) -> np.ndarray:
    """One command as a batch of length 1; unnamed fields are 0."""
    batch = commands(1)
    batch["kind"] = int(kind)
    for name, value in fields.items():
        batch[name] = int(value)
    return batch
