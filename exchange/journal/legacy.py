"""Journal records of format 1, which gpux wrote before the compact records: read only.

A format-1 record is a 40-byte header followed by its payload::

    magic "GPXJ" | version u16 (1) | reserved u16 | payload length u64 | first seq i64 |
    command count i64 | crc32 u32 | 4 zero bytes          (little-endian)

The payload is one Arrow IPC stream (schema and all) holding one record batch of the
command columns, all int64; the CRC-32 covers the first 32 header bytes and the payload.
Payloads written before commands gained ``contra_account`` (schema ``commands/v1``)
decode with that field 0. New records are never written in this format
(:mod:`exchange.journal.records`); segments holding it are read as they are.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pyarrow as pa

from exchange.schema import COMMAND_FIELDS, commands, record_words

VERSION = 1
HEADER = struct.Struct("<4sHHqqqI4x")
"""magic, version, reserved, payload length, first seq, count, crc32, padding."""
HEADER_SIZE = HEADER.size
_CRC_START = HEADER_SIZE - 8  # the crc covers the header up to the crc field

_V1_FIELDS = COMMAND_FIELDS[:COMMAND_FIELDS.index("contra_account")]
SCHEMAS = {
    "commands/v2": pa.schema([(name, pa.int64()) for name in COMMAND_FIELDS], metadata={"gpux.record": "commands/v2"}),
    "commands/v1": pa.schema([(name, pa.int64()) for name in _V1_FIELDS], metadata={"gpux.record": "commands/v1"}),
}
"""The Arrow schemas a format-1 payload may have, by their ``gpux.record`` tag."""


def parse_header(data: memoryview, offset: int) -> tuple[int, int, int, int]:
    """(payload length, first seq, count, crc) of the format-1 header at ``offset``."""
    _, _, _, length, first, count, crc = HEADER.unpack_from(data, offset)
    return length, first, count, crc


def crc_ok(data: memoryview, offset: int, length: int, crc: int) -> bool:
    """Whether the record at ``offset`` with ``length`` payload bytes matches ``crc``."""
    head = zlib.crc32(data[offset:offset + _CRC_START])
    start = offset + HEADER_SIZE
    return zlib.crc32(data[start:start + length], head) == crc


def decode(payload: memoryview | bytes, count: int) -> np.ndarray:
    """The command batch in a payload; ``ValueError`` if it is not the expected shape."""
    table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
    if not any(table.schema.equals(schema) for schema in SCHEMAS.values()) or table.num_rows != count:
        raise ValueError("payload is not a command batch of the declared size")
    out = commands(count)
    matrix = record_words(out)
    for i, column in enumerate(table.columns):
        matrix[:, i] = column.to_numpy()
    return out
