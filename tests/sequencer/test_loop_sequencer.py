"""LoopSequencer: what only a sequencer driven by an event loop does (test_sequencer.py
runs every shared rule on both drivers)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from exchange.journal import FileJournal
from exchange.schema import EventKind as EV
from exchange.sequencer import ExchangeNode, SequencerStoppedError, SyncPolicy, loop as loop_module
from tests.sequencer.test_sequencer import clock, flow, start_market


def open_node(path) -> ExchangeNode:
    return ExchangeNode.open(path, clock=clock, sync=SyncPolicy.OS)


def test_a_loop_turns_submissions_are_one_group_and_a_cancelled_one_is_dropped(tmp_path):
    """LoopSequencer: what the loop submits in one turn is journaled as one record; a
    submission cancelled before the turn ends never reaches the journal."""
    async def run() -> None:
        node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=asyncio.get_running_loop())
        await asyncio.to_thread(start_market, node)
        batches = [flow(10, seed=i, base=1000 * (i + 1)) for i in range(5)]
        futures = [node.sequencer.submit_async(b) for b in batches]
        futures[2].cancel()
        kept = batches[:2] + batches[3:]
        results = await asyncio.gather(*futures[:2], *futures[3:])
        for batch, events in zip(kept, results):  # each gets the events of its own commands
            assert set(events["clord"][events["kind"] == EV.ACCEPTED]) <= set(batch["clord"].tolist())
        read = await node.sequencer.call_async(lambda s: s.last_seq)
        assert read == results[-1]["seq"].max()
        await asyncio.to_thread(node.close)
        last = list(FileJournal(tmp_path / "journal").groups())[-1]
        assert len(last) == 40 and np.array_equal(last["clord"], np.concatenate(kept)["clord"])
    asyncio.run(run())


def _closed_loop_callers(tmp_path, monkeypatch, *, callers: int, rounds: int, first_turns) -> list[int]:
    """Group sizes of ``callers`` closed-loop callers, ``rounds`` orders each, then a lone
    order: caller i starts after ``first_turns(i)`` loop turns and comes back i turns after
    each answer. The hold is widened to 0.5 s so that a busy machine's stall between two
    callers' turns cannot end it."""
    monkeypatch.setattr(loop_module, "MOST_HOLD", 0.5)

    async def run() -> list[int]:
        node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=asyncio.get_running_loop())
        await asyncio.to_thread(start_market, node)
        started = node.sequencer.state.last_seq
        orders = [[flow(1, seed=100 * i + r, base=10_000 * (i + 1) + 100 * r) for r in range(rounds)]
                  for i in range(callers)]

        async def caller(i: int) -> None:
            for r, batch in enumerate(orders[i]):
                for _ in range(first_turns(i) if r == 0 else i):
                    await asyncio.sleep(0)
                await node.sequencer.submit_async(batch)
        await asyncio.gather(*(caller(i) for i in range(callers)))
        lone = await node.sequencer.submit_async(flow(1, seed=999, base=900_000))
        assert len(lone)
        await asyncio.to_thread(node.close)
        return [len(g) for g in FileJournal(tmp_path / "journal").groups() if g["seq"][0] > started]
    return asyncio.run(run())


def test_callers_coming_back_in_different_turns_share_one_group_per_round(tmp_path, monkeypatch):
    """LoopSequencer (GROUP): closed-loop callers that submit again once answered, each a
    few loop turns later than the others, are held together in one group per round
    instead of the first of them taking a sync of its own (without the hold: 8, then 1,
    7, 1, 7, ...); a lone submission is still answered (held at most MOST_HOLD)."""
    sizes = _closed_loop_callers(tmp_path, monkeypatch, callers=8, rounds=6, first_turns=lambda i: 0)
    assert sizes == [8] * 6 + [1]


def test_callers_split_over_two_groups_come_together_again(tmp_path, monkeypatch):
    """LoopSequencer (GROUP): callers that started apart (the first of them alone, as
    nothing was outstanding yet to hold for) go as whole groups from the next rounds on:
    the hold waits for as many callers as were last seen outstanding at once, so those
    answered and still on their way back count. (Counting only the submissions answered
    since the last group kept two part groups taking turns for good under load: 1, 4, 5,
    5, 6, 6, 6, 6, 5, 4, 1.)"""
    rounds = 10
    sizes = _closed_loop_callers(tmp_path, monkeypatch, callers=8, rounds=rounds, first_turns=lambda i: i)
    assert sum(sizes) == 8 * rounds + 1 and sizes[-1] == 1
    assert sizes.count(8) >= rounds - 3, sizes


def test_callers_that_left_cost_one_hold_then_a_lone_caller_goes_at_once(tmp_path, monkeypatch):
    """LoopSequencer (GROUP): after 8 callers stop, the first lone submission waits out
    the hold (MOST_HOLD) for them, and the hold that ran out forgets them: the next lone
    submission is not held."""
    monkeypatch.setattr(loop_module, "MOST_HOLD", 2.0)

    async def run() -> tuple[float, float]:
        node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=asyncio.get_running_loop())
        await asyncio.to_thread(start_market, node)
        await asyncio.gather(*(node.sequencer.submit_async(flow(1, seed=i, base=10_000 * (i + 1)))
                               for i in range(8)))
        took = []
        for i in range(2):
            started = time.perf_counter()
            await node.sequencer.submit_async(flow(1, seed=900 + i, base=900_000 + 1000 * i))
            took.append(time.perf_counter() - started)
        await asyncio.to_thread(node.close)
        return took[0], took[1]
    first, second = asyncio.run(run())
    assert first >= 2.0 and second < 2.0, (first, second)


def test_a_thread_submission_that_returned_comes_before_what_the_loop_submits_after(tmp_path):
    """LoopSequencer: other threads' items wait in an inbox the loop empties before it
    takes its own, so a later loop read sees the thread's commands and a later loop
    submission gets later seqs."""
    async def run() -> None:
        node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=asyncio.get_running_loop())
        await asyncio.to_thread(start_market, node)
        sequencer = node.sequencer
        for i in range(20):
            from_thread = await asyncio.to_thread(sequencer.submit, flow(5, seed=i, base=1000 * (i + 1)))
            read = sequencer.call_async(lambda s: s.last_seq)
            own = sequencer.submit_async(flow(5, seed=50 + i, base=100_000 + 1000 * i))
            thread_events = await asyncio.wrap_future(from_thread)
            assert await read >= thread_events["seq"].max()
            assert (await own)["seq"].min() > thread_events["seq"].max()
        await asyncio.to_thread(node.close)
    asyncio.run(run())


def test_stopping_after_the_loop_stopped_fails_what_no_loop_will_run(tmp_path):
    """LoopSequencer: once its loop no longer runs, stop() ends at once and what other
    threads submitted fails instead of waiting forever; later submissions fail at once."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=loop)
    start_market(node)
    loop.call_soon_threadsafe(loop.stop)
    runner.join(10)
    stranded = node.submit(flow(5, seed=1, base=1000))
    read = node.sequencer.call(lambda s: s.last_seq)
    node.close()
    for future in (stranded, read):
        with pytest.raises(SequencerStoppedError):
            future.result(5)
    with pytest.raises(SequencerStoppedError):
        node.submit(flow(5, seed=2, base=2000)).result(5)
    loop.close()
    again = open_node(tmp_path)  # closed cleanly: the journal reopens (threaded driver)
    again.close()


def test_a_submission_to_a_closed_loop_fails_at_once(tmp_path):
    """LoopSequencer: once its loop is closed nothing can run the work, so a thread's
    submission fails at once instead of waiting for its timeout."""
    async def run() -> ExchangeNode:
        node = ExchangeNode.open(tmp_path, clock=clock, sync=SyncPolicy.GROUP, loop=asyncio.get_running_loop())
        await asyncio.to_thread(start_market, node)
        return node
    node = asyncio.run(run())  # the loop ends and is closed with the node still open
    with pytest.raises(SequencerStoppedError, match="event loop is closed"):
        node.submit(flow(5, seed=1, base=1000)).result(5)
    node.close()
