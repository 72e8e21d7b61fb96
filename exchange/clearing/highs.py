"""HiGHS plumbing shared by the clearing's solves: options, timing, integral read-back.

HiGHS takes and gives doubles: integer fen and GPU counts become floats only as solver
input (exact below 2**53), and every value read back is rounded and checked with
:func:`as_int` before it is used.
"""

from __future__ import annotations

import time

import highspy

from exchange.clearing.model import ClearingError

INTEGRALITY_TOL = 1e-6
"""How far from an integer a HiGHS value may be before the result is refused."""

MIP_OPTIONS: dict = {"mip_heuristic_run_root_reduced_cost": False, "presolve_rule_off": 1 << 13 | 1 << 16}
"""HiGHS options for the MIP rounds, before ``clear(highs_options=...)`` (which win).

* The root reduced-cost heuristic runs sub-MIPs that took about two thirds of every
  round on the 50,000-order benchmark day (first round 12 s -> 4 s at the same gap).
* Presolve rule 13 (parallel rows and columns) is off: in HiGHS 1.16 it returns a
  suboptimal point as optimal when two all-or-none blocks cover the same hours of one
  product (parallel binary columns, e.g. a buy of 2 and a sell of 1: objective 6
  instead of 12; tests/clearing/test_clearing.py::test_parallel_blocks_presolve_bug).
* Presolve rule 16 (enumeration) is off: in HiGHS 1.16 it too returns a suboptimal point
  as optimal, on a day whose all-or-none buy and sell blocks cover the same two hours
  (objective 10 instead of 11; test_enumeration_presolve_bug). HiGHS issue #3216 traces
  a wrong reduction to the clique rows this rule leaves behind."""


def new_highs(options: dict) -> highspy.Highs:
    """A silent HiGHS instance with presolve's parallel rule off (see :data:`MIP_OPTIONS`)
    and ``options`` on top."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve_rule_off", MIP_OPTIONS["presolve_rule_off"])
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


class SolveClock:
    """Wall time spent inside HiGHS, summed over every call of one clearing."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def run(self, h: highspy.Highs) -> None:
        t0 = time.perf_counter()
        h.run()
        self.seconds += time.perf_counter() - t0


def as_int(value: float, what: str) -> int:
    """``value`` rounded to an integer; :class:`ClearingError` if it is not within
    :data:`INTEGRALITY_TOL` of one."""
    k = round(value)
    if abs(value - k) > INTEGRALITY_TOL:
        raise ClearingError(f"{what}: solver value {value!r} is not integral")
    return int(k)
