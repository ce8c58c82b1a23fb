"""ShipBob sandbox fixtures: one account for the session, a client, a subscribed webhook receiver.

The session sandbox runs ShipBob's clocks compressed: webhook retries 10,000x faster, a simulated minute
in 10 ms, so a whole retry schedule or a delayed simulation fits in a test. Every test shares its one token,
so its rate limit is raised (SESSION_RATE_LIMIT); the 150/min limit itself is tested on a sandbox of its own.
"""
import asyncio
import time
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from embedded.asgi import serve
from sandbox.shipbob import DEMO_READ_ONLY_TOKEN, DEMO_TOKEN, RunningShipBob, ShipBobConfig, run_shipbob_sandbox

ORDER_TOPICS = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
                "order.shipment.on_hold", "order.shipment.cancelled"]
FAST_CLOCKS = {"webhook_retry_factor": 0.0001, "simulation_minute_s": 0.01, "out_of_order_hold_s": 0.3}
SESSION_RATE_LIMIT = 1000


@dataclass
class ShipBobSandbox:
    running: RunningShipBob
    token: str = DEMO_TOKEN.token
    read_only_token: str = DEMO_READ_ONLY_TOKEN.token

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def api_url(self) -> str:
        return self.running.api_url

    @property
    def channel_id(self) -> int:
        return self.running.config.channel_id

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """A client of the API with a bearer token and the channel header, as our adapter calls it."""
        headers = {"Authorization": f"Bearer {token or self.token}", "shipbob_channel_id": str(self.channel_id)}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=10)

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/__sandbox", timeout=10)


@pytest.fixture(scope="session")
async def shipbob_sandbox():
    async with run_shipbob_sandbox(ShipBobConfig(rate_limit=SESSION_RATE_LIMIT, **FAST_CLOCKS)) as running:
        yield ShipBobSandbox(running)


@pytest.fixture
async def shipbob(shipbob_sandbox):
    async with shipbob_sandbox.client() as client:
        yield client


@dataclass
class ShipBobReceiver:
    """Captures deliveries (raw body, headers, arrival time); answers the next of `statuses`, then 200."""

    url: str = ""
    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)

    def of_topic(self, topic: str) -> list[dict]:
        return [r for r in self.received if r["headers"]["x-webhook-topic"] == topic]

    async def wait_for(self, count: int, topic: str | None = None, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(found := self.of_topic(topic) if topic else self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} deliveries of {topic or 'any topic'}, got {len(found)}")
            await asyncio.sleep(0.01)
        return found


@pytest.fixture
async def shipbob_receiver(shipbob_sandbox, shipbob):
    """A receiver subscribed to every order topic for the test, unsubscribed after it."""
    receiver = ShipBobReceiver()

    async def capture(request: Request) -> Response:
        receiver.received.append({"headers": dict(request.headers), "body": await request.body(),
                                  "at": time.monotonic()})
        return Response(status_code=receiver.statuses.pop(0) if receiver.statuses else 200)

    async with serve(Starlette(routes=[Route("/hooks", capture, methods=["POST"])])) as url:
        receiver.url = f"{url}/hooks"
        created = await shipbob.post("/webhook", json={"topics": ORDER_TOPICS, "url": receiver.url})
        assert created.status_code == 200, created.text
        receiver.secret = created.json()["secret"]
        yield receiver
        await shipbob.delete(f"/webhook/{created.json()['id']}")
