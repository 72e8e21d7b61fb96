"""Journal and snapshot store: round trips, torn tails, corruption, EIO, power loss,
segments missing or renamed, reads in whole records (the record format itself:
``test_records.py``)."""

from __future__ import annotations

import errno
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.journal import (
    FileJournal,
    FileOps,
    JournalCorruptError,
    JournalFailedError,
    Snapshot,
    SnapshotStore,
    snapshots,
)
from tests.faults import FailingOps, PowerLossOps
from tests.journal.batches import fill, read_all, sequenced


def test_round_trip_across_segments(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=1024)
    written = np.concatenate(fill(journal, [1, 7, 50, 3, 100, 2] * 3))
    journal.close()
    reopened = FileJournal(tmp_path / "j")
    assert len(reopened.segments()) > 3
    assert reopened.last_seq == len(written) and reopened.torn_tail is None
    assert read_all(reopened).tobytes() == written.tobytes()
    # reading from a seq inside a record and inside a later segment
    for after in (0, 1, 5, 60, len(written) - 1, len(written)):
        assert read_all(reopened, after).tobytes() == written[written["seq"] > after].tobytes()


def test_bytes_after_a_seq_count_whole_segments_after_it_and_part_of_the_one_holding_it(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=1024)
    fill(journal, [1, 7, 50, 3, 100, 2] * 3)
    journal.close()
    reopened = FileJournal(tmp_path / "j")
    sizes = [p.stat().st_size for p in reopened.segments()]
    firsts = [int(p.name.split(".")[0]) for p in reopened.segments()]
    assert reopened.bytes_after(0) == sum(sizes) and reopened.bytes_after(reopened.last_seq) == 0
    assert reopened.bytes_after(firsts[2] - 1) == sum(sizes[2:])  # a segment boundary: exact
    inside = reopened.bytes_after(firsts[2] + 1)  # two commands into segment 2: a share of it
    assert sum(sizes[3:]) < inside < sum(sizes[2:])


def test_append_continues_after_reopen_and_rejects_gaps(tmp_path):
    journal = FileJournal(tmp_path / "j")
    fill(journal, [3])
    journal.close()
    journal = FileJournal(tmp_path / "j")
    with pytest.raises(ValueError, match="from 4"):
        journal.append(sequenced(5, 2))
    fill(journal, [2])
    assert [int(s) for s in read_all(journal)["seq"]] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("cut", [1, 3, 4, 20, 29, 33, 100])
def test_torn_tail_is_truncated_and_reported(tmp_path, cut):
    journal = FileJournal(tmp_path / "j")
    written = fill(journal, [5, 6, 7])
    journal.close()
    segment = journal.segments()[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[:-cut])
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail is not None and reopened.torn_tail.segment == segment.name
    assert reopened.last_seq == 11
    assert read_all(reopened).tobytes() == np.concatenate(written[:2]).tobytes()
    fill(reopened, [4])  # appending goes on after the cut
    assert FileJournal(tmp_path / "j").last_seq == 15


def test_zero_filled_tail_is_torn(tmp_path):
    journal = FileJournal(tmp_path / "j")
    fill(journal, [5])
    journal.close()
    segment = journal.segments()[-1]
    with open(segment, "ab") as f:
        f.write(bytes(4096))
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail.dropped_bytes == 4096 and reopened.last_seq == 5


def test_flipped_byte_in_the_middle_is_refused_with_segment_and_offset(tmp_path):
    journal = FileJournal(tmp_path / "j")
    fill(journal, [5, 6, 7])
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
    fill(journal, [30] * 6)
    journal.close()
    first = journal.segments()[0]
    data = bytearray(first.read_bytes())
    data[-10] ^= 1
    first.write_bytes(bytes(data))
    reopened = FileJournal(tmp_path / "j")  # only the newest segment is scanned on open
    with pytest.raises(JournalCorruptError, match=first.name):
        read_all(reopened)


def test_fsync_error_poisons_the_journal(tmp_path):
    journal = FileJournal(tmp_path / "j", ops=FailingOps(fail_at=3))
    fill(journal, [2, 2])
    journal.append(sequenced(5, 2))
    with pytest.raises(JournalFailedError, match="fsync"):
        journal.sync()
    with pytest.raises(JournalFailedError):
        journal.append(sequenced(7, 1))
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
        batch = sequenced(journal.last_seq + 1, n, tag=len(appended))
        journal.append(batch)
        appended.append(batch)
        if sync:
            journal.sync()
            synced = journal.last_seq
    ops.power_loss(random.Random(seed))
    reopened = FileJournal(path)
    assert reopened.last_seq >= synced
    everything = np.concatenate(appended)
    assert read_all(reopened).tobytes() == everything[: reopened.last_seq].tobytes()


def _snapshot(seq: int) -> Snapshot:
    return Snapshot(seq, {"a": np.arange(seq, seq + 100, dtype=np.int64).reshape(10, 10)}, {"seq": seq})


def test_a_streamed_snapshot_is_the_file_encode_gives_and_a_failed_write_leaves_the_previous(tmp_path):
    big = Snapshot(7, {"a": np.arange(3 * (1 << 21), dtype=np.int64).reshape(-1, 3),  # 48 MiB: several chunks
                       "empty": np.zeros((0, 4), np.int64), "strided": np.arange(10, dtype=np.int64)[::3]},
                   {"seq": 7, "note": "é"})
    ops = PowerLossOps()
    store = SnapshotStore(tmp_path / "s", ops)
    path = store.write(big)
    assert path.read_bytes() == snapshots.encode(big) and ops.synced[path] == path.stat().st_size
    for loaded in (snapshots.decode(path.name, path.read_bytes()), snapshots.decode("mem", snapshots.encode(big))):
        assert loaded.seq == 7 and loaded.meta == big.meta
        assert {k: v.tolist() for k, v in loaded.arrays.items()} == {k: v.tolist() for k, v in big.arrays.items()}

    class Fails(FileOps):  # the disk fails in the middle of the next snapshot's payload
        writes = 0

        def write(self, f, data):
            if str(f.name).endswith(".snapshot.tmp"):
                self.writes += 1
                if self.writes == 4:
                    raise OSError(errno.EIO, "input/output error")
            super().write(f, data)

    failing = SnapshotStore(tmp_path / "s", Fails())
    with pytest.raises(OSError, match="input/output"):
        failing.write(Snapshot(9, big.arrays, {"seq": 9}))
    assert [p.name for p in failing.files()] == [path.name]  # only a temp file was left beside it
    loaded, report = failing.latest()
    assert loaded.seq == 7 and not report.skipped


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
    journal = FileJournal(tmp_path / "j", segment_bytes=400)
    fill(journal, [20] * 8)
    journal.close()
    segments = journal.segments()
    assert len(segments) >= 4
    segments[1].unlink()
    reopened = FileJournal(tmp_path / "j")
    with pytest.raises(JournalCorruptError, match="missing"):
        read_all(reopened)
    first_of_third = int(segments[2].name[:20])
    with pytest.raises(JournalCorruptError, match="missing"):  # from a snapshot inside the gap
        read_all(reopened, first_of_third - 5)
    assert len(read_all(reopened, first_of_third - 1)) > 0  # a snapshot past the gap is fine


def test_a_renamed_segment_is_refused(tmp_path):
    journal = FileJournal(tmp_path / "j", segment_bytes=400)
    fill(journal, [20] * 4)
    journal.close()
    first = journal.segments()[0]
    first.rename(first.with_name(f"{0:020d}.journal"))
    with pytest.raises(JournalCorruptError, match="named for"):
        read_all(FileJournal(tmp_path / "j"))


def test_read_joins_small_records_and_groups_gives_them_back(tmp_path):
    journal = FileJournal(tmp_path / "j")
    sizes = [1, 2, 3, 4] * 50
    written = fill(journal, sizes)
    assert len(list(journal.read())) == 1  # one batch for the replay, not 200
    assert [len(g) for g in journal.groups()] == sizes
    assert all(g.tobytes() == w.tobytes() for g, w in zip(journal.groups(), written))
    for after in (0, 1, 2, 250, 499, 500):
        expected = np.concatenate(written)
        assert read_all(journal, after).tobytes() == expected[expected["seq"] > after].tobytes()


def test_large_reads_come_in_whole_records_of_about_read_batch_commands(tmp_path, monkeypatch):
    from exchange.journal import segments

    monkeypatch.setattr(segments, "READ_BATCH", 100)
    journal = FileJournal(tmp_path / "j")
    written = np.concatenate(fill(journal, [30] * 10 + [250] + [1] * 7))
    lengths = [len(b) for b in journal.read()]
    assert lengths == [120, 90, 90, 250, 7] and read_all(journal).tobytes() == written.tobytes()
