from exchange.proto.gpux.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_CHANGE_KIND_UNSPECIFIED: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_DEPOSIT_FUNDS: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_WITHDRAW_FUNDS: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_SET_CREDIT: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_DEPOSIT_CAPACITY: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_WITHDRAW_CAPACITY: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_MASS_CANCEL: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_HOLD_FUNDS: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_HOLD_CAPACITY: _ClassVar[AccountChangeKind]
    ACCOUNT_CHANGE_KIND_RELEASE_HOLDS: _ClassVar[AccountChangeKind]
ACCOUNT_CHANGE_KIND_UNSPECIFIED: AccountChangeKind
ACCOUNT_CHANGE_KIND_DEPOSIT_FUNDS: AccountChangeKind
ACCOUNT_CHANGE_KIND_WITHDRAW_FUNDS: AccountChangeKind
ACCOUNT_CHANGE_KIND_SET_CREDIT: AccountChangeKind
ACCOUNT_CHANGE_KIND_DEPOSIT_CAPACITY: AccountChangeKind
ACCOUNT_CHANGE_KIND_WITHDRAW_CAPACITY: AccountChangeKind
ACCOUNT_CHANGE_KIND_MASS_CANCEL: AccountChangeKind
ACCOUNT_CHANGE_KIND_HOLD_FUNDS: AccountChangeKind
ACCOUNT_CHANGE_KIND_HOLD_CAPACITY: AccountChangeKind
ACCOUNT_CHANGE_KIND_RELEASE_HOLDS: AccountChangeKind

class PlaceOrderRequest(_message.Message):
    __slots__ = ("symbol", "side", "order_type", "time_in_force", "price_fen", "qty", "client_order_id", "expire_time_ns", "post_only", "self_trade_prevention")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    POST_ONLY_FIELD_NUMBER: _ClassVar[int]
    SELF_TRADE_PREVENTION_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    side: _types_pb2.Side
    order_type: _types_pb2.OrderType
    time_in_force: _types_pb2.TimeInForce
    price_fen: int
    qty: int
    client_order_id: int
    expire_time_ns: int
    post_only: bool
    self_trade_prevention: _types_pb2.SelfTradePrevention
    def __init__(self, symbol: _Optional[str] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., order_type: _Optional[_Union[_types_pb2.OrderType, str]] = ..., time_in_force: _Optional[_Union[_types_pb2.TimeInForce, str]] = ..., price_fen: _Optional[int] = ..., qty: _Optional[int] = ..., client_order_id: _Optional[int] = ..., expire_time_ns: _Optional[int] = ..., post_only: _Optional[bool] = ..., self_trade_prevention: _Optional[_Union[_types_pb2.SelfTradePrevention, str]] = ...) -> None: ...

class PlaceOrderResponse(_message.Message):
    __slots__ = ("reports", "order")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.ExecutionReport]
    order: _types_pb2.Order
    def __init__(self, reports: _Optional[_Iterable[_Union[_types_pb2.ExecutionReport, _Mapping]]] = ..., order: _Optional[_Union[_types_pb2.Order, _Mapping]] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("orig_client_order_id",)
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    orig_client_order_id: int
    def __init__(self, orig_client_order_id: _Optional[int] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.ExecutionReport]
    def __init__(self, reports: _Optional[_Iterable[_Union[_types_pb2.ExecutionReport, _Mapping]]] = ...) -> None: ...

class ReplaceOrderRequest(_message.Message):
    __slots__ = ("orig_client_order_id", "client_order_id", "price_fen", "qty")
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    orig_client_order_id: int
    client_order_id: int
    price_fen: int
    qty: int
    def __init__(self, orig_client_order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., price_fen: _Optional[int] = ..., qty: _Optional[int] = ...) -> None: ...

class ReplaceOrderResponse(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.ExecutionReport]
    def __init__(self, reports: _Optional[_Iterable[_Union[_types_pb2.ExecutionReport, _Mapping]]] = ...) -> None: ...

class MassCancelRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class MassCancelResponse(_message.Message):
    __slots__ = ("reports", "cancelled")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.ExecutionReport]
    cancelled: int
    def __init__(self, reports: _Optional[_Iterable[_Union[_types_pb2.ExecutionReport, _Mapping]]] = ..., cancelled: _Optional[int] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("client_order_id",)
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    client_order_id: int
    def __init__(self, client_order_id: _Optional[int] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _types_pb2.Order
    def __init__(self, order: _Optional[_Union[_types_pb2.Order, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("open_only", "symbol", "limit")
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    open_only: bool
    symbol: str
    limit: int
    def __init__(self, open_only: _Optional[bool] = ..., symbol: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_types_pb2.Order]
    def __init__(self, orders: _Optional[_Iterable[_Union[_types_pb2.Order, _Mapping]]] = ...) -> None: ...

class OrderCommand(_message.Message):
    __slots__ = ("place", "cancel", "replace")
    PLACE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    place: PlaceOrderRequest
    cancel: CancelOrderRequest
    replace: ReplaceOrderRequest
    def __init__(self, place: _Optional[_Union[PlaceOrderRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelOrderRequest, _Mapping]] = ..., replace: _Optional[_Union[ReplaceOrderRequest, _Mapping]] = ...) -> None: ...

class StreamOrdersRequest(_message.Message):
    __slots__ = ("batch_id", "commands", "cancel_on_disconnect")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ON_DISCONNECT_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    commands: _containers.RepeatedCompositeFieldContainer[OrderCommand]
    cancel_on_disconnect: bool
    def __init__(self, batch_id: _Optional[int] = ..., commands: _Optional[_Iterable[_Union[OrderCommand, _Mapping]]] = ..., cancel_on_disconnect: _Optional[bool] = ...) -> None: ...

class StreamOrdersResponse(_message.Message):
    __slots__ = ("batch_id", "reports")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.ExecutionReport]
    def __init__(self, batch_id: _Optional[int] = ..., reports: _Optional[_Iterable[_Union[_types_pb2.ExecutionReport, _Mapping]]] = ...) -> None: ...

class StreamExecutionReportsRequest(_message.Message):
    __slots__ = ("after_exec_seq",)
    AFTER_EXEC_SEQ_FIELD_NUMBER: _ClassVar[int]
    after_exec_seq: int
    def __init__(self, after_exec_seq: _Optional[int] = ...) -> None: ...

class StreamExecutionReportsResponse(_message.Message):
    __slots__ = ("events", "last_exec_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_EXEC_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AccountEvent]
    last_exec_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[AccountEvent, _Mapping]]] = ..., last_exec_seq: _Optional[int] = ...) -> None: ...

class AccountEvent(_message.Message):
    __slots__ = ("exec_seq", "exec_id", "report", "change")
    EXEC_SEQ_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    exec_seq: int
    exec_id: str
    report: _types_pb2.ExecutionReport
    change: AccountChange
    def __init__(self, exec_seq: _Optional[int] = ..., exec_id: _Optional[str] = ..., report: _Optional[_Union[_types_pb2.ExecutionReport, _Mapping]] = ..., change: _Optional[_Union[AccountChange, _Mapping]] = ...) -> None: ...

class AccountChange(_message.Message):
    __slots__ = ("kind", "seq", "transact_time_ns", "symbol", "amount_fen", "qty")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRANSACT_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    kind: AccountChangeKind
    seq: int
    transact_time_ns: int
    symbol: str
    amount_fen: int
    qty: int
    def __init__(self, kind: _Optional[_Union[AccountChangeKind, str]] = ..., seq: _Optional[int] = ..., transact_time_ns: _Optional[int] = ..., symbol: _Optional[str] = ..., amount_fen: _Optional[int] = ..., qty: _Optional[int] = ...) -> None: ...
