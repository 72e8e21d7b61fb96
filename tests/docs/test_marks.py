"""Every shell and Python block of the walkthroughs is either run by the suite or marked
illustrative with a reason (tests/docs/markdown_blocks.py says how); no process starts."""

from __future__ import annotations

import pytest

from tests.docs.markdown_blocks import DOCUMENTS, blocks, sessions


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_shell_and_python_block_is_run_or_marked_illustrative_with_a_reason(document):
    unmarked = [b.where for b in blocks(document) if b.checked and b.mark is None]
    assert not unmarked, (f"mark these blocks <!-- doc: run SESSION --> (tests/docs runs them) or "
                          f"<!-- doc: illustrative REASON -->: {unmarked}")
    for block in blocks(document):
        assert block.mark is None or block.arg, f"{block.where}: a mark names its session or its reason"
        assert block.mark != "run" or block.checked, f"{block.where}: only shell and Python blocks are run"


def test_a_session_stays_in_one_document():
    for name, run in sessions().items():
        assert len({b.document for b in run}) == 1, f"session {name} is split over {[b.where for b in run]}"


def test_the_reader_finds_marks_outputs_and_nested_fences(tmp_path, monkeypatch):
    import tests.docs.markdown_blocks as markdown_blocks

    (tmp_path / "doc.md").write_text(
        "# t\n\n<!-- doc: run s1 -->\n```sh\necho hi\n```\n```text\nhi\n```\n\n"
        "- a list item:\n\n  <!-- doc: illustrative it needs a GPU -->\n  ```python\n  print(1)\n  ```\n\n"
        "```bash\nls\n```\n\n<!-- doc: run s1 -->\n\n```python\nprint(2)\n```\n\nsome text\n\n```\n2\n```\n")
    monkeypatch.setattr(markdown_blocks, "ROOT", tmp_path)
    found = markdown_blocks.blocks("doc.md")
    assert [(b.line, b.lang, b.mark, b.arg, b.output) for b in found] == [
        (4, "sh", "run", "s1", "hi\n"), (7, "text", None, "", None),
        (14, "python", "illustrative", "it needs a GPU", None),
        (18, "bash", None, "", None),  # unmarked: the test above would name it
        (24, "python", "run", "s1", None),  # text between: that fence is not its output
        (30, "", None, "", None)]
