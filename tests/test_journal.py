"""Journal and snapshot store: round trips, torn tails, corruption, EIO, power loss."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.schema import CommandKind, command, commands
from exchange.journal import (
    FileJournal,
    JournalCorruptError,
    JournalFailedError,
    Snapshot,
    SnapshotStore,
)
from tests.faults import FailingOps, PowerLossOps


def _batch(first: int, n: int, tag: int = 0) -> np.ndarray:
    batch = commands(n)
    batch["seq"] = np.arange(first, first + n)
    batch["ts"] = 1_700_000_000_000_000_000 + first
    batch["kind"] = 1
    batch["qty"] = np.arange(n) + tag
    batch["price"] = -np.arange(n)  # negative values must survive too
    return batch


def _fill(journal: FileJournal, sizes: list[int]) -> list[np.ndarray]:
    written = []
    for n in sizes:
        batch = _batch(journal.last_seq + 1, n, tag=len(written))
        journal.append(batch)
        journal.sync()
        written.append(batch)
    return written


def _read_all(journal: FileJournal, after: int = 0) -> np.ndarray:
    parts = list(journal.read(after))
    return np.concatenate(parts) if parts else commands(0)


def test_round_trip_across_segments(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=4096)
    written = np.concatenate(_fill(journal, [1, 7, 50, 3, 100, 2] * 3))
    journal.close()
    reopened = FileJournal(tmp_path / "j")
    assert len(reopened.segments()) > 3
    assert reopened.last_seq == len(written) and reopened.torn_tail is None
    assert _read_all(reopened).tobytes() == written.tobytes()
    # reading from a seq inside a record and inside a later segment
    for after in (0, 1, 5, 60, len(written) - 1, len(written)):
        assert _read_all(reopened, after).tobytes() == written[written["seq"] > after].tobytes()


def test_append_continues_after_reopen_and_rejects_gaps(tmp_path):
    journal = FileJournal(tmp_path / "j")
    _fill(journal, [3])
    journal.close()
    journal = FileJournal(tmp_path / "j")
    with pytest.raises(ValueError, match="from 4"):
        journal.append(_batch(5, 2))
    _fill(journal, [2])
    assert [int(s) for s in _read_all(journal)["seq"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("cut", [1, 20, 39, 41, 100])
def test_torn_tail_is_truncated_and_reported(tmp_path, cut):
    journal = FileJournal(tmp_path / "j")
    written = _fill(journal, [5, 6, 7])
    journal.close()
    segment = journal.segments()[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[:-cut])
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail is not None and reopened.torn_tail.segment == segment.name
    assert reopened.last_seq == 11
    assert _read_all(reopened).tobytes() == np.concatenate(written[:2]).tobytes()
    _fill(reopened, [4])  # appending goes on after the cut
    assert FileJournal(tmp_path / "j").last_seq == 15


def test_zero_filled_tail_is_torn(tmp_path):
    journal = FileJournal(tmp_path / "j")
    _fill(journal, [5])
    journal.close()
    segment = journal.segments()[-1]
    with open(segment, "ab") as f:
        f.write(bytes(4096))
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail.dropped_bytes == 4096 and reopened.last_seq == 5


def test_flipped_byte_in_the_middle_is_refused_with_segment_and_offset(tmp_path):
    journal = FileJournal(tmp_path / "j")
    _fill(journal, [5, 6, 7])
    journal.close()
    segment = journal.segments()[-1]
    data = bytearray(segment.read_bytes())
    data[60] ^= 0x40  # inside the first record's payload
    segment.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as error:
        FileJournal(tmp_path / "j")
    assert error.value.segment == segment.name and error.value.offset == 0
    assert segment.name in str(error.value) and "checksum" in str(error.value)


def test_damage_in_an_older_segment_is_found_when_read(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=2048)
    _fill(journal, [30] * 6)
    journal.close()
    first = journal.segments()[0]
    data = bytearray(first.read_bytes())
    data[-10] ^= 1
    first.write_bytes(bytes(data))
    reopened = FileJournal(tmp_path / "j")  # only the newest segment is scanned on open
    with pytest.raises(JournalCorruptError, match=first.name):
        _read_all(reopened)


def test_fsync_error_poisons_the_journal(tmp_path):
    journal = FileJournal(tmp_path / "j", ops=FailingOps(fail_at=3))
    _fill(journal, [2, 2])
    journal.append(_batch(5, 2))
    with pytest.raises(JournalFailedError, match="fsync"):
        journal.sync()
    with pytest.raises(JournalFailedError):
        journal.append(_batch(7, 1))
    with pytest.raises(JournalFailedError):
        journal.sync()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=25),
       st.integers(0, 2**32))
def test_power_loss_keeps_every_synced_record(tmp_path_factory, steps, seed):
    """After a power cut, the journal reopens to a prefix of what was appended that
    contains everything synced (never a damaged or reordered record)."""
    path = tmp_path_factory.mktemp("pl") / "j"
    ops = PowerLossOps()
    journal = FileJournal(path, ops=ops, segment_bytes=3000)
    appended, synced = [], 0
    for n, sync in steps:
        batch = _batch(journal.last_seq + 1, n, tag=len(appended))
        journal.append(batch)
        appended.append(batch)
        if sync:
            journal.sync()
            synced = journal.last_seq
    ops.power_loss(random.Random(seed))
    reopened = FileJournal(path)
    assert reopened.last_seq >= synced
    everything = np.concatenate(appended)
    assert _read_all(reopened).tobytes() == everything[: reopened.last_seq].tobytes()


def _snapshot(seq: int) -> Snapshot:
    return Snapshot(seq, {"a": np.arange(seq, seq + 100, dtype=np.int64).reshape(10, 10)}, {"seq": seq})


def test_snapshots_load_newest_and_skip_damaged_ones_by_name(tmp_path):
    store = SnapshotStore(tmp_path / "s", keep=3)
    for seq in (10, 20, 30, 40):
        store.write(_snapshot(seq))
    assert [p.name[:20] for p in store.files()] == [f"{s:020d}" for s in (20, 30, 40)]
    snap, report = store.latest()
    assert snap.seq == 40 and snap.meta == {"seq": 40} and np.array_equal(snap.arrays["a"], _snapshot(40).arrays["a"])
    newest, middle = store.files()[-1], store.files()[-2]
    newest.write_bytes(newest.read_bytes()[:-7])  # truncated
    data = bytearray(middle.read_bytes())
    data[len(data) // 2] ^= 1  # flipped
    middle.write_bytes(bytes(data))
    snap, report = store.latest()
    assert snap.seq == 20
    assert [name for name, _ in report.skipped] == [newest.name, middle.name]
    assert "truncated" in report.skipped[0][1] and "SHA-256" in report.skipped[1][1]


def test_a_missing_segment_is_refused_not_skipped(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=1500)
    _fill(journal, [20] * 8)
    journal.close()
    segments = journal.segments()
    assert len(segments) >= 4
    segments[1].unlink()
    reopened = FileJournal(tmp_path / "j")
    with pytest.raises(JournalCorruptError, match="missing"):
        _read_all(reopened)
    first_of_third = int(segments[2].name[:20])
    with pytest.raises(JournalCorruptError, match="missing"):  # from a snapshot inside the gap
        _read_all(reopened, first_of_third - 5)
    assert len(_read_all(reopened, first_of_third - 1)) > 0  # a snapshot past the gap is fine


def test_a_renamed_segment_is_refused(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=1500)
    _fill(journal, [20] * 4)
    journal.close()
    first = journal.segments()[0]
    first.rename(first.with_name(f"{0:020d}.journal"))
    with pytest.raises(JournalCorruptError, match="named for"):
        _read_all(FileJournal(tmp_path / "j"))


def test_records_of_the_v1_command_schema_still_decode():
    """Journals written before commands had contra_account read back with it 0."""
    import pyarrow as pa

    from exchange.journal import records

    batch = command(CommandKind.DEPOSIT_FUNDS, seq=5, account=3, amount=700)
    v1 = records._V1_SCHEMA
    table = pa.RecordBatch.from_arrays([pa.array(batch[name]) for name in v1.names], schema=v1)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, v1) as writer:
        writer.write_batch(table)
    decoded = records.decode(sink.getvalue().to_pybytes(), 1)
    assert decoded.tolist() == batch.tolist() and int(decoded["contra_account"][0]) == 0
    with pytest.raises(ValueError):
        records.decode(sink.getvalue().to_pybytes(), 2)


def _pyarrow_record(batch: np.ndarray) -> bytes:
    """A record as encode wrote it before its per-size templates: pyarrow's IPC writer."""
    import struct
    import zlib

    import pyarrow as pa

    from exchange.journal import records

    n = len(batch)
    columns = np.ascontiguousarray(np.ascontiguousarray(batch).view(np.int64).reshape(n, batch.dtype.itemsize // 8).T)
    table = pa.RecordBatch.from_arrays([pa.array(col) for col in columns], schema=records.COMMAND_SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, records.COMMAND_SCHEMA) as writer:
        writer.write_batch(table)
    payload = sink.getvalue().to_pybytes()
    first = int(batch["seq"][0]) if n else 0
    head = records.HEADER.pack(records.MAGIC, records.VERSION, 0, len(payload), first, n, 0)[:records.HEADER_SIZE - 8]
    return head + struct.pack("<I4x", zlib.crc32(payload, zlib.crc32(head))) + payload


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 63, 64, 65, 100, 999, 4097])
def test_encode_writes_the_bytes_of_the_pyarrow_writer(n):
    """The cached templates change no byte on disk: every column, any int64 value."""
    from exchange.journal import records

    rng = np.random.default_rng(n)
    for fill in ("random", "zeros", "extremes"):
        batch = commands(n)
        matrix = batch.view(np.int64).reshape(n, batch.dtype.itemsize // 8)
        if fill == "random":
            matrix[:] = rng.integers(-2**63, 2**63 - 1, matrix.shape, dtype=np.int64, endpoint=True)
        elif fill == "extremes":
            matrix[:] = np.where(rng.random(matrix.shape) < 0.5, np.iinfo(np.int64).min, np.iinfo(np.int64).max)
        batch["seq"] = np.arange(7, 7 + n)
        encoded = records.encode(batch)
        assert encoded == _pyarrow_record(batch)
        assert records.encode(batch[::-1].copy()[::-1]) == encoded  # a non-contiguous view too
        if n:
            assert records.decode(encoded[records.HEADER_SIZE:], n).tolist() == batch.tolist()


def test_encode_falls_back_to_pyarrow_when_the_template_does_not_fit(monkeypatch):
    from exchange.journal import records

    batch = _batch(1, 4)
    monkeypatch.setattr(records, "_FRAMES", {4: None})
    assert records.encode(batch) == _pyarrow_record(batch)
