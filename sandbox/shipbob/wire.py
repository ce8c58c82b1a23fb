"""ShipBob's wire conventions: snake_case JSON with exact decimals, ISO-8601 UTC dates, ASP.NET-style errors.

Orders answer 400/422 with `{"<field or empty>": ["message", ...]}`; returns answer RFC 7807 ProblemDetails
(contract §2.2), ASP.NET's validation flavour (`errors`) for a bad request.
"""
import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from starlette.datastructures import QueryParams
from starlette.responses import Response


def dumps(value) -> bytes:
    """Compact JSON where a Decimal is written as the exact number it holds (money never becomes a float)."""
    return _encode(value).encode()


def _encode(value) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime):
        return json.dumps(iso(value))
    return json.dumps(value)


def loads(body: bytes):
    return json.loads(body, parse_float=Decimal)


class ShipBobJSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content) -> bytes:
        return dumps(content)


class ApiError(Exception):
    """Raised anywhere in a handler; the gate renders it."""

    def __init__(self, status: int, errors: dict | None = None, media_type: str | None = None) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors
        self.media_type = media_type

    def response(self) -> Response:
        if self.errors is None:
            return Response(status_code=self.status)
        return ShipBobJSON(self.errors, self.status, media_type=self.media_type)


def invalid(field: str, message: str, status: int = 400) -> ApiError:
    return ApiError(status, {field: [message]})


PROBLEM_TYPES = {400: ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "One or more validation errors occurred."),
                 404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
                 422: ("https://tools.ietf.org/html/rfc4918#section-11.2", "Unprocessable Entity")}


def problem(status: int, detail: str | None = None, errors: dict[str, list[str]] | None = None) -> ApiError:
    """An RFC 7807 refusal as the returns API sends it; `errors` names the fields of a bad request."""
    kind, title = PROBLEM_TYPES[status]
    body = {"type": kind, "title": title, "status": status, "detail": detail, "instance": None}
    if errors:
        body["errors"] = errors
    return ApiError(status, body, "application/problem+json; charset=utf-8")


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """`2026-01-05T14:15:22.123Z`: UTC with milliseconds, so receivers can order events by time."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query_list(query: QueryParams, name: str) -> list[str]:
    """An array query parameter, repeated (`A=1&A=2`) or comma-separated (`A=1,2`), as ASP.NET binds both."""
    return [part.strip() for value in query.getlist(name) for part in value.split(",") if part.strip()]


def query_ints(query: QueryParams, name: str) -> list[int]:
    try:
        return [int(value) for value in query_list(query, name)]
    except ValueError:
        raise invalid(name, f"The value is not valid for {name}.") from None


def query_int(query: QueryParams, name: str, default: int, minimum: int, maximum: int) -> int:
    text = query.get(name)
    try:
        value = default if text in (None, "") else int(text)
    except ValueError:
        raise invalid(name, f"The value '{text}' is not valid for {name}.") from None
    if not minimum <= value <= maximum:
        raise invalid(name, f"The field {name} must be between {minimum} and {maximum}.")
    return value


def query_bool(query: QueryParams, name: str) -> bool | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    if text.lower() not in ("true", "false"):
        raise invalid(name, f"The value '{text}' is not valid for {name}.")
    return text.lower() == "true"


def decimal_field(value, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise invalid(field, f"The value is not valid for {field}.") from None
