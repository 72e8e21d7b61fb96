"""The trade log's errors."""


class TradeLogError(Exception):
    """Base of the trade-log errors."""


class TradeLogCorruptError(TradeLogError):
    """A trade-log file or seal fails verification; the message names the file and why."""


class TradeLogSealedError(TradeLogError):
    """A trade would be appended to a delivery day that is already sealed."""
