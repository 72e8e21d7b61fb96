"""Synthetic order flow on catalog instruments, for tests, benchmarks and crash drills.

Deterministic for a seed: providers (the first half of the accounts) sell, buyers bid,
prices scatter around the class reference on its tick inside the band, about a tenth of
the commands cancel an earlier order of the same account. Client order ids are
``clord_base + index`` so several streams never reuse one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from exchange.catalog import Catalog
from exchange.schema import CommandKind, OrderType, Side, TimeInForce, commands

FUNDS = 10**12  # fen per buyer: risk checks run but never bite
CAPACITY = 10**9  # GPUs per provider and instrument


def symbols(catalog: Catalog, day: datetime, hours: int = 2, regions: int = 3, gpu_class: int = 0) -> list[str]:
    """Symbols of one class in the first ``regions`` regions, ``hours`` slots from ``day``."""
    cls = catalog.gpu_class(gpu_class).name
    return [catalog.instrument_at(cls, catalog.region(r).name,
                                  int((day + timedelta(hours=h)).timestamp()) * 10**9).symbol
            for h in range(hours) for r in range(regions)]


def funding(instruments: int, accounts: int) -> np.ndarray:
    """Funds for every buyer, capacity in every instrument for every provider."""
    providers, buyers = np.arange(accounts // 2), np.arange(accounts // 2, accounts)
    batch = commands(len(buyers) + len(providers) * instruments)
    batch["kind"][: len(buyers)] = CommandKind.DEPOSIT_FUNDS
    batch["account"][: len(buyers)] = buyers
    batch["amount"][: len(buyers)] = FUNDS
    rest = batch[len(buyers):]
    rest["kind"] = CommandKind.DEPOSIT_CAPACITY
    rest["account"] = np.repeat(providers, instruments)
    rest["instrument"] = np.tile(np.arange(instruments), len(providers))
    rest["qty"] = CAPACITY
    batch[len(buyers):] = rest
    return batch


def order_flow(catalog: Catalog, n: int, instruments: int, accounts: int, seed: int,
               clord_base: int = 0, gpu_class: int = 0, cancel_share: float = 0.1) -> np.ndarray:
    """``n`` NEW_ORDER (limit GTC, some IOC) and CANCEL commands on ids ``0..instruments-1``."""
    cls = catalog.gpu_class(gpu_class)
    rng = np.random.default_rng(seed)
    account = rng.integers(0, accounts, n)
    provider = account < accounts // 2
    ticks = np.rint(rng.normal(0.0, 20.0, n)).astype(np.int64)
    price = np.clip(cls.reference_fen + ticks * cls.tick_fen, cls.band_lo_fen, cls.band_hi_fen)
    price -= price % cls.tick_fen
    batch = commands(n)
    batch["kind"] = CommandKind.NEW_ORDER
    batch["account"] = account
    batch["instrument"] = rng.integers(0, instruments, n)
    batch["side"] = np.where(provider, int(Side.SELL), int(Side.BUY))
    batch["order_type"] = OrderType.LIMIT
    batch["tif"] = np.where(rng.random(n) < 0.2, int(TimeInForce.IOC), int(TimeInForce.GTC))
    batch["stp"] = 1
    batch["price"] = price
    batch["qty"] = rng.integers(cls.min_qty, min(cls.max_qty, 20) + 1, n)
    batch["clord"] = clord_base + np.arange(1, n + 1)
    earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
    cancel = (rng.random(n) < cancel_share) & (np.arange(n) > 0)
    cancel &= ~cancel[earlier]  # a cancel targets an order, not another cancel
    target = batch[earlier[cancel]]
    rows = batch[cancel]
    rows[["side", "order_type", "tif", "stp", "price", "qty", "clord"]] = 0
    rows["kind"] = CommandKind.CANCEL
    rows["account"] = target["account"]
    rows["instrument"] = target["instrument"]
    rows["orig_clord"] = target["clord"]
    batch[cancel] = rows
    return batch
