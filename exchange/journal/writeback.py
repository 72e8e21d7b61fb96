"""Write-behind: the write-back of a large append-only file started in small steps.

Why: the journal's group commit is an fsync, and on a journaling filesystem (ext4 with
its default ``data=ordered``) an fsync commits the filesystem's journal, which first
writes out the data of every file whose blocks were allocated in that transaction. A
file the exchange only appends to and never syncs itself (the execution log: ~180
bytes per execution record, gigabytes a day) is otherwise written back by the kernel in
large bursts, when its dirty pages expire (30 s) or pass the background ratio; a group
commit that lands on such a burst waits for hundreds of megabytes to reach the disk.
Started in steps of :data:`STEP` bytes as the file grows, the write-back keeps that
file's dirty and in-flight data to about one step, so an fsync of the journal never
queues behind much of it.

:class:`WriteBehind` runs the steps in a thread of its own: the appender only notes how
far the file has grown (no system call). Each step is ``sync_file_range`` of the new
range with ``WAIT_BEFORE | WRITE | WAIT_AFTER`` (start its write-back, wait until it is
on the device: one step in flight at a time) on Linux, through ``ctypes`` (Python's
``os`` has no ``sync_file_range``; the call releases the GIL); elsewhere an
``fdatasync`` of the file. Neither makes anything durable that the file's owner relies
on: the file's own durability rules (e.g. the execution log's rebuild from the journal)
are unchanged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

log = logging.getLogger("gpux.writeback")

STEP = 4 << 20
"""Bytes appended before their write-back is started (about 20 ms of a slow disk's
bandwidth: what a journal fsync may wait behind)."""
_WAIT_BEFORE, _WRITE, _WAIT_AFTER = 1, 2, 4  # SYNC_FILE_RANGE_* of <fcntl.h>


def _sync_file_range():
    """libc's ``sync_file_range`` (Linux), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int
    return call


_RANGE = _sync_file_range()


def write_back(fd: int, start: int, end: int) -> None:
    """Write bytes ``start..end`` of ``fd`` to the device and wait for them (not a
    durability promise: the file's metadata is not committed)."""
    if _RANGE is None:
        os.fdatasync(fd)
    elif _RANGE(fd, start, end - start, _WAIT_BEFORE | _WRITE | _WAIT_AFTER) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


class WriteBehind:
    """The write-back of one append-only file, started every :data:`STEP` bytes by a
    thread of its own (see the module docstring), which starts with the first step."""

    def __init__(self, fd: int, at: int, name: str, step: int = STEP) -> None:
        """``fd``: the file; ``at``: its size now (what is already there is left to the
        kernel); ``name``: the thread's, for a stack dump."""
        self._fd, self._name, self._step = fd, name, step
        self._done = self._target = at
        self._stopping = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def grew(self, size: int) -> None:
        """The file is ``size`` bytes now (in the appender; a step is started once
        :data:`STEP` bytes are new). O(1)."""
        if size - self._target >= self._step:
            with self._wake:
                self._target = size
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=f"gpux-writeback-{self._name}",
                                                    daemon=True)
                    self._thread.start()
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._target == self._done and not self._stopping:
                    self._wake.wait()
                if self._target == self._done:
                    return  # stopping, every step started is done
                start, end = self._done, self._target
            try:
                write_back(self._fd, start, end)
            except OSError as error:  # only the timing of the write-back is lost
                log.warning("write-back of bytes %d..%d failed, left to the kernel: %s", start, end, error)
            with self._wake:
                self._done = end

    def close(self) -> None:
        """Stop the thread once the step due is done, before the file is closed (what is
        newer is left to the kernel and to the file's own sync); a second call does nothing."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
