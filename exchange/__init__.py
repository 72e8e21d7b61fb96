"""gpux: an open exchange for standardized GPU-hour contracts.

Subpackages: :mod:`exchange.catalog` (what is traded, symbols, instrument ids) and
:mod:`exchange.engine` (the matching engine); the CLI is :mod:`exchange.cli`.
"""

__version__ = "0.1.0"
