"""How a sequencer group of commands is framed in a journal segment (record format 2).

Layout
------
A record holds one group: commands with consecutive sequence numbers. Little-endian;
every record starts at a multiple of 4 bytes from the start of its segment::

    offset  size
    0       4      magic "GPXJ"
    4       2      version: 2
    6       2      words: fields stored per command (19: every command field but seq)
    8       4      count: commands in the record, > 0
    12      4      payload length in bytes (even)
    16      8      first seq: the commands' seqs are first, first + 1, ...
    24      4      crc: CRC-32 of bytes 0..23, the payload and its padding
    28      length payload
            0 or 2 zero padding to a multiple of 4
    end-4   4      chain: CRC-32 of the segment from its first byte up to this field

Payload: each command is its ``words`` fields in ``COMMAND_FIELDS`` order without seq,
as little-endian int64, except that ts is the difference to the previous command's ts
in the record (the first keeps its own; differences wrap modulo 2**64, so every int64
survives). That is 4 × words 16-bit units per command, bits 16k..16k+15 of field f
being unit 4f + k; a command's mask has one bit per unit, set if the unit is not zero
(unit i is bit i % 8 of byte i // 8; ceil(words / 4) × 2 bytes, spare bits zero). The
payload is the masks of all the commands, then their nonzero units, command by command
and unit by unit. A reader of a newer gpux decodes records with fewer words, the
missing fields 0; fields are only ever added at the end.

Why this format
---------------
Bytes per command for ``bench/journal.py``'s order flow (1,000,000 orders, ts 20 µs
apart per group) written in groups of 1, of 1–4 and of 1,000 commands:

====================================================  =====  =====  =====
candidate                                               1     1–4   1,000
====================================================  =====  =====  =====
format 1: an Arrow IPC stream per group (schema too)  2,464  1,082   162
one Arrow stream per segment, a record batch a group  1,224    586   161
fixed binary: 19 int64 a command, 28-byte header        180    163   152
zero int64 fields left out (a 19-bit mask each)         118     94    78
this format: zero 16-bit units left out                  71     47    31
====================================================  =====  =====  =====

An Arrow record-batch message describes 20 columns and 40 buffers however few rows
follow, and fixed int64 fields are over 128 bytes a command before any header. Orders
are mostly small numbers, so most 16-bit units are zero; 8-bit units come out no
smaller (their masks double) and cost twice the decoding work.

Reading is vectorised over many records, so small groups cost no Python per record: a
record starts with the magic at a 4-aligned offset, so one numpy comparison finds the
records of a segment (consecutive ones whose headers chain end to start are taken as
found; anything else is walked record by record); the chain lets one ``zlib.crc32``
over such a run check all of it; the per-record crc checks a single record on its own
(is there an intact record after damage? then it is corruption, not a torn tail); and
decoding a run is one kernel pass over all its masks and units (no Python per command,
without the GIL, so a reader thread decodes while the engine runs).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
from numba import njit

from exchange.journal import legacy
from exchange.schema import COMMAND_DTYPE, COMMAND_FIELDS, C, concat_records, record_words

MAGIC = b"GPXJ"
VERSION = 2
_HEAD = struct.Struct("<4sHHIIq")
"""magic, version, words, count, payload length, first seq: what the crc follows."""
HEADER_SIZE = _HEAD.size + 4
TRAILER_SIZE = 4
MAX_COMMANDS = 1 << 22
"""Most commands one record holds (its payload length must fit 32 bits)."""

if C.SEQ != 0:
    raise ImportError("journal records store the command fields after seq, which must come first")
WORDS = len(COMMAND_FIELDS) - 1
"""Fields a record stores per command: all but seq, in order."""
_TS = int(C.TS) - 1  # ts among them
_MAGIC_WORD = int.from_bytes(MAGIC, "little")

TABLE_DTYPE = np.dtype([(name, np.int64) for name in ("offset", "version", "words", "count", "length", "first")])
"""A segment's table of records: where each starts, its format version, fields per
command (0 for format 1), commands, payload bytes and first seq."""


class BadRecord(ValueError):
    """A record that cannot be read; ``offset`` is where it starts in its segment."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(problem)
        self.offset = offset
        self.problem = problem


class _Damage(Exception):
    """Bytes that are not an intact record: a torn write, or corruption if an intact record follows."""


def mask_bytes(words: int) -> int:
    """Bytes of one command's mask for ``words`` fields (a whole number of 16-bit units)."""
    return (words + 3) // 4 * 2


def record_size(length: int) -> int:
    """Bytes of a record with ``length`` payload bytes: header, payload, padding, chain."""
    return HEADER_SIZE + length + (-length) % 4 + TRAILER_SIZE


def encode(batch: np.ndarray, chain: int) -> tuple[bytes, int]:
    """The record of a command batch (``COMMAND_DTYPE``, consecutive seqs, 1 to
    :data:`MAX_COMMANDS` commands) to be written where the segment's running CRC-32 is
    ``chain``; and the running CRC-32 after it. O(n): the payload in one compiled pass
    (:func:`_payload`), then the header and the checksums."""
    n = len(batch)
    if not 0 < n <= MAX_COMMANDS:
        raise ValueError(f"a journal record holds 1 to {MAX_COMMANDS} commands, not {n}")
    words = record_words(np.ascontiguousarray(batch)).view(np.uint64)
    out = np.empty(n * (_MASK_BYTES + 8 * WORDS) + 2, np.uint8)
    length = _payload(words, out)
    padded = length + length % 4  # length is even: 0 or 2 zero bytes
    out[length:padded] = 0
    payload = out[:padded].tobytes()
    head = _HEAD.pack(MAGIC, VERSION, WORDS, n, length, int(words[0, _SEQ]))
    body_bytes = b"".join((head, zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "little"), payload))
    link = zlib.crc32(body_bytes, chain).to_bytes(4, "little")
    return body_bytes + link, zlib.crc32(link, int.from_bytes(link, "little"))


_MASK_BYTES = mask_bytes(WORDS)
_SEQ, _TS_FIELD = int(C.SEQ), int(C.TS)
_U16 = np.uint64(0xFFFF)


@njit(cache=True)
def _payload(words, out):
    """Write the payload of a record of the commands ``words`` (uint64 matrix, a row per
    command, seq first) into ``out``: every command's mask, then the nonzero 16-bit units
    command by command (ts as the difference to the previous command's, mod 2**64), as
    the module docstring lays it out; its length in bytes. O(commands)."""
    n = words.shape[0]
    at = n * _MASK_BYTES
    for i in range(n):
        mask = i * _MASK_BYTES
        for b in range(_MASK_BYTES):
            out[mask + b] = 0
        for f in range(WORDS):
            value = words[i, f + 1]
            if f == _TS and i > 0:
                value = value - words[i - 1, _TS_FIELD]
            if value == 0:
                continue
            for k in range(4):
                unit = (value >> np.uint64(16 * k)) & _U16
                if unit != 0:
                    bit = 4 * f + k
                    out[mask + bit // 8] |= np.uint8(1 << (bit % 8))
                    out[at] = np.uint8(unit & np.uint64(0xFF))
                    out[at + 1] = np.uint8(unit >> np.uint64(8))
                    at += 2
    return at


def scan(data: memoryview, tail: bool) -> tuple[np.ndarray, int, int]:
    """Check every record of a segment: (its table of records, the end of the valid
    prefix, the segment's running CRC-32 there).

    Raises :class:`BadRecord` at the first damage, except with ``tail`` where no intact
    record follows it (a torn write): then the valid prefix ends there. A record whose
    checksums hold but whose content is impossible (no commands, a seq out of line, more
    fields than this gpux knows) is never a torn write. O(segment size).
    """
    heads = _Heads(data)
    table = _TableBuilder()
    offset, chain, walk_until = 0, 0, 0
    while offset < len(data):
        if offset >= walk_until and (run := heads.run(offset)) is not None:
            end = int(run["offset"][-1]) + record_size(int(run["length"][-1]))
            stored = int.from_bytes(data[end - TRAILER_SIZE:end], "little")
            if zlib.crc32(data[offset:end - TRAILER_SIZE], chain) == stored:
                table.add_run(run)
                offset, chain = end, zlib.crc32(data[end - TRAILER_SIZE:end], stored)
                continue
            walk_until = end  # damage inside the run: find it record by record
        try:
            row, end, chain = _check(data, offset, chain)
        except _Damage as damage:
            if tail and not _intact_after(data, offset):
                break
            raise BadRecord(offset, str(damage)) from None
        table.add_row(row)
        offset = end
    rows = table.rows()
    out_of_line = np.flatnonzero(rows["first"][1:] != rows["first"][:-1] + rows["count"][:-1])
    if len(out_of_line):
        i = int(out_of_line[0])
        raise BadRecord(int(rows["offset"][i + 1]), f"expected seq {int(rows['first'][i] + rows['count'][i])}, "
                                                    f"found {int(rows['first'][i + 1])}")
    return rows, offset, chain


def decode(data: memoryview, rows: np.ndarray) -> np.ndarray:
    """The commands of consecutive records of a segment (rows of its :func:`scan` table),
    as one batch; :class:`BadRecord` for the first whose payload does not hold what its
    header says. O(commands), no Python per record of format 2."""
    change = np.flatnonzero((rows["version"][1:] != rows["version"][:-1]) | (rows["words"][1:] != rows["words"][:-1]))
    bounds = [0, *(change + 1).tolist(), len(rows)]
    parts = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = rows[start:stop]
        if part["version"][0] == VERSION:
            parts.append(_decode_run(data, part))
        else:
            parts.extend(_decode_legacy(data, row) for row in part)
    return parts[0] if len(parts) == 1 else concat_records(parts)


def _decode_run(data: memoryview, rows: np.ndarray) -> np.ndarray:
    """The commands of format-2 records with one number of words, decoded by one kernel
    call over all of them (:func:`_decode_units`)."""
    counts, words = rows["count"], int(rows["words"][0])
    out = np.empty(int(counts.sum()), COMMAND_DTYPE)  # every field is written: no zero fill (calloc fills reused heap)
    units = np.frombuffer(data, "<u2", count=len(data) // 2)
    status, record, marked = _decode_units(units, (rows["offset"] + HEADER_SIZE) // 2, counts, rows["length"] // 2,
                                           words, int(rows["first"][0]), record_words(out))
    if status == _SPARE_BITS:
        raise BadRecord(int(rows["offset"][record]), "its masks mark units past its fields")
    if status == _WRONG_COUNT:
        values = int(rows["length"][record]) // 2 - int(counts[record]) * (mask_bytes(words) // 2)
        raise BadRecord(int(rows["offset"][record]), f"its masks mark {marked} nonzero units, "
                                                     f"its payload holds {values}")
    return out


_DECODED, _SPARE_BITS, _WRONG_COUNT = 0, 1, 2
_kernel = njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # _nrt: numba's, not in its stubs
"""Decorator of the kernels here, which never allocate: compiled without reference
counting (an array or row view passed to a call costs no atomic increments) and run
without the GIL."""
_TS_COLUMN = int(C.TS)


@_kernel
def _ones16(x):
    """Set bits of a value below 2**16."""
    x = x - ((x >> 1) & 0x5555)
    x = (x & 0x3333) + ((x >> 2) & 0x3333)
    x = (x + (x >> 4)) & 0x0F0F
    return (x + (x >> 8)) & 0x1F


@_kernel
def _decode_units(units, starts, counts, lengths, words, first_seq, out):
    """Decode format-2 records of ``words`` fields per command into ``out`` (an int64
    command matrix, a row for each of their commands, seq first; every field of it is
    written, those past ``words`` 0, so it may come from ``np.empty``): ``units`` is
    the segment as 16-bit units; record r's payload is the ``lengths[r]`` units from
    ``starts[r]`` and holds ``counts[r]`` commands; seqs run on from ``first_seq``.

    Every record is checked before anything is written: ``(_SPARE_BITS, r, 0)`` for the
    first record r whose masks mark units past its fields, else ``(_WRONG_COUNT, r,
    marked)`` for the first whose masks mark another number of units than its payload
    holds after them, else ``(_DECODED, records, 0)``. O(payload); runs without the GIL.
    """
    mask_units = (words + 3) // 4
    used = 4 * words - 16 * (mask_units - 1)  # bits of a mask's last unit that stand for units
    spare = (0xFFFF >> used) << used
    for r in range(counts.shape[0]):
        for m in range(starts[r] + mask_units - 1, starts[r] + counts[r] * mask_units, mask_units):
            if units[m] & spare:
                return _SPARE_BITS, r, 0
    for r in range(counts.shape[0]):
        marked = 0
        for m in range(starts[r], starts[r] + counts[r] * mask_units):
            marked += _ones16(np.int64(units[m]))
        if marked != lengths[r] - counts[r] * mask_units:
            return _WRONG_COUNT, r, marked
    row = 0
    for r in range(counts.shape[0]):
        mask = starts[r]
        value = mask + counts[r] * mask_units
        ts = np.int64(0)  # within a record ts are differences: summed back to times
        for _ in range(counts[r]):
            for m in range(mask_units):
                bits = np.int64(units[mask + m])
                for field in range(1 + 4 * m, min(5 + 4 * m, 1 + words)):  # a mask unit's 16 bits: 4 fields' units
                    word = np.int64(0)
                    if bits & 15:
                        for k in range(4):
                            if bits >> k & 1:
                                word |= np.int64(units[value]) << (16 * k)
                                value += 1
                    out[row, field] = word
                    bits >>= 4
            for field in range(1 + words, out.shape[1]):  # fields a newer gpux added
                out[row, field] = 0
            mask += mask_units
            ts += out[row, _TS_COLUMN]
            out[row, _TS_COLUMN] = ts
            out[row, 0] = first_seq + row  # scan checked that they are in line
            row += 1
    return _DECODED, counts.shape[0], 0


def _decode_legacy(data: memoryview, row: np.void) -> np.ndarray:
    offset, count, first = int(row["offset"]), int(row["count"]), int(row["first"])
    start = offset + legacy.HEADER_SIZE
    try:
        batch = legacy.decode(data[start:start + int(row["length"])], count)
    except (ValueError, OSError) as error:
        raise BadRecord(offset, f"undecodable payload: {error}") from None
    if batch["seq"][0] != first or np.any(np.diff(batch["seq"]) != 1):
        raise BadRecord(offset, "sequence numbers do not match the header")
    return batch


@_kernel
def _count_heads(words):
    """How many of a segment's 4-byte words hold the magic with room for a record after."""
    found = 0
    for i in range(words.shape[0] - 7):  # a record is 8 words or more
        if words[i] == _MAGIC_WORD:
            found += 1
    return found


@_kernel
def _read_heads(words, size, table, plausible, last_of_run):
    """For each magic :func:`_count_heads` counts, in order: its header as a table row
    (offset, version, words, count, length, first), whether it is plausible as a format-2
    record of a segment of ``size`` bytes, and whether the run it is in ends with it (the
    next one is not plausible, does not start where it ends or does not continue its
    seqs). O(words), no allocation, without the GIL."""
    j, previous_end, previous_next = 0, np.int64(0), np.int64(0)
    for i in range(words.shape[0] - 7):
        if words[i] != _MAGIC_WORD:
            continue
        version_word = np.int64(words[i + 1])
        version, fields = version_word & 0xFFFF, version_word >> 16
        count, length = np.int64(words[i + 2]), np.int64(words[i + 3])
        first = np.int64(words[i + 4]) | np.int64(words[i + 5]) << 32
        offset = np.int64(i) * 4
        end = offset + (HEADER_SIZE + TRAILER_SIZE + 3) + length - (length + 3) % 4
        per_command = (fields + 3) // 4 * 2
        plausible[j] = (version == VERSION and 1 <= fields <= WORDS and count > 0 and length % 2 == 0
                        and end <= size and count * per_command <= length <= count * (per_command + 8 * fields))
        table[j, 0], table[j, 1], table[j, 2] = offset, version, fields
        table[j, 3], table[j, 4], table[j, 5] = count, length, first
        if j > 0:
            last_of_run[j - 1] = not (plausible[j] and previous_end == offset and first == previous_next)
        previous_end, previous_next = end, first + count
        j += 1
    if j > 0:
        last_of_run[j - 1] = True
    return j


class _Heads:
    """The 4-aligned places of a segment that start with the magic, read as format-2
    headers; a run is consecutive ones that are plausible and chain end to start with
    their seqs in line (a magic inside a payload breaks a run, never joins one)."""

    def __init__(self, data: memoryview) -> None:
        words = np.frombuffer(data, "<u4", count=len(data) // 4)
        found = _count_heads(words)
        self.table = np.empty(found, TABLE_DTYPE)
        self.plausible = np.empty(found, np.bool_)
        last_of_run = np.empty(found, np.bool_)
        _read_heads(words, len(data), record_words(self.table), self.plausible, last_of_run)
        self.run_ends = np.flatnonzero(last_of_run)

    def run(self, offset: int) -> np.ndarray | None:
        """The run of records starting at ``offset``, or None if none starts there."""
        i = int(np.searchsorted(self.table["offset"], offset))
        if i == len(self.table) or self.table["offset"][i] != offset or not self.plausible[i]:
            return None
        return self.table[i:int(self.run_ends[np.searchsorted(self.run_ends, i)]) + 1]


class _TableBuilder:
    """Rows of a segment's table as they are found: runs (arrays) and single rows."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._single: list[tuple[int, ...]] = []

    def add_run(self, run: np.ndarray) -> None:
        self._flush()
        self._parts.append(run)

    def add_row(self, row: tuple[int, ...]) -> None:
        self._single.append(row)

    def _flush(self) -> None:
        if self._single:
            self._parts.append(np.array(self._single, TABLE_DTYPE))
            self._single = []

    def rows(self) -> np.ndarray:
        self._flush()
        return concat_records(self._parts) if self._parts else np.empty(0, TABLE_DTYPE)


def _check(data: memoryview, offset: int, chain: int) -> tuple[tuple[int, ...], int, int]:
    """The record at ``offset`` checked on its own and in the chain: (its table row, its
    end, the running CRC-32 after it); :class:`_Damage` if it is not intact,
    :class:`BadRecord` if it is but cannot be right."""
    row, end = _intact(data, offset)
    if row[3] <= 0:
        raise BadRecord(offset, "record holds no commands")
    if row[1] == legacy.VERSION:
        return row, end, zlib.crc32(data[offset:end], chain)
    stored = int.from_bytes(data[end - TRAILER_SIZE:end], "little")
    if zlib.crc32(data[offset:end - TRAILER_SIZE], chain) != stored:
        raise _Damage("chain checksum mismatch (the segment's bytes up to this record changed)")
    words, count, length = row[2], row[3], row[4]
    if not 0 < words <= WORDS:
        raise BadRecord(offset, f"record stores {words} fields per command, this gpux knows {WORDS}: "
                                "written by a newer gpux?")
    if length % 2 or not count * mask_bytes(words) <= length <= count * (mask_bytes(words) + 8 * words):
        raise BadRecord(offset, f"a payload of {length} bytes cannot hold {count} commands")
    return row, end, zlib.crc32(data[end - TRAILER_SIZE:end], stored)


def _intact(data: memoryview, offset: int) -> tuple[tuple[int, ...], int]:
    """(table row, end) of the record at ``offset`` if its header fits and its own
    checksum holds (not the chain, not what it holds); else :class:`_Damage`."""
    size = len(data)
    if size - offset < 6:
        raise _Damage("incomplete record header")
    magic, version = bytes(data[offset:offset + 4]), int.from_bytes(data[offset + 4:offset + 6], "little")
    if magic != MAGIC or version not in (VERSION, legacy.VERSION):
        raise _Damage("bad record magic or version")
    if version == legacy.VERSION:
        if size - offset < legacy.HEADER_SIZE:
            raise _Damage("incomplete record header")
        length, first, count, crc = legacy.parse_header(data, offset)
        end = offset + legacy.HEADER_SIZE + length
        if end > size:
            raise _Damage(f"record of {length} bytes runs past the end of the file")
        if not legacy.crc_ok(data, offset, length, crc):
            raise _Damage("checksum mismatch")
        return (offset, version, 0, count, length, first), end
    if size - offset < HEADER_SIZE:
        raise _Damage("incomplete record header")
    _, _, words, count, length, first = _HEAD.unpack_from(data, offset)
    end = offset + record_size(length)
    if end > size:
        raise _Damage(f"record of {length} bytes runs past the end of the file")
    crc_at = offset + _HEAD.size
    head_crc = zlib.crc32(data[offset:crc_at])
    if zlib.crc32(data[crc_at + 4:end - TRAILER_SIZE], head_crc) != int.from_bytes(data[crc_at:crc_at + 4], "little"):
        raise _Damage("checksum mismatch")
    return (offset, version, words, count, length, first), end


def _intact_after(data: memoryview, offset: int) -> bool:
    """Whether an intact record (own checksum) starts anywhere after ``offset``."""
    raw: Any = data.obj  # what was read: bytes or an mmap
    at = raw.find(MAGIC, offset + 1)
    while at != -1:
        try:
            _intact(data, at)
            return True
        except _Damage:
            at = raw.find(MAGIC, at + 1)
    return False
