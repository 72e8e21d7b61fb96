"""keep_freed_memory (gpux serve at start): memory freed stays with the process for reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from exchange.gateway import keep_freed_memory

def anon():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024

print(keep_freed_memory())
print(pa.default_memory_pool().backend_name)
for make in (lambda: np.ones(2 << 20), lambda: pa.py_buffer(np.ones(2 << 20).tobytes())):
    kept = make()  # 16 MiB: below the mmap threshold set, above glibc's default one
    touched = anon()
    del kept
    print(touched - anon())
"""


@pytest.mark.slow  # a fresh interpreter: the settings are the process's
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_freed_transients_stay_resident_and_arrow_uses_the_system_allocator():
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True)
    said, backend, *returned = done.stdout.split("\n")[:4]
    assert backend == "system"
    assert said.startswith("Arrow allocates through the system allocator")
    if "glibc mallopt" in said:
        assert "M_ARENA_MAX 1, M_MMAP_THRESHOLD 33554432, M_TRIM_THRESHOLD 268435456" in said
        assert all(int(r) < 1 << 20 for r in returned), returned  # a 16 MiB free gave back < 1 MiB
