"""Reading values from untrusted JSON, shared by the store's and the 3PL's mappers.

Each returns None for a value it cannot read, and each mapper raises its own "invalid payload"
error naming the field. What these guard against: integers too long to print (Python refuses
`str()` past 4,300 digits), decimals whose arithmetic overflows, dates that leave the calendar when
moved to UTC, and text with lone surrogates (valid JSON escapes that no UTF-8 payload can carry).
"""
import reprlib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

MAX_ID = 2**63 - 1
"""Store and 3PL ids are 64-bit database keys; a longer "id" is not one."""

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlevel = 2


def shown(value: object) -> str:
    """A short description of a value for an error message: never huge, never recursing without bound."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {value.bit_length() * 30103 // 100000} digits"
    if isinstance(value, str) and not is_text(value):
        return f"text with a lone surrogate ({_SHOWN.repr(value.encode('utf-8', 'backslashreplace').decode())})"
    try:
        return _SHOWN.repr(value)
    except ValueError:  # an integer nested in a list, too long to print
        return f"a {type(value).__name__}"


def is_text(value: str) -> bool:
    """False for text a UTF-8 payload cannot carry (a lone surrogate from a `\\ud800` escape)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decimal_of(value: object) -> Decimal | None:
    """Decimal from a string, an int or a float (through its shortest repr, never binary); may be NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value) if isinstance(value, float)
                                                                          else value.strip())  # fmt: skip
    except (InvalidOperation, ValueError):
        return None
    return number


def positive_id(value: object) -> int | None:
    """A positive integer id, given as a JSON integer or as its digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


def utc_moment(value: str) -> datetime | None:
    """An ISO 8601 instant in UTC; no offset means UTC. None if unreadable or outside the calendar in UTC."""
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
