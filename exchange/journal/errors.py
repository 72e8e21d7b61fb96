"""Errors of the durable storage, each naming the file (and offset) concerned."""

from __future__ import annotations


class JournalError(Exception):
    """Base of every journal and snapshot error."""


class JournalCorruptError(JournalError):
    """A journal record is damaged before the end of the log; recovery refuses to go on."""

    def __init__(self, segment: str, offset: int, problem: str) -> None:
        super().__init__(f"journal segment {segment} is corrupt at offset {offset}: {problem}")
        self.segment = segment
        self.offset = offset


class JournalFailedError(JournalError):
    """A write or fsync failed: the journal accepts nothing more (restart to recover)."""


class SnapshotError(JournalError):
    """A snapshot file is unreadable, truncated or fails its checksum."""
