"""The event-loop pause watch (GPUX_LOOP_PAUSE_MS): a stall over the threshold is logged
once, with the stack that held the loop and the full collections during it."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from exchange.sequencer import pauses


def _hold_the_loop(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))


def test_a_stall_is_logged_with_its_stack_and_collections(monkeypatch, caplog) -> None:
    monkeypatch.setenv(pauses.ENV, "100")

    async def run() -> pauses.PauseWatch:
        watch = pauses.from_environment(asyncio.get_running_loop())
        assert watch is not None
        await asyncio.sleep(0.05)
        gc.collect()
        _hold_the_loop(0.4)
        await asyncio.sleep(0.05)
        watch.stop()
        return watch

    with caplog.at_level(logging.WARNING, logger="gpux.pauses"):
        watch = asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records if r.name == "gpux.pauses"]
    assert watch.pauses == len(lines) >= 1  # (a busy machine may stall the loop more)
    [line] = [line for line in lines if "_hold_the_loop (test_pauses.py" in line]
    assert float(line.split("paused ")[1].split(" ms")[0]) >= 390 and " full gc, " in line
    assert watch._gc not in gc.callbacks  # stopped


def test_off_unless_asked(monkeypatch) -> None:
    monkeypatch.delenv(pauses.ENV, raising=False)
    loop = asyncio.new_event_loop()
    try:
        assert pauses.from_environment(loop) is None
    finally:
        loop.close()



def test_a_report_is_not_disturbed_by_samples_the_watcher_adds_meanwhile(caplog) -> None:
    loop = asyncio.new_event_loop()
    watch = pauses.PauseWatch(loop, 0.1)

    class SampledWhileReporting(float):  # the watcher thread appends while the report reads
        def __ge__(self, other):
            watch._samples.append((0.0, "added meanwhile"))
            return True

    watch._samples.append((SampledWhileReporting(1.0), "held here"))
    try:
        with caplog.at_level(logging.WARNING, logger="gpux.pauses"):
            watch._report(0.5, 0.2, 0.01)
    finally:
        loop.close()
    assert watch.pauses == 1 and "1x held here" in caplog.text
