"""Iterating on a thread of its own: the stages of a replay (journal reading, the engine)
run ahead of the one that consumes them, each handing its items over a bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], depth: int = 4, name: str = "gpux-read-ahead") -> Generator[T, None, None]:
    """Iterate ``items`` while a thread (called ``name``) makes the next ``depth`` ahead.

    Reading, checksums and decoding overlap with the engine, and the engine with what
    follows it, as far as their kernels release the GIL. An error in the thread is raised
    here, in order, after the items made before it; if the consumer stops early (or
    fails), the thread is told to stop, closes ``items`` (a generator: so a chain of
    these stops too) and exits, releasing its files.
    """
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # handed over in order
            put(error)
            return
        finally:
            close = getattr(items, "close", None)  # a generator stopped early lets go of what it holds
            if close is not None:
                close()
        put(done)

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
