"""The journal's record format (:mod:`exchange.journal.records`) against a reading of its
documented layout: encode/decode, damage named at its record, impossible records, runs
decoded at once, the header finder, and segments of format 1."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.journal import (
    FileJournal,
    JournalCorruptError,
    legacy,
    records,
)
from exchange.schema import COMMAND_FIELDS, CommandKind, command, commands, record_words
from tests.journal.batches import fill, read_all, sequenced

# ---------------------------------------------------------------- the record format

def _reference_decode(record: bytes) -> tuple[np.ndarray, int]:
    """(commands, running CRC-32 after it) of one format-2 record at the start of a
    segment, read field by field as the records module's docstring lays it out."""
    magic, version, words, count, length, first, crc = struct.unpack_from("<4sHHIIqI", record)
    assert (magic, version) == (b"GPXJ", 2) and len(record) == 28 + length + length % 4 + 4
    assert zlib.crc32(record[28:-4], zlib.crc32(record[:24])) == crc
    chain = int.from_bytes(record[-4:], "little")
    assert zlib.crc32(record[:-4]) == chain  # from the segment's first byte
    mask_bytes = (words + 3) // 4 * 2
    payload = record[28:28 + length]
    units = iter(struct.unpack_from(f"<{(length - count * mask_bytes) // 2}H", payload, count * mask_bytes))
    out = commands(count)
    previous_ts = 0
    for i in range(count):
        mask = payload[i * mask_bytes:(i + 1) * mask_bytes]
        values = []
        for field in range(words):
            value = 0
            for k in range(4):
                unit = 4 * field + k
                if mask[unit // 8] >> (unit % 8) & 1:
                    value |= next(units) << (16 * k)
            values.append(value)
        values[0] = (values[0] + (previous_ts if i else 0)) % 2**64  # ts: difference to the previous
        previous_ts = values[0]
        out[i]["seq"] = first + i
        for name, value in zip(COMMAND_FIELDS[1:], values):
            out[i][name] = value - 2**64 if value >= 2**63 else value
    assert next(units, None) is None
    return out, zlib.crc32(record[-4:], chain)


_INT64 = st.integers(-2**63, 2**63 - 1)


@st.composite
def _batches(draw) -> np.ndarray:
    n = draw(st.integers(1, 12))
    batch = commands(n)
    matrix = record_words(batch)
    for column in draw(st.lists(st.integers(1, len(COMMAND_FIELDS) - 1), max_size=8)):
        matrix[:, column] = draw(st.lists(st.one_of(_INT64, st.integers(-3, 70_000)), min_size=n, max_size=n))
    batch["seq"] = np.arange(n) + draw(st.integers(1, 2**40))
    return batch


@pytest.mark.nojit  # the payload kernel as plain Python too (its ts differences wrap, as numba's do)
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar subtract:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar add:RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(_batches(), st.integers(0, 2**32 - 1))
def test_encode_writes_the_documented_layout_and_decode_reads_it(batch, chain):
    record, after = records.encode(batch, 0)
    expected, expected_after = _reference_decode(record)
    assert expected.tobytes() == batch.tobytes() and after == expected_after
    rows, end, running = records.scan(memoryview(record), tail=False)
    assert end == len(record) and running == after
    assert records.decode(memoryview(record), rows).tobytes() == batch.tobytes()
    assert records.encode(batch[::-1].copy()[::-1], chain)[0][:-4] == record[:-4]  # any layout in memory
    assert len(record) % 4 == 0


def test_a_typical_order_takes_under_a_hundred_bytes():
    order = command(CommandKind.NEW_ORDER, seq=123_456_789, ts=1_795_000_000_123_456_789, account=150,
                    instrument=4, side=1, order_type=1, tif=1, stp=1, price=212_500, qty=8, clord=987_654)
    record, _ = records.encode(order, 0)
    assert len(record) == 28 + 10 + 2 * 16 + 2 + 4  # header, mask, 16 nonzero units, padding, chain


def _segment(batches: list[np.ndarray]) -> bytes:
    out, chain = [], 0
    for batch in batches:
        record, chain = records.encode(batch, chain)
        out.append(record)
    return b"".join(out)


def test_a_magic_inside_a_payload_is_read_around(tmp_path):
    """Client-chosen numbers may spell the record magic at an aligned place: reading
    then walks those records one by one, and gets the same commands."""
    journal = FileJournal(tmp_path / "j")
    spell = int.from_bytes(b"GPXJGPXJ", "little")
    written = []
    for shift in range(4):  # one of these puts the magic on a 4-byte boundary
        batch = sequenced(journal.last_seq + 1, 3)
        batch["price"] = batch["qty"] = spell
        batch["account"][:] = (1 << (16 * shift)) - 1  # 0 to 3 nonzero units before the spell
        journal.append(batch)
        written.append(batch)
    written += fill(journal, [5, 6])
    journal.close()
    data = journal.segments()[-1].read_bytes()
    aligned = [at for at in range(0, len(data), 4) if data[at:at + 4] == b"GPXJ"]
    assert len(aligned) > len(written)
    assert read_all(FileJournal(tmp_path / "j")).tobytes() == np.concatenate(written).tobytes()
    segment = journal.segments()[-1]
    segment.write_bytes(data[:-7])  # and a torn tail after them is still cut
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail.segment == segment.name
    assert read_all(reopened).tobytes() == np.concatenate(written[:-1]).tobytes()


def _offsets(segment) -> list[int]:
    rows, _, _ = records.scan(memoryview(segment.read_bytes()), tail=False)
    return rows["offset"].tolist()


@pytest.mark.parametrize("where", ["payload", "crc", "chain"])
def test_damage_inside_a_long_run_is_named_at_its_record(tmp_path, where):
    journal = FileJournal(tmp_path / "j")
    fill(journal, [1, 2, 3, 4] * 30)
    journal.close()
    segment = journal.segments()[-1]
    offsets = _offsets(segment)
    target = offsets[77]
    at = {"payload": target + 30, "crc": target + 25, "chain": offsets[78] - 2}[where]
    data = bytearray(segment.read_bytes())
    data[at] ^= 0x10
    segment.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as error:
        FileJournal(tmp_path / "j")
    assert (error.value.segment, error.value.offset) == (segment.name, target)
    assert "checksum" in str(error.value)


def test_damage_in_the_last_record_is_a_torn_tail(tmp_path):
    journal = FileJournal(tmp_path / "j")
    written = fill(journal, [3] * 20)
    journal.close()
    segment = journal.segments()[-1]
    last = _offsets(segment)[-1]
    data = bytearray(segment.read_bytes())
    data[-2] ^= 1  # its chain
    segment.write_bytes(bytes(data))
    reopened = FileJournal(tmp_path / "j")
    assert reopened.torn_tail.offset == last and reopened.last_seq == 57
    assert read_all(reopened).tobytes() == np.concatenate(written[:-1]).tobytes()


def _rechecked(record: bytes, payload: bytes | None = None, **fields) -> bytes:
    """The first record of a segment with header fields or the payload changed and both
    checksums made right again."""
    names = ("magic", "version", "words", "count", "length", "first")
    values = dict(zip(names, struct.unpack_from("<4sHHIIq", record)))
    payload = record[28:28 + values["length"]] if payload is None else payload
    values.update(length=len(payload), **fields)
    head = struct.pack("<4sHHIIq", *(values[n] for n in names))
    payload += bytes(len(payload) % 4)
    body = head + zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "little") + payload
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize("change, problem", [
    ({"count": 0}, "no commands"),
    ({"words": 40}, "newer gpux"),
    ({"payload": b"\x01\x00\x07\x00"}, "cannot hold"),
])
def test_an_impossible_record_with_good_checksums_is_corruption_never_a_tail(tmp_path, change, problem):
    journal = FileJournal(tmp_path / "j")
    fill(journal, [4])
    journal.close()
    segment = journal.segments()[-1]
    record = segment.read_bytes()
    segment.write_bytes(_rechecked(record, **change))
    with pytest.raises(JournalCorruptError, match=problem) as error:
        FileJournal(tmp_path / "j")
    assert error.value.segment == segment.name and error.value.offset == 0


def test_masks_that_do_not_match_the_payload_are_named_when_read():
    record, _ = records.encode(sequenced(1, 3), 0)
    data = bytearray(record)
    data[28] ^= 0x01  # a mask bit of the first command's first unit: the units no longer add up
    damaged = _rechecked(bytes(data))
    rows, _, _ = records.scan(memoryview(damaged), tail=False)
    with pytest.raises(records.BadRecord, match="masks mark"):
        records.decode(memoryview(damaged), rows)


def test_seqs_out_of_line_between_records_are_named():
    segment = _segment([sequenced(1, 3), sequenced(5, 2)])
    with pytest.raises(records.BadRecord, match="expected seq 4, found 5") as error:
        records.scan(memoryview(segment), tail=True)
    assert error.value.offset == len(records.encode(sequenced(1, 3), 0)[0])


# ---------------------------------------------------------- segments of format 1

def _format1_record(batch: np.ndarray, schema=None) -> bytes:
    """A record as gpux wrote it before format 2: the old writer, kept here only."""
    import pyarrow as pa

    schema = schema or legacy.SCHEMAS["commands/v2"]
    table = pa.RecordBatch.from_arrays([pa.array(batch[name]) for name in schema.names], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(table)
    payload = sink.getvalue().to_pybytes()
    head = legacy.HEADER.pack(b"GPXJ", 1, 0, len(payload), int(batch["seq"][0]), len(batch), 0)[:legacy.HEADER_SIZE - 8]
    return head + struct.pack("<I4x", zlib.crc32(payload, zlib.crc32(head))) + payload


def _format1_journal(path, sizes: list[int], per_segment: int) -> list[np.ndarray]:
    path.mkdir()
    written, seq = [], 1
    for at in range(0, len(sizes), per_segment):
        segment = b""
        for n in sizes[at:at + per_segment]:
            written.append(sequenced(seq, n, tag=len(written)))
            segment += _format1_record(written[-1])
            seq += n
        (path / f"{int(written[at]['seq'][0]):020d}.journal").write_bytes(segment)
    return written


def test_segments_of_format_1_are_read_and_appended_to(tmp_path):
    written = _format1_journal(tmp_path / "j", [3, 1, 4, 1, 5, 9, 2, 6], per_segment=3)
    journal = FileJournal(tmp_path / "j")
    assert journal.last_seq == 31 and journal.torn_tail is None
    assert read_all(journal).tobytes() == np.concatenate(written).tobytes()
    written += fill(journal, [2, 7])  # new records follow the old ones in the newest segment
    journal.close()
    reopened = FileJournal(tmp_path / "j")
    assert len(reopened.segments()) == 3 and reopened.last_seq == 40
    assert read_all(reopened).tobytes() == np.concatenate(written).tobytes()
    assert [g.tobytes() for g in reopened.groups()] == [w.tobytes() for w in written]
    assert read_all(reopened, 20).tobytes() == np.concatenate(written)[20:].tobytes()


def test_a_torn_tail_of_format_1_is_cut_and_damage_named(tmp_path):
    written = _format1_journal(tmp_path / "j", [3, 4, 5], per_segment=3)
    segment = FileJournal(tmp_path / "j").segments()[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[:-9])
    journal = FileJournal(tmp_path / "j")
    assert journal.torn_tail.segment == segment.name and journal.last_seq == 7
    assert read_all(journal).tobytes() == np.concatenate(written[:2]).tobytes()
    damaged = bytearray(segment.read_bytes())
    damaged[50] ^= 1  # the first record's payload; the second is intact
    segment.write_bytes(bytes(damaged))
    with pytest.raises(JournalCorruptError, match="checksum") as error:
        FileJournal(tmp_path / "j")
    assert (error.value.segment, error.value.offset) == (segment.name, 0)


def test_format_1_payloads_of_the_v1_command_schema_still_decode():
    """Journals written before commands had contra_account read back with it 0."""
    batch = command(CommandKind.DEPOSIT_FUNDS, seq=5, account=3, amount=700)
    record = _format1_record(batch, legacy.SCHEMAS["commands/v1"])
    rows, _, _ = records.scan(memoryview(record), tail=False)
    decoded = records.decode(memoryview(record), rows)
    assert decoded.tolist() == batch.tolist() and int(decoded["contra_account"][0]) == 0
    with pytest.raises(ValueError):
        legacy.decode(record[legacy.HEADER_SIZE:], 2)


def test_a_mask_bit_past_the_fields_is_named_when_read():
    record, _ = records.encode(sequenced(1, 2), 0)
    data = bytearray(record)
    data[28 + 10 + 9] |= 0x80  # the second command's mask, unit 79 of 76
    damaged = _rechecked(bytes(data))
    rows, _, _ = records.scan(memoryview(damaged), tail=False)
    with pytest.raises(records.BadRecord, match="past its fields"):
        records.decode(memoryview(damaged), rows)


def test_the_decoder_counts_the_set_bits_of_every_16_bit_unit():
    assert [records._ones16(u) for u in range(1 << 16)] == [bin(u).count("1") for u in range(1 << 16)]


class _DirtyEmpty:
    """numpy, but what ``empty`` gives is full of 0xA5 bytes, as reused memory may be: the
    decoder writes its output into ``np.empty`` and must write every byte of it."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(*args, **kwargs):
        out = np.empty(*args, **kwargs)
        out.view(np.uint8).fill(0xA5)
        return out


@settings(max_examples=60, deadline=None)
@given(st.lists(_batches(), min_size=1, max_size=6))
def test_a_run_of_records_decodes_at_once_to_its_commands_in_order(batches):
    first = 1
    for batch in batches:  # seqs in line across the records
        batch["seq"] = np.arange(first, first + len(batch))
        first += len(batch)
    segment = memoryview(_segment(batches))
    rows, _, _ = records.scan(segment, tail=False)
    assert records.decode(segment, rows).tobytes() == np.concatenate(batches).tobytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "np", _DirtyEmpty())
        assert records.decode(segment, rows).tobytes() == np.concatenate(batches).tobytes()


def test_damaged_masks_are_named_at_their_record_within_a_run():
    batches = [sequenced(1, 3), sequenced(4, 2), sequenced(6, 4)]
    second = bytearray(records.encode(batches[1], 0)[0])
    second[28] ^= 0x01
    damaged = [records.encode(batches[0], 0)[0], _rechecked(bytes(second)), records.encode(batches[2], 0)[0]]
    segment = memoryview(b"".join(damaged))
    rows = np.zeros(3, records.TABLE_DTYPE)
    rows["offset"] = np.cumsum([0, len(damaged[0]), len(damaged[1])])
    rows["version"], rows["words"], rows["count"], rows["first"] = 2, records.WORDS, [3, 2, 4], [1, 4, 6]
    rows["length"] = [struct.unpack_from("<I", record, 12)[0] for record in damaged]
    with pytest.raises(records.BadRecord, match="masks mark") as error:
        records.decode(segment, rows)
    assert error.value.offset == len(damaged[0])


def test_a_record_with_fewer_fields_decodes_them_and_zeros_the_rest():
    """What a gpux with fields added at the end reads from an older one's records."""
    words = 15
    batch = sequenced(7, 5)
    batch["clord"] = [1, 70_000, -2, 0, 2**40]
    mask_bytes = (words + 3) // 4 * 2
    matrix = record_words(batch)[:, 1:1 + words].copy()
    matrix[1:, 0] -= record_words(batch)[:-1, 1]  # ts: differences to the previous command's
    masks, units = b"", []
    for row in matrix:
        row_units = [(int(value) >> (16 * k)) & 0xFFFF for value in row for k in range(4)]
        mask = sum(1 << i for i, unit in enumerate(row_units) if unit)
        masks += mask.to_bytes(mask_bytes, "little")
        units += [unit for unit in row_units if unit]
    payload = masks + struct.pack(f"<{len(units)}H", *units)
    record = _rechecked(records.encode(batch, 0)[0], payload=payload, words=words)
    rows, _, _ = records.scan(memoryview(record), tail=False)
    assert records.decode(memoryview(record), rows).tobytes() == batch.tobytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "np", _DirtyEmpty())
        assert records.decode(memoryview(record), rows).tobytes() == batch.tobytes()


def _reference_heads(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The headers a segment's magics start, whether each is plausible, and the last of
    each run, said with whole-array numpy operations."""
    words = np.frombuffer(data, "<u4", count=len(data) // 4)
    at = np.flatnonzero(words[:max(len(words) - 7, 0)] == int.from_bytes(b"GPXJ", "little"))
    version_words, count, length, first_low, first_high = words[at + np.arange(1, 6)[:, None]].astype(np.int64)
    version, fields = version_words & 0xFFFF, version_words >> 16
    offset, first = at * 4, first_low | first_high << 32
    ends = offset + 35 + length - (length + 3) % 4
    per_command = (fields + 3) // 4 * 2
    plausible = ((version == 2) & (fields >= 1) & (fields <= records.WORDS) & (count > 0) & (length % 2 == 0)
                 & (ends <= len(data)) & (length >= count * per_command)
                 & (length <= count * (per_command + 8 * fields)))
    follows = plausible[1:] & (ends[:-1] == offset[1:]) & (first[1:] == (first + count)[:-1])
    table = np.stack([offset, version, fields, count, length, first], axis=1) if len(at) else np.zeros((0, 6))
    return table.astype(np.int64), plausible, np.flatnonzero(~np.append(follows, False))[:len(at)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=0, max_size=8), st.lists(st.integers(0, 10_000), max_size=12),
       st.randoms(use_true_random=False))
def test_the_header_finder_reads_every_magic_as_the_reference_does(sizes, spots, rnd):
    """Whole records, magics inside payloads, garbled headers after a magic, a cut end."""
    first, batches = 1, []
    for n in sizes:
        batch = sequenced(first, n)
        batch["clord"] = [rnd.choice([0, int.from_bytes(b"GPXJGPXJ", "little"), rnd.getrandbits(62)])
                          for _ in range(n)]
        batches.append(batch)
        first += n
    data = bytearray(_segment(batches) + bytes(rnd.randrange(0, 64)))
    for spot in spots:  # magics and garbage at aligned places
        at = spot % max(len(data) // 4, 1) * 4
        data[at:at + 8] = rnd.choice([b"GPXJ", b"GPXJ\x02\x00\x13\x00", rnd.randbytes(8)])
    data = bytes(data[:rnd.randrange(0, len(data) + 1)])
    heads = records._Heads(memoryview(data))
    table, plausible, run_ends = _reference_heads(data)
    assert np.array_equal(records.record_words(heads.table), table)
    assert np.array_equal(heads.plausible, plausible) and np.array_equal(heads.run_ends, run_ends)
