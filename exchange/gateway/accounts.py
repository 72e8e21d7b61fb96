"""Accounts, roles and bearer tokens of the gateway.

Every caller presents ``authorization: Bearer <token>``; the token maps to one engine
account and one role. Tokens are random (``secrets.token_urlsafe``) and only their
SHA-256 is stored, in ``<data dir>/accounts.json`` (written atomically). On the first
start of a data dir an admin account (0) is created and its token written to
``<data dir>/admin.token`` (mode 0600), so the operator can create the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from exchange.journal import FileOps, write_atomically


class Role(IntEnum):
    """What an account may do (values match ``gpux.v1.Role``)."""

    PROVIDER = 1
    BUYER = 2
    AUDITOR = 3
    ADMIN = 4


@dataclass(frozen=True)
class Principal:
    """The caller of an RPC, as its token says."""

    account: int
    role: Role
    name: str


def _write_secret(path: Path, text: str) -> None:
    """Write a file readable by its owner only, whole and durable (temp, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    FileOps().replace(tmp, path)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountRegistry:
    """Accounts and their token digests; thread-safe; O(1) token lookup."""

    FILE = "accounts.json"
    ADMIN_TOKEN_FILE = "admin.token"

    def __init__(self, data_dir: Path, max_accounts: int) -> None:
        self.path = Path(data_dir) / self.FILE
        self.max_accounts = max_accounts
        self._lock = threading.Lock()
        self._accounts: list[dict] = []
        self._by_token: dict[str, Principal] = {}
        if self.path.exists():
            try:
                self._accounts = json.loads(self.path.read_bytes())["accounts"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path}: corrupt account registry: {exc}") from None
        else:  # the admin's token is durable on disk before the registry that trusts it
            admin_token = secrets.token_urlsafe(32)
            _write_secret(Path(data_dir) / self.ADMIN_TOKEN_FILE, admin_token + "\n")
            self._create("admin", Role.ADMIN, admin_token)
        for entry in self._accounts:
            principal = Principal(entry["account"], Role(entry["role"]), entry["name"])
            for digest in entry["tokens"]:
                self._by_token[digest] = principal

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a token, or None."""
        return self._by_token.get(_digest(token))

    def create(self, name: str, role: Role) -> tuple[int, str]:
        """A new account with a first token: (account id, token)."""
        with self._lock:
            token = self._create(name, role)
            return self._accounts[-1]["account"], token

    def _create(self, name: str, role: Role, token: str | None = None) -> str:
        if not name or len(name) > 64:
            raise ValueError("account name must be 1 to 64 characters")
        if len(self._accounts) >= self.max_accounts:
            raise OverflowError(f"all {self.max_accounts} accounts are taken")
        token = token or secrets.token_urlsafe(32)
        entry = {"account": len(self._accounts), "name": name, "role": int(role), "tokens": [_digest(token)]}
        self._accounts.append(entry)
        self._save()
        self._by_token[_digest(token)] = Principal(entry["account"], role, name)
        return token

    def issue(self, account: int) -> str:
        """Another token for an existing account (KeyError if unknown)."""
        with self._lock:
            if not 0 <= account < len(self._accounts):
                raise KeyError(f"no account {account}")
            entry = self._accounts[account]
            token = secrets.token_urlsafe(32)
            entry["tokens"].append(_digest(token))
            self._save()
            self._by_token[_digest(token)] = Principal(account, Role(entry["role"]), entry["name"])
            return token

    def name(self, account: int) -> str:
        """Display name of an account."""
        return self._accounts[account]["name"] if 0 <= account < len(self._accounts) else f"#{account}"

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(FileOps(), self.path, json.dumps({"accounts": self._accounts}, indent=1).encode())
