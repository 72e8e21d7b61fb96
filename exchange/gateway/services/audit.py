"""AuditService: the trade log as it is on disk, file by file or trade by trade, with
every trade acknowledged before the call in it (the log's thread writes what it holds
first; on its own it writes within about a second)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from exchange.gateway.errors import invalid, not_found, quote
from exchange.gateway.services.market_data import public_trades
from exchange.gateway.services.shared import Exchange
from exchange.gateway.validation import parse_day
from exchange.proto.gpux.v1 import audit_pb2, audit_pb2_grpc
from exchange.tradelog import day_files, days, read_day, read_seal

_CHUNK = 64 * 1024
_PATH_CHARS, _PART_CHARS = 1024, 255  # a trade-log path, and one name in it (the file systems' limits)


class AuditService(audit_pb2_grpc.AuditServiceServicer):
    """The trade log as it is on disk."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.root = exchange.node.data.trades

    async def ListTradeFiles(self, request, context):
        chosen = [parse_day(request.day)] if request.day else None

        def listing() -> audit_pb2.ListTradeFilesResponse:  # file reads run off the event loop
            self.exchange.trades_written_out()
            files = []
            for day in chosen or days(self.root):
                for path in day_files(self.root, day):
                    data = path.read_bytes()
                    files.append(audit_pb2.TradeFile(path=str(path.relative_to(self.root)), size_bytes=len(data),
                                                     sha256=hashlib.sha256(data).hexdigest()))
            sealed = [d.isoformat() for d in days(self.root) if read_seal(self.root, d) is not None]
            return audit_pb2.ListTradeFilesResponse(files=files, sealed_days=sealed)

        return await asyncio.to_thread(listing)

    async def DownloadTradeFile(self, request, context):
        name = request.path
        wrong = invalid(f"path {quote(name)} must be a file of the trade log, as ListTradeFiles gives it",
                        "path", value=name)
        too_long = len(name) > _PATH_CHARS or any(len(part.encode()) > _PART_CHARS for part in name.split("/"))
        if not name or "\0" in name or too_long:
            raise wrong
        path = (self.root / name).resolve()
        if ".." in Path(name).parts or not path.is_relative_to(self.root.resolve()):
            raise wrong
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise not_found(f"no trade-log file {quote(name)}", "path", value=name) from None
        for start in range(0, len(data), _CHUNK):
            yield audit_pb2.DownloadTradeFileResponse(chunk=data[start:start + _CHUNK])

    async def StreamTrades(self, request, context):
        day = parse_day(request.day)
        await asyncio.to_thread(self.exchange.trades_written_out)
        table = await asyncio.to_thread(read_day, self.root, day)
        for start in range(0, table.num_rows, 1000):
            yield audit_pb2.StreamTradesResponse(trades=public_trades(table.slice(start, 1000)))
