"""Fault-injecting file layers for the durability tests.

:class:`PowerLossOps` remembers how much of each file was fsynced and whether its
directory entry was; :meth:`PowerLossOps.power_loss` then does to the files what a power
cut does: files never made durable vanish, unsynced tails are lost (a random prefix of
them may survive, as with a torn write), and every later call fails.
:class:`FailingOps` makes fsync raise EIO from the n-th call on.
"""

from __future__ import annotations

import errno
import os
import random
import threading
from pathlib import Path
from typing import BinaryIO

from exchange.journal import FileOps


class PowerLossOps(FileOps):
    """Real files, plus a record of what a power cut would keep."""

    def __init__(self) -> None:
        self.synced: dict[Path, int] = {}  # durable size of each file
        self.linked: set[Path] = set()  # files whose directory entry is durable
        self.dead = False
        self.lock = threading.RLock()  # a cut never lands in the middle of one call
        self._cut: tuple[int, random.Random] | None = None

    def _alive(self) -> None:
        if self.dead:
            raise OSError(errno.EIO, "power is off")

    def open_append(self, path: Path) -> BinaryIO:
        with self.lock:
            self._alive()
            self.synced.setdefault(Path(path), 0)
            return super().open_append(path)

    def open_write(self, path: Path) -> BinaryIO:
        with self.lock:
            self._alive()
            self.synced[Path(path)] = 0
            return super().open_write(path)

    def write(self, f: BinaryIO, data) -> None:
        with self.lock:
            self._alive()
            super().write(f, data)

    def fsync(self, f: BinaryIO) -> None:
        with self.lock:
            self._alive()
            if self._cut is not None and str(f.name).endswith(".journal"):
                left, rng = self._cut
                self._cut = (left - 1, rng) if left > 1 else None
                if left == 1:
                    self.power_loss(rng)
                    self._alive()
            super().fsync(f)
            self.synced[Path(f.name)] = os.fstat(f.fileno()).st_size

    def cut_at_journal_fsync(self, n: int, rng: random.Random) -> None:
        """Cut the power during the ``n``-th journal fsync from now (1-based), before it persists."""
        self._cut = (n, rng)

    def fsync_dir(self, path: Path) -> None:
        with self.lock:
            self._alive()
            super().fsync_dir(path)
            for p in list(self.synced):
                if p.parent == Path(path) and p.exists():
                    self.linked.add(p)
            for p in list(self.linked):
                if p.parent == Path(path) and not p.exists():
                    self.linked.discard(p)

    def truncate(self, path: Path, size: int) -> None:
        with self.lock:
            self._alive()
            super().truncate(path, size)
            self.synced[Path(path)] = size

    def replace(self, src: Path, dst: Path) -> None:
        with self.lock:
            self._alive()
            self.synced[Path(dst)] = self.synced.pop(Path(src), 0)
            self.linked.discard(Path(src))
            super().replace(src, dst)

    def power_loss(self, rng: random.Random) -> None:
        """Cut the power: drop what was not durable (keeping a random torn prefix)."""
        with self.lock:
            self.dead = True
            self._drop(rng)

    def _drop(self, rng: random.Random) -> None:
        for path, size in self.synced.items():
            if not path.exists():
                continue
            if path not in self.linked:
                path.unlink()
                continue
            data = path.read_bytes()
            keep = size + rng.randint(0, len(data) - size) if len(data) > size else size
            torn = data[:keep]
            if keep > size and rng.random() < 0.3:  # a torn sector: garbage in the kept tail
                torn = torn[:size] + bytes(rng.randrange(256) for _ in range(keep - size))
            path.write_bytes(torn)


class FailingOps(FileOps):
    """fsync raises EIO from the ``fail_at``-th call on (1-based)."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0

    def fsync(self, f: BinaryIO) -> None:
        self.calls += 1
        if self.calls >= self.fail_at:
            raise OSError(errno.EIO, "Input/output error (injected)")
        super().fsync(f)
