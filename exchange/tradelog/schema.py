"""The trade log's record: one row per trade, every number an integer.

Columns (in this order):

==================  ===========================  ============================================
column              type                         meaning
==================  ===========================  ============================================
trade_id            int64                        engine trade id, 1, 2, 3, ... (dense, global)
seq                 int64                        sequence number of the command that traded
ts                  timestamp[ns, UTC]           sequencer timestamp of that command
symbol              string                       ``GPU.REGION.YYYYMMDDTHH``
gpu_class           string                       catalog GPU class name
region              string                       catalog region name
slot_start          timestamp[ns, UTC]           start of the delivery hour
price               int64                        fen per GPU-hour (the resting order's price)
qty                 int64                        GPUs (GPU-hours, one slot is one hour)
notional            int64                        ``price * qty`` in fen
buyer_account       int64                        account that bought
buyer_order_id      int64                        its engine order id
seller_account      int64                        account that sold
seller_order_id     int64                        its engine order id
aggressor_side      string                       ``BUY`` or ``SELL``: the taker's side;
                                                 ``AUCTION``: a call-auction uncross;
                                                 ``DAY_AHEAD``: the day-ahead auction
                                                 (its order ids are 0)
buyer_fee           int64                        exchange fee the buyer pays, fen
seller_fee          int64                        exchange fee the seller pays, fen
==================  ===========================  ============================================

Fees: the taker pays ``taker_fee_bps`` and the maker ``maker_fee_bps`` of the class
(catalog) on the notional, rounded half up to the fen: ``(notional * bps + 5000) // 10000``.
An uncross or day-ahead trade has no taker: buyer and seller both pay ``maker_fee_bps``.

Files live under ``trades/date=YYYY-MM-DD/`` where the date is the delivery day: the
slot start in market time (UTC+8 by default). The partition column ``date`` is not
stored in the files.
"""

from __future__ import annotations

import pyarrow as pa

BPS_DENOMINATOR = 10_000
"""Fees and voucher rates are integer basis points of this."""

_TS = pa.timestamp("ns", tz="UTC")

TRADE_SCHEMA = pa.schema(
    [
        ("trade_id", pa.int64()),
        ("seq", pa.int64()),
        ("ts", _TS),
        ("symbol", pa.string()),
        ("gpu_class", pa.string()),
        ("region", pa.string()),
        ("slot_start", _TS),
        ("price", pa.int64()),
        ("qty", pa.int64()),
        ("notional", pa.int64()),
        ("buyer_account", pa.int64()),
        ("buyer_order_id", pa.int64()),
        ("seller_account", pa.int64()),
        ("seller_order_id", pa.int64()),
        ("aggressor_side", pa.string()),
        ("buyer_fee", pa.int64()),
        ("seller_fee", pa.int64()),
    ]
)
"""The schema of every trade-log file (see the module docstring for each column)."""


def fee(notional: int, bps: int) -> int:
    """Fee in fen for ``bps`` basis points of ``notional``, rounded half up."""
    return (notional * bps + BPS_DENOMINATOR // 2) // BPS_DENOMINATOR
