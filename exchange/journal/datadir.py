"""The data directory: where one exchange keeps everything it must not lose.

Layout::

    <data dir>/LOCK                held by the one process writing here
    <data dir>/catalog.toml        the catalog the market was created with (pinned)
    <data dir>/engine.json         the engine's account limit (pinned: replays depend on it)
    <data dir>/accounts.json, admin.token   accounts and the first admin's token (exchange.gateway)
    <data dir>/journal/            sequenced command batches (exchange.journal)
    <data dir>/snapshots/          state at a sequence number
    <data dir>/history/            orders retired from the hot state (exchange.sequencer.history)
    <data dir>/executions/         each account's execution records (exchange.executions)
    <data dir>/trades/date=YYYY-MM-DD/*.arrow   the trade log (exchange.tradelog)
    <data dir>/parquet/date=YYYY-MM-DD/trades.parquet   a sealed day's copy for SQL tools
    <data dir>/settlement/         vouchers, statements and delivery schedules
    <data dir>/dayahead/YYYY-MM-DD/ day-ahead orders, clearing record (exchange.dayahead)

The default is ``./data`` (embedded: created on first use, no set-up); the
``GPUX_DATA_DIR`` environment variable or an explicit path chooses another. The
catalog is pinned on creation so that a restart or an audit always replays under the
rules the commands were accepted with; opening with a different catalog is an error.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from exchange.catalog import CATALOG_ENV, Catalog, CatalogError, loads_catalog
from exchange.journal.fileops import FileOps, write_atomically

DATA_DIR_ENV = "GPUX_DATA_DIR"
DEFAULT_MAX_ACCOUNTS = 4096


class DataDirBusyError(RuntimeError):
    """Another process has the data directory open for writing."""


DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class DataDir:
    """Paths inside one data directory."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None) -> DataDir:
        """``path``, else ``$GPUX_DATA_DIR``, else ``./data``."""
        chosen = path if path is not None else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
        return cls(Path(chosen))

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def history(self) -> Path:
        return self.root / "history"

    @property
    def executions(self) -> Path:
        return self.root / "executions"

    @property
    def trades(self) -> Path:
        return self.root / "trades"

    @property
    def parquet(self) -> Path:
        return self.root / "parquet"

    @property
    def settlement(self) -> Path:
        return self.root / "settlement"

    @property
    def dayahead(self) -> Path:
        return self.root / "dayahead"

    @property
    def catalog_file(self) -> Path:
        return self.root / "catalog.toml"

    @property
    def engine_file(self) -> Path:
        return self.root / "engine.json"

    def max_accounts(self, wanted: int | None = None, ops: FileOps | None = None, pin: bool = True) -> int:
        """The pinned account limit of the engine (replays depend on it), pinning
        ``wanted`` (else 4096) on first use unless ``pin`` is False (readers such as the
        audit change nothing); ``ValueError`` if ``wanted`` differs from the pin."""
        if self.engine_file.exists():
            try:
                pinned = int(json.loads(self.engine_file.read_bytes())["max_accounts"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.engine_file}: unreadable: {exc}") from None
            if wanted is not None and wanted != pinned:
                raise ValueError(f"data dir {self.root} was created with max_accounts {pinned}, not {wanted}")
            return pinned
        chosen = DEFAULT_MAX_ACCOUNTS if wanted is None else wanted
        if not pin:
            return chosen
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomically(ops or FileOps(), self.engine_file, json.dumps({"max_accounts": chosen}).encode())
        return chosen

    def lock(self) -> int:
        """Take the directory's exclusive writer lock (held until the returned file
        descriptor is closed or the process ends); :class:`DataDirBusyError` if taken."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusyError(f"data dir {self.root} is in use by another gpux process") from None
        return fd

    def exists(self) -> bool:
        """Whether a market was created here (its catalog is pinned)."""
        return self.catalog_file.exists()

    def catalog(self, path: str | os.PathLike[str] | None = None, ops: FileOps | None = None) -> Catalog:
        """The pinned catalog, pinning ``path`` (else ``$GPUX_CATALOG``, else the
        shipped default) on first use. ``CatalogError`` if ``path`` differs from the pin."""
        given = _catalog_text(path) if path is not None else None
        if self.exists():
            pinned = self.catalog_file.read_text(encoding="utf-8")
            if given is not None and given != pinned:
                raise CatalogError(f"data dir {self.root} was created with another catalog "
                                   f"({self.catalog_file}); open it without --catalog or use a new data dir")
            return loads_catalog(pinned, str(self.catalog_file))
        text = given if given is not None else _catalog_text(os.environ.get(CATALOG_ENV))
        catalog = loads_catalog(text, str(path or "default catalog"))
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomically(ops or FileOps(), self.catalog_file, text.encode())
        return catalog


def _catalog_text(path: str | os.PathLike[str] | None) -> str:
    """Text of a catalog file, or of the shipped default when ``path`` is None."""
    if path is None:
        return resources.files("exchange.catalog").joinpath("default.toml").read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"catalog {path}: cannot read: {exc}") from None
