"""Voucher grants (算力券) and the book that keeps them.

See :mod:`exchange.settlement` for the rules; this module implements the grants.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from exchange.journal import FileOps, write_atomically
from exchange.tradelog.schema import BPS_DENOMINATOR

SETTLEMENT_DIR = "settlement"
"""Directory under the data directory holding vouchers and settled days."""
VOUCHERS_FILE = "vouchers.json"
"""File name of the voucher book inside :data:`SETTLEMENT_DIR`."""
ACCOUNT_LIMIT = 1 << 63
"""Accounts are int64 ids in ``[0, ACCOUNT_LIMIT)``."""


class SettlementError(Exception):
    """Settlement cannot be trusted: conservation failed, or a named file is missing or corrupt."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class VoucherGrant:
    """An issuer pays ``rate_bps`` of what ``account`` buys for delivery days in
    ``[valid_from, valid_to]`` (inclusive), up to ``cap_fen`` over the grant's life
    (``None``: no cap). E.g. ``VoucherGrant("hz-2026", "Hangzhou fund", 7, 5000,
    200_000_000, date(2026, 1, 1), date(2026, 12, 31))``: 50 % up to ¥2,000,000.
    """

    grant_id: str
    issuer: str
    account: int
    rate_bps: int
    cap_fen: int | None
    valid_from: date
    valid_to: date

    def __post_init__(self) -> None:
        for name in ("grant_id", "issuer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"voucher {name} must be a non-empty string, got {value!r}")
        where = f"voucher {self.grant_id!r}"
        if not _is_int(self.account) or not 0 <= self.account < ACCOUNT_LIMIT:
            raise ValueError(f"{where}: account must be an integer id in 0..2**63-1, got {self.account!r}")
        if not _is_int(self.rate_bps) or not 1 <= self.rate_bps <= BPS_DENOMINATOR:
            raise ValueError(
                f"{where}: rate_bps must be an integer 1..{BPS_DENOMINATOR} basis points "
                f"(3000 = 30 %), got {self.rate_bps!r}"
            )
        if self.cap_fen is not None and not (_is_int(self.cap_fen) and self.cap_fen > 0):
            raise ValueError(
                f"{where}: cap_fen must be None (no cap) or a positive integer of fen, got {self.cap_fen!r}"
            )
        for name in ("valid_from", "valid_to"):
            if type(getattr(self, name)) is not date:
                raise ValueError(f"{where}: {name} must be a datetime.date, got {getattr(self, name)!r}")
        if self.valid_from > self.valid_to:
            raise ValueError(
                f"{where}: valid_from {self.valid_from} is after valid_to {self.valid_to} "
                "(valid_to is inclusive; swap or fix the dates)"
            )

    def valid_on(self, day: date) -> bool:
        """Whether the grant applies on delivery day ``day`` (both ends inclusive)."""
        return self.valid_from <= day <= self.valid_to


def _to_json(grant: VoucherGrant) -> dict[str, Any]:
    doc = asdict(grant)
    doc["valid_from"], doc["valid_to"] = grant.valid_from.isoformat(), grant.valid_to.isoformat()
    return doc


def _from_json(doc: Any) -> VoucherGrant:
    names = [f.name for f in fields(VoucherGrant)]
    if not isinstance(doc, dict) or sorted(doc) != sorted(names):
        raise ValueError(f"a grant must be an object with exactly the keys {names}, got {doc!r}")
    dates = {k: date.fromisoformat(doc[k]) for k in ("valid_from", "valid_to")}
    return VoucherGrant(**(doc | dates))


class VoucherBook:
    """The grants of a data directory, kept as JSON in ``<data_dir>/settlement/vouchers.json``.

    A missing file is an empty book; an unreadable or invalid one is a
    :class:`SettlementError` naming the file. Grants are only ever added.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / SETTLEMENT_DIR / VOUCHERS_FILE
        self._grants = self._load()

    def _load(self) -> dict[str, VoucherGrant]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            grants = [_from_json(doc) for doc in json.loads(raw)["grants"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise SettlementError(f"{self.path}: corrupt voucher file: {exc}") from exc
        by_id = {g.grant_id: g for g in grants}
        if len(by_id) != len(grants):
            raise SettlementError(f"{self.path}: corrupt voucher file: duplicate grant_id")
        return by_id

    def grant(self, grant: VoucherGrant) -> None:
        """Add ``grant`` and save the book atomically; a grant_id already present is a ValueError."""
        if not isinstance(grant, VoucherGrant):
            raise TypeError(f"expected a VoucherGrant, got {type(grant).__name__}")
        if grant.grant_id in self._grants:
            raise ValueError(f"grant_id {grant.grant_id!r} already exists in {self.path}; choose a new id")
        grants = {**self._grants, grant.grant_id: grant}
        doc = {"grants": [_to_json(grants[k]) for k in sorted(grants)]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(FileOps(), self.path, json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"))
        self._grants = grants

    def grants(self) -> list[VoucherGrant]:
        """All grants, sorted by grant_id."""
        return [self._grants[k] for k in sorted(self._grants)]
