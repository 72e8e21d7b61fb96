"""Replay of a data directory's journal and the comparisons of the audit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.catalog import Catalog, CatalogError
from exchange.dayahead import DayAheadError, verify_day_ahead
from exchange.journal import DataDir, FileJournal, JournalError, SnapshotStore
from exchange.schema import COMMAND_DTYPE, EVENT_DTYPE, CommandKind
from exchange.sequencer import MarketState
from exchange.sequencer.pipeline import read_ahead
from exchange.sequencer.state import WHOLE_GROUP_KINDS
from exchange.settlement import (
    DaySettlement,
    SettlementError,
    compute_settlement,
    read_settlement,
    settled_days,
    settled_from,
)
from exchange.tradelog import (
    TRADE_SCHEMA,
    ChainReport,
    TradeLogError,
    genesis_hash,
    read_all,
    read_seal,
    trades_from_events,
    verify_all,
    verify_parquet,
)
from exchange.tradelog.events import delivery_day

Progress = Callable[[int, int], None]
"""Called with (commands replayed, commands in the journal)."""


class AuditError(Exception):
    """The files disagree; the message names the first difference."""


@dataclass
class Replay:
    """The result of replaying a journal from zero."""

    catalog: Catalog
    state: MarketState
    trades: pa.Table
    events_digest: str
    """SHA-256 of all events, when asked for (else empty)."""
    commands: int
    from_seq: int = 0
    """The replay started after this seq (a snapshot's), 0 from the start."""
    dayahead: tuple[np.ndarray, np.ndarray] = (np.zeros(0, COMMAND_DTYPE), np.zeros(0, EVENT_DTYPE))
    """The hold and day-ahead commands replayed, and their events."""


@dataclass
class AuditReport:
    """What the audit checked; ``ok`` is False when it found a difference."""

    data_dir: Path
    ok: bool = False
    commands: int = 0
    trades: int = 0
    chained_files: int = 0
    settled_days: list[date] = field(default_factory=list)
    dayahead_days: list[date] = field(default_factory=list)
    from_seq: int = 0
    problem: str | None = None
    seconds: float = 0.0


def _catalog(data: DataDir) -> Catalog:
    if not data.exists():
        raise AuditError(f"{data.root} is not a gpux data dir (no {data.catalog_file.name})")
    return data.catalog()


def replay(data_dir: str | Path, progress: Progress | None = None, digest: bool = False,
           from_snapshot: bool = False) -> Replay:
    """Replay the journal of ``data_dir`` read-only: from zero through a fresh state, or
    (``from_snapshot``) from its newest valid snapshot; with ``digest``, also the
    SHA-256 of every replayed event (the determinism check)."""
    data = DataDir.resolve(data_dir)
    catalog = _catalog(data)
    journal = FileJournal(data.journal, read_only=True)
    state = None
    if from_snapshot and data.snapshots.is_dir():
        state, _ = SnapshotStore(data.snapshots).latest(lambda snap: MarketState.from_snapshot(catalog, snap))
    if state is None:
        state = MarketState(catalog, max_accounts=data.max_accounts(pin=False), track_orders=False)
    start_seq = state.last_seq
    hasher = hashlib.sha256()
    done = 0
    held, held_events = [], []
    with ThreadPoolExecutor(1, thread_name_prefix="gpux-trades") as converter:  # off the replay's path
        tables = []
        state.trade_sink = lambda events: tables.append(converter.submit(trades_from_events, events, state.listing))

        def follow(batch: np.ndarray, events: np.ndarray) -> None:  # reads no engine state: fit for replay()
            nonlocal done
            if digest:
                hasher.update(events.data)
            escrow = batch["kind"] >= CommandKind.HOLD_FUNDS  # holds and day-ahead trades
            if escrow.any():
                held.append(batch[escrow].copy())
                held_events.append(events[np.isin(events["seq"], held[-1]["seq"])].copy())
            done += len(batch)
            if progress is not None:
                progress(done, journal.last_seq)

        state.listeners.append(follow)
        state.replay(read_ahead(journal.read(start_seq, WHOLE_GROUP_KINDS)))
        state.listeners.remove(follow)
        tables = [t.result() for t in tables]
    trades = pa.concat_tables(tables).combine_chunks() if tables else TRADE_SCHEMA.empty_table()
    dayahead = (np.concatenate(held), np.concatenate(held_events)) if held else Replay.dayahead
    return Replay(catalog, state, trades, hasher.hexdigest() if digest else "", done, start_seq, dayahead)


def first_difference(expected: pa.Table, found: pa.Table, what: str) -> str | None:
    """The first row and column where two tables of one schema differ, in words."""
    if not expected.schema.equals(found.schema, check_metadata=False):
        return f"{what}: schemas differ"
    rows = min(expected.num_rows, found.num_rows)
    first, column = rows, None
    for name in expected.schema.names:
        a, b = expected.column(name).slice(0, rows), found.column(name).slice(0, rows)
        if a.equals(b):
            continue
        differs = np.flatnonzero(~np.asarray(pa.compute.fill_null(pa.compute.equal(a, b), False)))
        if len(differs) and differs[0] < first:
            first, column = int(differs[0]), name
    if column is not None:
        key = expected.column(expected.schema.names[0])[first].as_py()
        return (f"{what}: row {first} ({expected.schema.names[0]} {key}), column {column}: "
                f"replay gives {expected.column(column)[first].as_py()!r}, "
                f"files hold {found.column(column)[first].as_py()!r}")
    if expected.num_rows != found.num_rows:
        return f"{what}: replay gives {expected.num_rows} rows, files hold {found.num_rows}"
    return None


def audit(data_dir: str | Path, progress: Progress | None = None, from_snapshot: bool = False) -> AuditReport:
    """Verify ``data_dir`` (see the package docstring); never raises for a difference.
    ``from_snapshot`` replays from the newest valid snapshot instead of from zero:
    faster, and the trades before it are then checked by their hash chains alone."""
    started = time.perf_counter()
    data = DataDir.resolve(data_dir)
    report = AuditReport(data.root)
    try:
        _audit(data, report, progress, from_snapshot)
        report.ok = True
    except (AuditError, JournalError, TradeLogError, SettlementError, CatalogError, FileNotFoundError) as error:
        report.problem = str(error)
    report.seconds = time.perf_counter() - started
    return report


def _audit(data: DataDir, report: AuditReport, progress: Progress | None, from_snapshot: bool) -> None:
    catalog = _catalog(data)
    # A second thread checks the trade log's chains, reads it and re-runs settlement from
    # it while the replay runs (pyarrow, hashlib and the engine kernel release the GIL).
    # Settling from the logged trades is settling from the replayed ones once the two
    # are found equal, which is checked before any settlement is compared.
    with ThreadPoolExecutor(1, thread_name_prefix="gpux-audit") as pool:
        side = pool.submit(_check_trade_log, data, catalog)
        result = replay(data.root, progress, from_snapshot=from_snapshot)
        report.chained_files, logged, settlements = side.result()
    report.commands, report.trades, report.from_seq = result.commands, result.trades.num_rows, result.from_seq
    if result.from_seq:  # trades before the snapshot are covered by the hash chains only
        first = result.state.engine.next_trade_id() - result.trades.num_rows
        logged = logged.filter(pc.greater_equal(logged["trade_id"], first))
    problem = first_difference(result.trades, logged, "trades")
    if problem:
        raise AuditError(problem)
    try:
        report.dayahead_days = verify_day_ahead(data.dayahead, catalog, result.state.listing, *result.dayahead,
                                                result.state.dayahead_booked, from_seq=result.from_seq)
    except DayAheadError as error:
        raise AuditError(str(error)) from None
    for day, expected in settlements.items():
        found = read_settlement(data.root, day)
        for name in ("statements", "subsidies", "delivery", "issuers"):
            problem = first_difference(getattr(expected, name), getattr(found, name), f"settlement {day} {name}")
            if problem:
                raise AuditError(problem)
        report.settled_days.append(day)


def _check_trade_log(data: DataDir, catalog: Catalog) -> tuple[int, pa.Table, dict[date, DaySettlement]]:
    """(files whose chain verifies, all their trades, each settled day re-run from them);
    also checks each sealed day's Parquet copy and the trades each settlement names."""
    if not data.trades.exists():
        return 0, TRADE_SCHEMA.empty_table(), {}
    reports = {r.day: r for r in verify_all(data.trades, catalog.market.tz)}
    trades = read_all(data.trades)
    by_day = _split_days(trades, catalog)
    seals = {day: read_seal(data.trades, day) for day, r in reports.items() if r.sealed}
    for day, seal in seals.items():
        verify_parquet(data.parquet, day, seal, by_day.get(day, TRADE_SCHEMA.empty_table()))
    settlements = {}
    for day in settled_days(data.root):
        _check_source(day, settled_from(data.root, day), reports.get(day), seals.get(day))
        settlements[day] = compute_settlement(data.root, day, lambda d: by_day.get(d, TRADE_SCHEMA.empty_table()),
                                              by_day)
    return sum(r.files for r in reports.values()), trades, settlements


def _check_source(day: date, source: dict | None, report: ChainReport | None, seal: dict | None) -> None:
    """A settlement's manifest names the trades it came from: the log must still hold them."""
    if source is None:  # settled without naming its trades
        return
    head = report.head if report is not None else genesis_hash(day)
    if source.get("head") != head:
        raise AuditError(f"settlement {day} was computed from trade-log head {source.get('head')}, but the "
                         f"day's log ends at {head}: trades changed since, settle {day} again")
    copy = (seal or {}).get("parquet") or {}
    if source.get("parquet_sha256") not in (None, copy.get("sha256")):
        raise AuditError(f"settlement {day} names Parquet copy {source.get('parquet_sha256')}, "
                         f"the seal names {copy.get('sha256')}")


def _split_days(trades: pa.Table, catalog: Catalog) -> dict[date, pa.Table]:
    """The trades of each delivery day."""
    slots = trades.column("slot_start").cast(pa.int64()).to_numpy()
    distinct, inverse = np.unique(slots, return_inverse=True)
    day_of = np.array([delivery_day(s, catalog.market.tz).toordinal() for s in distinct], np.int64)[inverse]
    days = np.unique(day_of)
    if len(days) == 1:
        return {date.fromordinal(int(days[0])): trades}
    return {date.fromordinal(int(d)): trades.filter(pa.array(day_of == d)) for d in days}
