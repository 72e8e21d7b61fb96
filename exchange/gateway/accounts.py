"""Accounts, roles and bearer tokens of the gateway.

Every caller presents ``authorization: Bearer <token>``; the token maps to one engine
account and one role. Account names are unique; a creation that repeats the
``request_id`` of an earlier one (same name and role) answers that account again, with
a new token, so an operator's retry is safe. Tokens are random (``secrets.token_urlsafe``) and only their
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

import grpc

from exchange.gateway.errors import GatewayError, GatewayReason, invalid, quote
from exchange.journal import FileOps, write_atomically

NAME_CHARS = 64
"""Most characters of an account name or a creation's request id."""


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

    def create(self, name: str, role: Role, request_id: str = "") -> tuple[int, str]:
        """A new account with a first token: (account id, token); for a repeated
        ``request_id`` (same name and role), that account and a new token.
        :class:`GatewayError` if the name or request id is invalid or taken, or every
        account is."""
        for field, value in (("name", name), ("request_id", request_id)):
            if len(value) > NAME_CHARS or (field == "name" and not value):
                raise invalid(f"{field} must be {'1' if field == 'name' else '0'} to {NAME_CHARS} characters",
                              field, limit=NAME_CHARS, value=value)
        with self._lock:
            if request_id:
                earlier = next((e for e in self._accounts if e.get("request_id") == request_id), None)
                if earlier is not None:
                    if earlier["name"] != name or earlier["role"] != int(role):
                        raise GatewayError(grpc.StatusCode.ALREADY_EXISTS,
                                           f"request_id {quote(request_id)} created account {earlier['account']} "
                                           f"({quote(earlier['name'])}, {Role(earlier['role']).name}); a different "
                                           "account needs a new request_id", GatewayReason.ALREADY_EXISTS,
                                           field="request_id", value=request_id)
                    return earlier["account"], self._issue(earlier)
            taken = next((e for e in self._accounts if e["name"] == name), None)
            if taken is not None:
                raise GatewayError(grpc.StatusCode.ALREADY_EXISTS,
                                   f"the name {quote(name)} is taken by account {taken['account']}: choose "
                                   "another (a retry repeats the request_id of the first try)",
                                   GatewayReason.ALREADY_EXISTS, field="name", value=name)
            token = self._create(name, role, request_id=request_id)
            return self._accounts[-1]["account"], token

    def _create(self, name: str, role: Role, token: str | None = None, request_id: str = "") -> str:
        if len(self._accounts) >= self.max_accounts:
            raise GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"all {self.max_accounts} accounts are taken",
                               GatewayReason.WRONG_STATE, limit=self.max_accounts)
        token = token or secrets.token_urlsafe(32)
        account = len(self._accounts)
        entry = {"account": account, "name": name, "role": int(role), "tokens": [_digest(token)]}
        if request_id:
            entry["request_id"] = request_id
        self._accounts.append(entry)
        self._save()
        self._by_token[_digest(token)] = Principal(account, role, name)
        return token

    def exists(self, account: int) -> bool:
        """Whether the registry has ``account``."""
        return 0 <= account < len(self._accounts)

    def issue(self, account: int) -> str:
        """Another token for an existing account (KeyError if unknown)."""
        with self._lock:
            if not self.exists(account):
                raise KeyError(f"no account {account}")
            return self._issue(self._accounts[account])

    def _issue(self, entry: dict) -> str:
        token = secrets.token_urlsafe(32)
        entry["tokens"].append(_digest(token))
        self._save()
        self._by_token[_digest(token)] = Principal(entry["account"], Role(entry["role"]), entry["name"])
        return token

    def name(self, account: int) -> str:
        """Display name of an account."""
        return self._accounts[account]["name"] if 0 <= account < len(self._accounts) else f"#{account}"

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(FileOps(), self.path, json.dumps({"accounts": self._accounts}, indent=1).encode())
