"""The network demo: a real ``gpux serve`` child, gRPC clients, settlement, audit — and
no server process left behind, whether it ends well or not."""

import io
import os
import re

import pytest
from rich.console import Console

from exchange.cli import netdemo
from exchange.journal import DataDir
from exchange.settlement import settled_days
from exchange.tradelog import days, read_seal

pytestmark = pytest.mark.slow  # the network demo starts gpux serve as a child process


def _assert_reaped(pid: int, data_dir) -> None:
    with pytest.raises(ProcessLookupError):  # gone, and not a zombie: it was waited for
        os.kill(pid, 0)
    os.close(DataDir(data_dir).lock())  # nobody holds the data dir


def _server_pid(text: str) -> int:
    return int(re.search(r"gpux serve \(pid (\d+)\)", text).group(1))


def test_netdemo_trades_over_grpc_then_settles_and_audits(tmp_path):
    out = io.StringIO()
    assert netdemo.main(Console(file=out, width=160), data_dir=tmp_path / "nd") == 0
    text = out.getvalue()
    for expected in ("Buyers' orders", "Trades per symbol", "Best asks per PFLOP-hour",
                     "H100-80G.guizhou.", "910B.ningxia.", "A800-80G.guizhou.", "ai-startup",
                     "render-farm", "university-lab", "guizhou-idle-lab", "ningxia-cloud", "FILLED",
                     "exit code 0", "Settlement of delivery day", "hangzhou-city-fund owes", "AUDIT PASSED",
                     "Day-ahead result", "market page (算力超市): http://127.0.0.1:", "re-quoted"):
        assert expected in text, expected
    trades = int(re.search(r"(\d+) trades in 20 slots of (\S+);", text).group(1))
    assert trades >= 8
    _assert_reaped(_server_pid(text), tmp_path / "nd")
    # Tomorrow's trades are logged and settled provisionally; the day is not sealed.
    trades_root = DataDir(tmp_path / "nd").trades
    day, day_ahead = days(trades_root)  # tomorrow's trades, and the day-ahead auction's
    assert settled_days(tmp_path / "nd") == [day]
    assert "Day-ahead result" in text and "render-farm: 12 GPUs x 4 h from 10:00 -> filled 12 in ningxia" in text
    # the night training job may start at any hour of 20-08 and lands in the cheapest night hours
    start = netdemo.cheapest_night_run()
    assert start == 2 and "the cheapest 4 consecutive night hours: 02:00-06:00" in text
    assert ("university-lab: 8 GPUs x 4 h starting at any of 0, 1, 2, 3, 4, 20 h -> filled 8 in guizhou "
            "02:00-06:00") in text, text
    assert read_seal(trades_root, day) is None
    assert f"Settlement of delivery day {day}" in text


def test_netdemo_ends_the_server_when_a_participant_fails(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("provider crashed")

    monkeypatch.setattr(netdemo, "provide", broken)
    out = io.StringIO()
    with pytest.raises(RuntimeError, match="provider crashed"):
        netdemo.main(Console(file=out, width=160), data_dir=tmp_path / "nd")
    _assert_reaped(_server_pid(out.getvalue()), tmp_path / "nd")


def test_netdemo_ends_the_server_when_it_does_not_start_in_time(tmp_path, monkeypatch):
    started = []
    start = netdemo.ServerProcess.start
    monkeypatch.setattr(netdemo.ServerProcess, "start", lambda self: start(started.append(self) or self))
    monkeypatch.setattr(netdemo, "START_TIMEOUT", 0.001)
    with pytest.raises(RuntimeError, match="did not report its port"):
        netdemo.main(Console(file=io.StringIO(), width=160), data_dir=tmp_path / "nd")
    (server,) = started
    assert server.proc.returncode is not None
    _assert_reaped(server.proc.pid, tmp_path / "nd")
