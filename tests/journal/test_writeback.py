"""Write-behind (exchange.journal.writeback): the write-back of an appended file started
in steps, from a thread of its own, never ahead of what was appended."""

from __future__ import annotations

import os
import threading

from exchange.journal import writeback
from exchange.journal.writeback import WriteBehind


def test_steps_cover_what_was_appended_in_order(tmp_path, monkeypatch):
    calls: list[tuple[int, int]] = []
    wrote = threading.Event()

    def record(fd: int, start: int, end: int) -> None:
        calls.append((start, end))
        wrote.set()

    monkeypatch.setattr(writeback, "write_back", record)
    fd = os.open(tmp_path / "log", os.O_RDWR | os.O_CREAT)
    behind = WriteBehind(fd, 100, "test", step=1000)
    behind.grew(900)  # less than a step new: nothing started, not even the thread
    assert behind._thread is None
    behind.grew(1100)
    assert wrote.wait(10)
    wrote.clear()
    behind.grew(1500)  # less than a step since the last: nothing
    behind.grew(2100)
    assert wrote.wait(10)
    behind.close()
    behind.close()  # a second close does nothing
    os.close(fd)
    assert calls[0] == (100, 1100)
    assert calls[-1][1] == 2100
    assert all(a[1] == b[0] for a, b in zip(calls, calls[1:]))  # contiguous, no range twice


def test_write_back_of_a_real_file(tmp_path):
    fd = os.open(tmp_path / "log", os.O_RDWR | os.O_CREAT)
    behind = WriteBehind(fd, 0, "test", step=4096)
    for _ in range(8):
        os.write(fd, bytes(4096))
        behind.grew(os.lseek(fd, 0, os.SEEK_CUR))
    behind.close()
    assert os.fstat(fd).st_size == 8 * 4096
    os.close(fd)


def test_a_failed_write_back_is_logged_and_the_thread_goes_on(tmp_path, monkeypatch, caplog):
    calls: list[tuple[int, int]] = []
    first, second = threading.Event(), threading.Event()

    def fail_first(fd: int, start: int, end: int) -> None:
        calls.append((start, end))
        (second if first.is_set() else first).set()
        if len(calls) == 1:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(writeback, "write_back", fail_first)
    behind = WriteBehind(-1, 0, "test", step=10)
    behind.grew(10)
    assert first.wait(10)
    behind.grew(20)
    assert second.wait(10)
    behind.close()
    assert calls == [(0, 10), (10, 20)]
    assert "write-back of bytes 0..10 failed" in caplog.text
