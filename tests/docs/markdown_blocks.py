"""The fenced code blocks of the documentation, read with markdown-it-py (the CommonMark
parser rich already brings), and how each is marked.

A shell or Python block must be preceded (blank lines aside) by one HTML comment:

* ``<!-- doc: run SESSION -->``: the suite runs it. The blocks of one SESSION run in
  document order in one shell, in a fresh folder (see :mod:`tests.docs.sessions`). A fence
  labelled ``text`` (or not labelled) right after it is the output it claims, checked.
* ``<!-- doc: illustrative REASON -->``: not run, for the REASON given.

The comment shows in the Markdown source and not on the rendered page, where the text
around such a block says what it is for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "clients/README.md", "protos/README.md")
"""The walkthroughs whose shell and Python blocks must be run or marked."""

SHELL = {"sh", "bash", "shell", "console", "zsh"}
PYTHON = {"python", "py", "python3", "pycon"}
OUTPUT = {"", "text"}
_MARK = re.compile(r"^<!--\s*doc:\s*(?P<kind>run|illustrative)\s+(?P<arg>.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and text, its mark, and the output
    fence that follows it (None if there is none)."""

    document: str
    line: int
    lang: str
    text: str
    mark: str | None  # "run", "illustrative" or None
    arg: str  # the session of a run, the reason of an illustration
    output: str | None = None

    @property
    def checked(self) -> bool:
        """A block the marking rules are for: shell or Python."""
        return self.lang in SHELL | PYTHON

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def _mark_before(lines: list[str], first: int) -> tuple[str | None, str]:
    """The doc: comment on the nearest non-blank line above line ``first`` (0-based)."""
    for i in range(first - 1, -1, -1):
        text = lines[i].strip()
        if text:
            found = _MARK.match(text)
            return (found["kind"], found["arg"]) if found else (None, "")
    return None, ""


def blocks(document: str) -> list[Block]:
    """Every fenced block of ``document`` (a path under the repository), in order, each
    run block with the output fence that follows it."""
    source = (ROOT / document).read_text()
    lines = source.splitlines()
    fences = [t for t in MarkdownIt("commonmark").parse(source) if t.type == "fence" and t.map]
    found: list[Block] = []
    for i, token in enumerate(fences):
        lang = token.info.split()[0].lower() if token.info.strip() else ""
        mark, arg = _mark_before(lines, token.map[0])
        output = None
        after = fences[i + 1] if i + 1 < len(fences) else None
        if mark == "run" and after is not None and after.info.strip().lower() in OUTPUT and after.map \
                and not any(line.strip() for line in lines[token.map[1]:after.map[0]]):
            output = after.content
        found.append(Block(document, token.map[0] + 1, lang, token.content, mark, arg, output))
    return found


def sessions() -> dict[str, list[Block]]:
    """{session: its run blocks in order}, over all the documents (a session stays in one)."""
    by_name: dict[str, list[Block]] = {}
    for document in DOCUMENTS:
        for block in blocks(document):
            if block.mark == "run" and block.checked:
                by_name.setdefault(block.arg, []).append(block)
    return by_name
