"""Listed instruments as the gateway sees them: symbol ↔ engine id and each one's class
rules (tick, band, lot limits), cached for the validation and report paths."""

from __future__ import annotations

import numpy as np

from exchange.catalog import Catalog, GpuClass, Instrument, Listing, SymbolError
from exchange.gateway.errors import GatewayReason, invalid, not_found, quote
from exchange.schema import Reason

SYMBOL_CHARS = 64
"""Longest symbol looked up (a real one is about 30 characters); a longer one is refused
unparsed."""


class Instruments:
    """Symbol ↔ engine id and the class rules of each listed instrument, cached: ids are
    never reused, so an entry never goes stale. O(1) per lookup after the first."""

    def __init__(self, listing: Listing, catalog: Catalog) -> None:
        self.listing = listing
        self.catalog = catalog
        self._ids: dict[str, int] = {}
        self._symbols: list[str] = []
        self._classes: list[GpuClass] = []
        self._rules = np.zeros((0, 5), np.int64)
        self._rule_rows: list[tuple[int, ...]] = []
        self._symbol_table = (np.zeros(0, np.uint8), np.zeros(1, np.int64))

    def id(self, symbol: str) -> int:
        """Engine id of a symbol; INVALID_ARGUMENT if malformed, NOT_FOUND if not listed."""
        found = self._ids.get(symbol)
        if found is not None:
            return found
        inst = self.check(symbol)
        try:
            found = self.listing.id_of(inst.symbol)
        except KeyError:
            raise not_found(f"{inst.symbol} is not listed (slots are listed up to "
                            f"{self.catalog.market.listing_horizon_days} days ahead)", "symbol",
                            Reason.UNKNOWN_INSTRUMENT, value=symbol) from None
        self._ids[symbol] = found
        return found

    def check(self, symbol: str) -> Instrument:
        """The instrument a well-formed symbol names (listed or not); INVALID_ARGUMENT if malformed."""
        if not symbol:
            raise invalid("symbol is required, e.g. H100-80G.jiaxing.20261125T14", "symbol", GatewayReason.BAD_SYMBOL)
        if len(symbol) > SYMBOL_CHARS:
            raise invalid(f"symbol {quote(symbol, 40)} is longer than {SYMBOL_CHARS} characters: expected "
                          "GPU.REGION.YYYYMMDDTHH, e.g. H100-80G.jiaxing.20261125T14", "symbol",
                          GatewayReason.BAD_SYMBOL, limit=SYMBOL_CHARS, value=symbol)
        try:
            return self.catalog.instrument(symbol)
        except SymbolError as exc:
            raise invalid(str(exc), "symbol", GatewayReason.BAD_SYMBOL, value=symbol) from None

    def _fill(self, instrument: int) -> None:
        for i in range(len(self._symbols), instrument + 1):
            inst = self.listing.instrument(i)
            self._symbols.append(inst.symbol)
            self._classes.append(self.catalog.gpu_class(inst.gpu_class))

    def symbol(self, instrument: int) -> str:
        """The symbol of a listed engine id ("" for none, negative ids too)."""
        if not 0 <= instrument < len(self._symbols):
            if not 0 <= instrument < len(self.listing):
                return ""
            self._fill(instrument)
        return self._symbols[instrument]

    def gpu_class(self, instrument: int) -> GpuClass:
        """The class (tick, band, lot limits) of a listed engine id."""
        if instrument >= len(self._classes):
            self._fill(instrument)
        return self._classes[instrument]

    def rule_table(self, ids: np.ndarray) -> np.ndarray:
        """(tick, band_lo, band_hi, min_qty, max_qty) by engine id, one row per listed id,
        covering every id of ``ids``."""
        return self.rules_through(int(ids.max()) if len(ids) else 0)

    def rules_through(self, top: int) -> np.ndarray:
        """:meth:`rule_table` covering the listed ids 0..``top``."""
        if top >= len(self._rules):
            self._fill(top)
            self._rules = np.array([[c.tick_fen, c.band_lo_fen, c.band_hi_fen, c.min_qty, c.max_qty]
                                    for c in self._classes], np.int64)
        return self._rules

    def rule(self, instrument: int) -> tuple[int, ...]:
        """(tick, band_lo, band_hi, min_qty, max_qty) of one listed id, as ints."""
        if instrument >= len(self._rule_rows):
            self.rules_through(instrument)
            self._rule_rows = [tuple(row) for row in self._rules.tolist()]
        return self._rule_rows[instrument]

    def symbol_table(self, top: int) -> tuple[np.ndarray, np.ndarray]:
        """The UTF-8 symbols of ids 0..top as one byte array and offsets (id i:
        ``buf[at[i]:at[i + 1]]``), for the report kernel."""
        if top + 1 >= len(self._symbol_table[1]):
            if top >= len(self._symbols):
                self._fill(top)
            encoded = [symbol.encode() for symbol in self._symbols]
            at = np.zeros(len(encoded) + 1, np.int64)
            np.cumsum([len(e) for e in encoded], out=at[1:])
            self._symbol_table = (np.frombuffer(b"".join(encoded), np.uint8), at)
        return self._symbol_table
