"""Small HTTP pieces every endpoint shares: a bounded body read, JSON parsing with the reason, a refusal."""
import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    """The client did not send its body within the read timeout (a slow sender must not hold a connection)."""

    def response(self) -> JSONResponse:
        """408, and the server closes the connection once it is sent (`Connection: close`)."""
        return JSONResponse({"error": str(self)}, status_code=408, headers={"Connection": "close"})


class MalformedBody(ValueError):
    """Not JSON we can read; the message says why."""


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyTooLarge()
    except TimeoutError:
        raise BodyTooSlow(f"body not received within {timeout_s:g} s") from None
    return bytes(body)


def parse_json(body: bytes) -> object:
    """JSON text as RFC 8259 has it: UTF-8, no NaN or Infinity; nesting and integer length within Python's limits."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedBody(f"body is not UTF-8: {err}") from None
    try:
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise MalformedBody("JSON nested too deeply") from None
    except ValueError as err:  # JSONDecodeError, and integers too long to convert
        raise MalformedBody(f"malformed JSON: {err}") from None


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not a JSON value")


def refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)
