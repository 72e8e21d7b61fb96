"""How a batch of commands is framed in the journal.

A record is a 40-byte header followed by its payload::

    magic "GPXJ" | version u16 | reserved u16 | payload length u64 | first seq i64 |
    command count i64 | crc32 u32 | 4 zero bytes          (little-endian)

The payload is one Arrow IPC stream holding one record batch of the command columns
(:data:`COMMAND_SCHEMA`, all int64, in ``COMMAND_FIELDS`` order). The CRC-32 covers
the first 32 header bytes and the payload, so a torn or damaged record is detected.
Commands in a record have consecutive sequence numbers starting at ``first seq``.
Records written before the command gained ``contra_account`` (schema ``commands/v1``)
still decode, with that field 0.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pyarrow as pa

from exchange.schema import COMMAND_DTYPE, COMMAND_FIELDS

MAGIC = b"GPXJ"
VERSION = 1
HEADER = struct.Struct("<4sHHqqqI4x")
"""magic, version, reserved, payload length, first seq, count, crc32, padding."""
HEADER_SIZE = HEADER.size
_CRC_START = HEADER_SIZE - 8  # the crc covers the header up to the crc field

COMMAND_SCHEMA = pa.schema(
    [(name, pa.int64()) for name in COMMAND_FIELDS],
    metadata={"gpux.record": "commands/v2"},
)
"""Arrow schema of a journal payload: the command record, column by column."""
_V1_FIELDS = COMMAND_FIELDS[:COMMAND_FIELDS.index("contra_account")]
_V1_SCHEMA = pa.schema([(name, pa.int64()) for name in _V1_FIELDS], metadata={"gpux.record": "commands/v1"})

_WIDTH = len(COMMAND_FIELDS)


def encode(batch: np.ndarray) -> bytes:
    """The framed record of a command batch (``COMMAND_DTYPE``, consecutive seqs). O(n).

    The payload is the Arrow IPC stream pyarrow writes for the batch, byte for byte, but
    built from a per-size template (:func:`_frame`): for int64 columns without nulls
    everything around the column data depends only on the row count."""
    n = len(batch)
    columns = np.ascontiguousarray(np.ascontiguousarray(batch).view(np.int64).reshape(n, _WIDTH).T)
    prefix = _frame(n)
    first = int(batch["seq"][0]) if n else 0
    if prefix is None:
        payload = _ipc_stream(columns)
        head = HEADER.pack(MAGIC, VERSION, 0, len(payload), first, n, 0)[:_CRC_START]
        crc = zlib.crc32(payload, zlib.crc32(head))
        return head + struct.pack("<I4x", crc) + payload
    body = memoryview(columns).cast("B")
    length = len(prefix) + len(body) + len(_EOS)
    head = HEADER.pack(MAGIC, VERSION, 0, length, first, n, 0)[:_CRC_START]
    crc = zlib.crc32(_EOS, zlib.crc32(body, zlib.crc32(prefix, zlib.crc32(head))))
    return b"".join((head, struct.pack("<I4x", crc), prefix, body, _EOS))


def _ipc_stream(columns: np.ndarray) -> bytes:
    """The Arrow IPC stream (schema, one record batch, end marker) of command columns."""
    record = pa.RecordBatch.from_arrays([pa.array(col) for col in columns], schema=COMMAND_SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, COMMAND_SCHEMA) as writer:
        writer.write_batch(record)
    return sink.getvalue().to_pybytes()


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
"""The end-of-stream marker of an Arrow IPC stream."""
_FRAMES: dict[int, bytes | None] = {}
_FRAMES_KEPT = 1024


def _frame(n: int) -> bytes | None:
    """The bytes :func:`_ipc_stream` writes before the column data of an ``n``-row batch
    (schema message and record-batch metadata), cached per ``n``; None where the stream
    is not exactly that prefix + the columns + the end marker (then pyarrow writes it).

    Each template is checked once against pyarrow's own output for a batch of distinct
    non-zero values, so a pyarrow that lays the stream out differently falls back."""
    found = _FRAMES.get(n, False)
    if found is not False:
        return found
    prefix = None
    if n > 0:
        probe = np.arange(1, n * _WIDTH + 1, dtype=np.int64).reshape(_WIDTH, n)
        stream, body = _ipc_stream(probe), probe.tobytes()
        cut = len(stream) - len(body) - len(_EOS)
        if cut > 0 and stream[cut:] == body + _EOS:
            prefix = stream[:cut]
    if len(_FRAMES) >= _FRAMES_KEPT:
        _FRAMES.clear()
    _FRAMES[n] = prefix
    return prefix


def decode(payload: memoryview | bytes, count: int) -> np.ndarray:
    """The command batch in a payload; ``ValueError`` if it is not the expected shape."""
    table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
    known = table.schema.equals(COMMAND_SCHEMA) or table.schema.equals(_V1_SCHEMA)
    if not known or table.num_rows != count:
        raise ValueError("payload is not a command batch of the declared size")
    out = np.zeros(count, COMMAND_DTYPE)
    matrix = out.view(np.int64).reshape(count, _WIDTH)
    for i, column in enumerate(table.columns):
        matrix[:, i] = column.to_numpy()
    return out


def parse_header(data: memoryview | bytes, offset: int) -> tuple[bytes, int, int, int, int, int]:
    """(magic, version, length, first_seq, count, crc) of the header at ``offset``."""
    magic, version, _, length, first, count, crc = HEADER.unpack_from(data, offset)
    return magic, version, length, first, count, crc


def crc_ok(data: memoryview | bytes, offset: int, length: int, crc: int) -> bool:
    """Whether the record at ``offset`` with ``length`` payload bytes matches ``crc``."""
    head = zlib.crc32(data[offset:offset + _CRC_START])
    start = offset + HEADER_SIZE
    return zlib.crc32(data[start:start + length], head) == crc
