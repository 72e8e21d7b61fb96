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

__version__ = "0.1.0"
