"""Cursor pages `{items, first, next, prev, last}` as the 2026-01 list endpoints answer them (contract §2.7/§2.8).

Links are absolute URLs to follow as they are; the cursor is opaque to clients (an offset here).
"""
import base64

from starlette.responses import Response

from sandbox.shipbob.auth import Call
from sandbox.shipbob.wire import ShipBobJSON, invalid, query_int


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(call: Call) -> int:
    text = call.query.get("Cursor")
    if not text:
        return 0
    try:
        return int(base64.urlsafe_b64decode(text.encode()).decode().removeprefix("offset:"))
    except ValueError:
        raise invalid("Cursor", "The cursor is not valid.") from None


def cursor_page(call: Call, items: list[dict], size_param: str) -> Response:
    size = query_int(call.query, size_param, 50, 1, 250)
    offset = _offset(call)
    path, params = call.request.url.path, {k: v for k, v in call.query.items() if k != "Cursor"}

    def link(at: int) -> str:
        return call.url(path, **params, Cursor=_cursor(at))
    last = max(0, (len(items) - 1) // size * size)
    return ShipBobJSON({
        "items": items[offset:offset + size], "first": link(0), "last": link(last),
        "next": link(offset + size) if offset + size < len(items) else None,
        "prev": link(max(0, offset - size)) if offset > 0 else None,
    })
