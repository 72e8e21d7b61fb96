"""The static market parameters the engine enforces, per GPU class."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.schema.codes import ACCOUNT_BITS, PRICE_LIMIT


@dataclass(frozen=True)
class EngineConfig:
    """Static market parameters, per GPU class index, that the engine enforces.

    Prices in fen per GPU-hour, quantities in GPUs, times in ns.
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
            if self.tick[c] <= 0 or self.band_lo[c] <= 0 or self.band_lo[c] > self.band_hi[c]:
                raise ValueError(f"EngineConfig: class {c} needs tick > 0 and 0 < band_lo <= band_hi")
            if self.band_hi[c] >= PRICE_LIMIT:
                raise ValueError(f"EngineConfig: class {c} band_hi must be below {PRICE_LIMIT} fen")
            if self.band_lo[c] % self.tick[c] or self.band_hi[c] % self.tick[c]:
                raise ValueError(f"EngineConfig: class {c} band edges must lie on the tick")
            if not 1 <= self.min_qty[c] <= self.max_qty[c]:
                raise ValueError(f"EngineConfig: class {c} needs 1 <= min_qty <= max_qty")
        if not self.reference:
            object.__setattr__(self, "reference", tuple(
                self.band_lo[c] + (self.band_hi[c] - self.band_lo[c]) // (2 * self.tick[c]) * self.tick[c]
                for c in range(n)))
        for c, ref in enumerate(self.reference):
            if len(self.reference) != n or not self.band_lo[c] <= ref <= self.band_hi[c] or ref % self.tick[c]:
                raise ValueError(f"EngineConfig: class {c} reference must lie on the tick in the band")
        if not 1 <= self.max_accounts <= 1 << ACCOUNT_BITS:
            raise ValueError(f"EngineConfig: max_accounts must be in 1..{1 << ACCOUNT_BITS}")

    @property
    def n_classes(self) -> int:
        """Number of GPU classes."""
        return len(self.tick)

    def levels(self, gpu_class: int) -> int:
        """Price levels in the band of a class: ``(band_hi - band_lo) // tick + 1``."""
        return (self.band_hi[gpu_class] - self.band_lo[gpu_class]) // self.tick[gpu_class] + 1
