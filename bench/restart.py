"""Restart benchmark (issue 14): ``gpux serve`` started on a data dir until it answers SERVING,
then killed with SIGKILL, round after round.

    python bench/restart.py DATA_DIR [--rounds N] [--baseline TREE:DATA_DIR]

Each round starts ``python -m exchange.cli serve`` of this tree on ``DATA_DIR`` (with the
soak's options: ``--opening-call 0``, the rate limit out of the way, the metrics on
``--http-address``), polls the health service every 10 ms as ``bench/soak.py`` does, and
kills it with SIGKILL once it answers SERVING: the next round recovers from that kill.
Per round it prints the time from the process start to the SERVING answer, the server's
CPU (user + system) at that moment, and when its log said the kernels were ready, it was
serving (logged after the market page started, which follows SERVING) and its start-up
heap was frozen, and where the time went (bench/startup.py): what the server's threads
ran and waited for a CPU up to the kernels being ready and up to SERVING, what it read
from the disk, and the CPU this process used meanwhile. With ``--baseline``, another tree
(e.g. a ``git archive`` of main, its kernels warmed by its own ``gpux warm``) runs on its
own copy of the data in turn with this one, so both see the same moments of a shared
machine. The load average is printed with every round: on a busy machine the wall times
move, the CPU less.

For the restart after the soak's 10 M commands: copy the soak's data dir when it kills the
server (``bench/soak.py --keep`` keeps it after a clean stop instead, which leaves no
journal tail), or use any data dir a server was killed on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from startup import Server  # noqa: E402  (bench/startup.py)

from tests.gateway_harness import free_port  # noqa: E402


def restart(tree: Path, data_dir: Path) -> tuple[float, float, dict[str, float], str]:
    """One round: seconds to SERVING, the server's CPU then, its log times, where its time
    went (:meth:`startup.Server.report`)."""
    server = Server(data_dir, free_port(), [], tree)
    try:
        took = server.start()
        cpu = server.cpu()
        time.sleep(1.0)  # the log lines after SERVING
    finally:
        server.kill()
    times = server.times()
    return took, cpu, times, server.report(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path, help="data dir of this tree's server (recovered every round)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--baseline", help="TREE:DATA_DIR of a tree to run in turn with this one, on its own data")
    args = ap.parse_args()
    runs = {"this tree": (ROOT, args.data_dir)}
    if args.baseline:
        tree, _, data = args.baseline.partition(":")
        runs = {"baseline": (Path(tree), Path(data)), **runs}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(args.rounds):
        for name, (tree, data_dir) in runs.items():
            took, cpu, times, spent = restart(tree, data_dir)
            results[name].append((took, cpu))
            print(f"{dt.datetime.now(dt.UTC):%H:%M:%S} UTC round {r + 1} {name}: {took:.2f} s to SERVING, "
                  f"server CPU {cpu:.2f} s; log: " + ", ".join(f"{k} at {t:.2f} s" for k, t in times.items())
                  + f"; load {os.getloadavg()[0]:.2f}\n  {spent}", flush=True)
    for name, rounds in results.items():
        walls, cpus = [w for w, _ in rounds], [c for _, c in rounds]
        print(f"{name}: to SERVING median {statistics.median(walls):.2f} s (min {min(walls):.2f}, "
              f"max {max(walls):.2f}), server CPU median {statistics.median(cpus):.2f} s (min {min(cpus):.2f})")


if __name__ == "__main__":
    main()
