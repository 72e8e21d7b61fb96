"""The market rules: what every command does, which events it emits, and every field of
those events.

Both matching engines (the numba one, :class:`exchange.engine.Engine`, and the plain
Python oracle, :class:`exchange.engine.ReferenceEngine`) implement exactly these rules
and must emit byte-identical event arrays for the same command array. The records and
codes named here are in :mod:`exchange.schema`.

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
  account among all orders ever accepted (a duplicate is rejected). The engine keeps
  those of live orders and those retired since the last FORGET_DONE; the sequencer
  marks a command whose clord the order history holds (O9).

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
   (the history marks of O9 are not counted here)
8. 0 < clord < 2**43                             else BAD_CLIENT_ORDER_ID
9. min_qty <= qty <= max_qty of the class        else QUANTITY_OUT_OF_LIMITS
10. LIMIT: price % tick == 0                     else PRICE_NOT_ON_TICK
    LIMIT: band_lo <= price <= band_hi           else PRICE_OUT_OF_BAND
    MARKET: price == 0                           else MARKET_ORDER_HAS_PRICE
11. GTD: expire_ts > ts; other tif: expire_ts == 0   else BAD_EXPIRY
12. (account, clord) never accepted before, and no CLORD_IN_HISTORY mark
                                                 else DUPLICATE_CLIENT_ORDER_ID
13. instrument not CLOSED and ts < gate_ts       else GATE_CLOSED
    instrument not HALTED                        else INSTRUMENT_HALTED
    instrument in CALL: tif GTC/GTD and no POST_ONLY   else INSTRUMENT_IN_CALL
14. POST_ONLY: does not cross the best opposite price   else POST_ONLY_WOULD_CROSS
15. risk, BUY: limit * qty <= cash + credit - reserved - held  else INSUFFICIENT_FUNDS
    risk, SELL: qty <= capacity + bought - sold - ask_open - held (of account, instrument)
                                                        else INSUFFICIENT_CAPACITY

A MARKET order's limit is the band edge (BUY: band_hi, SELL: band_lo); it never rests.
A record always names its stp mode (check 6): :func:`exchange.schema.command` and the
gateway fill in ``DEFAULT_STP_MODE`` (CANCEL_NEWEST) for an order that gives none.

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

CANCEL(account, orig_clord): UNKNOWN_ACCOUNT; UNKNOWN_ORDER if never accepted (and
no ORIG_IN_HISTORY mark); ORDER_DONE if no longer live; else ``CANCELLED(USER_CANCEL)`` + ``DONE``. Allowed while
halted.

REPLACE(account, orig_clord, clord, price, qty): cancel-replace to a new total qty and
limit price, keeping tif, flags, stp and expiry; the order keeps its order id and is
known by the new clord afterwards (orig_clord then answers ORDER_DONE). New leaves are
``qty - filled - removed`` (removed: cancelled by a DECREMENT self-trade). Checks:
UNKNOWN_ACCOUNT, BAD_CLIENT_ORDER_ID (new clord), UNKNOWN_ORDER / ORDER_DONE (orig),
QUANTITY_OUT_OF_LIMITS, PRICE_NOT_ON_TICK, PRICE_OUT_OF_BAND, DUPLICATE_CLIENT_ORDER_ID
(new clord), GATE_CLOSED, INSTRUMENT_HALTED, REPLACE_BELOW_FILLED (new leaves <= 0),
POST_ONLY_WOULD_CROSS (not in CALL), then risk on the change
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
  CAPACITY_LIMIT, or a deposit taking capacity above it), GATE_CLOSED (state CLOSED).
  WITHDRAW_CAPACITY: qty <= capacity and qty <= capacity + bought - sold - ask_open - held, else INSUFFICIENT_CAPACITY.
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
* FORGET_DONE(amount): forgets every client order id retired (its order done, or
  replaced under a new clord) by a command with seq <= amount; ACK qty = how many.
  BAD_AMOUNT unless 0 <= amount < the command's seq. Only the sequencer sends it, once
  the order history on disk holds those ids (O9). (The numba engine finds them oldest
  first, in the order they were retired: it relies on seqs increasing from command to
  command, as the sequencer stamps them.)

Held money and GPUs count against new orders and withdrawals as reservations do: funds
available = ``cash + credit - reserved - held``, free GPUs = ``capacity + bought - sold
- ask_open - held``.

Event fields in detail (E1-E7, O1-O8 below spell out every field of every event kind);
in short: REJECTED echoes the command (clord: a CANCEL's
orig_clord, else its clord) with order_id 0; ACK echoes account and instrument, with qty =
orders cancelled or expired (MASS_CANCEL, CLOSE_GATE, TIMER), the qty (capacity) or the
amount (funds) of the command, else 0.

Positions and accounts are never negative except cash, which may go below zero down
to -credit through purchases.

Field and rule choices in detail
-------------------------------
What the rules above leave open, decided once for both engines; each is numbered for
reference.

Events in general

E1. Every event carries the command's ``seq`` and ``ts``. Every field that does not
    apply is 0: ``contra_*`` and ``trade_id`` are 0 except on TRADE, and except
    ``contra_clord`` on REPLACED, which carries the previous client order id (the
    command's ``orig_clord``, like FIX OrigClOrdID; the other ``contra_*`` fields and
    ``trade_id`` stay 0 there); ``reason`` is 0 (NONE) on ACCEPTED, DONE, ACK and
    UNCROSSED, and on TRADE except AUCTION on the trades of an uncross and DAY_AHEAD on
    a DA_TRADE's.
E2. Order events (ACCEPTED, CANCELLED, EXPIRED, REPLACED, DONE, TRADE for the taker) carry
    the order's ``account, instrument, order_id, clord`` (its *current* clord, i.e. the
    newest one after a replace), ``side`` and ``price`` = its limit (a MARKET order's
    limit is the band edge: BUY band_hi, SELL band_lo), and ``leaves``/``filled`` after
    the event.
E3. ``qty``: ACCEPTED = order qty; REPLACED = the new total qty; DONE = the order's total
    qty (the replaced qty if it was replaced); CANCELLED / EXPIRED = the qty removed by
    this event; TRADE = the traded qty.
E4. TRADE: first party = the taker (``side`` = taker side, ``price`` = trade price = the
    maker's limit, ``leaves``/``filled`` = the taker's after the trade); ``contra_order_id,
    contra_account, contra_clord, contra_leaves`` = the maker's, leaves after the trade;
    ``trade_id`` = 1, 2, 3, ... over the engine's life. One TRADE event per match. In an
    uncross the first party is the newer order of the pair (higher order id), the price
    the auction price, and both may stay in the book. A DA_TRADE's TRADE: first party the
    buyer (``side`` BUY, ``clord`` = the command's ``clord``), ``contra_account`` the
    seller, ``contra_clord`` = the command's ``orig_clord``; order ids, leaves, filled and
    contra_leaves 0.
E5. REJECTED echoes verbatim from the command: ``account, instrument, side, price, qty``
    and ``clord`` -- except CANCEL, whose ``clord`` is the command's ``orig_clord``
    (REPLACE echoes its new ``clord``; every other kind, non-order commands and
    UNKNOWN_COMMAND included, its ``clord`` field verbatim, normally 0). ``order_id,
    leaves, filled`` are 0 even when the order is known. ``qty`` is the command's
    ``qty`` field for every kind, so a rejected funds command has ``qty`` = its ``qty``
    field (normally 0), not its amount.
E6. ACK echoes the command's ``account`` and ``instrument`` verbatim (even -1 for
    MASS_CANCEL, whatever the fields hold for LIST/HALT/RESUME/CLOSE_GATE/TIMER); its
    ``qty`` is: MASS_CANCEL -> number of orders cancelled; CLOSE_GATE -> number of orders
    expired; TIMER -> number of orders expired (gate closures + GTD expiries);
    DEPOSIT_CAPACITY, WITHDRAW_CAPACITY -> the command's ``qty``; DEPOSIT_FUNDS,
    WITHDRAW_FUNDS, SET_CREDIT -> the command's ``amount``; UNCROSS -> the GPUs
    traded (the auction volume less self-trade cancels); HOLD_FUNDS, HOLD_CAPACITY -> the
    amount or GPUs held; DA_TRADE -> its qty; FORGET_DONE -> clords forgotten;
    LIST_INSTRUMENT, HALT, RESUME, START_CALL, RELEASE_HOLDS -> 0. All other ACK fields are 0.
    UNCROSSED (one per uncross, before its trades): ``account`` 0, the instrument,
    ``price`` and ``qty`` = auction price and volume, ``side`` and ``leaves`` = surplus
    side and qty; all other fields 0.
E7. CANCEL and REPLACE are order commands: they end with their order events, no ACK.
    Every other non-NEW_ORDER command that succeeds ends with exactly one ACK, TIMER
    included (even when it did nothing). A ``kind`` outside 1..21 -> REJECTED
    (UNKNOWN_COMMAND).

Orders

O1. Taker event order for a NEW_ORDER: ACCEPTED; [FOK: CANCELLED(FOK_UNFILLABLE) + DONE
    and stop]; matching events in loop order (maker EXPIRED+DONE / STP cancels / TRADE
    + maker DONE); then CANCELLED(IOC_REMAINDER) if an IOC/FOK/MARKET order has leaves;
    then the taker's DONE if its leaves are 0 (else it rests, no further event).
O2. STP CANCEL_BOTH and DECREMENT cancel the taker with reason SELF_TRADE as well. Under
    DECREMENT a partly decremented maker keeps its place at the head of its level.
O3. POST_ONLY_WOULD_CROSS (NEW_ORDER and REPLACE) compares with the best opposite level
    as it stands in the book, including own orders and GTD orders whose expire_ts has
    passed but which have not been expired yet (lazy expiry only happens inside a
    matching loop and on TIMER). Crossing includes equality (BUY price >= best ask,
    SELL price <= best bid). For REPLACE the check applies only if the order has the
    POST_ONLY flag.
O4. "Live" means resting in the book. A GTD order whose expire_ts <= ts but which has
    not been expired by a matching loop or TIMER is still live: CANCEL cancels it
    (USER_CANCEL), REPLACE replaces it (it keeps its expire_ts), MASS_CANCEL cancels it
    (MASS_CANCEL), CLOSE_GATE expires it with GATE_CLOSURE, and views show it.
O5. Client order ids: every clord accepted for an account -- by NEW_ORDER, or as the
    new clord of a successful REPLACE -- is used for good (also after the order is done);
    clords of rejected commands are not. A REPLACE whose new clord equals orig_clord is
    therefore DUPLICATE_CLIENT_ORDER_ID. CANCEL/REPLACE look orig_clord up among the
    account's used clords: never used -> UNKNOWN_ORDER; used but the order is no longer
    live, *or the clord is an older clord of an order since replaced* (the order is now
    known only by its new clord) -> ORDER_DONE. orig_clord is not range-checked
    (out-of-range values simply are UNKNOWN_ORDER).
O6. Quantity bookkeeping: an order has ``qty`` (total), ``filled``, ``leaves`` and
    ``removed`` (qty cancelled or expired, e.g. by a DECREMENT self-trade while the
    order goes on living) with ``qty == filled + leaves + removed``. A REPLACE to total
    qty Q sets ``leaves = Q - filled - removed``; REPLACE_BELOW_FILLED is raised when
    that is <= 0, i.e. ``Q <= filled + removed`` (identical to the spec's ``Q <= filled``
    unless the order was partly cancelled by a DECREMENT self-trade). The risk delta uses
    these new leaves.
O7. REPLACE priority: PRIORITY_KEPT iff new price == old price and new qty <= old qty
    (a replace that changes only the clord keeps priority); the order stays in place,
    its leaves shrink. PRIORITY_LOST: the order leaves its level, REPLACED is emitted,
    then, if the new price crosses, it matches as a taker (with its tif, stp; expired
    makers are expired; a FOK fillability check never applies, as resting orders are
    GTC/GTD), then rests at the tail of its new level if leaves > 0, else DONE.
    REPLACE quantity/tick/band/gate/halt checks use the order's instrument; the
    command's ``instrument`` and ``side`` fields are ignored (only echoed on reject).
O8. Gate check for orders and replaces: GATE_CLOSED if the instrument's state is CLOSED
    or ts >= gate_ts, whether or not a TIMER has closed it yet. An instrument past its
    gate_ts but not yet closed keeps its resting orders until CLOSE_GATE/TIMER; they
    can still be cancelled (CANCEL and MASS_CANCEL check no gate).
O9. History marks (flags a client never sets; the sequencer sets them from the order
    history when it stamps a command): CLORD_IN_HISTORY on NEW_ORDER or REPLACE makes
    check 12 (REPLACE: the new clord's DUPLICATE_CLIENT_ORDER_ID) fail;
    ORIG_IN_HISTORY on CANCEL or REPLACE turns UNKNOWN_ORDER into ORDER_DONE. With
    them, FORGET_DONE changes no other event: every forgotten clord is in the history.

Account and market commands

A1. Check order, first failing wins:
    DEPOSIT_CAPACITY: UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT, QUANTITY_OUT_OF_LIMITS
        (qty <= 0, above CAPACITY_LIMIT, or taking capacity above it; the class lot
        limits do not apply), GATE_CLOSED (state CLOSED only: unlike orders,
        ts >= gate_ts alone does not count). Allowed while halted.
    WITHDRAW_CAPACITY: the same UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT,
        QUANTITY_OUT_OF_LIMITS (qty <= 0 or above CAPACITY_LIMIT), GATE_CLOSED (so positions
        are frozen once the instrument is CLOSED), then INSUFFICIENT_CAPACITY (qty > capacity or qty > free).
    DEPOSIT_FUNDS: UNKNOWN_ACCOUNT, BAD_AMOUNT (amount <= 0, or cash + amount above
        MONEY_LIMIT).
    WITHDRAW_FUNDS: UNKNOWN_ACCOUNT, BAD_AMOUNT (amount <= 0 or above MONEY_LIMIT),
        INSUFFICIENT_FUNDS.
    SET_CREDIT: UNKNOWN_ACCOUNT, BAD_AMOUNT (amount < 0 or above MONEY_LIMIT),
        INSUFFICIENT_FUNDS; sets
        credit to amount (not adds).
    MASS_CANCEL: UNKNOWN_ACCOUNT (account not -1 and out of range), UNKNOWN_INSTRUMENT
        (instrument not -1 and not listed), BAD_MASS_CANCEL_FILTER (both -1). Allowed
        while halted or closed (cancelling nothing gives ACK qty 0).
    LIST_INSTRUMENT: BAD_INSTRUMENT_ID (instrument != n_instruments), UNKNOWN_GPU_CLASS
        (gpu_class outside 0..n_classes-1), BAD_EXPIRY (expire_ts not 0 and <= ts).
        account, region, slot_ts are not checked; a new instrument is OPEN, or CALL
        with expire_ts > 0 (even if its gate_ts is already past).
    HALT: UNKNOWN_INSTRUMENT, then by state: HALTED -> INSTRUMENT_HALTED,
        CALL -> INSTRUMENT_IN_CALL, CLOSED -> GATE_CLOSED. RESUME: UNKNOWN_INSTRUMENT,
        OPEN or CALL -> INSTRUMENT_NOT_HALTED, CLOSED -> GATE_CLOSED, then BAD_EXPIRY
        (expire_ts not 0 and <= ts). Only the state counts, not ts vs gate_ts.
    CLOSE_GATE: UNKNOWN_INSTRUMENT, CLOSED -> GATE_CLOSED (a second close is rejected).
        Works on OPEN, HALTED and CALL instruments.
    START_CALL: UNKNOWN_INSTRUMENT, GATE_CLOSED (CLOSED or ts >= gate_ts, as O8),
        INSTRUMENT_IN_CALL, BAD_EXPIRY (expire_ts not 0 and <= ts).
    UNCROSS: UNKNOWN_INSTRUMENT, GATE_CLOSED (as START_CALL), INSTRUMENT_NOT_IN_CALL.
    TIMER: never rejected.
    The ``account`` field is not checked for LIST_INSTRUMENT, HALT, RESUME, CLOSE_GATE
    and TIMER.
A2. TIMER closes due instruments (state not CLOSED, gate_ts <= ts; HALTED ones too) in
    ascending instrument id, each as CLOSE_GATE but without its ACK, then expires the
    GTD orders still live with expire_ts <= ts in ascending order id (all
    instruments, halted ones too), then uncrosses the instruments in CALL whose call
    ends (0 < end <= ts) in ascending instrument id, then emits one ACK.

Views and API

V1. ``book(i)`` of an id that is not listed returns an empty view with state UNLISTED;
    ``account(a)`` and ``position(a, i)`` return zeros for anything never touched
    (no range check). Book levels and ``live_orders`` include GTD orders whose
    expire_ts has passed but that have not been expired yet (O4). ``OrderView.qty`` is
    the total qty (filled + leaves + removed, O6), ``price`` the limit.
V2. ``process`` needs a batch whose dtype has exactly the ``COMMAND_FIELDS`` names
    (TypeError otherwise); an empty batch returns an empty EVENT_DTYPE array.
"""

from __future__ import annotations


def events_bound(live_orders: int, instruments: int) -> int:
    """Most events one command can emit when ``live_orders`` orders are live (a TIMER
    may also emit one UNCROSSED per instrument)."""
    return 8 + 3 * live_orders + instruments
