from exchange.proto.gpux.v1 import audit_pb2 as _audit_pb2
from exchange.proto.gpux.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GpuClass(_message.Message):
    __slots__ = ("name", "memory_gb", "fp16_tflops_centi", "interconnect", "tick_fen", "band_lo_fen", "band_hi_fen", "reference_fen", "min_qty", "max_qty", "maker_fee_bps", "taker_fee_bps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GB_FIELD_NUMBER: _ClassVar[int]
    FP16_TFLOPS_CENTI_FIELD_NUMBER: _ClassVar[int]
    INTERCONNECT_FIELD_NUMBER: _ClassVar[int]
    TICK_FEN_FIELD_NUMBER: _ClassVar[int]
    BAND_LO_FEN_FIELD_NUMBER: _ClassVar[int]
    BAND_HI_FEN_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FEN_FIELD_NUMBER: _ClassVar[int]
    MIN_QTY_FIELD_NUMBER: _ClassVar[int]
    MAX_QTY_FIELD_NUMBER: _ClassVar[int]
    MAKER_FEE_BPS_FIELD_NUMBER: _ClassVar[int]
    TAKER_FEE_BPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    memory_gb: int
    fp16_tflops_centi: int
    interconnect: str
    tick_fen: int
    band_lo_fen: int
    band_hi_fen: int
    reference_fen: int
    min_qty: int
    max_qty: int
    maker_fee_bps: int
    taker_fee_bps: int
    def __init__(self, name: _Optional[str] = ..., memory_gb: _Optional[int] = ..., fp16_tflops_centi: _Optional[int] = ..., interconnect: _Optional[str] = ..., tick_fen: _Optional[int] = ..., band_lo_fen: _Optional[int] = ..., band_hi_fen: _Optional[int] = ..., reference_fen: _Optional[int] = ..., min_qty: _Optional[int] = ..., max_qty: _Optional[int] = ..., maker_fee_bps: _Optional[int] = ..., taker_fee_bps: _Optional[int] = ...) -> None: ...

class Region(_message.Message):
    __slots__ = ("name", "display_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class GetCatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCatalogResponse(_message.Message):
    __slots__ = ("classes", "regions", "utc_offset_hours", "gate_closure_minutes", "listing_horizon_days")
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_HOURS_FIELD_NUMBER: _ClassVar[int]
    GATE_CLOSURE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    LISTING_HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    classes: _containers.RepeatedCompositeFieldContainer[GpuClass]
    regions: _containers.RepeatedCompositeFieldContainer[Region]
    utc_offset_hours: int
    gate_closure_minutes: int
    listing_horizon_days: int
    def __init__(self, classes: _Optional[_Iterable[_Union[GpuClass, _Mapping]]] = ..., regions: _Optional[_Iterable[_Union[Region, _Mapping]]] = ..., utc_offset_hours: _Optional[int] = ..., gate_closure_minutes: _Optional[int] = ..., listing_horizon_days: _Optional[int] = ...) -> None: ...

class ListInstrumentsRequest(_message.Message):
    __slots__ = ("gpu_class", "region", "open_only")
    GPU_CLASS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    gpu_class: str
    region: str
    open_only: bool
    def __init__(self, gpu_class: _Optional[str] = ..., region: _Optional[str] = ..., open_only: _Optional[bool] = ...) -> None: ...

class ListInstrumentsResponse(_message.Message):
    __slots__ = ("instruments",)
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    instruments: _containers.RepeatedCompositeFieldContainer[_types_pb2.Instrument]
    def __init__(self, instruments: _Optional[_Iterable[_Union[_types_pb2.Instrument, _Mapping]]] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("price_fen", "qty", "orders")
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    price_fen: int
    qty: int
    orders: int
    def __init__(self, price_fen: _Optional[int] = ..., qty: _Optional[int] = ..., orders: _Optional[int] = ...) -> None: ...

class GetBookRequest(_message.Message):
    __slots__ = ("symbol", "depth")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    depth: int
    def __init__(self, symbol: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class GetBookResponse(_message.Message):
    __slots__ = ("symbol", "state", "bids", "asks", "seq", "indicative")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    INDICATIVE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    state: _types_pb2.InstrumentState
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    seq: int
    indicative: Indicative
    def __init__(self, symbol: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.InstrumentState, str]] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., seq: _Optional[int] = ..., indicative: _Optional[_Union[Indicative, _Mapping]] = ...) -> None: ...

class Indicative(_message.Message):
    __slots__ = ("price_fen", "qty", "surplus_qty", "surplus_side", "call_end_ns")
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    SURPLUS_QTY_FIELD_NUMBER: _ClassVar[int]
    SURPLUS_SIDE_FIELD_NUMBER: _ClassVar[int]
    CALL_END_NS_FIELD_NUMBER: _ClassVar[int]
    price_fen: int
    qty: int
    surplus_qty: int
    surplus_side: _types_pb2.Side
    call_end_ns: int
    def __init__(self, price_fen: _Optional[int] = ..., qty: _Optional[int] = ..., surplus_qty: _Optional[int] = ..., surplus_side: _Optional[_Union[_types_pb2.Side, str]] = ..., call_end_ns: _Optional[int] = ...) -> None: ...

class StreamBookRequest(_message.Message):
    __slots__ = ("symbol", "depth")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    depth: int
    def __init__(self, symbol: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class LevelUpdate(_message.Message):
    __slots__ = ("side", "price_fen", "qty", "orders")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    side: _types_pb2.Side
    price_fen: int
    qty: int
    orders: int
    def __init__(self, side: _Optional[_Union[_types_pb2.Side, str]] = ..., price_fen: _Optional[int] = ..., qty: _Optional[int] = ..., orders: _Optional[int] = ...) -> None: ...

class StreamBookResponse(_message.Message):
    __slots__ = ("update_id", "seq", "snapshot", "updates", "state", "indicative")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INDICATIVE_FIELD_NUMBER: _ClassVar[int]
    update_id: int
    seq: int
    snapshot: bool
    updates: _containers.RepeatedCompositeFieldContainer[LevelUpdate]
    state: _types_pb2.InstrumentState
    indicative: Indicative
    def __init__(self, update_id: _Optional[int] = ..., seq: _Optional[int] = ..., snapshot: _Optional[bool] = ..., updates: _Optional[_Iterable[_Union[LevelUpdate, _Mapping]]] = ..., state: _Optional[_Union[_types_pb2.InstrumentState, str]] = ..., indicative: _Optional[_Union[Indicative, _Mapping]] = ...) -> None: ...

class ListTradesRequest(_message.Message):
    __slots__ = ("symbol", "after_trade_id", "limit")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    AFTER_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    after_trade_id: int
    limit: int
    def __init__(self, symbol: _Optional[str] = ..., after_trade_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListTradesResponse(_message.Message):
    __slots__ = ("trades",)
    TRADES_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_types_pb2.Trade]
    def __init__(self, trades: _Optional[_Iterable[_Union[_types_pb2.Trade, _Mapping]]] = ...) -> None: ...

class GetTickerRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class GetTickerResponse(_message.Message):
    __slots__ = ("symbol", "best_bid_fen", "best_ask_fen", "last_price_fen", "volume", "best_ask_per_pflop_hour_fen", "last_per_pflop_hour_fen")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_FEN_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_FEN_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_PER_PFLOP_HOUR_FEN_FIELD_NUMBER: _ClassVar[int]
    LAST_PER_PFLOP_HOUR_FEN_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    best_bid_fen: int
    best_ask_fen: int
    last_price_fen: int
    volume: int
    best_ask_per_pflop_hour_fen: int
    last_per_pflop_hour_fen: int
    def __init__(self, symbol: _Optional[str] = ..., best_bid_fen: _Optional[int] = ..., best_ask_fen: _Optional[int] = ..., last_price_fen: _Optional[int] = ..., volume: _Optional[int] = ..., best_ask_per_pflop_hour_fen: _Optional[int] = ..., last_per_pflop_hour_fen: _Optional[int] = ...) -> None: ...

class StreamTickersRequest(_message.Message):
    __slots__ = ("symbols", "gpu_class", "region", "day")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    GPU_CLASS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    gpu_class: str
    region: str
    day: str
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., gpu_class: _Optional[str] = ..., region: _Optional[str] = ..., day: _Optional[str] = ...) -> None: ...

class StreamTickersResponse(_message.Message):
    __slots__ = ("tickers",)
    TICKERS_FIELD_NUMBER: _ClassVar[int]
    tickers: _containers.RepeatedCompositeFieldContainer[Ticker]
    def __init__(self, tickers: _Optional[_Iterable[_Union[Ticker, _Mapping]]] = ...) -> None: ...

class Ticker(_message.Message):
    __slots__ = ("symbol", "state", "best_bid_fen", "best_bid_qty", "best_ask_fen", "best_ask_qty", "last_price_fen", "volume", "best_ask_per_pflop_hour_fen", "last_per_pflop_hour_fen")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_FEN_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_QTY_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_FEN_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_QTY_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_PER_PFLOP_HOUR_FEN_FIELD_NUMBER: _ClassVar[int]
    LAST_PER_PFLOP_HOUR_FEN_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    state: _types_pb2.InstrumentState
    best_bid_fen: int
    best_bid_qty: int
    best_ask_fen: int
    best_ask_qty: int
    last_price_fen: int
    volume: int
    best_ask_per_pflop_hour_fen: int
    last_per_pflop_hour_fen: int
    def __init__(self, symbol: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.InstrumentState, str]] = ..., best_bid_fen: _Optional[int] = ..., best_bid_qty: _Optional[int] = ..., best_ask_fen: _Optional[int] = ..., best_ask_qty: _Optional[int] = ..., last_price_fen: _Optional[int] = ..., volume: _Optional[int] = ..., best_ask_per_pflop_hour_fen: _Optional[int] = ..., last_per_pflop_hour_fen: _Optional[int] = ...) -> None: ...
