"""Each account's private stream of executions: derived from the journal, kept on disk.

* :mod:`~exchange.executions.records` — which engine events touch which account
  (both sides of a fill, every order event, every change of funds and capacity), each
  numbered by a dense per-account ``exec_seq``: a deterministic function of the
  command sequence, so a replay of the journal numbers them again exactly;
* :mod:`~exchange.executions.log` — :class:`ExecLog`, the append-only file of those
  records that a resume reads from, checked on open, rebuilt from the journal when it
  lags behind it (the journal is the truth).

The gateway turns the records into ``gpux.v1.AccountEvent`` messages and pushes them
to subscribers (:mod:`exchange.gateway.executions`).
"""

from exchange.executions.log import ExecLog, ExecLogError
from exchange.executions.records import EXEC_DTYPE, EXEC_FIELDS, X, derive_executions

__all__ = ["EXEC_DTYPE", "EXEC_FIELDS", "ExecLog", "ExecLogError", "X", "derive_executions"]
