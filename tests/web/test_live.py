"""The page's live feed: one read of the market per wake-up, whatever the number of
clients; changed rows only, whole; a slow client dropped, the others served."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from exchange.gateway.services import Exchange
from exchange.web import live
from exchange.web.live import CLOSED, LIVE_FIELDS, LiveFeed


class FakeExchange:
    """What the feed uses of the gateway's Exchange: the per-group wake-up and read()."""

    def __init__(self, instruments: int) -> None:
        self.book_changed = asyncio.Condition()
        self.notified_seq = self.book_streams = self.reads = self.seq = 0
        self.rows = np.zeros((instruments, len(LIVE_FIELDS)), np.int64)

    applied_after = Exchange.applied_after  # the gateway's own wait for the next applied group

    async def read(self, work):
        self.reads += 1
        return self.rows.copy(), self.seq

    async def group(self, **changes: int) -> None:
        """A group applied: the asks of some instruments change, then the wake-up."""
        for name, price in changes.items():
            self.rows[int(name[1:]), LIVE_FIELDS.index("ask")] = price
        self.seq += 1
        self.notified_seq = self.seq
        async with self.book_changed:
            self.book_changed.notify_all()


def cells(ids, rows):
    return [[i, *row] for i, row in zip(ids.tolist(), rows.tolist())]


async def _published(feed: LiveFeed, n: int) -> None:
    """Wait (bounded) until the feed has sent ``n`` messages."""
    for _ in range(1000):
        if feed.messages >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the feed sent {feed.messages} messages, not {n}")


async def _drain(queue: asyncio.Queue) -> list:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_one_read_per_wake_up_for_any_number_of_clients():
    async def scenario():
        x = FakeExchange(4)
        feed = LiveFeed(x, cells, min_interval=0.05)
        queues = [feed.subscribe() for _ in range(50)]
        rows, seq = await feed.current()  # the first picture: the feed's baseline read
        assert x.book_streams == 1 and x.reads == 1 and seq == 0
        for price in (1800, 1801, 1802):  # three groups before the feed looks again: coalesced
            await x.group(i2=price)
        await _published(feed, 1)
        sent = feed.messages
        await x.group(i0=900)
        await _published(feed, sent + 1)
        messages = [await _drain(q) for q in queues]
        assert all(m == messages[0] for m in messages)  # every client, the same messages
        decoded = [json.loads(m) for m in messages[0]]
        assert x.reads == 1 + len(decoded) <= 4  # one read per wake-up, never per client
        ask = 1 + LIVE_FIELDS.index("ask")  # a cell: id, then the row
        assert decoded[-1]["seq"] == 4 and [c[0] for c in decoded[-1]["cells"]] == [0]
        assert [c[ask] for m in decoded for c in m["cells"] if c[0] == 2][-1] == 1802  # whole rows, latest
        for q in queues:
            feed.unsubscribe(q)
        assert x.book_streams == 0 and feed._task is None

    asyncio.run(scenario())


def test_a_slow_client_is_dropped_and_told(monkeypatch):
    monkeypatch.setattr(live, "QUEUE_MESSAGES", 2)

    async def scenario():
        x = FakeExchange(3)
        feed = LiveFeed(x, cells, min_interval=0.01)
        slow, quick = feed.subscribe(), feed.subscribe()
        await feed.current()
        received = []
        for price in range(1, 6):
            await x.group(i1=price)
            await _published(feed, price)
            received += await _drain(quick)
        assert slow not in feed.clients and quick in feed.clients
        assert await _drain(slow) == [CLOSED]  # its stream ends; the browser reconnects
        assert len(received) == 5
        await feed.close()
        assert await _drain(quick) == [CLOSED] and x.book_streams == 0

    asyncio.run(scenario())
