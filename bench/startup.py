"""Where a ``gpux serve`` start's time went, read from /proc while it runs (Linux): for
bench/restart.py and bench/soak.py, which time a restart after kill -9 to SERVING, and
:class:`Server`, the ``gpux serve`` process both start.

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
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exchange.client import wait_until_serving
from tests.gateway_harness import free_port

ROOT = Path(__file__).resolve().parent.parent
"""This source tree (its importers put it on ``sys.path`` first)."""

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


class Server:
    """``gpux serve`` of a source tree in a process of its own, on one data dir and port,
    with operator metrics on another port; its log is appended to ``serve.log`` in the data
    dir. ``tree`` is its working directory, so ``python -m exchange.cli`` runs that tree's
    package (with the kernel cache of that tree: ``NUMBA_CACHE_DIR`` is not passed on)."""

    def __init__(self, data_dir: Path, port: int, options: list[str], tree: Path = ROOT) -> None:
        self.data_dir, self.port, self.options, self.tree = data_dir, port, options, tree
        self.address = f"127.0.0.1:{port}"
        self.metrics_url = f"http://127.0.0.1:{free_port()}/metrics"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300.0) -> float:
        """Start it; seconds until it answers SERVING (polled every 10 ms). Where that time
        went is watched (:class:`StartWatch`) and told by :meth:`spent`."""
        log_path = self.data_dir / "serve.log"
        self.log_offset = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")
        self.started_at, self.watch = dt.datetime.now(), StartWatch()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.cli", "serve", "--data-dir", str(self.data_dir),
             "--address", self.address, "--opening-call", "0", "--rate", "1e9",
             "--http-address", self.metrics_url.split("/")[2], *self.options],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.tree,
            env={k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"})
        log.close()
        proc = self.proc
        self.watch.watch(proc.pid)
        if not wait_until_serving(self.address, timeout, still_starting=lambda: proc.poll() is None, interval=0.01):
            self.kill()
            raise RuntimeError(f"gpux serve of {self.tree} did not come up; see {log_path}")
        self.took = time.perf_counter() - self.watch.started
        self.read, self.own_cpu = self.watch.stop()
        return self.took

    def times(self) -> dict[str, float]:
        """The last start's log times from its process start (:data:`MARKERS`: the kernels
        loaded, after the imports; serving, after recovery and the market page's start,
        which follows the first SERVING answer; the start-up heap frozen): once the server
        has stopped or after a pause, for the lines after SERVING."""
        return log_times(self.data_dir / "serve.log", self.log_offset, self.started_at)

    def report(self, times: dict[str, float]) -> str:
        """Where the last start's time went (:meth:`StartWatch.report`), by its log ``times``."""
        return self.watch.report(self.took, times, self.read, self.own_cpu)

    def spent(self) -> str:
        """:meth:`times` and :meth:`report` in two lines."""
        times = self.times()
        return ", ".join(f"{key} at {t:.2f} s" for key, t in times.items()) + "\n  " + self.report(times)

    def histograms(self, names: tuple[str, ...]) -> dict[str, dict[float, float]]:
        """The server's histograms ``names`` now (from its /metrics): name -> cumulative
        count by bucket bound."""
        text = urllib.request.urlopen(self.metrics_url, timeout=30).read().decode()
        out = {family.name: {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
               for family in text_string_to_metric_families(text) if family.name in names}
        if len(out) != len(names):
            raise RuntimeError(f"the server's /metrics lacks {set(names) - set(out)}")
        return out

    def status(self) -> dict[str, int]:
        """VmRSS, VmHWM, RssAnon and RssFile (bytes) from /proc/<pid>/status."""
        assert self.proc is not None
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
        return out

    def cpu(self) -> float:
        """User + system CPU seconds of the server so far."""
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM (a clean stop); its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9
