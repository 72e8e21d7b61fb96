"""The committed generated code matches protos/, and the API follows its conventions."""

from __future__ import annotations

import re
from pathlib import Path

from exchange.proto import generate

PROTOS = Path(__file__).resolve().parents[2] / "protos" / "gpux" / "v1"


def test_generated_code_is_fresh():
    assert generate.stale() == [], "run: python -m exchange.proto.generate"


def test_buf_standard_conventions():
    """Package gpux.v1, services end in Service, enum zero values are *_UNSPECIFIED and
    values carry the enum's prefix, each RPC has its own Request and Response."""
    for path in PROTOS.glob("*.proto"):
        text = path.read_text()
        assert "package gpux.v1;" in text, path.name
        for name in re.findall(r"^service (\w+)", text, re.M):
            assert name.endswith("Service"), name
        for rpc, request, response in re.findall(r"rpc (\w+)\((?:stream )?(\w+)\) returns \((?:stream )?(\w+)\)", text):
            assert (request, response) == (f"{rpc}Request", f"{rpc}Response"), rpc
        for enum, body in re.findall(r"^enum (\w+) \{(.*?)^\}", text, re.M | re.S):
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum).upper() + "_"
            values = re.findall(r"^\s+(\w+) = (\d+);", body, re.M)
            assert values[0] == (prefix + "UNSPECIFIED", "0"), enum
            assert all(v.startswith(prefix) for v, _ in values), enum
