"""The walkthroughs of README.md, clients/README.md and protos/README.md, run as a reader
runs them: each session's blocks in order in one shell, in a fresh folder, against the
real `gpux serve` they start (on a free port of 127.0.0.1), each block's claimed output
checked (``...`` stands for any text; runs of white space are equal)."""

from __future__ import annotations

import pytest

from tests.docs.markdown_blocks import sessions
from tests.docs.sessions import ShellSession, output_problem

pytestmark = pytest.mark.slow  # they start shells, servers and clients


@pytest.mark.parametrize("name", sorted(sessions()))
def test_the_session_runs_and_prints_what_the_document_shows(name, tmp_path):
    with ShellSession(tmp_path) as shell:
        for block in sessions()[name]:
            printed = shell.run(block)
            if block.output is not None:
                problem = output_problem(block.output.replace("50051", shell.port), printed)
                assert problem is None, f"{block.where} printed something else:\n{problem}"


def test_a_failing_command_fails_its_block(tmp_path):
    from tests.docs.markdown_blocks import Block

    with ShellSession(tmp_path) as shell:
        assert shell.run(Block("t.md", 1, "sh", "X=5\necho $X\n", "run", "t")) == "5\n"
        assert shell.run(Block("t.md", 3, "python", "print('py')\n", "run", "t")) == "py\n"
        with pytest.raises(AssertionError, match="t.md:5: the block failed"):
            shell.run(Block("t.md", 5, "sh", "false\necho never\n", "run", "t"))


def test_outputs_compare_with_ellipses_and_any_white_space():
    assert output_problem("a ... c\nd", "a  b b  c d\n") is None
    assert output_problem("a ... c", "a b") is not None
