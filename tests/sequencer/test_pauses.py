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
    monkeypatch.setenv(pauses.ENV, "50")

    async def run() -> pauses.PauseWatch:
        watch = pauses.from_environment(asyncio.get_running_loop())
        assert watch is not None
        await asyncio.sleep(0.05)  # beats on time: nothing logged
        assert watch.pauses == 0
        gc.collect()
        _hold_the_loop(0.15)
        await asyncio.sleep(0.05)
        watch.stop()
        return watch

    with caplog.at_level(logging.WARNING, logger="gpux.pauses"):
        watch = asyncio.run(run())
    assert watch.pauses == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "gpux.pauses"]
    took = float(line.split("paused ")[1].split(" ms")[0])
    assert 140 <= took < 1000 and " full gc, " in line and "_hold_the_loop (test_pauses.py" in line
    assert watch._gc not in gc.callbacks  # stopped


def test_off_unless_asked(monkeypatch) -> None:
    monkeypatch.delenv(pauses.ENV, raising=False)
    loop = asyncio.new_event_loop()
    try:
        assert pauses.from_environment(loop) is None
    finally:
        loop.close()

