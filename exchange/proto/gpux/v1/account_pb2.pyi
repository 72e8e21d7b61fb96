from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Balance(_message.Message):
    __slots__ = ("cash_fen", "credit_fen", "reserved_fen", "available_fen", "held_fen")
    CASH_FEN_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FEN_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FEN_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    HELD_FEN_FIELD_NUMBER: _ClassVar[int]
    cash_fen: int
    credit_fen: int
    reserved_fen: int
    available_fen: int
    held_fen: int
    def __init__(self, cash_fen: _Optional[int] = ..., credit_fen: _Optional[int] = ..., reserved_fen: _Optional[int] = ..., available_fen: _Optional[int] = ..., held_fen: _Optional[int] = ...) -> None: ...

class DepositFundsRequest(_message.Message):
    __slots__ = ("amount_fen",)
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    amount_fen: int
    def __init__(self, amount_fen: _Optional[int] = ...) -> None: ...

class DepositFundsResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class WithdrawFundsRequest(_message.Message):
    __slots__ = ("amount_fen",)
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    amount_fen: int
    def __init__(self, amount_fen: _Optional[int] = ...) -> None: ...

class WithdrawFundsResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("day",)
    DAY_FIELD_NUMBER: _ClassVar[int]
    day: str
    def __init__(self, day: _Optional[str] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("day", "bought_qty", "bought_value_fen", "sold_qty", "sold_value_fen", "fees_fen", "subsidy_fen", "net_fen", "provisional")
    DAY_FIELD_NUMBER: _ClassVar[int]
    BOUGHT_QTY_FIELD_NUMBER: _ClassVar[int]
    BOUGHT_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    SOLD_QTY_FIELD_NUMBER: _ClassVar[int]
    SOLD_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    FEES_FEN_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_FEN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    day: str
    bought_qty: int
    bought_value_fen: int
    sold_qty: int
    sold_value_fen: int
    fees_fen: int
    subsidy_fen: int
    net_fen: int
    provisional: bool
    def __init__(self, day: _Optional[str] = ..., bought_qty: _Optional[int] = ..., bought_value_fen: _Optional[int] = ..., sold_qty: _Optional[int] = ..., sold_value_fen: _Optional[int] = ..., fees_fen: _Optional[int] = ..., subsidy_fen: _Optional[int] = ..., net_fen: _Optional[int] = ..., provisional: _Optional[bool] = ...) -> None: ...
