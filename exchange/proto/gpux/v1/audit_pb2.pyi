from exchange.proto.gpux.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TradeFile(_message.Message):
    __slots__ = ("path", "size_bytes", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class ListTradeFilesRequest(_message.Message):
    __slots__ = ("day",)
    DAY_FIELD_NUMBER: _ClassVar[int]
    day: str
    def __init__(self, day: _Optional[str] = ...) -> None: ...

class ListTradeFilesResponse(_message.Message):
    __slots__ = ("files", "sealed_days")
    FILES_FIELD_NUMBER: _ClassVar[int]
    SEALED_DAYS_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[TradeFile]
    sealed_days: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, files: _Optional[_Iterable[_Union[TradeFile, _Mapping]]] = ..., sealed_days: _Optional[_Iterable[str]] = ...) -> None: ...

class DownloadTradeFileRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class DownloadTradeFileResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class StreamTradesRequest(_message.Message):
    __slots__ = ("day", "symbols", "gpu_class", "region", "after_trade_id")
    DAY_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    GPU_CLASS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    AFTER_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    day: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    gpu_class: str
    region: str
    after_trade_id: int
    def __init__(self, day: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., gpu_class: _Optional[str] = ..., region: _Optional[str] = ..., after_trade_id: _Optional[int] = ...) -> None: ...

class StreamTradesResponse(_message.Message):
    __slots__ = ("trades", "through_trade_id")
    TRADES_FIELD_NUMBER: _ClassVar[int]
    THROUGH_TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_types_pb2.Trade]
    through_trade_id: int
    def __init__(self, trades: _Optional[_Iterable[_Union[_types_pb2.Trade, _Mapping]]] = ..., through_trade_id: _Optional[int] = ...) -> None: ...
