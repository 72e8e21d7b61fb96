"""The trade log: every trade, once, in tamper-evident Arrow IPC files per delivery day.

Rows are :data:`TRADE_SCHEMA` (columns and fee rule in :mod:`exchange.tradelog.schema`),
made from engine events by :func:`trades_from_events`. Every number is an integer.

Layout
------
``<data_dir>/trades/date=YYYY-MM-DD/FFFFFFFFFFFF-LLLLLLLLLLLL.arrow`` where the date is
the delivery day (slot start in market time) and F/L the first and last trade id of the
file, zero-padded to 12 digits. Each file is an Arrow IPC *file* (with footer) of rows of
that day only, trade ids increasing within and across the day's files. The directory is a
hive-partitioned dataset: ``pyarrow.dataset.dataset(root, format="ipc",
partitioning="hive")`` (and DuckDB over it) reads it as is, skipping the '.'-prefixed
temp files and the '_'-prefixed seals.

Writing (:class:`TradeLogWriter`)
---------------------------------
* :meth:`~TradeLogWriter.append` buffers rows, skipping those already logged (a
  recovery replay may re-produce them); :meth:`~TradeLogWriter.flush` writes one file
  per delivery day in the buffer, in day order.
* Every file (and seal) is written atomically: a '.'-prefixed temp file in the same
  directory, flushed and fsynced, renamed into place, then the directory fsynced (and
  the parents of a new directory). Opening a writer deletes leftover temp files.
* :meth:`~TradeLogWriter.seal` closes a day with ``_SEALED.json``; appending a new trade
  of a sealed day raises :class:`TradeLogSealedError`.

* ``_LOGGED.json`` is rewritten (atomically) after every flush: every trade id up to
  its ``through`` is in the files, so a replay need not convert those again.
* :class:`TradeLogFeed` runs the writer on its own thread, fed with engine events by
  the sequencer, and seals each day once a TIMER has passed its last gate.

Hash chain (per delivery day)
-----------------------------
Each file's schema metadata holds ``gpux.prev_hash``, ``gpux.hash`` (lowercase hex),
``gpux.first_trade_id``, ``gpux.last_trade_id`` and ``gpux.rows`` (decimal text), with::

    hash = sha256(bytes.fromhex(prev_hash) + canonical_bytes(rows)).hexdigest()

The first file's ``prev_hash`` is the genesis ``sha256(b"gpux.trades." + b"YYYY-MM-DD")``
of its day; every later file's is the previous file's ``hash`` (files ordered by first
trade id). ``canonical_bytes`` concatenates the columns in schema order, each column
whole: an int64 or timestamp column as its values in little-endian int64 (ns since the
epoch for timestamps), a string column as, per value, its UTF-8 length as 4 bytes
little-endian then its UTF-8 bytes. No value may be null. It depends only on the values,
never on the pyarrow version or file layout, so anyone can recompute the chain.

A seal ``_SEALED.json`` holds ``day``, ``hash`` (the last file's hash, or the genesis),
``files``, ``trades``, ``first_trade_id`` and ``last_trade_id`` (0 and 0 if no trades),
and, when the writer has a parquet root, ``parquet``: the path, SHA-256 and rows of the
day's Parquet copy for SQL tools, written just before the seal
(:mod:`exchange.tradelog.parquet`, checked by :func:`verify_parquet`).

Verification (:func:`verify_chain`, :func:`verify_all`) checks every file opens and
validates, has exactly TRADE_SCHEMA, links to its predecessor, hashes to its stored hash,
matches its metadata and file name, continues the day's increasing trade ids, holds only
slots of its day, and that a seal agrees with the files; else :class:`TradeLogCorruptError`
naming the file and the fault.
"""

from exchange.tradelog.errors import TradeLogCorruptError, TradeLogError, TradeLogSealedError
from exchange.tradelog.events import delivery_day, fees, trades_from_events
from exchange.tradelog.feed import TradeLogFeed, day_closes_ns
from exchange.tradelog.files import (
    SEAL_NAME,
    ChainReport,
    TradeLogWriter,
    canonical_bytes,
    chain_hash,
    day_files,
    days,
    genesis_hash,
    read_all,
    read_day,
    read_seal,
    trades_source,
    verify_all,
    verify_chain,
)
from exchange.tradelog.parquet import PARQUET_NAME, verify_parquet
from exchange.tradelog.schema import BPS_DENOMINATOR, TRADE_SCHEMA, fee

__all__ = [
    "TradeLogFeed",
    "day_closes_ns",
    "BPS_DENOMINATOR",
    "PARQUET_NAME",
    "SEAL_NAME",
    "TRADE_SCHEMA",
    "ChainReport",
    "TradeLogCorruptError",
    "TradeLogError",
    "TradeLogSealedError",
    "TradeLogWriter",
    "canonical_bytes",
    "chain_hash",
    "day_files",
    "days",
    "delivery_day",
    "fee",
    "fees",
    "genesis_hash",
    "read_all",
    "read_day",
    "read_seal",
    "trades_from_events",
    "trades_source",
    "verify_all",
    "verify_chain",
    "verify_parquet",
]
