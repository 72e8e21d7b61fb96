"""The shape of the package: which parts of ``exchange`` import which.

* no cycle between the parts (each subpackage, or module at ``exchange/`` root, is one
  node; every ``import`` statement in its files counts, top-level or not);
* the shared records (:mod:`exchange.schema`) and the catalog load no numba, so a client,
  the catalog or the gateway's checks never pay for compiling the engine;
* every part imports first in a fresh process.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import exchange

ROOT = Path(exchange.__file__).parent


def _part(module: str) -> str | None:
    """The part of ``exchange`` a dotted module name belongs to (None: the root itself)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "exchange" and len(parts) > 1 else None


def import_graph() -> dict[str, dict[str, str]]:
    """part -> {imported part: a file of the part that imports it}."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        here = _part(".".join(rel.parts))
        if here is None:
            continue
        edges = graph.setdefault(here, {})
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = ([f"exchange.{a.name}" for a in node.names] if node.module == "exchange"
                         else [node.module])
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                there = _part(name)
                if there is not None and there != here:
                    edges.setdefault(there, str(path.relative_to(ROOT.parent)))
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str]:
    """One cycle of the graph as its nodes (first == last), or [] if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


@pytest.mark.nojit
def test_no_import_cycle_between_parts() -> None:
    graph = import_graph()
    assert {"engine", "auction", "schema"} <= graph.keys()
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(
        f"{a} ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


@pytest.mark.nojit
def test_find_cycle_names_one() -> None:
    assert find_cycle({"a": {"b": "x"}, "b": {"c": "y"}, "c": {"a": "z"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": "x"}, "b": {}, "c": {"a": "z"}}) == []


@pytest.mark.slow
@pytest.mark.parametrize("module", ["exchange.schema", "exchange.catalog"])
def test_records_and_catalog_load_no_numba(module: str) -> None:
    code = f"import sys, {module}; assert 'numba' not in sys.modules, sorted(sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("first", ["exchange.auction", "exchange.engine", "exchange.engine.reference",
                                   "exchange.auction.reference", "exchange.dayahead", "exchange.gateway"])
@pytest.mark.slow
def test_every_part_imports_first_in_a_fresh_process(first: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {first}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
