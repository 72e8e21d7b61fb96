"""The catalog: what gpux trades, under which names, and with which numbers.

A contract is one GPU of a catalogued class, in one region, for one delivery hour.
Its symbol is ``GPU.REGION.YYYYMMDDTHH`` with the slot start in market time, e.g.
``H100-80G.jiaxing.20261125T14``. The catalog is configuration: the shipped
``default.toml`` is used unless a path is passed to :func:`load_catalog` or the
``GPUX_CATALOG`` environment variable names a file.

Rules enforced here:

* Names fit the symbol grammar and are unique: GPU classes are letters and digits
  joined by single '-' (never '.'), regions are lowercase letters and digits.
* Symbols parse strictly: exactly three '.'-separated parts, a known class, a known
  region, and a real hour ``YYYYMMDDTHH`` in market time (UTC+8 by default) that fits
  int64 ns since the epoch (1970..2262); anything else is a :class:`SymbolError`
  naming the bad part. Formatting and parsing round-trip.
* Money and quantities are integers, never floats: prices in fen per GPU-hour, on the
  class tick; band edges and the reference price on the tick with
  ``band_lo <= reference <= band_hi``; ``1 <= min_qty <= max_qty``; fees in integer
  basis points 0..10000. FP16 TFLOPS is a spec kept exact as integer hundredths; the
  TOML is read with ``Decimal`` so no value ever passes through float.
* The order of classes and regions in the file is the index the engine uses.
* Loading errors are :class:`CatalogError` and name the file and the bad key or value.
* Engine instrument ids are dense and given in listing order (:class:`Listing`);
  slots are listed from the next full hour up to ``listing_horizon_days`` ahead.
"""

from exchange.catalog.listing import Listing
from exchange.catalog.model import (
    CATALOG_ENV,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_SECOND,
    Catalog,
    CatalogError,
    GpuClass,
    Instrument,
    Market,
    Region,
    SymbolError,
    default_catalog,
    format_symbol,
    load_catalog,
    loads_catalog,
    parse_symbol,
    slot_from_ts_ns,
    slot_ts_ns,
)

__all__ = [
    "CATALOG_ENV",
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_SECOND",
    "Catalog",
    "CatalogError",
    "GpuClass",
    "Instrument",
    "Listing",
    "Market",
    "Region",
    "SymbolError",
    "default_catalog",
    "format_symbol",
    "load_catalog",
    "loads_catalog",
    "parse_symbol",
    "slot_from_ts_ns",
    "slot_ts_ns",
]
