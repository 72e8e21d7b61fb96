"""The static market parameters the engine enforces, per GPU class."""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

from exchange.schema.codes import ACCOUNT_BITS, PRICE_LIMIT


@dataclass(frozen=True)
class EngineConfig:
    """Static market parameters, per GPU class index, that the engine enforces.

    Prices in fen per GPU-hour, quantities in GPUs, times in ns. Usually made from the
    catalog (:meth:`exchange.catalog.Catalog.engine_config`); :meth:`with_class_rules`
    changes one class's band, tick, lot limits or reference in code.
    """

    tick: tuple[int, ...]
    band_lo: tuple[int, ...]
    band_hi: tuple[int, ...]
    min_qty: tuple[int, ...]
    max_qty: tuple[int, ...]
    gate_closure_ns: int = 15 * 60 * 10**9
    max_accounts: int = 4096
    reference: tuple[int, ...] = ()
    """Reference price per class for an uncross with no last trade (catalog
    ``reference_fen``); empty: the tick nearest the middle of each band, rounding down."""

    def __post_init__(self) -> None:
        n = len(self.tick)
        if not n or any(len(v) != n for v in (self.band_lo, self.band_hi, self.min_qty, self.max_qty)):
            raise ValueError("EngineConfig: every per-class tuple needs one entry per GPU class")
        for c in range(n):
            tick, lo, hi = self.tick[c], self.band_lo[c], self.band_hi[c]
            if tick <= 0 or lo <= 0 or lo > hi:
                raise ValueError(f"EngineConfig: class {c} needs tick > 0 and 0 < band_lo <= band_hi: "
                                 f"tick {tick}, band {lo}..{hi}")
            if hi >= PRICE_LIMIT:
                raise ValueError(f"EngineConfig: class {c} band_hi must be below {PRICE_LIMIT} fen")
            if lo % tick or hi % tick:
                raise ValueError(f"EngineConfig: class {c} band edges must lie on the tick {tick}: band {lo}..{hi}")
            if not 1 <= self.min_qty[c] <= self.max_qty[c]:
                raise ValueError(f"EngineConfig: class {c} needs 1 <= min_qty <= max_qty: "
                                 f"{self.min_qty[c]}..{self.max_qty[c]}")
        if not self.reference:
            object.__setattr__(self, "reference", tuple(
                self.band_lo[c] + (self.band_hi[c] - self.band_lo[c]) // (2 * self.tick[c]) * self.tick[c]
                for c in range(n)))
        for c, ref in enumerate(self.reference):
            if len(self.reference) != n or not self.band_lo[c] <= ref <= self.band_hi[c] or ref % self.tick[c]:
                raise ValueError(f"EngineConfig: class {c} reference {ref} must lie on the tick in the band "
                                 f"{self.band_lo[c]}..{self.band_hi[c]} (tick {self.tick[c]})")
        if not 1 <= self.max_accounts <= 1 << ACCOUNT_BITS:
            raise ValueError(f"EngineConfig: max_accounts must be in 1..{1 << ACCOUNT_BITS}")

    def with_class_rules(self, gpu_class: int, *, tick: int | None = None, band_lo: int | None = None,
                         band_hi: int | None = None, min_qty: int | None = None, max_qty: int | None = None,
                         reference: int | None = None) -> EngineConfig:
        """A copy with the rules of one class changed, the others kept: to widen a price
        band or change the lot limits in code rather than in a catalog file, e.g.
        ``config.with_class_rules(0, band_hi=9_000, max_qty=4_096)``. Checked like any
        config (``ValueError`` says what is wrong; a band narrowed past the class's
        reference price needs ``reference=`` too). O(classes)."""
        if not 0 <= gpu_class < self.n_classes:
            raise ValueError(f"EngineConfig: no GPU class {gpu_class} (classes 0..{self.n_classes - 1})")
        given = dict(tick=tick, band_lo=band_lo, band_hi=band_hi, min_qty=min_qty, max_qty=max_qty,
                     reference=reference)
        changes: dict[str, Any] = {}
        for name, value in given.items():
            if value is not None:
                values = list(getattr(self, name))
                values[gpu_class] = operator.index(value)
                changes[name] = tuple(values)
        return dataclasses.replace(self, **changes)

    @property
    def n_classes(self) -> int:
        """Number of GPU classes."""
        return len(self.tick)

    def levels(self, gpu_class: int) -> int:
        """Price levels in the band of a class: ``(band_hi - band_lo) // tick + 1``."""
        return (self.band_hi[gpu_class] - self.band_lo[gpu_class]) // self.tick[gpu_class] + 1
