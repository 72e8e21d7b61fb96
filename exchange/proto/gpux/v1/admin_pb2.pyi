from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_PROVIDER: _ClassVar[Role]
    ROLE_BUYER: _ClassVar[Role]
    ROLE_AUDITOR: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
ROLE_PROVIDER: Role
ROLE_BUYER: Role
ROLE_AUDITOR: Role
ROLE_ADMIN: Role

class CreateAccountRequest(_message.Message):
    __slots__ = ("name", "role", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: Role
    request_id: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateAccountResponse(_message.Message):
    __slots__ = ("account", "token")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    account: int
    token: str
    def __init__(self, account: _Optional[int] = ..., token: _Optional[str] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: int
    def __init__(self, account: _Optional[int] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class HaltInstrumentRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class HaltInstrumentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeInstrumentRequest(_message.Message):
    __slots__ = ("symbol", "call_seconds")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    call_seconds: int
    def __init__(self, symbol: _Optional[str] = ..., call_seconds: _Optional[int] = ...) -> None: ...

class ResumeInstrumentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartCallRequest(_message.Message):
    __slots__ = ("symbol", "call_seconds")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    call_seconds: int
    def __init__(self, symbol: _Optional[str] = ..., call_seconds: _Optional[int] = ...) -> None: ...

class StartCallResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UncrossRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class UncrossResponse(_message.Message):
    __slots__ = ("price_fen", "qty")
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    price_fen: int
    qty: int
    def __init__(self, price_fen: _Optional[int] = ..., qty: _Optional[int] = ...) -> None: ...

class KillSwitchRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: int
    def __init__(self, account: _Optional[int] = ...) -> None: ...

class KillSwitchResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: int
    def __init__(self, cancelled: _Optional[int] = ...) -> None: ...

class SetCreditRequest(_message.Message):
    __slots__ = ("account", "credit_fen")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FEN_FIELD_NUMBER: _ClassVar[int]
    account: int
    credit_fen: int
    def __init__(self, account: _Optional[int] = ..., credit_fen: _Optional[int] = ...) -> None: ...

class SetCreditResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GrantVoucherRequest(_message.Message):
    __slots__ = ("grant_id", "issuer", "account", "rate_bps", "cap_fen", "valid_from", "valid_to")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    CAP_FEN_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    issuer: str
    account: int
    rate_bps: int
    cap_fen: int
    valid_from: str
    valid_to: str
    def __init__(self, grant_id: _Optional[str] = ..., issuer: _Optional[str] = ..., account: _Optional[int] = ..., rate_bps: _Optional[int] = ..., cap_fen: _Optional[int] = ..., valid_from: _Optional[str] = ..., valid_to: _Optional[str] = ...) -> None: ...

class GrantVoucherResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSlotsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSlotsResponse(_message.Message):
    __slots__ = ("listed",)
    LISTED_FIELD_NUMBER: _ClassVar[int]
    listed: int
    def __init__(self, listed: _Optional[int] = ...) -> None: ...
