"""Event-loop pauses and their causes, for finding what holds the writer (off by default).

With ``GPUX_LOOP_PAUSE_MS`` set (e.g. ``50``), :class:`LoopSequencer
<exchange.sequencer.loop.LoopSequencer>` starts a :class:`PauseWatch` on its loop: a
heartbeat callback runs in the loop every :data:`BEAT` seconds, and a watcher thread,
whenever the heartbeat is late, samples the loop thread's Python stack
(``sys._current_frames``) every :data:`SAMPLE` seconds until it runs again. A heartbeat
later than the threshold logs one line (logger ``gpux.pauses``, warning) with how long the
loop was held, the loop thread's CPU time meanwhile (much less than the pause: the machine
did not run it), the full garbage collections (generation 2) that ran meanwhile and the
stacks the watcher saw, most frequent first. A kernel that holds the GIL also holds the
watcher back: its stack is the one seen at the first sample after it (the caller's line).
Costs while on: one callback per :data:`BEAT` in the loop and a thread waking every
:data:`SAMPLE`.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("gpux.pauses")
_PACKAGE = str(Path(__file__).resolve().parent.parent)

ENV = "GPUX_LOOP_PAUSE_MS"
"""The environment variable that turns the watch on: its value is the threshold in ms."""
BEAT = 0.005
"""Seconds between heartbeats of the loop."""
SAMPLE = 0.002
"""Seconds between the watcher's looks at a late heartbeat."""
_FRAMES = 3
"""Innermost frames of a sampled stack that name it (then the innermost of gpux's own,
after a ``|``, when it is not among them)."""


def from_environment(loop: asyncio.AbstractEventLoop) -> PauseWatch | None:
    """A watch of ``loop`` if ``GPUX_LOOP_PAUSE_MS`` is set (it starts in the loop's
    thread, from any thread), else None."""
    threshold = os.environ.get(ENV)
    if not threshold:
        return None
    watch = PauseWatch(loop, float(threshold) / 1e3)
    loop.call_soon_threadsafe(watch.start)
    return watch


def _stack(frame) -> str:
    """The innermost frames of a stack, innermost first, ``function (file:line)``, and the
    innermost frame of the ``exchange`` package if none of them is."""
    parts: list[str] = []
    ours = False
    while frame is not None:
        code = frame.f_code
        mine = f"{_PACKAGE}/" in code.co_filename
        if len(parts) < _FRAMES or (mine and not ours):
            parts.append(("| " if len(parts) >= _FRAMES else "")
                         + f"{code.co_name} ({Path(code.co_filename).name}:{frame.f_lineno})")
        ours = ours or mine
        if len(parts) > _FRAMES or (len(parts) == _FRAMES and ours):
            break
        frame = frame.f_back
    return " < ".join(parts)


class PauseWatch:
    """A loop's heartbeat, the watcher thread that samples the loop when it is late, and
    the full collections timed by a ``gc`` callback (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        self.loop = loop
        self.threshold = threshold
        self.pauses = 0
        """Pauses logged so far."""
        self._due = 0.0  # monotonic time the next heartbeat is due
        self._cpu = 0.0  # the loop thread's CPU time at the last heartbeat
        self._samples: collections.deque[tuple[float, str]] = collections.deque(maxlen=4096)
        self._collections: collections.deque[tuple[float, float]] = collections.deque(maxlen=256)
        self._gc_started = 0.0
        self._stop = threading.Event()
        self._thread_id = 0

    def start(self) -> None:
        """Start the heartbeat (in the loop's thread), the watcher and the gc timing."""
        self._thread_id = threading.get_ident()
        self._due = time.monotonic() + BEAT
        self._cpu = time.thread_time()
        self.loop.call_later(BEAT, self._beat)
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._watch, name="gpux-pause-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def _gc(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.monotonic()
        else:
            self._collections.append((self._gc_started, time.monotonic() - self._gc_started))

    def _beat(self) -> None:
        """In the loop: log a pause if this beat is late by more than the threshold."""
        now, cpu = time.monotonic(), time.thread_time()
        late = now - self._due
        if late > self.threshold:
            self._report(self._due, late, cpu - self._cpu)
        self._due, self._cpu = now + BEAT, cpu
        if not self._stop.is_set():
            self.loop.call_later(BEAT, self._beat)

    def _watch(self) -> None:
        """In the watcher thread: sample the loop thread's stack while its beat is late."""
        while not self._stop.wait(SAMPLE):
            due = self._due
            if time.monotonic() - due > SAMPLE:
                frame = sys._current_frames().get(self._thread_id)
                if frame is not None:
                    self._samples.append((time.monotonic(), _stack(frame)))

    def _report(self, since: float, late: float, cpu: float) -> None:
        # list() copies a deque in one step under the GIL; iterating it in Python here would
        # meet the watcher's appends ("deque mutated during iteration", which ended the beat)
        stacks = collections.Counter(stack for t, stack in list(self._samples) if t >= since)
        collections_ms = [1e3 * took for started, took in list(self._collections) if started + took >= since]
        self._samples.clear()
        self.pauses += 1
        gc_text = (f"{len(collections_ms)} full gc, {sum(collections_ms):.0f} ms"
                   if collections_ms else "no full gc")
        seen = "; ".join(f"{n}x {stack}" for stack, n in stacks.most_common(3)) or "no sample"
        log.warning("event loop paused %.0f ms (loop thread CPU %.0f ms, %s): %s", 1e3 * late, 1e3 * cpu,
                    gc_text, seen)
