"""Durable storage: the data directory, and in it the sequenced command stream as
journal segments and snapshots.

* :class:`Journal` — the interface (append a batch, sync, read from a sequence number);
  :class:`FileJournal` is the local-file implementation (a replicated one can follow).
* :class:`SnapshotStore` — checksummed snapshots of the market state at a seq.
* :class:`DataDir` — the paths of one data directory, its writer lock and its pinned
  catalog and account limit (:mod:`exchange.journal.datadir`).
* :class:`FileOps` — the seam to the operating system that tests replace with
  power-loss and EIO layers.
* :mod:`~exchange.journal.records` — the record format of a group (its layout and why);
  :mod:`~exchange.journal.legacy` reads segments of the format before it.

Rules: nothing is acknowledged before :meth:`Journal.sync` returns for its record; a
torn tail is cut on open, damage before the tail is refused with the segment and offset
named; after a failed write or fsync the journal refuses everything.
"""

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from exchange.journal.datadir import DataDir, DataDirBusyError
from exchange.journal.errors import (
    JournalCorruptError,
    JournalError,
    JournalFailedError,
    SnapshotError,
)
from exchange.journal.fileops import FileOps, write_atomically
from exchange.journal.segments import FileJournal, TornTail
from exchange.journal.snapshots import LoadReport, Snapshot, SnapshotStore


class Journal(Protocol):
    """What the sequencer needs of a journal."""

    last_seq: int
    """Sequence number of the last appended command (0 if none)."""
    appended_bytes: int
    """Bytes appended through this object since it was opened (a snapshot policy counts them)."""

    def append(self, batch: np.ndarray) -> None:
        """Append a command batch whose seqs continue ``last_seq``."""

    def sync(self) -> None:
        """Make everything appended durable; raise JournalFailedError if it cannot."""

    def read(self, after_seq: int = 0) -> Iterator[np.ndarray]:
        """Command batches holding every seq above ``after_seq``, in order."""

    def close(self) -> None:
        """Sync and release the journal."""


__all__ = [
    "DataDir", "DataDirBusyError", "FileJournal", "FileOps", "Journal", "JournalCorruptError", "JournalError",
    "JournalFailedError", "LoadReport", "Snapshot", "SnapshotError", "SnapshotStore",
    "TornTail", "write_atomically",
]
