from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DepositCapacityRequest(_message.Message):
    __slots__ = ("symbol", "qty")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    qty: int
    def __init__(self, symbol: _Optional[str] = ..., qty: _Optional[int] = ...) -> None: ...

class DepositCapacityResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: Position
    def __init__(self, position: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class WithdrawCapacityRequest(_message.Message):
    __slots__ = ("symbol", "qty")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    qty: int
    def __init__(self, symbol: _Optional[str] = ..., qty: _Optional[int] = ...) -> None: ...

class WithdrawCapacityResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: Position
    def __init__(self, position: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class GetCapacityRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class GetCapacityResponse(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("symbol", "capacity", "bought", "sold", "ask_open", "free")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    BOUGHT_FIELD_NUMBER: _ClassVar[int]
    SOLD_FIELD_NUMBER: _ClassVar[int]
    ASK_OPEN_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    capacity: int
    bought: int
    sold: int
    ask_open: int
    free: int
    def __init__(self, symbol: _Optional[str] = ..., capacity: _Optional[int] = ..., bought: _Optional[int] = ..., sold: _Optional[int] = ..., ask_open: _Optional[int] = ..., free: _Optional[int] = ...) -> None: ...
