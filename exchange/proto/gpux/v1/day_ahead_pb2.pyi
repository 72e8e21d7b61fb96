from exchange.proto.gpux.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DayAheadOrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DAY_AHEAD_ORDER_TYPE_UNSPECIFIED: _ClassVar[DayAheadOrderType]
    DAY_AHEAD_ORDER_TYPE_HOURLY: _ClassVar[DayAheadOrderType]
    DAY_AHEAD_ORDER_TYPE_BLOCK: _ClassVar[DayAheadOrderType]
DAY_AHEAD_ORDER_TYPE_UNSPECIFIED: DayAheadOrderType
DAY_AHEAD_ORDER_TYPE_HOURLY: DayAheadOrderType
DAY_AHEAD_ORDER_TYPE_BLOCK: DayAheadOrderType

class DayAheadAlternative(_message.Message):
    __slots__ = ("gpu_class", "region", "limit_fen", "start_hour")
    GPU_CLASS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FEN_FIELD_NUMBER: _ClassVar[int]
    START_HOUR_FIELD_NUMBER: _ClassVar[int]
    gpu_class: str
    region: str
    limit_fen: int
    start_hour: int
    def __init__(self, gpu_class: _Optional[str] = ..., region: _Optional[str] = ..., limit_fen: _Optional[int] = ..., start_hour: _Optional[int] = ...) -> None: ...

class DayAheadOrder(_message.Message):
    __slots__ = ("ref", "client_order_id", "side", "order_type", "start_hour", "hours", "qty", "min_ratio_percent", "alternatives", "filled_qty", "accepted_alternative", "reason", "conflicts", "accepted_start_hour")
    REF_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_HOUR_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    MIN_RATIO_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_ALTERNATIVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_START_HOUR_FIELD_NUMBER: _ClassVar[int]
    ref: int
    client_order_id: int
    side: _types_pb2.Side
    order_type: DayAheadOrderType
    start_hour: int
    hours: int
    qty: int
    min_ratio_percent: int
    alternatives: _containers.RepeatedCompositeFieldContainer[DayAheadAlternative]
    filled_qty: int
    accepted_alternative: int
    reason: str
    conflicts: _containers.RepeatedScalarFieldContainer[int]
    accepted_start_hour: int
    def __init__(self, ref: _Optional[int] = ..., client_order_id: _Optional[int] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., order_type: _Optional[_Union[DayAheadOrderType, str]] = ..., start_hour: _Optional[int] = ..., hours: _Optional[int] = ..., qty: _Optional[int] = ..., min_ratio_percent: _Optional[int] = ..., alternatives: _Optional[_Iterable[_Union[DayAheadAlternative, _Mapping]]] = ..., filled_qty: _Optional[int] = ..., accepted_alternative: _Optional[int] = ..., reason: _Optional[str] = ..., conflicts: _Optional[_Iterable[int]] = ..., accepted_start_hour: _Optional[int] = ...) -> None: ...

class SubmitDayAheadOrderRequest(_message.Message):
    __slots__ = ("delivery_day", "order")
    DELIVERY_DAY_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    delivery_day: str
    order: DayAheadOrder
    def __init__(self, delivery_day: _Optional[str] = ..., order: _Optional[_Union[DayAheadOrder, _Mapping]] = ...) -> None: ...

class SubmitDayAheadOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: DayAheadOrder
    def __init__(self, order: _Optional[_Union[DayAheadOrder, _Mapping]] = ...) -> None: ...

class ListDayAheadOrdersRequest(_message.Message):
    __slots__ = ("delivery_day",)
    DELIVERY_DAY_FIELD_NUMBER: _ClassVar[int]
    delivery_day: str
    def __init__(self, delivery_day: _Optional[str] = ...) -> None: ...

class ListDayAheadOrdersResponse(_message.Message):
    __slots__ = ("orders", "cleared")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    CLEARED_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[DayAheadOrder]
    cleared: bool
    def __init__(self, orders: _Optional[_Iterable[_Union[DayAheadOrder, _Mapping]]] = ..., cleared: _Optional[bool] = ...) -> None: ...

class DayAheadPrice(_message.Message):
    __slots__ = ("symbol", "price_fen", "volume")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    price_fen: int
    volume: int
    def __init__(self, symbol: _Optional[str] = ..., price_fen: _Optional[int] = ..., volume: _Optional[int] = ...) -> None: ...

class GetDayAheadResultRequest(_message.Message):
    __slots__ = ("delivery_day",)
    DELIVERY_DAY_FIELD_NUMBER: _ClassVar[int]
    delivery_day: str
    def __init__(self, delivery_day: _Optional[str] = ...) -> None: ...

class GetDayAheadResultResponse(_message.Message):
    __slots__ = ("delivery_day", "prices", "welfare_fen", "mip_gap_ppm", "solve_ms", "rounds", "removed_blocks", "trades")
    DELIVERY_DAY_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    WELFARE_FEN_FIELD_NUMBER: _ClassVar[int]
    MIP_GAP_PPM_FIELD_NUMBER: _ClassVar[int]
    SOLVE_MS_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    delivery_day: str
    prices: _containers.RepeatedCompositeFieldContainer[DayAheadPrice]
    welfare_fen: int
    mip_gap_ppm: int
    solve_ms: int
    rounds: int
    removed_blocks: _containers.RepeatedScalarFieldContainer[int]
    trades: int
    def __init__(self, delivery_day: _Optional[str] = ..., prices: _Optional[_Iterable[_Union[DayAheadPrice, _Mapping]]] = ..., welfare_fen: _Optional[int] = ..., mip_gap_ppm: _Optional[int] = ..., solve_ms: _Optional[int] = ..., rounds: _Optional[int] = ..., removed_blocks: _Optional[_Iterable[int]] = ..., trades: _Optional[int] = ...) -> None: ...

class RunDayAheadRequest(_message.Message):
    __slots__ = ("delivery_day", "time_limit_seconds")
    DELIVERY_DAY_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    delivery_day: str
    time_limit_seconds: int
    def __init__(self, delivery_day: _Optional[str] = ..., time_limit_seconds: _Optional[int] = ...) -> None: ...

class RunDayAheadResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: GetDayAheadResultResponse
    def __init__(self, result: _Optional[_Union[GetDayAheadResultResponse, _Mapping]] = ...) -> None: ...
