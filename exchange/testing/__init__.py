"""Test and benchmark support that ships with the package.

* :mod:`~exchange.testing.workload` — a deterministic synthetic order flow (symbols,
  funding, orders) for tests and benches;
* :mod:`~exchange.testing.drill` — the crash drill: a real writer process killed with
  SIGKILL, then recovered and checked (``python -m exchange.testing.drill``).
"""
