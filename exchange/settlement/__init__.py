"""Settlement: who pays whom, and who delivers GPU-hours to whom, for each delivery day.

Money is integer fen and rates integer basis points of ``BPS_DENOMINATOR`` (10000);
no float is used anywhere.

Rules:

* Vouchers (算力券): a :class:`VoucherGrant` lets an issuer pay ``rate_bps`` of what one
  account buys on delivery days ``valid_from..valid_to`` (inclusive), up to ``cap_fen``
  over the grant's whole life (``None``: no cap). E.g. a city fund grants account 7
  30 % with no cap; a province grants it 50 % up to ¥2,000,000 (200_000_000 fen) for
  2026. Grants live in ``<data_dir>/settlement/vouchers.json`` (:class:`VoucherBook`,
  written atomically); grant ids are unique and grants are only added.
* Per account and day (:func:`settle_day`): bought/sold GPU-hours and value (sum of
  notional), fees (buyer fee as buyer + seller fee as seller), subsidy, and
  ``net = sold_value - bought_value - fees + subsidy`` (positive: the exchange pays the
  account; negative: the account pays).
* Subsidy: for each grant valid on the day for an account that bought, in grant_id
  order, ``min(floor(bought_value * rate_bps / 10000), cap_fen - used so far,
  bought_value - subsidy already given to the account today)``, never negative. So a
  grant never pays above its rate or its cap, and an account is never subsidised above
  its contract value. Fees are not subsidised. Issuers are billed the sum of their grants.
* Delivery: per instrument (symbol, gpu_class, region, slot_start) each account's net is
  sold - bought GPU-hours; net sellers (providers) deliver to net buyers, matched
  greedily in ascending account order on both sides. A reseller appears only with its net.
* Conservation (:func:`verify`, run on every settled day; a failure is a
  :class:`SettlementError` with the numbers): from the per-trade totals, buyer payments
  (value + buyer fees - subsidy) + issuer subsidies == provider receipts (value - seller
  fees) + exchange fees; sum of nets + fees - subsidies == 0; statement totals equal
  trade totals; subsidies agree with statements and issuer bills; deliveries per account
  equal its net traded GPU-hours and per instrument sum to the net traded volume.
* Carry across days (:func:`settle`): a grant's usage before day D is recomputed by
  settling every earlier trade day in date order, so it is a pure function of the trade
  log and the grants that an auditor can reproduce. Day D is written as Parquet under
  ``<data_dir>/settlement/date=YYYY-MM-DD/`` (statements, subsidies, delivery, issuers;
  each file atomically, then ``_MANIFEST.json`` with their SHA-256, so the four are one
  set, and, when given, the trades they came from: the day's trade-log chain head and
  Parquet copy, :func:`settled_from`) and read back with :func:`read_settlement`.
  Missing, corrupt, incomplete or mixed files are a :class:`SettlementError` naming
  the file.
"""

from exchange.settlement.statements import (
    DELIVERY_SCHEMA,
    ISSUER_SCHEMA,
    STATEMENT_SCHEMA,
    SUBSIDY_SCHEMA,
    TABLES,
    DaySettlement,
    compute_settlement,
    read_settlement,
    settle,
    settle_day,
    settled_days,
    settled_from,
    verify,
)
from exchange.settlement.vouchers import SettlementError, VoucherBook, VoucherGrant

__all__ = [
    "DELIVERY_SCHEMA",
    "ISSUER_SCHEMA",
    "STATEMENT_SCHEMA",
    "SUBSIDY_SCHEMA",
    "TABLES",
    "DaySettlement",
    "SettlementError",
    "VoucherBook",
    "VoucherGrant",
    "compute_settlement",
    "read_settlement",
    "settle",
    "settle_day",
    "settled_days",
    "settled_from",
    "verify",
]
