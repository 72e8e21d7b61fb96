"""Where a ``gpux serve`` start's time went, read from /proc while it runs (Linux): for
bench/restart.py and bench/soak.py, which time a restart after kill -9 to SERVING.

A start's wall time is its threads' CPU, their wait for a CPU (the run queue: other
work on a shared machine takes the cores) and time blocked (reading what the page cache
no longer holds, waiting on a lock or another thread). :class:`StartWatch` samples
every thread's ``/proc/<pid>/task/<tid>/schedstat`` (time run, time waited on a run
queue; a thread that ended keeps its last sample) every :data:`SAMPLE_SECONDS`, so the
two are known at any moment of the start, e.g. when its log said the kernels were
ready (up to then the start is one thread at a time: the imports, then the warm-up's
thread); beside them the bytes the process read from the disk (``/proc/<pid>/io``) and
the CPU the watching process itself used meanwhile (it shares the machine too).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

SAMPLE_SECONDS = 0.02
"""How often the server's threads are sampled (each sample ~0.3 ms of CPU here)."""
MARKERS = (("kernels", "numba kernels ready"), ("serving", "gpux serving"), ("frozen", "start-up heap frozen"))
"""The log lines timed: (name, text in the line)."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its threads that ended included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_times(log: Path, offset: int, started: dt.datetime) -> dict[str, float]:
    """Seconds from ``started`` to each of :data:`MARKERS` in the log after byte ``offset``."""
    with open(log, "rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    return {name: (dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") - started).total_seconds()
            for line in lines for name, marker in MARKERS if marker in line}


def processes_cpu() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far (threads that ended included)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                head, _, tail = Path(f"/proc/{entry}/stat").read_text().rpartition(")")
            except OSError:  # ended meanwhile
                continue
            fields = tail.split()
            out[int(entry)] = (head.partition("(")[2], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def dirty() -> int:
    """Bytes of the machine's page cache dirty or under write-back (/proc/meminfo): what
    an fsync may queue behind."""
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return sum(int(fields[key].split()[0]) * 1024 for key in ("Dirty", "Writeback"))


class StartWatch:
    """Samples a starting server's threads from a thread of its own, from :meth:`watch`
    until :meth:`stop`; ``started`` is its ``time.perf_counter()`` start (just before the
    process was made)."""

    def __init__(self) -> None:
        self.others = processes_cpu()
        self.started = time.perf_counter()
        self.own_cpu = time.process_time()
        self._pid: int | None = None
        self._samples: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        """(seconds from the start, run, run-queue wait), summed over the threads."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="startwatch", daemon=True)

    def watch(self, pid: int) -> None:
        """Start sampling the process ``pid``."""
        self._pid = pid
        self._thread.start()

    def _run(self) -> None:
        last: dict[str, tuple[float, float]] = {}
        tasks = Path(f"/proc/{self._pid}/task")
        while not self._stopping.is_set():
            try:
                for tid in os.listdir(tasks):
                    run, wait = (tasks / tid / "schedstat").read_text().split()[:2]
                    last[tid] = (int(run) / 1e9, int(wait) / 1e9)
            except OSError:  # a thread (or the process) ended meanwhile: its last sample stands
                pass
            self._samples.append((time.perf_counter() - self.started, sum(r for r, _ in last.values()),
                                  sum(w for _, w in last.values())))
            self._stopping.wait(SAMPLE_SECONDS)

    def stop(self) -> tuple[int, float]:
        """Stop sampling (call it while the process is alive, e.g. at its SERVING answer):
        (bytes it read from the disk, CPU seconds the watching process used since it was made);
        :meth:`report` also tells what the other processes used."""
        self._stopping.set()
        self._thread.join()
        own_cpu = time.process_time() - self.own_cpu
        now = processes_cpu()
        used = [(cpu - self.others.get(pid, ("", 0.0))[1], name) for pid, (name, cpu) in now.items()
                if pid not in (self._pid, os.getpid())]
        self.others_used = sorted((u for u in used if u[0] > 0), reverse=True)
        io = dict(line.split(": ") for line in Path(f"/proc/{self._pid}/io").read_text().splitlines())
        return int(io["read_bytes"]), own_cpu

    def at(self, seconds: float) -> tuple[float, float]:
        """(CPU run, run-queue wait) of the server's threads, summed, ``seconds`` after the start."""
        return max((s for s in self._samples if s[0] <= seconds), key=lambda s: s[0])[1:]

    def report(self, took: float, times: dict[str, float], read: int, own_cpu: float) -> str:
        """What the start spent up to the kernels being ready (when its log says so) and up
        to SERVING (``took`` s), and what was read and used beside it."""
        parts = []
        for name, seconds in (("kernels ready", times.get("kernels")), ("SERVING", took)):
            if seconds is not None:
                run, wait = self.at(seconds)
                parts.append(f"to {name} at {seconds:.2f} s its threads ran {run:.2f} s and waited "
                             f"{wait:.2f} s for a CPU")
        top = ", ".join(f"{name} {cpu:.2f}" for cpu, name in self.others_used[:4])
        return (f"{'; '.join(parts)}; it read {read / 2**20:.1f} MB from the disk; the bench used "
                f"{own_cpu:.2f} s of CPU meanwhile, the machine's other processes "
                f"{sum(c for c, _ in self.others_used):.2f} s ({top})")
