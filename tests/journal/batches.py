"""Command batches for the journal tests, appended and read back."""

from __future__ import annotations

import numpy as np

from exchange.journal import FileJournal
from exchange.schema import commands


def sequenced(first: int, n: int, tag: int = 0) -> np.ndarray:
    """``n`` commands with seqs ``first``.. (qty counting from ``tag``, negative prices: they must survive too)."""
    batch = commands(n)
    batch["seq"] = np.arange(first, first + n)
    batch["ts"] = 1_700_000_000_000_000_000 + first
    batch["kind"] = 1
    batch["qty"] = np.arange(n) + tag
    batch["price"] = -np.arange(n)  # negative values must survive too
    return batch


def fill(journal: FileJournal, sizes: list[int]) -> list[np.ndarray]:
    """Append and sync one :func:`sequenced` batch per size; the batches."""
    written = []
    for n in sizes:
        batch = sequenced(journal.last_seq + 1, n, tag=len(written))
        journal.append(batch)
        journal.sync()
        written.append(batch)
    return written


def read_all(journal: FileJournal, after: int = 0) -> np.ndarray:
    """Every command after ``after``, as one array."""
    parts = list(journal.read(after))
    return np.concatenate(parts) if parts else commands(0)
