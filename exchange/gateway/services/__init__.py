"""The gpux.v1 services over an exchange node.

Every handler turns its request into command records (validated in
:mod:`exchange.gateway.validation`), hands them to the node's sequencer, which runs in the
event loop (:class:`~exchange.sequencer.LoopSequencer`), and answers once the journal
holds them and the engine has applied them; reads run in the loop between groups, so
they see a consistent state. The caller is
:data:`~exchange.gateway.interceptors.CALLER`, set by the interceptor; commands always
carry the caller's own account.

One module per service: :mod:`.trading`, :mod:`.market_data`, :mod:`.capacity`,
:mod:`.account`, :mod:`.audit`, :mod:`.admin`, :mod:`.dayahead`; what they share
(:class:`Exchange`) is in :mod:`.shared`.
"""

from __future__ import annotations

import grpc

from exchange.gateway.services.account import AccountService
from exchange.gateway.services.admin import AdminService
from exchange.gateway.services.audit import AuditService
from exchange.gateway.services.capacity import CapacityService
from exchange.gateway.services.dayahead import add_day_ahead
from exchange.gateway.services.market_data import MarketDataService
from exchange.gateway.services.shared import Exchange
from exchange.gateway.services.trading import add_trading_service
from exchange.proto.gpux.v1 import (
    account_pb2_grpc,
    admin_pb2_grpc,
    audit_pb2_grpc,
    capacity_pb2_grpc,
    market_data_pb2_grpc,
)

__all__ = ["Exchange", "add_services"]


def add_services(server: grpc.aio.Server, exchange: Exchange) -> list[str]:
    """Register every gpux.v1 service; their full names (for reflection)."""
    add_trading_service(server, exchange)
    market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(MarketDataService(exchange), server)
    capacity_pb2_grpc.add_CapacityServiceServicer_to_server(CapacityService(exchange), server)
    account_pb2_grpc.add_AccountServiceServicer_to_server(AccountService(exchange), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditService(exchange), server)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(exchange), server)
    names = ("TradingService", "MarketDataService", "CapacityService", "AccountService", "AuditService", "AdminService")
    return [f"gpux.v1.{name}" for name in names] + [add_day_ahead(server, exchange)]
