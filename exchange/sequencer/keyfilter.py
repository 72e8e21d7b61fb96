"""The Bloom filter over the client order ids of the order history's files
(:mod:`exchange.sequencer.history`): 16 bits and 4 probes a key (about 0.2 % false
positives), so a lookup answers "no" for most ids never used in O(1) and the history
reads its files only for the maybes.

The saved filter, ``<data dir>/history/keys.filter`` (:data:`FILTER`): the filter of the
keys of the first files of the chain, written whole or not at all by the retirement
thread once :data:`~exchange.sequencer.history.SAVE_EVERY` keys were added since the
last save (a successor handed over counts as never saved) and at
:meth:`~exchange.sequencer.history.OrderHistory.close`. It holds a magic, then int64
capacity, keys, files and ``through`` (of the last file it covers), the SHA-256 of those
files' ``through`` and key SHA-256s in order (so it is tied to exactly those keys), the
filter's words, and a SHA-256 of everything before. An open uses it if the files it
covers are the first ones of the chain and it has room for every key, adding the keys of
the newer files (read once, for their own checks); a file that is torn or fails its
SHA-256 is named in a warning and the filter is rebuilt from every key, as it is when
the file is missing or covers other files (stale). A wrong filter could answer "no" for
a key the history holds, so one is never used unless both checks pass.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from exchange.engine.hashtable import home_slot
from exchange.journal import FileOps
from exchange.journal.fileops import atomic_file

if TYPE_CHECKING:
    from exchange.sequencer.history import Segment

log = logging.getLogger("gpux.history")
_BITS_PER_KEY = 16
_PROBES = 4
_MIN_CAPACITY = 1 << 16
FILTER = "keys.filter"
"""The saved filter's file name, beside the history files (see the module docstring)."""


@njit(cache=True, nogil=True)
def _probe(key, i, mask):
    """Bit ``i`` of a key's probes (double hashing)."""
    h1 = home_slot(key, mask)
    h2 = home_slot(key ^ 0x5DEECE66D, mask) | 1
    return (h1 + i * h2) & mask


@njit(cache=True, nogil=True)  # the history thread builds filters while the writer runs
def _bloom_add(bits, keys):
    mask = bits.shape[0] * 64 - 1
    for key in keys:
        for i in range(_PROBES):
            b = _probe(key, i, mask)
            bits[b >> 6] |= np.uint64(1) << np.uint64(b & 63)


@njit(cache=True, nogil=True)  # the history thread builds filters while the writer runs
def _bloom_maybe(bits, keys, out):
    mask = bits.shape[0] * 64 - 1
    for j in range(keys.shape[0]):
        hit = True
        for i in range(_PROBES):
            b = _probe(keys[j], i, mask)
            if not (bits[b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
                hit = False
                break
        out[j] = hit


def _filter_words(capacity: int) -> np.ndarray:
    """The zeroed words of a filter with room for ``capacity`` keys, in an anonymous map of
    their own, unmapped when the filter is dropped. From the heap (16 MiB at 8 M keys, below
    the 32 MiB mmap threshold ``gpux serve`` sets), the old filter's room stayed with the
    process after each rebuild at double size (:func:`exchange.gateway.keep_freed_memory`)."""
    return np.frombuffer(mmap.mmap(-1, capacity * _BITS_PER_KEY // 8, flags=mmap.MAP_PRIVATE), np.uint64)


@dataclass
class KeyFilter:
    """A Bloom filter with room for ``capacity`` keys (16 bits each), holding the keys of
    the first :attr:`files` files of a chain (up to seq :attr:`through`)."""

    bits: np.ndarray
    capacity: int
    keys: int = 0
    files: int = 0
    through: int = 0
    identity: bytes = b""
    """Of a saved filter: :func:`identity_of` of the files it says it covers (empty: built here)."""

    @classmethod
    def empty(cls, capacity: int) -> KeyFilter:
        """A filter with room for ``capacity`` keys (a power of two), holding none."""
        return cls(_filter_words(capacity), capacity)

    @classmethod
    def of(cls, segments: list[Segment], extra: int = 0,
           read: Callable[[Segment], np.ndarray] | None = None) -> KeyFilter:
        """A filter holding every key of ``segments`` (each file's as ``read`` gives
        them), with room for ``extra`` more. O(keys)."""
        total = sum(len(s) for s in segments)
        capacity = _MIN_CAPACITY
        while capacity < total + extra:
            capacity *= 2
        made = cls.empty(capacity)
        for s in segments:
            made.add(s.keys() if read is None else read(s))
        made.files, made.through = len(segments), segments[-1].through if segments else 0
        return made

    def add(self, keys: np.ndarray) -> None:
        _bloom_add(self.bits, keys)
        self.keys += len(keys)

    def maybe(self, keys: np.ndarray) -> np.ndarray:
        out = np.zeros(len(keys), np.bool_)
        _bloom_maybe(self.bits, keys, out)
        return out


_FILTER_HEAD = struct.Struct("<8s4q32s")
"""Head of a saved filter: MAGIC, capacity, keys, files, through, identity."""
_FILTER_MAGIC = b"GPUXKF01"


def identity_of(segments: list[Segment]) -> bytes:
    """SHA-256 of the files' ``through`` and key SHA-256s, in order: which keys a filter holds."""
    sha = hashlib.sha256()
    for s in segments:
        sha.update(f"{s.through}:{s.keys_sha256}\n".encode())
    return sha.digest()


def save_filter(directory: Path, ops: FileOps, keys: KeyFilter, segments: list[Segment]) -> None:
    """Write :data:`FILTER`: ``keys``, the filter of the files ``segments`` (whole or not
    at all: temp file, fsync, rename). O(capacity)."""
    head = _FILTER_HEAD.pack(_FILTER_MAGIC, keys.capacity, keys.keys, len(segments),
                             segments[-1].through if segments else 0, identity_of(segments))
    words = keys.bits.data.cast("B")
    sha = hashlib.sha256(head)
    sha.update(words)
    with atomic_file(ops, directory / FILTER) as f:
        ops.write(f, head)
        ops.write(f, words)
        ops.write(f, sha.digest())


def load_filter(directory: Path) -> KeyFilter | None:
    """The saved filter (:data:`FILTER`), not yet matched with any files (see
    :meth:`~exchange.sequencer.history.OrderHistory._settle`); None if there is none or it is torn or damaged (then a
    warning names the file and what is wrong). O(capacity)."""
    path = directory / FILTER
    try:
        f = open(path, "rb", buffering=0)
    except FileNotFoundError:
        return None
    with f:
        head = f.read(_FILTER_HEAD.size)
        if len(head) != _FILTER_HEAD.size or not head.startswith(_FILTER_MAGIC):
            problem = "torn, or not a saved filter"
        else:
            _, capacity, keys, files, through, identity = _FILTER_HEAD.unpack(head)
            if not _MIN_CAPACITY <= capacity <= 1 << 40 or capacity & (capacity - 1):
                problem = f"a capacity of {capacity} keys"
            else:
                bits = _filter_words(capacity)
                words = bits.data.cast("B")
                read, digest, rest = f.readinto(words), f.read(32), f.read(1)
                sha = hashlib.sha256(head)
                sha.update(words)
                if read != len(words) or len(digest) != 32 or rest:
                    problem = "torn"
                elif sha.digest() != digest:
                    problem = "SHA-256 mismatch"
                else:
                    return KeyFilter(bits, capacity, keys, files, through, identity)
    log.warning("%s: %s; the filter is rebuilt from every key", path, problem)
    return None
