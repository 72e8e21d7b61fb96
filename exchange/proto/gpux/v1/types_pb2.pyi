from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_IN_FORCE_UNSPECIFIED: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTD: _ClassVar[TimeInForce]
    TIME_IN_FORCE_IOC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_FOK: _ClassVar[TimeInForce]

class SelfTradePrevention(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SELF_TRADE_PREVENTION_UNSPECIFIED: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_NEWEST: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_OLDEST: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_BOTH: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_DECREMENT: _ClassVar[SelfTradePrevention]

class ExecType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXEC_TYPE_UNSPECIFIED: _ClassVar[ExecType]
    EXEC_TYPE_NEW: _ClassVar[ExecType]
    EXEC_TYPE_TRADE: _ClassVar[ExecType]
    EXEC_TYPE_CANCELED: _ClassVar[ExecType]
    EXEC_TYPE_EXPIRED: _ClassVar[ExecType]
    EXEC_TYPE_REPLACED: _ClassVar[ExecType]
    EXEC_TYPE_REJECTED: _ClassVar[ExecType]

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_NEW: _ClassVar[OrderStatus]
    ORDER_STATUS_PARTIALLY_FILLED: _ClassVar[OrderStatus]
    ORDER_STATUS_FILLED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELED: _ClassVar[OrderStatus]
    ORDER_STATUS_EXPIRED: _ClassVar[OrderStatus]
    ORDER_STATUS_REJECTED: _ClassVar[OrderStatus]

class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REASON_UNSPECIFIED: _ClassVar[Reason]
    REASON_UNKNOWN_COMMAND: _ClassVar[Reason]
    REASON_UNKNOWN_ACCOUNT: _ClassVar[Reason]
    REASON_UNKNOWN_INSTRUMENT: _ClassVar[Reason]
    REASON_BAD_SIDE: _ClassVar[Reason]
    REASON_BAD_ORDER_TYPE: _ClassVar[Reason]
    REASON_BAD_TIME_IN_FORCE: _ClassVar[Reason]
    REASON_BAD_STP_MODE: _ClassVar[Reason]
    REASON_BAD_FLAGS: _ClassVar[Reason]
    REASON_BAD_CLIENT_ORDER_ID: _ClassVar[Reason]
    REASON_QUANTITY_OUT_OF_LIMITS: _ClassVar[Reason]
    REASON_PRICE_NOT_ON_TICK: _ClassVar[Reason]
    REASON_PRICE_OUT_OF_BAND: _ClassVar[Reason]
    REASON_MARKET_ORDER_HAS_PRICE: _ClassVar[Reason]
    REASON_BAD_EXPIRY: _ClassVar[Reason]
    REASON_BAD_AMOUNT: _ClassVar[Reason]
    REASON_UNKNOWN_GPU_CLASS: _ClassVar[Reason]
    REASON_BAD_MASS_CANCEL_FILTER: _ClassVar[Reason]
    REASON_BAD_INSTRUMENT_ID: _ClassVar[Reason]
    REASON_SAME_ACCOUNT: _ClassVar[Reason]
    REASON_GATE_CLOSED: _ClassVar[Reason]
    REASON_INSTRUMENT_HALTED: _ClassVar[Reason]
    REASON_INSTRUMENT_NOT_HALTED: _ClassVar[Reason]
    REASON_POST_ONLY_WOULD_CROSS: _ClassVar[Reason]
    REASON_ORDER_DONE: _ClassVar[Reason]
    REASON_REPLACE_BELOW_FILLED: _ClassVar[Reason]
    REASON_INSTRUMENT_IN_CALL: _ClassVar[Reason]
    REASON_INSTRUMENT_NOT_IN_CALL: _ClassVar[Reason]
    REASON_UNKNOWN_ORDER: _ClassVar[Reason]
    REASON_DUPLICATE_CLIENT_ORDER_ID: _ClassVar[Reason]
    REASON_INSUFFICIENT_FUNDS: _ClassVar[Reason]
    REASON_INSUFFICIENT_CAPACITY: _ClassVar[Reason]
    REASON_USER_CANCEL: _ClassVar[Reason]
    REASON_MASS_CANCEL: _ClassVar[Reason]
    REASON_IOC_REMAINDER: _ClassVar[Reason]
    REASON_FOK_UNFILLABLE: _ClassVar[Reason]
    REASON_SELF_TRADE: _ClassVar[Reason]
    REASON_GATE_CLOSURE: _ClassVar[Reason]
    REASON_GTD_EXPIRY: _ClassVar[Reason]
    REASON_PRIORITY_KEPT: _ClassVar[Reason]
    REASON_PRIORITY_LOST: _ClassVar[Reason]
    REASON_AUCTION: _ClassVar[Reason]
    REASON_DAY_AHEAD: _ClassVar[Reason]
    REASON_MALFORMED_REQUEST: _ClassVar[Reason]
    REASON_BAD_FIELD: _ClassVar[Reason]
    REASON_BAD_SYMBOL: _ClassVar[Reason]
    REASON_NOT_FOUND: _ClassVar[Reason]
    REASON_ALREADY_EXISTS: _ClassVar[Reason]
    REASON_UNAUTHENTICATED: _ClassVar[Reason]
    REASON_PERMISSION_DENIED: _ClassVar[Reason]
    REASON_RATE_LIMITED: _ClassVar[Reason]
    REASON_STREAM_LIMIT: _ClassVar[Reason]
    REASON_SLOW_CONSUMER: _ClassVar[Reason]
    REASON_UNAVAILABLE: _ClassVar[Reason]
    REASON_WRONG_STATE: _ClassVar[Reason]
    REASON_DATA_CORRUPT: _ClassVar[Reason]
    REASON_INTERNAL: _ClassVar[Reason]

class InstrumentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTRUMENT_STATE_UNSPECIFIED: _ClassVar[InstrumentState]
    INSTRUMENT_STATE_OPEN: _ClassVar[InstrumentState]
    INSTRUMENT_STATE_HALTED: _ClassVar[InstrumentState]
    INSTRUMENT_STATE_CLOSED: _ClassVar[InstrumentState]
    INSTRUMENT_STATE_CALL: _ClassVar[InstrumentState]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_TYPE_MARKET: OrderType
TIME_IN_FORCE_UNSPECIFIED: TimeInForce
TIME_IN_FORCE_GTC: TimeInForce
TIME_IN_FORCE_GTD: TimeInForce
TIME_IN_FORCE_IOC: TimeInForce
TIME_IN_FORCE_FOK: TimeInForce
SELF_TRADE_PREVENTION_UNSPECIFIED: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_NEWEST: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_OLDEST: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_BOTH: SelfTradePrevention
SELF_TRADE_PREVENTION_DECREMENT: SelfTradePrevention
EXEC_TYPE_UNSPECIFIED: ExecType
EXEC_TYPE_NEW: ExecType
EXEC_TYPE_TRADE: ExecType
EXEC_TYPE_CANCELED: ExecType
EXEC_TYPE_EXPIRED: ExecType
EXEC_TYPE_REPLACED: ExecType
EXEC_TYPE_REJECTED: ExecType
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_NEW: OrderStatus
ORDER_STATUS_PARTIALLY_FILLED: OrderStatus
ORDER_STATUS_FILLED: OrderStatus
ORDER_STATUS_CANCELED: OrderStatus
ORDER_STATUS_EXPIRED: OrderStatus
ORDER_STATUS_REJECTED: OrderStatus
REASON_UNSPECIFIED: Reason
REASON_UNKNOWN_COMMAND: Reason
REASON_UNKNOWN_ACCOUNT: Reason
REASON_UNKNOWN_INSTRUMENT: Reason
REASON_BAD_SIDE: Reason
REASON_BAD_ORDER_TYPE: Reason
REASON_BAD_TIME_IN_FORCE: Reason
REASON_BAD_STP_MODE: Reason
REASON_BAD_FLAGS: Reason
REASON_BAD_CLIENT_ORDER_ID: Reason
REASON_QUANTITY_OUT_OF_LIMITS: Reason
REASON_PRICE_NOT_ON_TICK: Reason
REASON_PRICE_OUT_OF_BAND: Reason
REASON_MARKET_ORDER_HAS_PRICE: Reason
REASON_BAD_EXPIRY: Reason
REASON_BAD_AMOUNT: Reason
REASON_UNKNOWN_GPU_CLASS: Reason
REASON_BAD_MASS_CANCEL_FILTER: Reason
REASON_BAD_INSTRUMENT_ID: Reason
REASON_SAME_ACCOUNT: Reason
REASON_GATE_CLOSED: Reason
REASON_INSTRUMENT_HALTED: Reason
REASON_INSTRUMENT_NOT_HALTED: Reason
REASON_POST_ONLY_WOULD_CROSS: Reason
REASON_ORDER_DONE: Reason
REASON_REPLACE_BELOW_FILLED: Reason
REASON_INSTRUMENT_IN_CALL: Reason
REASON_INSTRUMENT_NOT_IN_CALL: Reason
REASON_UNKNOWN_ORDER: Reason
REASON_DUPLICATE_CLIENT_ORDER_ID: Reason
REASON_INSUFFICIENT_FUNDS: Reason
REASON_INSUFFICIENT_CAPACITY: Reason
REASON_USER_CANCEL: Reason
REASON_MASS_CANCEL: Reason
REASON_IOC_REMAINDER: Reason
REASON_FOK_UNFILLABLE: Reason
REASON_SELF_TRADE: Reason
REASON_GATE_CLOSURE: Reason
REASON_GTD_EXPIRY: Reason
REASON_PRIORITY_KEPT: Reason
REASON_PRIORITY_LOST: Reason
REASON_AUCTION: Reason
REASON_DAY_AHEAD: Reason
REASON_MALFORMED_REQUEST: Reason
REASON_BAD_FIELD: Reason
REASON_BAD_SYMBOL: Reason
REASON_NOT_FOUND: Reason
REASON_ALREADY_EXISTS: Reason
REASON_UNAUTHENTICATED: Reason
REASON_PERMISSION_DENIED: Reason
REASON_RATE_LIMITED: Reason
REASON_STREAM_LIMIT: Reason
REASON_SLOW_CONSUMER: Reason
REASON_UNAVAILABLE: Reason
REASON_WRONG_STATE: Reason
REASON_DATA_CORRUPT: Reason
REASON_INTERNAL: Reason
INSTRUMENT_STATE_UNSPECIFIED: InstrumentState
INSTRUMENT_STATE_OPEN: InstrumentState
INSTRUMENT_STATE_HALTED: InstrumentState
INSTRUMENT_STATE_CLOSED: InstrumentState
INSTRUMENT_STATE_CALL: InstrumentState

class ExecutionReport(_message.Message):
    __slots__ = ("seq", "exec_index", "transact_time_ns", "exec_type", "order_status", "reason", "text", "order_id", "client_order_id", "orig_client_order_id", "symbol", "side", "price_fen", "order_qty", "last_qty", "last_price_fen", "leaves_qty", "cum_qty", "trade_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EXEC_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRANSACT_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    EXEC_TYPE_FIELD_NUMBER: _ClassVar[int]
    ORDER_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIG_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_QTY_FIELD_NUMBER: _ClassVar[int]
    LAST_QTY_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    exec_index: int
    transact_time_ns: int
    exec_type: ExecType
    order_status: OrderStatus
    reason: Reason
    text: str
    order_id: int
    client_order_id: int
    orig_client_order_id: int
    symbol: str
    side: Side
    price_fen: int
    order_qty: int
    last_qty: int
    last_price_fen: int
    leaves_qty: int
    cum_qty: int
    trade_id: int
    def __init__(self, seq: _Optional[int] = ..., exec_index: _Optional[int] = ..., transact_time_ns: _Optional[int] = ..., exec_type: _Optional[_Union[ExecType, str]] = ..., order_status: _Optional[_Union[OrderStatus, str]] = ..., reason: _Optional[_Union[Reason, str]] = ..., text: _Optional[str] = ..., order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., orig_client_order_id: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., price_fen: _Optional[int] = ..., order_qty: _Optional[int] = ..., last_qty: _Optional[int] = ..., last_price_fen: _Optional[int] = ..., leaves_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ..., trade_id: _Optional[int] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "client_order_id", "first_client_order_id", "symbol", "side", "price_fen", "order_qty", "cum_qty", "leaves_qty", "order_status")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_QTY_FIELD_NUMBER: _ClassVar[int]
    CUM_QTY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_STATUS_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    client_order_id: int
    first_client_order_id: int
    symbol: str
    side: Side
    price_fen: int
    order_qty: int
    cum_qty: int
    leaves_qty: int
    order_status: OrderStatus
    def __init__(self, order_id: _Optional[int] = ..., client_order_id: _Optional[int] = ..., first_client_order_id: _Optional[int] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., price_fen: _Optional[int] = ..., order_qty: _Optional[int] = ..., cum_qty: _Optional[int] = ..., leaves_qty: _Optional[int] = ..., order_status: _Optional[_Union[OrderStatus, str]] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("symbol", "gpu_class", "region", "slot_start_ns", "gate_closure_ns", "state")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    GPU_CLASS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SLOT_START_NS_FIELD_NUMBER: _ClassVar[int]
    GATE_CLOSURE_NS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    gpu_class: str
    region: str
    slot_start_ns: int
    gate_closure_ns: int
    state: InstrumentState
    def __init__(self, symbol: _Optional[str] = ..., gpu_class: _Optional[str] = ..., region: _Optional[str] = ..., slot_start_ns: _Optional[int] = ..., gate_closure_ns: _Optional[int] = ..., state: _Optional[_Union[InstrumentState, str]] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("trade_id", "seq", "time_ns", "symbol", "price_fen", "qty", "aggressor_side", "auction")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_SIDE_FIELD_NUMBER: _ClassVar[int]
    AUCTION_FIELD_NUMBER: _ClassVar[int]
    trade_id: int
    seq: int
    time_ns: int
    symbol: str
    price_fen: int
    qty: int
    aggressor_side: Side
    auction: bool
    def __init__(self, trade_id: _Optional[int] = ..., seq: _Optional[int] = ..., time_ns: _Optional[int] = ..., symbol: _Optional[str] = ..., price_fen: _Optional[int] = ..., qty: _Optional[int] = ..., aggressor_side: _Optional[_Union[Side, str]] = ..., auction: _Optional[bool] = ...) -> None: ...
