"""Benchmark of the matching engines: the numba engine (batch API and one command per
call) against the plain-Python reference engine, on one synthetic command stream.

    python bench/engine.py [--commands N] [--quick]

Stream (fixed seed): one instrument, 200 funded accounts with capacity; N commands of
which ~90 % are new LIMIT GTC orders (random account, side and STP mode, price = mid +
normal(0, 30 ticks) clipped to the band, qty 1..100, per-account increasing clords) and
~10 % are cancels of a random earlier passive order of the same account (a bid one
spread or more below the mid or an ask one spread above; no simulation, so some of those
are already filled or cancelled by then: ORDER_DONE, as in real traffic; the share that
hit a live order is printed from the events).

Figures printed, each with its target and PASS/MISS (targets are only reported here,
never asserted; timing is not checked in the tests):

* numba batch API, batches of 10 k commands, fresh engine, kernels already loaded
  (best of 3 runs);
* numba one command per call (``process(stream[i:i+1])``) over a prefix of the stream
  (best of 3 runs);
* reference engine over the same stream (or a prefix with ``--reference``), in batches;
* the ratios between them;
* event equality: numba vs reference over the same commands, full event arrays compared
  batch by batch, sha256 of all TRADE events (every field) of each;
* peak memory with 1 M resting orders (in a subprocess, RSS before/after);
* start-up with a warm kernel cache: import + engine + first batch of 10 k (subprocess,
  run twice, the second is reported).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: no BLAS threads spinning
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

_T_START = time.perf_counter()  # start-up child: measured from here (numpy import included)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------- parameters

SEED = 20240607
ACCOUNTS = 200
MID = 3000
SPREAD_TICKS = 30
BATCH = 10_000
REPEATS = 3  # numba timings: best of this many runs
T0 = 1_780_000_000 * 10**9  # command time base (ns since the epoch)
SLOT_TS = T0 + 30 * 86_400 * 10**9  # delivery slot 30 days later: the gate never closes
CASH = 10**13  # fen per account: risk checks run on every order but never bite
CAPACITY = 10**9  # GPUs per account

TARGETS = {
    "batch": 10_000_000,  # commands/s
    "batch_vs_ref": 25.0,
    "single": 500_000,  # commands/s
    "memory_mb": 200.0,
    "startup_s": 3.0,
}


def engine_config():
    from exchange.schema import EngineConfig

    return EngineConfig(tick=(1,), band_lo=(100,), band_hi=(6000,), min_qty=(1,),
                        max_qty=(100,), max_accounts=256)


def setup_commands(accounts: int = ACCOUNTS, cash: int = CASH) -> np.ndarray:
    """List instrument 0, fund every account and give it capacity in instrument 0."""
    from exchange.schema import CommandKind as K, commands

    setup = commands(1 + 2 * accounts)
    setup["kind"][0] = K.LIST_INSTRUMENT
    setup["instrument"][0] = 0
    setup["gpu_class"][0] = 0
    setup["region"][0] = 0
    setup["slot_ts"][0] = SLOT_TS
    acct = np.arange(accounts)
    setup["kind"][1:1 + accounts] = K.DEPOSIT_FUNDS
    setup["account"][1:1 + accounts] = acct
    setup["amount"][1:1 + accounts] = cash
    setup["kind"][1 + accounts:] = K.DEPOSIT_CAPACITY
    setup["account"][1 + accounts:] = acct
    setup["instrument"][1 + accounts:] = 0
    setup["qty"][1 + accounts:] = CAPACITY
    setup["seq"] = np.arange(1, len(setup) + 1)
    setup["ts"] = T0
    return setup


def trading_stream(n: int, seed: int = SEED, first_seq: int = 1_000, accounts: int = ACCOUNTS,
                   cancel_share: float = 0.10) -> np.ndarray:
    """``n`` NEW_ORDER / CANCEL commands for instrument 0 (see the module docstring)."""
    from exchange.schema import CommandKind as K, OrderType, Side, TimeInForce, commands

    cfg = engine_config()
    rng = np.random.default_rng(seed)
    acct = rng.integers(0, accounts, n)
    is_cancel = rng.random(n) < cancel_share
    is_cancel[: min(n, 10 * accounts)] = False  # let every account place some orders first
    # per-account running count of new orders, inclusive (vectorised group cumsum)
    order = np.argsort(acct, kind="stable")
    new_sorted = (~is_cancel[order]).astype(np.int64)
    cs = np.cumsum(new_sorted)
    a_sorted = acct[order]
    starts = np.flatnonzero(np.r_[True, a_sorted[1:] != a_sorted[:-1]])
    base = np.repeat(cs[starts] - new_sorted[starts], np.diff(np.r_[starts, n]))
    count = np.empty(n, np.int64)
    count[order] = cs - base
    price = MID + np.rint(rng.normal(0.0, SPREAD_TICKS, n)).astype(np.int64) * cfg.tick[0]
    price = np.clip(price, cfg.band_lo[0], cfg.band_hi[0])
    side = np.where(rng.random(n) < 0.5, int(Side.BUY), int(Side.SELL))
    qty = rng.integers(1, 101, n)
    stp = rng.integers(1, 5, n)

    # A cancel targets a random earlier "passive" order of its account (a bid at least
    # one spread below the mid or an ask one spread above: those mostly rest), else, when
    # the account has none yet, a random earlier order of it. No simulation, so some
    # targets are already filled or cancelled (ORDER_DONE); the events say how many.
    new = ~is_cancel
    passive = new & (((side == int(Side.BUY)) & (price <= MID - SPREAD_TICKS))
                     | ((side == int(Side.SELL)) & (price >= MID + SPREAD_TICKS)))
    p_sorted = passive[order].astype(np.int64)
    pcs = np.cumsum(p_sorted)
    pbase = np.repeat(pcs[starts] - p_sorted[starts], np.diff(np.r_[starts, n]))
    pcount = np.empty(n, np.int64)
    pcount[order] = pcs - pbase  # passive orders of the account so far
    pas_clord = count[order[p_sorted.astype(bool)]]  # grouped by account, in time order
    pstart = np.zeros(accounts + 1, np.int64)
    pstart[1:] = np.cumsum(np.bincount(acct[passive], minlength=accounts))
    u = rng.random(n)
    j = np.floor(u * np.maximum(pcount, 1)).astype(np.int64)
    pick = np.minimum(pstart[acct] + j, max(len(pas_clord) - 1, 0))
    any_earlier = 1 + np.floor(u * np.maximum(count, 1)).astype(np.int64)
    target = (np.where(pcount > 0, pas_clord[pick], any_earlier) if len(pas_clord)
              else any_earlier)

    s = commands(n)
    s["seq"] = np.arange(first_seq, first_seq + n)
    s["ts"] = T0 + 1_000 * np.arange(1, n + 1)  # 1 µs apart
    s["account"] = acct
    s["instrument"] = 0
    s["kind"] = np.where(new, int(K.NEW_ORDER), int(K.CANCEL))
    s["side"] = np.where(new, side, 0)
    s["order_type"] = np.where(new, int(OrderType.LIMIT), 0)
    s["tif"] = np.where(new, int(TimeInForce.GTC), 0)
    s["stp"] = np.where(new, stp, 0)
    s["price"] = np.where(new, price, 0)
    s["qty"] = np.where(new, qty, 0)
    s["clord"] = np.where(new, count, 0)
    s["orig_clord"] = np.where(new, 0, target)
    return s


def resting_batch(start: int, n: int, rng: np.random.Generator, accounts: int = ACCOUNTS) -> np.ndarray:
    """``n`` non-crossing GTC orders: bids in [MID-500, MID-1], asks in [MID+1, MID+500]."""
    from exchange.schema import CommandKind as K, OrderType, Side, TimeInForce, commands

    idx = np.arange(start, start + n)
    buy = rng.random(n) < 0.5
    off = rng.integers(1, 501, n)
    b = commands(n)
    b["seq"] = 1_000 + idx
    b["ts"] = T0 + 1_000 * (idx + 1)
    b["kind"] = int(K.NEW_ORDER)
    b["account"] = idx % accounts
    b["side"] = np.where(buy, int(Side.BUY), int(Side.SELL))
    b["order_type"] = int(OrderType.LIMIT)
    b["tif"] = int(TimeInForce.GTC)
    b["stp"] = 1
    b["price"] = np.where(buy, MID - off, MID + off)
    b["qty"] = rng.integers(1, 101, n)
    b["clord"] = 1 + idx // accounts
    return b


# ---------------------------------------------------------------------------- children

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def child_memory(resting: int) -> dict:
    import gc

    from exchange.engine.numba_engine import Engine

    cfg = engine_config()
    warm = Engine(cfg)  # load the compiled kernels before the baseline
    warm.process(setup_commands(4))
    del warm
    gc.collect()
    rss0 = _status_kb("VmRSS")
    t = time.perf_counter()
    eng = Engine(cfg)
    eng.process(setup_commands())
    rng = np.random.default_rng(SEED + 1)
    rejected = 0
    for start in range(0, resting, BATCH):
        ev = eng.process(resting_batch(start, min(BATCH, resting - start), rng))
        rejected += int(np.count_nonzero(ev["kind"] == 2))
        del ev
    elapsed = time.perf_counter() - t
    gc.collect()
    rss1 = _status_kb("VmRSS")
    hwm = _status_kb("VmHWM")
    state_bytes = sum(a.nbytes for a in eng._st)
    return {"rss0_kb": rss0, "rss1_kb": rss1, "hwm_kb": hwm, "live": eng._live,
            "rejected": rejected, "state_bytes": state_bytes, "seconds": elapsed,
            "orders_rows": len(eng._st.orders), "clord_table": len(eng._st.clord_index)}


def child_startup() -> dict:
    t_import0 = time.perf_counter()
    from exchange.engine.numba_engine import Engine

    t_import1 = time.perf_counter()
    setup = setup_commands()
    first = trading_stream(BATCH)
    t_gen = time.perf_counter()
    eng = Engine(engine_config())
    eng.process(setup)
    ev = eng.process(first)
    t_end = time.perf_counter()
    return {
        "numpy_import_s": t_import0 - _T_START,
        "engine_import_s": t_import1 - t_import0,
        "first_batch_s": t_end - t_gen,
        "total_s": (t_import1 - _T_START) + (t_end - t_gen),
        "events": len(ev),
    }


def run_child(mode: str, *extra: str) -> tuple[dict, float]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode, *extra],
                         check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


# ---------------------------------------------------------------------------- main

def fmt_rate(x: float) -> str:
    return f"{x / 1e6:.2f} M/s" if x >= 1e6 else f"{x / 1e3:.1f} k/s"


def time_batches(engine_cls, cfg, setup: np.ndarray, stream: np.ndarray) -> tuple[list[float], int, int]:
    """Seconds of REPEATS runs of ``stream`` in batches of BATCH, each on a fresh engine
    after ``setup``; the events and the orders resting at the end of the last run."""
    runs = []
    for _ in range(REPEATS):
        eng = engine_cls(cfg)
        eng.process(setup)
        n_events = 0
        t = time.perf_counter()
        for s in range(0, len(stream), BATCH):
            n_events += len(eng.process(stream[s:s + BATCH]))
        runs.append(time.perf_counter() - t)
        live_end = eng._live
        del eng
    return runs, n_events, live_end


def time_single_commands(engine_cls, cfg, setup: np.ndarray, stream: np.ndarray) -> list[float]:
    """Seconds of REPEATS runs of ``stream`` one command per call, each on a fresh engine
    after ``setup``."""
    runs = []
    for _ in range(REPEATS):
        eng = engine_cls(cfg)
        eng.process(setup)
        proc = eng.process
        t = time.perf_counter()
        for i in range(len(stream)):
            proc(stream[i:i + 1])
        runs.append(time.perf_counter() - t)
        del eng, proc
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=None,
                    help="trading commands in the stream (default 1,000,000; --quick 200,000)")
    ap.add_argument("--quick", action="store_true", help="smaller run, under a minute")
    ap.add_argument("--single", type=int, default=None,
                    help="commands for the one-per-call run (default 100,000; --quick 20,000)")
    ap.add_argument("--reference", type=int, default=None,
                    help="commands for the reference engine (a prefix; default: all)")
    ap.add_argument("--resting", type=int, default=1_000_000,
                    help="resting orders for the memory figure (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "memory":
        print(json.dumps(child_memory(args.resting)))
        return
    if args.child == "startup":
        print(json.dumps(child_startup()))
        return

    n = args.commands or (200_000 if args.quick else 1_000_000)
    n_single = min(n, args.single or (20_000 if args.quick else 100_000))
    n_ref = min(n, args.reference or n)

    import numba

    from exchange.engine.numba_engine import Engine
    from exchange.engine.reference import ReferenceEngine
    from exchange.schema import CommandKind as K, EventKind as EV, Reason

    print(f"gpux engine benchmark  python {platform.python_version()}  numpy {np.__version__}"
          f"  numba {numba.__version__}  cpus {os.cpu_count()}  {platform.machine()}")
    cfg = engine_config()
    t = time.perf_counter()
    setup = setup_commands()
    stream = trading_stream(n, args.seed)
    gen_s = time.perf_counter() - t
    n_cancel = int(np.count_nonzero(stream["kind"] == K.CANCEL))
    print(f"stream: {n:,} commands (+{len(setup)} setup), {n_cancel:,} cancels "
          f"({100 * n_cancel / n:.1f} %), {ACCOUNTS} accounts, seed {args.seed}, "
          f"generated in {gen_s:.2f} s")

    # warm up: load (or compile) the kernels on a throwaway engine
    t = time.perf_counter()
    warm = Engine(cfg)
    warm.process(setup)
    warm.process(stream[:2_000])
    for i in range(2_000, 2_100):
        warm.process(stream[i:i + 1])
    del warm
    print(f"warm-up (kernel load/compile) {time.perf_counter() - t:.2f} s")

    # (a) batch API: best of REPEATS runs, each on a fresh engine
    batch_runs, n_events, live_end = time_batches(Engine, cfg, setup, stream[:n])
    batch_s = min(batch_runs)
    batch_rate = n / batch_s
    print(f"(a) numba batch API: {n:,} commands in {batch_s:.3f} s (best of "
          f"{', '.join(f'{x:.3f}' for x in batch_runs)} s), {n_events:,} events, "
          f"{live_end:,} orders resting at the end")

    # (b) one command per call: best of REPEATS runs over the first n_single commands
    single_runs = time_single_commands(Engine, cfg, setup, stream[:n_single])
    single_s = min(single_runs)
    single_rate = n_single / single_s
    print(f"(b) numba one command per call (process(stream[i:i+1])): first {n_single:,} commands "
          f"in {single_s:.3f} s (best of {', '.join(f'{x:.3f}' for x in single_runs)} s), "
          f"{1e6 * single_s / n_single:.2f} µs/command")

    # (c, d) reference engine, in lockstep with a fresh numba engine for the comparison
    eng = Engine(cfg)
    ref = ReferenceEngine(cfg)
    h_all = {"numba": hashlib.sha256(), "reference": hashlib.sha256()}
    h_trade = {"numba": hashlib.sha256(), "reference": hashlib.sha256()}
    n_trades = {"numba": 0, "reference": 0}
    mismatches, first_mismatch = 0, None
    kinds = np.zeros(16, np.int64)
    reasons: dict[int, int] = {}
    cancel_live = cancel_done = cancel_unknown = 0
    ref_s = 0.0
    batches = [setup] + [stream[s:min(s + BATCH, n_ref)] for s in range(0, n_ref, BATCH)]
    for b in batches:
        ev_n = eng.process(b)
        t = time.perf_counter()
        ev_r = ref.process(b)
        if b is not setup:
            ref_s += time.perf_counter() - t
        for name, ev in (("numba", ev_n), ("reference", ev_r)):
            h_all[name].update(np.ascontiguousarray(ev).tobytes())
            trades = np.ascontiguousarray(ev[ev["kind"] == EV.TRADE])
            h_trade[name].update(trades.tobytes())
            n_trades[name] += len(trades)
        if not (ev_n.shape == ev_r.shape and np.array_equal(ev_n, ev_r)):
            mismatches += 1
            if first_mismatch is None:
                first_mismatch = int(b["seq"][0])
        if b is setup:
            continue
        kinds += np.bincount(ev_n["kind"], minlength=16)[:16]
        rej = ev_n[ev_n["kind"] == EV.REJECTED]
        for r, c in zip(*np.unique(rej["reason"], return_counts=True)):
            reasons[int(r)] = reasons.get(int(r), 0) + int(c)
        cmd_kind = b["kind"][ev_n["seq"] - b["seq"][0]]
        on_cancel = ev_n[cmd_kind == K.CANCEL]
        cancel_live += int(np.count_nonzero((on_cancel["kind"] == EV.CANCELLED)
                                            & (on_cancel["reason"] == Reason.USER_CANCEL)))
        cancel_done += int(np.count_nonzero(on_cancel["reason"] == Reason.ORDER_DONE))
        cancel_unknown += int(np.count_nonzero(on_cancel["reason"] == Reason.UNKNOWN_ORDER))
    ref_rate = n_ref / ref_s
    equal = mismatches == 0 and h_all["numba"].digest() == h_all["reference"].digest()
    del eng, ref
    scope = "the whole stream" if n_ref == n else f"a prefix of {n_ref:,} commands"
    print(f"(c) reference engine: {n_ref:,} commands ({scope}) in {ref_s:.2f} s")
    n_cancel_ref = int(np.count_nonzero(stream["kind"][:n_ref] == K.CANCEL))
    print(f"    events over {scope}: " + ", ".join(
        f"{EV(k).name} {int(kinds[k]):,}" for k in range(1, 9) if kinds[k]))
    print(f"    cancels: {cancel_live:,} hit a live order "
          f"({100 * cancel_live / max(n_cancel_ref, 1):.1f} %), {cancel_done:,} ORDER_DONE, "
          f"{cancel_unknown:,} UNKNOWN_ORDER; rejects by reason: "
          + (", ".join(f"{Reason(r).name} {c:,}" for r, c in sorted(reasons.items())) or "none"))
    print(f"(d) TRADE events sha256 (setup + {scope}):")
    print(f"    numba     {h_trade['numba'].hexdigest()}  ({n_trades['numba']:,} trades)")
    print(f"    reference {h_trade['reference'].hexdigest()}  ({n_trades['reference']:,} trades)")
    print(f"    all events sha256: numba {h_all['numba'].hexdigest()[:16]}…  "
          f"reference {h_all['reference'].hexdigest()[:16]}…  batches differing: {mismatches}"
          + (f" (first at seq {first_mismatch})" if first_mismatch is not None else ""))

    # (e) memory with resting orders, in a clean subprocess
    mem, mem_wall = run_child("memory", "--resting", str(args.resting))
    peak_mb = (mem["hwm_kb"] - mem["rss0_kb"]) / 1024
    final_mb = (mem["rss1_kb"] - mem["rss0_kb"]) / 1024
    print(f"(e) {mem['live']:,} resting orders ({mem['rejected']} rejected) placed in "
          f"{mem['seconds']:.2f} s: RSS {mem['rss0_kb'] / 1024:.0f} MB before, "
          f"+{final_mb:.0f} MB after, peak +{peak_mb:.0f} MB; engine arrays "
          f"{mem['state_bytes'] / 2**20:.0f} MB (order pool {mem['orders_rows']:,} rows, "
          f"clord table {mem['clord_table']:,} slots)")

    # (f) start-up with a warm cache (first run makes sure the cache is populated)
    st1, wall1 = run_child("startup")
    st2, wall2 = run_child("startup")
    print(f"(f) start-up, import + engine + first batch of {BATCH:,}: run 1 "
          f"{st1['total_s']:.2f} s, run 2 {st2['total_s']:.2f} s (numpy import "
          f"{st2['numpy_import_s']:.2f} s, engine import {st2['engine_import_s']:.2f} s, "
          f"first batch {st2['first_batch_s']:.3f} s); whole process {wall2:.2f} s")

    # table
    vs_ref = batch_rate / ref_rate
    vs_single = batch_rate / single_rate
    rows = [
        ("numba batch API (10 k/batch)", fmt_rate(batch_rate), f">= {fmt_rate(TARGETS['batch'])}",
         batch_rate >= TARGETS["batch"]),
        ("numba one command per call", fmt_rate(single_rate), f">= {fmt_rate(TARGETS['single'])}",
         single_rate >= TARGETS["single"]),
        ("reference engine", fmt_rate(ref_rate), "-", None),
        ("batch / reference", f"{vs_ref:.1f}x", f">= {TARGETS['batch_vs_ref']:.0f}x",
         vs_ref >= TARGETS["batch_vs_ref"]),
        ("batch / one per call", f"{vs_single:.1f}x", "-", None),
        (f"memory, {mem['live']:,} resting (peak)", f"{peak_mb:.0f} MB",
         f"< {TARGETS['memory_mb']:.0f} MB", peak_mb < TARGETS["memory_mb"]),
        ("start-up, warm cache", f"{st2['total_s']:.2f} s", f"< {TARGETS['startup_s']:.0f} s",
         st2["total_s"] < TARGETS["startup_s"]),
        ("identical trades numba/reference", "yes" if equal else "NO", "identical", equal),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print()
    print(f"{'figure':<{w0}}  {'value':>{w1}}  {'target':<{w2}}  result")
    for name, value, target, ok in rows:
        res = "-" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:<{w0}}  {value:>{w1}}  {target:<{w2}}  {res}")
    cmd = ["python", "bench/engine.py"] + sys.argv[1:]
    print()
    print("command: " + " ".join(cmd))


if __name__ == "__main__":
    main()
