"""The starter answers 4xx, never 5xx, for any body, signed or not; only an unreachable Temporal is a 503.

Requests go through the ASGI app (no sockets) to the session's dev server, on a task queue without a
worker: runs accepted here stay at their start and are terminated when the module ends.
"""
import asyncio
import base64
import json
import time
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import SecretStr
from temporalio.client import WorkflowExecutionStatus

from bench.hostile_bodies import (
    HOSTILE_VALUES,
    RETURN_REQUEST,
    SHIPBOB_SHIPMENT,
    WOOCOMMERCE_ORDER,
    Secrets,
    hostile_cases,
    json_paths,
    standard_webhooks_signature,
    with_value,
)
from config import Settings, StarterSettings, StoreSettings, TemporalSettings, ThreePLSettings
from embedded.asgi import serve
from starter.signatures import woocommerce_signature
from starter.webhooks import create_app
from tests.test_hostile_mapping import json_values

SECRETS = Secrets(
    store_id=f"hs-{uuid.uuid4().hex[:6]}",
    woocommerce="hostile-webhook-secret",
    shipbob="whsec_" + base64.b64encode(b"hostile-starter-shipbob-secret-0").decode(),
    returns_token="hostile-portal-token",
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Starter:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.accepted: set[str] = set()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        answer = await self.http.post(path, content=body, headers=headers)
        if answer.status_code == 202:
            self.accepted.add(answer.json()["workflow_id"])
        return answer


def settings_for(woo_sandbox) -> Settings:
    store = StoreSettings(id=SECRETS.store_id, url=woo_sandbox.url, consumer_key=SecretStr(woo_sandbox.consumer_key),
                          consumer_secret=SecretStr(woo_sandbox.consumer_secret),
                          webhook_secret=SecretStr(SECRETS.woocommerce))  # fmt: skip
    return Settings(
        temporal=TemporalSettings(task_queue=f"tq-{uuid.uuid4()}"),
        stores=[store],
        threepl=ThreePLSettings(webhook_secret=SecretStr(SECRETS.shipbob)),
        starter=StarterSettings(returns_api_token=SecretStr(SECRETS.returns_token), body_read_timeout_s=1.0),
    )


@pytest.fixture(scope="module")
async def starter(dev_server, woo_sandbox):
    app = create_app(settings_for(woo_sandbox), dev_server.client)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://starter"
    ) as http:
        starter = Starter(http)
        yield starter
    for workflow_id in starter.accepted:  # nothing else may query or count these worker-less runs
        handle = dev_server.client.get_workflow_handle(workflow_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")


def woocommerce_headers(body: bytes, secret: str = SECRETS.woocommerce) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": woocommerce_signature(body, secret)}  # fmt: skip


def shipbob_headers(body: bytes, topic: str = "order.shipped") -> dict[str, str]:
    delivery_id, sent = f"msg_{uuid.uuid4().hex}", int(time.time())
    return {"webhook-id": delivery_id, "webhook-timestamp": str(sent), "x-webhook-topic": topic,
            "webhook-signature": standard_webhooks_signature(SECRETS.shipbob, delivery_id, sent, body)}  # fmt: skip


RETURNS_HEADERS = {"Authorization": f"Bearer {SECRETS.returns_token}", "Content-Type": "application/json"}
WOO_PATH = f"/webhooks/woocommerce/{SECRETS.store_id}"


def order(**changes) -> dict:
    payload = json.loads(json.dumps(WOOCOMMERCE_ORDER))
    payload["id"] = int(uuid.uuid4().int % 10**12) + 1
    payload.update(changes)
    return payload


def text_of(payload: dict) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"id": 1, "status": "processing\xff"}', "body is not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    (text_of(order())[:-1] + b', "id": ' + b"9" * 5000 + b"}", "malformed JSON: Exceeds the limit"),
    (text_of(order())[:-1] + b', "total": NaN}', "malformed JSON: NaN is not a JSON value"),
    (text_of(order())[:-1] + b', "total": 1e999999}', "not an order payload: total: expected a finite number"),
    (text_of(order())[:-1] + b', "number": "\\ud800"}', "not an order payload: number: not valid Unicode text"),
    (text_of(order(id=2**64)), "not an order payload: id: expected a positive integer"),
    (text_of(order(date_created_gmt="0001-01-01T00:00:00+01:00")), "not an order payload: date_created_gmt"),
    (text_of(order(prices_include_tax="false")), "not an order payload: prices_include_tax: expected true or false"),
])  # fmt: skip
async def test_a_signed_hostile_order_is_400_with_the_reason(starter, body, reason):
    answer = await starter.post(WOO_PATH, body, woocommerce_headers(body))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(reason)


async def test_an_order_no_temporal_payload_can_carry_is_413_with_the_reason(starter, dev_server):
    payload = order()
    payload["line_items"] = [{"id": 9, "product_id": 0, "quantity": 1, "subtotal": "1", "total": "1"}] * 12_000
    body = json.dumps(payload, separators=(",", ":")).encode()
    assert len(body) < StarterSettings().max_body_bytes

    answer = await starter.post(WOO_PATH, body, woocommerce_headers(body))

    assert answer.status_code == 413, answer.text
    assert answer.json()["error"].startswith(f"order {payload['id']} is too large for Temporal")
    with pytest.raises(Exception):
        await dev_server.client.get_workflow_handle(f"order-{SECRETS.store_id}-{payload['id']}").describe()


async def test_a_signed_3pl_event_that_is_not_utf8_or_names_no_run_of_ours_is_refused_or_ignored(starter):
    not_utf8 = json.dumps(SHIPBOB_SHIPMENT).encode()[:-1] + b', "x": "\xff"}'
    answer = await starter.post("/webhooks/shipbob", not_utf8, shipbob_headers(not_utf8))
    assert answer.status_code == 400 and answer.json()["error"].startswith("body is not UTF-8")

    for reference in ("x" * 3000 + ":1:any", f"{SECRETS.store_id}:{'9' * 3000}:any", "RMA-" + "y" * 3000 + "-1-1",
                      f"{SECRETS.store_id}:1:\ud800"):  # fmt: skip
        kind = "return.updated" if reference.startswith("RMA-") else "order.shipped"
        body = json.dumps({**SHIPBOB_SHIPMENT, "reference_id": reference}).encode()
        answer = await starter.post("/webhooks/shipbob", body, shipbob_headers(body, kind))
        assert answer.status_code == 200 and answer.json()["status"] == "ignored", (reference[:40], answer.text)


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({**RETURN_REQUEST, "order_id": "99999999"}, 404, "store {store} has no order 99999999"),
    ({**RETURN_REQUEST, "order_id": "../orders"}, 400, "malformed return request: order_id"),
    ({**RETURN_REQUEST, "order_id": "9" * 40}, 400, "malformed return request: order_id"),
    ({**RETURN_REQUEST, "lines": [{"sku": "TEE", "quantity": "1.5"}]}, 422, "TEE: 1.5 is not a whole number of units"),
    ({**RETURN_REQUEST, "lines": [{"sku": "TEE", "quantity": "1e999999"}]}, 400, "malformed return request"),
])  # fmt: skip
async def test_a_return_for_an_unknown_or_malformed_order_is_a_4xx_with_the_reason(starter, body, status, reason):
    body = {**body, "store_id": SECRETS.store_id}
    answer = await starter.post("/returns", json.dumps(body).encode(), RETURNS_HEADERS)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"].startswith(reason.format(store=SECRETS.store_id))


@PROPERTY
@given(data=st.data())
async def test_any_value_anywhere_in_a_signed_body_gets_no_5xx(starter, data):
    endpoint = data.draw(st.sampled_from(["woocommerce", "shipbob", "returns"]))
    base = {"woocommerce": order(), "shipbob": {**SHIPBOB_SHIPMENT, "reference_id": f"{SECRETS.store_id}:7:any"},
            "returns": {**RETURN_REQUEST, "store_id": SECRETS.store_id}}[endpoint]  # fmt: skip
    path = data.draw(st.sampled_from(json_paths(base)))
    value = data.draw(json_values | st.sampled_from(HOSTILE_VALUES))
    body = json.dumps(with_value(base, path, value)).encode()
    if endpoint == "woocommerce":
        answer = await starter.post(WOO_PATH, body, woocommerce_headers(body))
    elif endpoint == "shipbob":
        answer = await starter.post("/webhooks/shipbob", body, shipbob_headers(body))
    else:
        answer = await starter.post("/returns", body, RETURNS_HEADERS)
    assert answer.status_code < 500, (endpoint, path, answer.text)
    assert answer.json().get("error") or answer.status_code < 300


async def test_hundreds_of_generated_hostile_requests_get_no_5xx(starter):
    cases = hostile_cases(300, seed=11, secrets=SECRETS)
    answers = [await starter.post(case.endpoint, case.body, case.headers) for case in cases]

    server_errors = [(case.endpoint, case.breakage, answer.text[:200])
                     for case, answer in zip(cases, answers) if answer.status_code >= 500]  # fmt: skip
    assert server_errors == []
    statuses = {answer.status_code for answer in answers}
    assert {400, 401, 413} <= statuses  # the generator reaches refusals of every kind…
    assert statuses & {200, 202}  # …and hostile bodies that are still well-formed orders are accepted
    assert all(answer.json().get("error") for answer in answers if answer.status_code >= 400)


async def test_a_client_sending_its_body_slowly_is_cut_off_after_the_read_timeout(dev_server, woo_sandbox):
    app = create_app(settings_for(woo_sandbox), dev_server.client)
    async with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"POST {WOO_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{".encode())  # fmt: skip
        await writer.drain()
        started = time.monotonic()
        for _ in range(3):  # a byte now and then, never the whole body
            await asyncio.sleep(0.4)
            writer.write(b" ")
            await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)  # read() ends only when the server closes
        elapsed = time.monotonic() - started
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"body not received within 1 s" in answer
    assert elapsed < 3
