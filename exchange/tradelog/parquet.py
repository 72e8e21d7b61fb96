"""The Parquet copy of a sealed delivery day, for SQL tools (DuckDB, Polars, Spark ...).

The Arrow IPC files stay the record (hash-chained, verified); Parquet is what most SQL
tools read without an extension. When a day is sealed with a parquet root (a node's is
``<data dir>/parquet``), the writer also writes the day's trades, in trade-id order with
exactly :data:`TRADE_SCHEMA`, to ``<parquet root>/date=YYYY-MM-DD/trades.parquet``
(atomically, before the seal), and the seal names it: ``"parquet": {"path":
"date=YYYY-MM-DD/trades.parquet", "sha256": ..., "rows": N}``. :func:`verify_parquet`
(run by the audit) checks the file against the seal and, value by value, against the
day's Arrow files. The copies live outside ``trades/`` so that
``pyarrow.dataset(trades, format="ipc")`` still reads that tree as it is. DuckDB::

    SELECT * FROM read_parquet('data/parquet/*/trades.parquet', hive_partitioning = true)
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.tradelog.errors import TradeLogCorruptError
from exchange.tradelog.schema import TRADE_SCHEMA

PARQUET_NAME = "trades.parquet"
"""File name of a day's Parquet copy, under ``date=YYYY-MM-DD/``."""


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as one Parquet file (zstd, column statistics, the Arrow schema kept so
    that timestamps read back as ``timestamp[ns, UTC]``), schema metadata dropped."""
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(None), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def relative_path(day: date) -> str:
    """Where a day's copy lives under the parquet root (as the seal names it)."""
    return f"date={day.isoformat()}/{PARQUET_NAME}"


def parquet_entry(day: date, data: bytes, rows: int) -> dict:
    """The seal's ``parquet`` entry for a day's copy written as ``data``."""
    return {"path": relative_path(day), "sha256": hashlib.sha256(data).hexdigest(), "rows": rows}


def verify_parquet(parquet_root: Path, day: date, seal: dict | None, trades: pa.Table) -> bool:
    """Check the Parquet copy a day's seal names against the seal (path, hash, rows) and
    the day's trades from the Arrow files; False if the seal names none (the day is not
    sealed, or was sealed without a parquet root). :class:`TradeLogCorruptError` naming
    the file and the fault otherwise."""
    entry = (seal or {}).get("parquet")
    if entry is None:
        return False
    path = Path(parquet_root) / relative_path(day)
    if entry.get("path") != relative_path(day):
        raise TradeLogCorruptError(f"the seal of {day} names Parquet copy {entry.get('path')!r}, "
                                   f"not {relative_path(day)!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TradeLogCorruptError(f"{path}: the seal of {day} names this Parquet copy, but: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.get("sha256"):
        raise TradeLogCorruptError(f"{path}: sha256 {digest} is not the {entry.get('sha256')} its seal names")
    try:
        copy = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise TradeLogCorruptError(f"{path}: not a readable Parquet file: {exc}") from None
    if not copy.schema.equals(TRADE_SCHEMA, check_metadata=False):
        raise TradeLogCorruptError(f"{path}: schema is not TRADE_SCHEMA: {copy.schema}")
    if copy.num_rows != entry.get("rows") or not copy.equals(trades.replace_schema_metadata(None)):
        raise TradeLogCorruptError(f"{path}: its {copy.num_rows} rows are not the day's {trades.num_rows} "
                                   "trades in the Arrow files")
    return True
