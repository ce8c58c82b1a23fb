"""The webhook starter's answers: every refusal has a status and a reason, every acceptance a run."""
import asyncio
import base64
from datetime import datetime, timedelta, timezone
import json
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from canonical.keys import order_workflow_id
from config import Settings, StarterSettings, StoreSettings, TemporalSettings, ThreePLSettings
from starter.signatures import woocommerce_signature
from starter.webhooks import create_app
from embedded.asgi import serve

SECRET = "s3cr&amp;t"  # WooCommerce decodes HTML entities in the secret before signing
ORDER_JSON = (Path(__file__).parent / "data" / "woocommerce" / "order_variation_coupon.json").read_bytes()
SHIPMENT_JSON = (Path(__file__).parent / "data" / "shipbob" / "shipment_shipped.json").read_text()
THREEPL_SECRET = "whsec_" + base64.b64encode(b"starter-test-shipbob-secret-000").decode()


@pytest.fixture(scope="module")
def store_id() -> str:
    return f"st-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def starter_url(dev_server, store_id):
    settings = Settings(
        temporal=TemporalSettings(task_queue=f"tq-{uuid.uuid4()}"),  # no worker: runs stay at their start
        stores=[StoreSettings(id=store_id, url="http://127.0.0.1:1", consumer_key=SecretStr("ck"),
                              consumer_secret=SecretStr("cs"), webhook_secret=SecretStr(SECRET))],  # fmt: skip
        starter=StarterSettings(max_body_bytes=64_000),
        threepl=ThreePLSettings(webhook_secret=SecretStr(THREEPL_SECRET)),
    )
    async with serve(create_app(settings, dev_server.client)) as url:
        yield url


def signed(body: bytes, topic: str = "order.created", secret: str = "s3cr&t") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": woocommerce_signature(body, secret),
    }


def order_body(order_id: int) -> bytes:
    payload = json.loads(ORDER_JSON)
    payload["id"] = order_id
    payload["number"] = str(order_id)
    return json.dumps(payload).encode()


async def run_exists(dev_server, store_id: str, order_id: int) -> bool:
    try:
        await dev_server.client.get_workflow_handle(order_workflow_id(store_id, str(order_id))).describe()
    except RPCError:
        return False
    return True


async def test_signed_order_webhook_starts_one_run(dev_server, starter_url, store_id):
    body = order_body(91001)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body, headers=signed(body))
    assert answer.status_code == 202
    assert answer.json()["workflow_id"] == order_workflow_id(store_id, "91001")
    description = await dev_server.client.get_workflow_handle(answer.json()["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert await description.static_summary() == f"Order #91001 from store {store_id}"


async def test_duplicate_and_concurrent_deliveries_collapse_onto_one_run(dev_server, starter_url, store_id):
    body = order_body(91002)
    url = f"{starter_url}/webhooks/woocommerce/{store_id}"
    async with httpx.AsyncClient() as http:
        answers = await asyncio.gather(
            *[http.post(url, content=body, headers=signed(body)) for _ in range(5)],
            http.post(url, content=body, headers=signed(body, "order.updated")),
        )
    assert [a.status_code for a in answers] == [202] * 6
    history = await dev_server.client.get_workflow_handle(order_workflow_id(store_id, "91002")).fetch_history()
    signals = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
    assert len(signals) == 6  # all six deliveries reached the one run started by the first


async def test_bad_signature_is_401_and_starts_nothing(dev_server, starter_url, store_id):
    body = order_body(91003)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body,
                                 headers=signed(body, secret="wrong"))  # fmt: skip
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid signature"}
    assert not await run_exists(dev_server, store_id, 91003)


async def test_missing_signature_is_401(starter_url, store_id):
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=order_body(91004),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 401


async def test_unsigned_ping_gets_200(starter_url, store_id):
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", data={"webhook_id": "12"})
    assert answer.status_code == 200


async def test_malformed_json_is_400_with_the_reason(starter_url, store_id):
    body = b'{"id": 5, "status": '
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("malformed JSON")


async def test_non_order_payload_is_400_with_the_reason(starter_url, store_id):
    body = json.dumps({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                       "data": {"status": 404}}).encode()  # fmt: skip
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("not an order payload")


async def test_oversized_body_is_413(starter_url, store_id):
    body = b"x" * 70_000
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body, headers=signed(body))
    assert answer.status_code == 413


async def test_unknown_store_is_404(starter_url):
    body = order_body(91005)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/nope", content=body, headers=signed(body))
    assert answer.status_code == 404


async def test_other_topics_are_acknowledged_and_ignored(dev_server, starter_url, store_id):
    body = json.dumps({"id": 77, "sku": "TEE-CLASSIC"}).encode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body,
                                 headers=signed(body, "product.updated"))  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"


async def test_health_and_readiness(starter_url):
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{starter_url}/healthz")).status_code == 200
        ready = await http.get(f"{starter_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def shipbob_event(reference: str, *, delivery_id: str | None = None, age: timedelta = timedelta(0),
                  secret: str = THREEPL_SECRET) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    payload = json.loads(SHIPMENT_JSON)
    payload["reference_id"] = reference
    body = json.dumps(payload)
    sent = datetime.now(timezone.utc) - age
    delivery_id = delivery_id or f"msg_{uuid.uuid4().hex}"
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, sent, body),
        "x-webhook-topic": "order.shipped",
    }
    return body.encode(), headers


async def test_3pl_event_reaches_the_order_run_once_per_delivery_id(dev_server, starter_url, store_id):
    body = order_body(91010)
    async with httpx.AsyncClient() as http:
        await http.post(f"{starter_url}/webhooks/woocommerce/{store_id}", content=body, headers=signed(body))
        event, headers = shipbob_event(f"{store_id}:91010:any", delivery_id="msg_repeat_1")
        first = await http.post(f"{starter_url}/webhooks/shipbob", content=event, headers=headers)
        again = await http.post(f"{starter_url}/webhooks/shipbob", content=event, headers=headers)
    assert first.status_code == 202 and first.json()["workflow_id"] == order_workflow_id(store_id, "91010")
    assert again.status_code == 200 and again.json()["status"] == "duplicate delivery"
    history = await dev_server.client.get_workflow_handle(order_workflow_id(store_id, "91010")).fetch_history()
    shipment_signals = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")
                        and e.workflow_execution_signaled_event_attributes.signal_name == "shipment_changed"]  # fmt: skip
    assert len(shipment_signals) == 1


@pytest.mark.parametrize("forgery", ["wrong secret", "stale timestamp"])
async def test_3pl_event_with_a_bad_signature_or_an_old_timestamp_is_401(starter_url, store_id, forgery):
    if forgery == "wrong secret":
        other = "whsec_" + base64.b64encode(b"someone-else-entirely-0000000000").decode()
        event, headers = shipbob_event(f"{store_id}:91010:any", secret=other)
    else:
        event, headers = shipbob_event(f"{store_id}:91010:any", age=timedelta(minutes=10))
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/shipbob", content=event, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"].startswith("invalid webhook signature")


async def test_3pl_event_for_an_order_without_a_run_or_not_ours_is_acknowledged(starter_url, store_id):
    no_run_body, no_run_headers = shipbob_event(f"{store_id}:1:any")
    foreign_body, foreign_headers = shipbob_event("SO-FROM-ELSEWHERE")
    async with httpx.AsyncClient() as http:
        no_run = await http.post(f"{starter_url}/webhooks/shipbob", content=no_run_body, headers=no_run_headers)
        foreign = await http.post(f"{starter_url}/webhooks/shipbob", content=foreign_body, headers=foreign_headers)
    assert no_run.status_code == 200 and no_run.json()["status"] == "order run not running"
    assert foreign.status_code == 200 and foreign.json()["status"] == "ignored"


async def test_3pl_event_that_is_not_a_shipment_is_400(starter_url):
    delivery_id, sent, body = "msg_bad_1", datetime.now(timezone.utc), '{"reference_id": "x", "status": 7}'
    headers = {"webhook-id": delivery_id, "webhook-timestamp": str(int(sent.timestamp())),
               "webhook-signature": Webhook(THREEPL_SECRET).sign(delivery_id, sent, body),
               "x-webhook-topic": "order.shipped"}  # fmt: skip
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/webhooks/shipbob", content=body.encode(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("not a shipment payload")



@pytest.fixture(scope="module")
async def portal_url(dev_server):
    settings = Settings(temporal=TemporalSettings(task_queue=f"tq-{uuid.uuid4()}"),
                        starter=StarterSettings(returns_api_token=SecretStr("portal-token")))  # fmt: skip
    async with serve(create_app(settings, dev_server.client)) as url:
        yield url


async def test_returns_endpoint_is_off_unless_configured(starter_url):
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{starter_url}/returns", json={})
    assert answer.status_code == 404


@pytest.mark.parametrize(("token", "body", "status", "reason"), [
    ("wrong", {"store_id": "s", "order_id": "1", "lines": []}, 401, "invalid or missing bearer token"),
    ("portal-token", {"store_id": "s"}, 400, "malformed return request"),
    ("portal-token", {"store_id": "nope", "order_id": "1", "lines": [{"sku": "TEE-CLASSIC", "quantity": 1}]},
     422, "unknown store 'nope'"),
])  # fmt: skip
async def test_returns_endpoint_refuses_with_the_reason(portal_url, token, body, status, reason):
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{portal_url}/returns", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status
    assert answer.json()["error"].startswith(reason)
