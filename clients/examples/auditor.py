"""An auditor: download a day's trade log and verify its hash chain independently.

Lists the trade-log files of ``--day`` (or of every day) with ListTradeFiles, downloads
each (DownloadTradeFile) into ``--out/trades/date=YYYY-MM-DD/``, checks its size and
SHA-256 against the listing, fetches the day's seal ``_SEALED.json`` when the exchange
says the day is sealed, and then re-verifies the copy with
:func:`exchange.tradelog.verify_chain` — the check ``gpux audit`` starts with: every
file links to the one before by SHA-256, hashes to what it claims, holds increasing
trade ids of its own delivery day, and the seal (if any) agrees with the files.

Needs an AUDITOR (or ADMIN) token. Every call has a deadline. Exit status 1 if a file
does not match its listing or the chain does not verify.

    python clients/examples/auditor.py --address 127.0.0.1:50051 --token "$AUDITOR_TOKEN" \\
        --day 2026-11-26 --out ./trade-log-copy
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from datetime import date, timedelta, timezone
from pathlib import Path

import grpc

from exchange.client import GpuxClient
from exchange.tradelog import SEAL_NAME, TradeLogCorruptError, verify_chain


def download_day_files(client: GpuxClient, day: str, out: Path) -> list[date]:
    """Copy the trade-log files of ``day`` ("" for all) under ``out``; the days copied."""
    listing = client.trade_files(day)
    copied: set[date] = set()
    for f in listing.files:
        data = client.download_trade_file(f.path)
        if len(data) != f.size_bytes or hashlib.sha256(data).hexdigest() != f.sha256:
            raise ValueError(f"{f.path}: downloaded bytes differ from the listing")
        folder = f.path.split("/")[0]
        when = date.fromisoformat(folder.removeprefix("date="))
        if when not in copied:  # a fresh copy of the day each run
            shutil.rmtree(out / folder, ignore_errors=True)
            copied.add(when)
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / f.path).write_bytes(data)
        print(f"downloaded {f.path} ({f.size_bytes:,} bytes, sha256 {f.sha256[:12]}…)")
    for sealed in listing.sealed_days:
        if date.fromisoformat(sealed) in copied:
            seal = f"date={sealed}/{SEAL_NAME}"
            (out / seal).write_bytes(client.download_trade_file(seal))
            print(f"downloaded {seal}")
    return sorted(copied)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default=os.environ.get("GPUX_ADDRESS", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("GPUX_TOKEN"), help="auditor token (or $GPUX_TOKEN)")
    p.add_argument("--day", default="", help="delivery day YYYY-MM-DD (default: every day)")
    p.add_argument("--out", type=Path, default=Path("trade-log-copy"), help="folder for the copy")
    args = p.parse_args(argv)
    if not args.token:
        p.error("give --token or set GPUX_TOKEN")

    trades_root = args.out / "trades"  # laid out like a data dir: trades/date=YYYY-MM-DD/...
    with GpuxClient(args.address, args.token, timeout=10.0) as client:
        tz = timezone(timedelta(hours=client.catalog().utc_offset_hours))
        try:
            copied = download_day_files(client, args.day, trades_root)
        except (ValueError, grpc.RpcError) as error:
            print(f"DOWNLOAD FAILED: {error}")
            return 1
    if not copied:
        print("no trade-log files for that day")
        return 0
    for day in copied:
        try:
            report = verify_chain(trades_root, day, tz)
        except TradeLogCorruptError as error:
            print(f"{day}: CHAIN BROKEN: {error}")
            return 1
        print(f"{day}: {report.files} files, {report.trades} trades (ids {report.first_trade_id}.."
              f"{report.last_trade_id}), chain head {report.head[:16]}…, "
              f"{'sealed' if report.sealed else 'not sealed yet'} — CHAIN VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
