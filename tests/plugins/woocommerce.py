"""WooCommerce sandbox fixtures: one store for the session, an OAuth 1.0a signer, a webhook receiver.

The signer is written from RFC 5849 independently of the sandbox, so tests check the sandbox against
the standard, not against itself. Sign against the store's *home URL*, as WooCommerce verifies.
"""
import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from embedded.asgi import serve
from sandbox.woocommerce import DEMO_KEY, DEMO_READ_ONLY_KEY, RunningSandbox, SandboxConfig, run_woocommerce_sandbox


class WooOAuth(httpx.Auth):
    """One-legged OAuth 1.0a as WooCommerce accepts it over http: params in the query or the header."""

    def __init__(self, key: str, secret: str, home_url: str, method: str = "HMAC-SHA256",
                 in_header: bool = False, nonce: str | None = None) -> None:
        self.key, self.secret, self.home_url = key, secret, home_url.rstrip("/")
        self.method, self.in_header, self.nonce = method, in_header, nonce

    def auth_flow(self, request: httpx.Request):
        oauth = {"oauth_consumer_key": self.key, "oauth_nonce": self.nonce or secrets.token_hex(16),
                 "oauth_signature_method": self.method, "oauth_timestamp": str(int(time.time()))}
        params = list(request.url.params.multi_items()) + list(oauth.items())
        enc = lambda text: quote(text, safe="~")  # noqa: E731
        normalized = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in params))
        base = "&".join((request.method, enc(self.home_url + request.url.path), enc(normalized)))
        digest = hashlib.sha1 if self.method == "HMAC-SHA1" else hashlib.sha256
        oauth["oauth_signature"] = base64.b64encode(
            hmac.new(f"{self.secret}&".encode(), base.encode(), digest).digest()).decode()
        if self.in_header:
            request.headers["Authorization"] = "OAuth " + ", ".join(f'{k}="{enc(v)}"' for k, v in oauth.items())
        else:
            request.url = request.url.copy_merge_params(oauth)
        yield request


@dataclass
class WooSandbox:
    running: RunningSandbox
    consumer_key: str = DEMO_KEY.consumer_key
    consumer_secret: str = DEMO_KEY.consumer_secret
    read_only_key: str = DEMO_READ_ONLY_KEY.consumer_key
    read_only_secret: str = DEMO_READ_ONLY_KEY.consumer_secret

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def home_url(self) -> str:
        return self.running.home_url

    @property
    def api_url(self) -> str:
        return f"{self.url}/wp-json/wc/v3"

    def auth(self, **options) -> WooOAuth:
        return WooOAuth(self.consumer_key, self.consumer_secret, self.home_url, **options)

    def client(self, **options) -> httpx.AsyncClient:
        """A client for the demo read/write key, signing each request."""
        return httpx.AsyncClient(base_url=self.api_url, auth=self.auth(**options), timeout=10)


@pytest.fixture(scope="session")
async def woo_sandbox():
    async with run_woocommerce_sandbox(SandboxConfig()) as running:
        yield WooSandbox(running)


@pytest.fixture
async def woo(woo_sandbox):
    async with woo_sandbox.client() as client:
        yield client


@dataclass
class WebhookReceiver:
    """Captures what the store POSTs, raw bytes included; answers `status` (change it to make deliveries fail)."""

    url: str = ""
    status: int = 200
    received: list[dict] = field(default_factory=list)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} webhook requests, got {len(self.received)}")
            await asyncio.sleep(0.02)
        return self.received


@pytest.fixture
async def webhook_receiver():
    receiver = WebhookReceiver()

    async def capture(request: Request) -> Response:
        receiver.received.append({"headers": dict(request.headers), "body": await request.body(),
                                  "path": request.url.path})
        return Response(status_code=receiver.status)

    app = Starlette(routes=[Route("/{path:path}", capture, methods=["POST"])])
    async with serve(app) as url:
        receiver.url = f"{url}/hooks"
        yield receiver
