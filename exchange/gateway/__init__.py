"""The gRPC gateway (package ``gpux.v1``): how every user reaches the market.

* :mod:`~exchange.gateway.server` — :class:`GatewayServer` on an exchange node, with
  health and reflection services (:mod:`~exchange.gateway.reflection`) and optional TLS;
* :mod:`~exchange.gateway.interceptors` — the one interceptor: bearer-token
  authentication, the role policy per method, per-account rate limits, and domain
  errors mapped to gRPC status codes;
* :mod:`~exchange.gateway.services` — the seven services over the node, a module each;
* :mod:`~exchange.gateway.feed` — :class:`~exchange.gateway.feed.MarketFeed`, the
  market-data fan-out every public stream shares (one read of each changed book);
* :mod:`~exchange.gateway.validation` — requests checked and turned into command records;
* :mod:`~exchange.gateway.reports` — engine events as execution reports and orders;
* :mod:`~exchange.gateway.executions` — each account's private execution stream, pushed
  and resumable (:class:`~exchange.gateway.executions.ExecutionHub`);
* :mod:`~exchange.gateway.wire` — the compiled protobuf codec of the order path
  (field numbers from the generated descriptors);
* :mod:`~exchange.gateway.instruments` — the symbol ↔ engine id cache and class rules;
* :mod:`~exchange.gateway.accounts` — accounts, roles and tokens;
* :mod:`~exchange.gateway.errors` — domain errors and the gRPC status of each.

Rules: nothing reaches the sequencer unless the caller is authenticated, allowed and
within its rate, and the request is valid; every command carries the caller's own
account; an answer is sent only after the journal holds the command.
"""

from exchange.gateway.accounts import AccountRegistry, Principal, Role
from exchange.gateway.server import GatewayServer, keep_freed_memory, serve

__all__ = ["AccountRegistry", "GatewayServer", "Principal", "Role", "keep_freed_memory", "serve"]
