"""Operator metrics of a running exchange, in Prometheus text format at ``/metrics``.

What is measured, and where:

* the sequencer (as its :class:`~exchange.sequencer.GroupObserver`): commands by kind,
  rejections by reason, trades, GPU-hours and notional, group size, journal fsync time,
  snapshot time and size;
* the gateway: submit-to-ack time of every command batch a handler sends
  (:meth:`ExchangeMetrics.acked`), open gRPC streams by method and rate-limit refusals
  (read from the interceptor and its token bucket when scraped);
* when scraped: journal bytes on disk, the last sequence number, listed instruments,
  live page clients, and the process (RSS, CPU, open files: prometheus-client's
  process collector).

The hot paths only append to a list or deque (~0.1 µs; a prometheus-client
``Histogram.observe`` costs ~3 µs under its lock, and the writer is the event loop),
except that each applied group's commands and events are counted into the totals at
once, by a compiled pass (a few ns an event); numpy folds the rest of what was recorded
into histogram buckets when scraped, or every :data:`FOLD_ROWS` values. The exposition
is prometheus-client's, through a custom collector on a registry of the server's own
(two servers in one process never share).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from numba import njit
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from exchange.schema import C, CommandKind, E, EventKind, Reason, record_words

SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
"""Bucket bounds of the latency histograms, seconds."""
GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)
"""Bucket bounds of the group-size histogram, commands."""
FOLD_ROWS = 8192
"""Recorded latencies and group sizes are folded into their histograms once this many
are waiting (bounds memory and the fold's pause of the event loop)."""
_KINDS = 64
_REASONS = 1024
"""Rejection reasons counted by code in an array (every :class:`Reason` is below it; a
code outside it is counted apart)."""
_REJECTED, _TRADE = int(EventKind.REJECTED), int(EventKind.TRADE)
_C_KIND = int(C.KIND)
_E_KIND, _E_REASON, _E_PRICE, _E_QTY = int(E.KIND), int(E.REASON), int(E.PRICE), int(E.QTY)
_T_COUNT, _T_QTY, _T_NOTIONAL = range(3)
"""Columns of :attr:`ExchangeMetrics.traded`: trades, GPU-hours, notional (fen)."""


@njit(cache=True)  # keeps the GIL: a few µs a group, in the event loop, which would wait to get it back
def _tally(commands, events, kinds, rejections, traded):
    """Add a group to the totals: its commands by kind (those below ``kinds``' length),
    its REJECTED events by reason (below ``rejections``' length) and its TRADEs (count,
    GPU-hours, notional); how many rejections had a reason outside ``rejections`` (not
    counted there). O(commands + events)."""
    for i in range(commands.shape[0]):
        kind = commands[i, _C_KIND]
        if 0 <= kind < kinds.shape[0]:
            kinds[kind] += 1
    outside = 0
    for i in range(events.shape[0]):
        kind = events[i, _E_KIND]
        if kind == _REJECTED:
            reason = events[i, _E_REASON]
            if 0 <= reason < rejections.shape[0]:
                rejections[reason] += 1
            else:
                outside += 1
        elif kind == _TRADE:
            traded[_T_COUNT] += 1
            traded[_T_QTY] += events[i, _E_QTY]
            traded[_T_NOTIONAL] += events[i, _E_PRICE] * events[i, _E_QTY]
    return outside


class BulkHistogram:
    """A histogram whose values are added in bulk (numpy), exposed as Prometheus buckets."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = np.asarray(bounds, np.float64)
        self.counts = np.zeros(len(bounds) + 1, np.int64)
        self.sum = 0.0

    def add(self, values) -> None:
        """Count each value in the first bucket whose bound is >= it (Prometheus' ``le``)."""
        values = np.asarray(values, np.float64)
        if values.size:
            self.counts += np.bincount(np.searchsorted(self.bounds, values), minlength=len(self.counts))
            self.sum += float(values.sum())

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative = np.cumsum(self.counts).tolist()
        buckets = [(_bound(b), c) for b, c in zip(self.bounds.tolist(), cumulative)] + [("+Inf", cumulative[-1])]
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.sum)


def _bound(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _drain(recorded: deque) -> list:
    """Everything appended to ``recorded`` so far (other threads may go on appending)."""
    return [recorded.popleft() for _ in range(len(recorded))]


class ExchangeMetrics:
    """Recorders for the exchange's hot paths and the collector that exposes them.

    ``applied``, ``acked`` and the scrape run in the event loop; ``synced`` in the
    journal's sync thread and ``snapshot_written`` in the snapshot writer's (they only
    append to deques). ``gauges`` are read when scraped: name -> (help, read())."""

    def __init__(self, journal_dir: Path) -> None:
        self.journal_dir = Path(journal_dir)
        self.commands = np.zeros(_KINDS, np.int64)
        self.rejected = np.zeros(_REASONS, np.int64)
        """Rejections by reason code, below :data:`_REASONS`."""
        self.rejected_apart: dict[int, int] = {}
        """Rejections by reason code, the others."""
        self.traded = np.zeros(3, np.int64)
        """Trades, GPU-hours, notional (fen): ``_T_*`` columns."""
        self.group_size = BulkHistogram(GROUP_SIZES)
        self.fsync = BulkHistogram(SECONDS)
        self.submit_ack = BulkHistogram(SECONDS)
        self.snapshot = BulkHistogram(SECONDS)
        self.snapshot_bytes = 0
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.labelled: dict[str, tuple[str, str, Callable[[], dict[str, int]]]] = {}
        """Labelled gauges: name -> (help, label name, read() giving label value -> value)."""
        self.counters: dict[str, tuple[str, Callable[[], int]]] = {}
        self._group_sizes: list[int] = []
        self._acks: list[float] = []
        self._fsyncs: deque[float] = deque()
        self._snapshots: deque[tuple[float, int]] = deque()

    # ------------------------------------------------------------------ recording

    def applied(self, batch: np.ndarray, events: np.ndarray) -> None:
        """A group was applied (in the writer): count its commands and events into the
        totals (:func:`_tally`), keep its size. O(commands + events), a few ns each."""
        events = np.ascontiguousarray(events)
        if _tally(record_words(np.ascontiguousarray(batch)), record_words(events), self.commands, self.rejected,
                  self.traded):
            rejected = events["reason"][(events["kind"] == _REJECTED)
                                        & ((events["reason"] < 0) | (events["reason"] >= _REASONS))]
            for reason in rejected.tolist():
                self.rejected_apart[reason] = self.rejected_apart.get(reason, 0) + 1
        self._group_sizes.append(len(batch))
        if len(self._group_sizes) >= FOLD_ROWS:
            self.fold()

    def synced(self, seconds: float) -> None:
        """A journal fsync returned after ``seconds`` (in the sync thread)."""
        self._fsyncs.append(seconds)

    def snapshot_written(self, seconds: float, size: int) -> None:
        """A snapshot was copied and written in ``seconds``, ``size`` bytes on disk."""
        self._snapshots.append((seconds, size))

    def acked(self, seconds: float) -> None:
        """A handler's command batch was answered ``seconds`` after it was submitted."""
        self._acks.append(seconds)
        if len(self._acks) >= FOLD_ROWS:
            self.fold()

    def fold(self) -> None:
        """Add everything recorded to the histograms. O(recorded)."""
        sizes, self._group_sizes = self._group_sizes, []
        self.group_size.add(sizes)
        acks, self._acks = self._acks, []
        self.submit_ack.add(acks)
        self.fsync.add(_drain(self._fsyncs))
        snapshots = _drain(self._snapshots)
        if snapshots:
            self.snapshot.add([s for s, _ in snapshots])
            self.snapshot_bytes = snapshots[-1][1]

    # ------------------------------------------------------------------ exposing

    def rejections(self) -> dict[int, int]:
        """Rejections so far by reason code (those counted)."""
        counted = {int(reason): int(self.rejected[reason]) for reason in np.flatnonzero(self.rejected)}
        return counted | self.rejected_apart

    def journal_bytes(self) -> int:
        """Bytes of the journal's files on disk."""
        try:
            return sum(e.stat().st_size for e in os.scandir(self.journal_dir) if e.is_file())
        except FileNotFoundError:
            return 0

    def collect(self) -> Iterator[Metric]:
        """The metric families, folded up to now (prometheus-client's collector protocol)."""
        self.fold()
        commands = CounterMetricFamily("gpux_commands", "Commands sequenced, by kind.", labels=["kind"])
        for kind in CommandKind:
            commands.add_metric([kind.name.lower()], int(self.commands[kind]))
        yield commands
        rejections = CounterMetricFamily("gpux_rejections", "Commands the engine rejected, by reason.",
                                         labels=["reason"])
        for reason, count in sorted(self.rejections().items()):
            rejections.add_metric([_reason(reason)], count)
        yield rejections
        yield CounterMetricFamily("gpux_trades", "Trades.", value=int(self.traded[_T_COUNT]))
        yield CounterMetricFamily("gpux_traded_gpu_hours", "GPU-hours traded.", value=int(self.traded[_T_QTY]))
        yield CounterMetricFamily("gpux_traded_notional_fen", "Value traded, fen (price x qty).",
                                  value=int(self.traded[_T_NOTIONAL]))
        yield self.group_size.family("gpux_group_commands", "Commands per sequenced group (group commit).")
        yield self.fsync.family("gpux_journal_fsync_seconds", "Time of each journal fsync.")
        yield self.submit_ack.family("gpux_submit_ack_seconds",
                                     "Time from a handler's submit to its answer (journaled, applied).")
        yield self.snapshot.family("gpux_snapshot_seconds", "Time to copy and write a snapshot.")
        yield GaugeMetricFamily("gpux_snapshot_bytes", "Size of the last snapshot written.", value=self.snapshot_bytes)
        yield GaugeMetricFamily("gpux_journal_bytes", "Bytes of the journal on disk.", value=self.journal_bytes())
        for name, (documentation, read_count) in self.counters.items():
            yield CounterMetricFamily(name, documentation, value=read_count())
        for name, (documentation, read_value) in self.gauges.items():
            yield GaugeMetricFamily(name, documentation, value=read_value())
        for name, (documentation, label, read_counts) in self.labelled.items():
            family = GaugeMetricFamily(name, documentation, labels=[label])
            for value, count in sorted(read_counts().items()):
                family.add_metric([value], count)
            yield family


def _reason(code: int) -> str:
    return Reason(code).name.lower() if code in Reason._value2member_map_ else str(code)


def registry(metrics: ExchangeMetrics) -> CollectorRegistry:
    """A registry of the exchange's metrics and the process's (RSS, CPU, files, Python)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(metrics)
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    return reg
