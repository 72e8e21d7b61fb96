"""The audit: re-verify a market from its files alone.

:func:`audit` checks, in order, and stops at the first difference, which it names:

1. the trade log's SHA-256 chains, day by day (and seals), and each sealed day's
   Parquet copy against its seal and its Arrow files;
2. the journal replayed from sequence 0 through a fresh engine (the pinned catalog,
   no snapshot trusted), or with ``from_snapshot`` from the newest valid snapshot:
   every record's checksum and sequence;
3. the replayed trades against the trade log, row by row and column by column;
4. every settled day: the trades its manifest names (chain head, Parquet copy) are the
   log's, and the settlement re-run from the trades (once they are found equal to the
   replayed ones) and the voucher grants equals, table by table, the Parquet files on
   disk.

It opens everything read-only and takes no lock, so it may run beside a live exchange
(then the newest journal records and unflushed trades may legitimately be missing
from the log; audit a closed data dir for a verdict on everything).
"""

from exchange.audit.replay import (
    AuditError,
    AuditReport,
    Replay,
    audit,
    first_difference,
    replay,
)

__all__ = ["AuditError", "AuditReport", "Replay", "audit", "first_difference", "replay"]
