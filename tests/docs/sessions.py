"""Running documented blocks as a reader would: one bash for a whole session, in a fresh
folder laid out like a clone of the repository (``.venv`` and ``clients/`` linked in),
so that variables, the working directory and background jobs (``gpux serve &``) carry
from one block to the next, as they do in a reader's terminal.

A shell block is sourced in that bash (``set -e``: a failing command fails the block); a
Python block is run by the project's interpreter in the session's folder. The documents
use the gateway's default port, 50051; the session rewrites it to a free port of
127.0.0.1 in every block, so that runs never meet each other or a reader's exchange.
"""

from __future__ import annotations

import contextlib
import doctest
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.docs.markdown_blocks import PYTHON, ROOT, Block
from tests.gateway_harness import free_port

VENV = Path(sys.prefix)
"""The environment the suite runs in (``make test``: the clone's ``.venv``)."""
DOC_PORT = "50051"
BLOCK_SECONDS = 300
"""The longest one block may take (a walkthrough's server start included)."""
_END = "@@gpux-doc-block-done@@"
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def output_problem(want: str, got: str) -> str | None:
    """None if ``got`` is what the document shows (``...`` stands for any text, runs of
    white space are equal), else doctest's account of the difference."""
    checker = doctest.OutputChecker()
    if checker.check_output(want, got, _FLAGS):
        return None
    return checker.output_difference(doctest.Example("", want), got, _FLAGS)


class ShellSession:
    """One bash in ``folder/clone`` that runs blocks in order; ``close()`` ends it and
    everything it started (its own process group)."""

    def __init__(self, folder: Path) -> None:
        assert (VENV / "bin" / "gpux").exists(), f"run the suite with the project's .venv, not {sys.executable}"
        self.port = str(free_port())
        self.clone, self.control = folder / "clone", folder / "control"
        self.clone.mkdir()
        self.control.mkdir()
        (self.clone / ".venv").symlink_to(VENV)
        (self.clone / "clients").symlink_to(ROOT / "clients")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUX_")}  # a reader's fresh shell
        env["COLUMNS"] = "100"  # tables as wide as in the documents
        self.terminal = self.control / "terminal"  # stdout and stderr, as a reader's terminal shows them
        with self.terminal.open("w") as out:
            self.proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-e"], cwd=self.clone, env=env, text=True,
                                         stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.blocks = 0

    def run(self, block: Block, seconds: float = BLOCK_SECONDS) -> str:
        """Run ``block`` (port rewritten); what it printed (stdout and stderr). Fails the
        test, with that, if it fails or takes more than ``seconds``."""
        self.blocks += 1
        is_python = block.lang in PYTHON
        script = self.control / f"block-{self.blocks}.{'py' if is_python else 'sh'}"
        script.write_text(block.text.replace(DOC_PORT, self.port))
        command = f"{VENV / 'bin' / 'python'} {script}" if is_python else f". {script}"
        start = self.terminal.stat().st_size
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command} </dev/null\nprintf '\\n%s\\n' {_END}\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + seconds
        while True:
            with self.terminal.open("rb") as out:
                out.seek(start)
                text = out.read().decode()
            if f"\n{_END}\n" in text:
                return text[:text.index(f"\n{_END}\n")]
            failed = self.proc.poll() is not None
            if failed or time.monotonic() > deadline:
                raise AssertionError(f"{block.where}: the block {'failed' if failed else 'timed out'}; "
                                     f"it printed:\n{text[-6000:]}")
            time.sleep(0.1)

    def close(self) -> None:
        """End the shell and whatever it left running (a server it put in the background):
        SIGTERM to its process group (a server stops cleanly), SIGKILL to what is left."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        deadline = time.monotonic() + 20
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
            while time.monotonic() < deadline:
                self.proc.poll()  # reaped, the shell leaves the group
                os.killpg(self.proc.pid, 0)  # ProcessLookupError once the group is empty
                time.sleep(0.1)
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
