"""Small HTTP pieces every webhook endpoint shares: a bounded body read and a refusal with its reason."""
from starlette.requests import Request
from starlette.responses import JSONResponse


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge()
    return bytes(body)


def refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)
