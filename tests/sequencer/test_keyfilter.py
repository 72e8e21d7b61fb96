"""The order history's Bloom filter (issue 14): a write adds its keys in place, the filter
is saved after the write and a failed save is due again, an open uses a saved filter
only when it is whole and covers the first files of the chain, a dropped filter gives
its memory back, and the filter grows by a successor filled a few files a write, which a
key column damaged since the open drops without failing the writes."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.journal import FileOps
from exchange.sequencer import history as history_module, keyfilter as keyfilter_module
from exchange.sequencer.history import COLUMNS, HistoryError, OrderHistory, Segment
from exchange.sequencer.keyfilter import FILTER, KeyFilter


def _saved_history(tmp_path: Path, monkeypatch, files: int = 3) -> np.ndarray:
    """A history of ``files`` files (seqs 10, 20, ...) whose filter was saved at each
    retirement; its rows."""
    monkeypatch.setattr(history_module, "SAVE_EVERY", 1)
    history = OrderHistory.open(tmp_path, None, 0)
    rows = np.arange(files * 4 * len(COLUMNS), dtype=np.int64).reshape(files * 4, len(COLUMNS)) + 1
    for i in range(files):
        history.install(*history.write(rows[4 * i:4 * i + 4], 10 * (i + 1)))
        history.after_write(4)  # as the sequencer: the save after the write
    assert (tmp_path / FILTER).exists() and history.saved_keys == 4 * files
    history.close()
    return rows


def test_a_write_adds_its_keys_to_the_filter_in_use(tmp_path: Path, monkeypatch) -> None:
    """No copy of the filter per write: its keys are not found until the file is
    installed, and a write that failed leaves the counts as they were and no bit the next
    one does not set: the counts and bits are those of the files installed."""
    history = OrderHistory.open(tmp_path, None, 0)
    rows = np.arange(12 * len(COLUMNS), dtype=np.int64).reshape(12, len(COLUMNS)) + 1
    history.install(*history.write(rows[:4], 10))
    bits = history.filter.bits
    segment, keys = history.write(rows[4:8], 20)
    assert keys is history.filter and keys.bits is bits
    assert not history.contains(rows[4:8, 0]).any()  # written, not installed: not found
    history.install(segment, keys)

    def full_disk(*_: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(OrderHistory, "_hand_over", full_disk)  # fails after its file is written
    with pytest.raises(OSError, match="no space"):
        history.write(rows[8:], 30)
    assert (history.filter.keys, history.filter.files, history.filter.through) == (8, 2, 20)
    monkeypatch.undo()
    history.install(*history.write(rows[8:], 30))
    assert history.contains(rows[:, 0]).all() and not history.contains(rows[:, 0] + 1000).any()
    assert (history.filter.keys, history.filter.files, history.filter.through) == (12, 3, 30)
    assert np.array_equal(history.filter.bits, KeyFilter.of(history.segments).bits)


def test_the_filter_is_saved_after_the_write_and_a_failed_save_is_due_again(tmp_path: Path, monkeypatch) -> None:
    """The save (16-32 MiB and an fsync) is not inside the write, whose FORGET_DONE waits
    for it; a save that failed is made after the next write."""
    monkeypatch.setattr(history_module, "SAVE_EVERY", 4)
    history = OrderHistory.open(tmp_path, None, 0)
    rows = np.arange(12 * len(COLUMNS), dtype=np.int64).reshape(12, len(COLUMNS)) + 1
    history.install(*history.write(rows[:4], 10))
    assert not (tmp_path / FILTER).exists()  # due, not saved by the write

    def full_disk(*_: object) -> None:
        raise OSError("no space left on device")

    with monkeypatch.context() as failing:
        failing.setattr(history_module, "save_filter", full_disk)
        with pytest.raises(OSError, match="no space"):
            history.after_write(4)
    assert history.saved_keys == 0 and not (tmp_path / FILTER).exists()
    history.install(*history.write(rows[4:6], 20))
    history.after_write(2)
    assert history.saved_keys == 6 and (tmp_path / FILTER).exists()
    history.install(*history.write(rows[6:8], 30))
    history.after_write(2)  # 2 keys since the save: none due
    assert history.saved_keys == 6
    opened = OrderHistory.open(tmp_path, None, 30)
    assert opened.filter.keys == 8 and opened.contains(rows[:8, 0]).all()


_DROPPED_FILTER = """
from pathlib import Path

from exchange.gateway import keep_freed_memory
from exchange.sequencer.keyfilter import KeyFilter

def resident():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

keep_freed_memory()
keys = KeyFilter.of([], extra=1 << 22)  # 8 MiB of words
keys.bits[:] = 1
held = resident()
del keys
print(held - resident())
"""


@pytest.mark.slow  # a fresh interpreter: gpux serve's malloc settings are the process's
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_dropped_filter_gives_its_memory_back_in_a_server_that_keeps_freed_memory() -> None:
    """A filter rebuilt at double size lets the old one's room go (a heap block of its size
    stayed with a server that keeps freed memory)."""
    done = subprocess.run([sys.executable, "-c", _DROPPED_FILTER], capture_output=True, text=True, timeout=120,
                          check=True)
    assert int(done.stdout) >= 7 << 20, done.stdout


def _reads_of_keys(monkeypatch) -> list[str]:
    """The files whose key column is read from now on, once per read."""
    reads: list[str] = []
    original = Segment.keys
    monkeypatch.setattr(Segment, "keys", lambda self: reads.append(self.path.name) or original(self))
    return reads


def test_an_open_uses_the_saved_filter_and_reads_each_key_column_once(tmp_path: Path, monkeypatch) -> None:
    rows = _saved_history(tmp_path, monkeypatch)
    reads = _reads_of_keys(monkeypatch)
    opened = OrderHistory.opening(tmp_path, None, 20)  # the snapshot knows two files; the saved filter covers 3
    opened.follow(30)
    assert opened.saved_keys == opened.filter.keys == 12 and opened.filter.files == 3
    assert sorted(reads) == sorted(s.path.name for s in opened.segments)  # once each: for its own check
    probes = np.concatenate([rows[:, 0], rows[:, 0] + 1000])
    assert opened.contains(probes).tolist() == [True] * 12 + [False] * 12


@pytest.mark.parametrize("spoil, problem", [
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "SHA-256 mismatch"),
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "SHA-256 mismatch"),
    (lambda b: b[:len(b) // 2], "torn"),
    (lambda b: b[:20], "torn, or not a saved filter"),
    (lambda b: b"X" + b[1:], "torn, or not a saved filter"),
])
def test_a_damaged_saved_filter_is_named_and_rebuilt(tmp_path: Path, monkeypatch, caplog, spoil, problem) -> None:
    rows = _saved_history(tmp_path, monkeypatch)
    path = tmp_path / FILTER
    path.write_bytes(spoil(path.read_bytes()))
    reads = _reads_of_keys(monkeypatch)
    opened = OrderHistory.open(tmp_path, None, 30)
    assert f"{path}: {problem}; the filter is rebuilt from every key" in caplog.text
    assert opened.saved_keys == 0 and opened.filter.keys == 12 and len(reads) == 3  # read once all the same
    assert opened.contains(np.concatenate([rows[:, 0], rows[:, 0] + 1000])).tolist() == [True] * 12 + [False] * 12


def test_a_missing_or_stale_saved_filter_is_rebuilt(tmp_path: Path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO, "gpux.history")
    rows = _saved_history(tmp_path, monkeypatch)
    (tmp_path / FILTER).unlink()
    opened = OrderHistory.open(tmp_path, None, 30)
    assert opened.saved_keys == 0 and opened.contains(rows[:, 0]).all() and FILTER not in caplog.text
    opened.close()  # saved again
    # the last file never forgotten (a crash before its FORGET_DONE): the filter covers a file the chain has not
    opened = OrderHistory.open(tmp_path, None, 20)
    assert "(stale); rebuilt" in caplog.text and opened.saved_keys == 0
    assert opened.contains(rows[:, 0]).tolist() == [True] * 8 + [False] * 4
    opened.close()  # saved for the two files
    # the same seqs with other keys (files replaced): the filter's identity differs, it is not trusted
    saved = (tmp_path / FILTER).read_bytes()
    others = rows[:8].copy()
    others[:, 0] += 5000
    elsewhere = OrderHistory.open(tmp_path / "other", None, 0)
    elsewhere.install(*elsewhere.write(others[:4], 10))
    elsewhere.install(*elsewhere.write(others[4:], 20))
    for path in (tmp_path / "other").glob("orders-*.arrow"):
        path.replace(tmp_path / path.name)
    (tmp_path / FILTER).write_bytes(saved)
    caplog.clear()
    opened = OrderHistory.open(tmp_path, None, 20)
    assert "(stale); rebuilt" in caplog.text
    assert opened.contains(others[:, 0]).all() and not opened.contains(rows[:8, 0]).any()


class _Unsynced(FileOps):
    """File operations without the fsyncs (a test of many small writes)."""

    def fsync(self, f) -> None:
        pass

    def fsync_dir(self, path: Path) -> None:
        pass


@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(1, 16), min_size=40, max_size=160))
def test_the_filter_grows_ahead_a_few_files_a_write(tmp_path_factory, sizes: list[int]) -> None:
    """The double-size successor is filled ahead, :data:`CATCH_UP` x a write's keys of
    older key columns after each write (:meth:`OrderHistory.after_write`), instead of one write
    reading every key column to rebuild the filter (0.3-0.45 s at 8.4 M keys: the soak's
    done orders piled up behind it and doubled the hot tables); the filter in use never
    runs out of room, finds every installed key, and the one handed over has the bits of
    every key at its size."""
    directory = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keyfilter_module, "_MIN_CAPACITY", 256)
        added: list[int] = []  # keys added to any filter
        original = keyfilter_module._bloom_add
        patch.setattr(keyfilter_module, "_bloom_add",
                      lambda bits, keys: added.append(len(keys)) or original(bits, keys))
        history = OrderHistory.open(directory, _Unsynced(), 0)
        rows = np.arange(sum(sizes) * len(COLUMNS), dtype=np.int64).reshape(-1, len(COLUMNS)) + 1
        start, capacities = 0, {history.filter.capacity}
        for i, n in enumerate(sizes):
            added.clear()
            part = rows[start:start + n]
            segment, keys = history.write(part, 10 * (i + 1))
            assert sum(added) <= (2 + history_module.CATCH_UP) * n + max(sizes), (i, added)  # its own to both
            added.clear()
            history.after_write(n)  # as the sequencer: after the write, before or after the install
            if i % 2:
                history.install(segment, keys)
                history.after_write(n)
            assert sum(added) <= history_module.CATCH_UP * n * (1 + i % 2) + 2 * max(sizes), (i, added)
            assert not history.contains(part[:, 0]).any() or i % 2  # written, not installed
            if not i % 2:
                history.install(segment, keys)
            start += n
            assert history.filter.keys == start <= history.filter.capacity
            assert history.contains(rows[:start, 0]).all()
            if history.filter.capacity not in capacities:  # handed over: every key's bits at its size
                capacities.add(history.filter.capacity)
                whole = KeyFilter.empty(history.filter.capacity)
                whole.add(rows[:start, 0])
                assert np.array_equal(history.filter.bits, whole.bits)


def test_a_key_column_damaged_since_the_open_drops_the_successor_not_the_writes(tmp_path: Path, caplog) -> None:
    """The successor is filled from key columns read again, each checked against its
    SHA-256: a file damaged since the open is named, the successor dropped (a filter
    missing its keys would answer "no" for them), and the writes and lookups go on with
    the filter in use, which holds every key."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keyfilter_module, "_MIN_CAPACITY", 256)
        history = OrderHistory.open(tmp_path, _Unsynced(), 0)
        rows = np.arange(210 * len(COLUMNS), dtype=np.int64).reshape(-1, len(COLUMNS)) + 1
        for i in range(39):  # 195 keys: past 3/4 of 256 at the last write, which starts the successor
            history.install(*history.write(rows[5 * i:5 * i + 5], 10 * (i + 1)))
        assert history.successor is not None and history.successor.files == 0
        first = history.segments[0]
        with open(first.path, "r+b") as f:  # one key of the first file's column changed on disk
            f.seek(first._offsets[0])
            f.write(np.int64(10**12).tobytes())
        with pytest.raises(HistoryError, match=f"{first.path.name}: SHA-256 mismatch in its keys"):
            first.keys()
        with caplog.at_level(logging.ERROR, logger="gpux.history"):
            history.after_write(5)
        assert history.successor is None and first.path.name in caplog.text
        history.install(*history.write(rows[195:200], 400))  # starts a successor again, writes go on
        assert history.successor is not None and history.filter.keys == 200
        assert history.filter.maybe(rows[:200, 0]).all()  # the filter in use holds every key
        assert history.contains(rows[5:200, 0]).all() and not history.contains(rows[200:, 0]).any()
