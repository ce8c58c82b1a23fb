"""The gate in front of every versioned route: bearer PAT (401), rate limit (429), scope (403).

Rate limit (https://developer.shipbob.com/rate-limit): 150 requests per minute, sliding window, per user
per application, i.e. per token here. Every answer to a known token carries `x-remaining-calls`; a refusal
carries `x-retry-after` in seconds (not the standard `Retry-After`).
"""
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.shipbob.config import ApiToken
from sandbox.shipbob.state import Store
from sandbox.shipbob.wire import ApiError, ShipBobJSON, invalid, loads

READ_METHODS = ("GET", "HEAD")


class RateLimiter:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.calls: dict[str, deque[float]] = {}

    def take(self, token: str) -> tuple[int, int | None]:
        """(calls left in the window, seconds to wait or None); a refused call does not count."""
        moment = time.monotonic()
        calls = self.calls.setdefault(token, deque())
        while calls and calls[0] <= moment - self.window_s:
            calls.popleft()
        if len(calls) >= self.limit:
            return 0, max(1, math.ceil(calls[0] + self.window_s - moment))
        calls.append(moment)
        return self.limit - len(calls), None


class ForcedLimit(BaseModel):
    """Test control: answer the next matching calls with 429 as if the limit were reached."""

    count: int = Field(default=1, ge=1)
    retry_after: int = Field(default=25, ge=0)
    path_prefix: str = "/2026-01/"
    method: str | None = None


def rate_limited(retry_after: int) -> Response:
    body = {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {retry_after} seconds."}
    return ShipBobJSON(body, 429, headers={"x-retry-after": str(retry_after), "x-remaining-calls": "0"})


@dataclass
class Call:
    """One authenticated request, handed to a synchronous handler (no await while state changes)."""

    store: Store
    request: Request
    body: bytes
    token: ApiToken

    @property
    def query(self):
        return self.request.query_params

    @property
    def path(self) -> dict:
        return self.request.path_params

    def json(self) -> dict:
        try:
            data = loads(self.body) if self.body.strip() else None
        except ValueError:
            raise invalid("", "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise invalid("", "A non-empty request body is required.")
        return data

    def require_channel(self) -> None:
        """`shipbob_channel_id` is required on creates (contract §2.1); the refusal body is an inference."""
        text = self.request.headers.get("shipbob_channel_id", "").strip()
        if not text:
            raise invalid("shipbob_channel_id", "The shipbob_channel_id header is required.")
        if text != str(self.store.config.channel_id):
            raise invalid("shipbob_channel_id", f"Channel {text} was not found or is not accessible.")

    def url(self, path: str, **params) -> str:
        """An absolute link back to this server (paging links and `Next-Page`)."""
        return str(self.request.url.replace(path=path, query="").include_query_params(**params))


class Gate:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.tokens = {t.token: t for t in store.config.tokens}
        self.limiter = RateLimiter(store.config.rate_limit, store.config.rate_window_s)
        self.forced: list[ForcedLimit] = []

    def _forced(self, method: str, path: str) -> ForcedLimit | None:
        for fault in self.forced:
            if path.startswith(fault.path_prefix) and fault.method in (None, method):
                fault.count -= 1
                if fault.count == 0:
                    self.forced.remove(fault)
                return fault
        return None

    def route(self, method: str, path: str, scope: str, handler: Callable[[Call], Response]) -> Route:
        async def endpoint(request: Request) -> Response:
            scheme, _, text = request.headers.get("authorization", "").partition(" ")
            token = self.tokens.get(text.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if (fault := self._forced(request.method, request.url.path)) is not None:
                return rate_limited(fault.retry_after)
            remaining, retry_after = self.limiter.take(token.token)
            if retry_after is not None:
                return rate_limited(retry_after)
            if scope not in token.scopes:
                response = Response(status_code=403)
            else:
                call = Call(self.store, request, await request.body(), token)
                try:
                    response = handler(call)
                except ApiError as error:
                    response = error.response()
                if request.method not in READ_METHODS:
                    self.store.persist()
            response.headers["x-remaining-calls"] = str(remaining)
            return response

        return Route(path, endpoint, methods=[method])
