"""gpux: an open exchange for standardized GPU-hour contracts.

Packages, from the core outwards:

* :mod:`exchange.schema` — the command and event records, their codes and the market
  rules that every part shares (plain numpy, no numba);
* :mod:`exchange.catalog` — what is traded: GPU classes, regions, market rules, symbols,
  instrument ids;
* :mod:`exchange.engine` — the matching engine (numba kernels and a plain Python reference);
* :mod:`exchange.auction` — call-auction uncrossing (opening, after a halt, on demand);
* :mod:`exchange.journal` — the data directory, journal segments and snapshots;
* :mod:`exchange.sequencer` — the single writer, market state, order ledger and recovery
  (:class:`~exchange.sequencer.ExchangeNode`);
* :mod:`exchange.executions` — each account's execution records, numbered by its
  ``exec_seq``, and the execution log its private stream resumes from;
* :mod:`exchange.tradelog` — the hash-chained Arrow trade log per delivery day, and the
  Parquet copy of each sealed day for SQL tools;
* :mod:`exchange.settlement` — statements, vouchers and delivery schedules;
* :mod:`exchange.audit` — re-verify a data directory from its files alone;
* :mod:`exchange.clearing` — day-ahead clearing of hourly and block orders (HiGHS);
* :mod:`exchange.dayahead` — the day-ahead auction on a node, from intake to booked trades;
* :mod:`exchange.gateway` — the gRPC server of the ``gpux.v1`` API;
* :mod:`exchange.web` — HTTP in the gateway's loop: the market page (算力超市), Prometheus
  metrics, JSON logs;
* :mod:`exchange.proto` — code generated from ``protos/``;
* :mod:`exchange.client` — the typed Python client (:class:`~exchange.client.GpuxClient`);
* :mod:`exchange.cli` — the ``gpux`` command line, the demos and their tables;
* :mod:`exchange.testing` — the synthetic workload and the crash drill, for tests and benches.
"""

import hashlib
import os
import re
import sys
from pathlib import Path

__version__ = "0.1.0"

_IMPORTS_NUMBA = re.compile(rb"^[ \t]*(?:import|from)[ \t]+numba\b", re.MULTILINE)


def _kernel_sources_digest(root: Path = Path(__file__).parent) -> str:
    """SHA-256 (16 hex digits) of every module that imports numba (the modules that define
    kernels) or that they close over (``exchange.schema``, the generated protobuf code),
    and of no other: a module that only names numba in its text does not recompile the
    kernels when it changes. O(those files), ~5 ms."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if _IMPORTS_NUMBA.search(text) or path.relative_to(root).parts[0] in ("schema", "proto"):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + text)
    return digest.hexdigest()[:16]


KERNEL_CACHE_ROOT = Path(__file__).parent / "__pycache__" / "numba"
"""Where the compiled kernels go, one folder per :func:`_kernel_sources_digest`: numba
checks only the file of the kernel it loads, so a change to a kernel it calls in another
module (or to a schema constant) would otherwise leave stale machine code in use. Set
``NUMBA_CACHE_DIR`` yourself to choose another place (then clear it when kernels change)."""
if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(KERNEL_CACHE_ROOT / _kernel_sources_digest())
    if "numba" in sys.modules:  # imported before us: its config has read the environment already
        sys.modules["numba"].config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
