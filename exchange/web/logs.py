"""Logs of ``gpux serve``: text lines for people, or JSON lines for log pipelines.

``--log-format json`` writes one JSON object per line (python-json-logger) with the
time (ISO 8601, UTC), level, logger name, message and any ``extra`` fields, so that
Loki, Elasticsearch or ``jq`` can filter by field instead of parsing text.
"""

from __future__ import annotations

import logging

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(name)s %(message)s"


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr as text or JSON lines."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler()
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter  # imported only for JSON logs: ~0.04 s

        handler.setFormatter(JsonFormatter("{levelname}{name}{message}", style="{", timestamp=True,
                                           rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
