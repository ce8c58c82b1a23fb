"""ShipBobClient against the real local ShipBob sandbox over HTTP.

Every test uses its own order reference: the sandbox account lives for the whole session.
"""
import asyncio
import json
import uuid
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from adapters.errors import BusinessError, NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.shipbob import ShipBobClient
from adapters.shipbob_mapping import order_reference_of, return_reference_of, shipment_from_webhook
from canonical.fulfilment import (
    CancelOutcome,
    FulfilmentLine,
    FulfilmentOrderStatus,
    FulfilmentRequest,
    ShipmentStatus,
)
from canonical.order import Address
from canonical.returns import Disposition, ProcessedItem, ReturnLine, ReturnStatus, ThreePLReturnRequest
from config import ThreePLSettings
from sandbox.shipbob.warehouse import RETURN_TOPICS, Warehouse

CICERO, MORENO_VALLEY = "1", "2"


def settings(sandbox, token: str | None = None) -> ThreePLSettings:
    return ThreePLSettings(
        url=sandbox.url,
        token=SecretStr(token or sandbox.token),
        channel_id=str(sandbox.channel_id),
        timeout_s=10,
    )


def fulfilment_request(*lines: tuple[str, int], center_id: str | None = None) -> FulfilmentRequest:
    reference = f"test-{uuid.uuid4().hex[:12]}"
    return FulfilmentRequest(
        reference=reference,
        order_number=reference.removeprefix("test-"),
        center_id=center_id,
        recipient_name="Jean Dupont",
        recipient_email="jean@example.fr",
        address=Address(street="12 rue de la Paix", city="Paris", postal_code="75002", country="FR"),
        lines=tuple(FulfilmentLine(sku=sku, name=sku.title(), quantity=Decimal(qty)) for sku, qty in lines),
    )


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real network, with every request kept; `lose_next_post` drops one create's response after ShipBob saw it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []
        self.lose_next_post = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await super().handle_async_request(request)
        if request.method == "POST" and self.lose_next_post:
            self.lose_next_post = False
            await response.aclose()
            raise httpx.ReadTimeout("connection dropped before the response arrived", request=request)
        return response


@pytest.fixture
async def transport():
    return CountingTransport()


@pytest.fixture
async def shipbob_client(shipbob_sandbox, transport):
    async with ShipBobClient(settings(shipbob_sandbox), transport=transport) as client:
        yield client


@pytest.fixture
async def sandbox_control(shipbob_sandbox):
    async with shipbob_sandbox.control() as control:
        yield control
        await control.delete("/faults")


async def orders_with_reference(shipbob, reference: str) -> list[dict]:
    response = await shipbob.get("/order", params={"ReferenceIds": reference})
    response.raise_for_status()
    return response.json()


async def test_create_maps_the_order_and_a_duplicate_returns_the_same_order(shipbob_client, shipbob, transport):
    request = fulfilment_request(("TEE-CLASSIC", 2))

    created = await shipbob_client.create_order(request)
    again = await shipbob_client.create_order(request)

    assert created.reference == request.reference
    assert created.status is FulfilmentOrderStatus.PROCESSING
    [shipment] = created.shipments
    assert shipment.status is ShipmentStatus.PROCESSING
    assert [(line.sku, line.quantity) for line in shipment.lines] == [("TEE-CLASSIC", 2)]
    assert again == created
    assert len(await orders_with_reference(shipbob, request.reference)) == 1
    posts = [r for r in transport.sent if r.method == "POST"]
    assert len(posts) == 2
    assert json.loads(posts[0].content)["sales_channel"] == "woocommerce"


async def test_a_lost_create_response_is_recovered_by_the_callers_retry(shipbob_client, shipbob, transport):
    request = fulfilment_request(("HOODIE-S", 1))
    transport.lose_next_post = True

    with pytest.raises(RetryableError, match="timed out"):
        await shipbob_client.create_order(request)
    recovered = await shipbob_client.create_order(request)

    [existing] = await orders_with_reference(shipbob, request.reference)
    assert recovered.order_ref == str(existing["id"])
    assert await shipbob_client.find_order(request.reference) == recovered


async def test_find_order_without_an_order_is_none(shipbob_client):
    assert await shipbob_client.find_order(f"never-{uuid.uuid4().hex}") is None


async def test_split_across_two_centres_gives_two_shipments_with_their_lines(shipbob_client):
    order = await shipbob_client.create_order(fulfilment_request(("MUG-CERAMIC", 1), ("BOOK-COFFEE", 2)))

    fetched = await shipbob_client.get_order(order.order_ref)

    assert fetched == order
    lines_by_centre = {
        (s.center_id, s.center_name): {(line.sku, line.quantity) for line in s.lines} for s in fetched.shipments
    }
    assert lines_by_centre == {
        (CICERO, "Cicero (IL)"): {("MUG-CERAMIC", 1)},
        (MORENO_VALLEY, "Moreno Valley (CA)"): {("BOOK-COFFEE", 2)},
    }
    assert all(s.status is ShipmentStatus.PROCESSING and s.tracking is None for s in fetched.shipments)


async def test_a_forced_centre_is_honoured(shipbob_client):
    order = await shipbob_client.create_order(fulfilment_request(("TEE-CLASSIC", 1), center_id=MORENO_VALLEY))

    assert [s.center_id for s in order.shipments] == [MORENO_VALLEY]


async def test_cancel_before_pick_cancels_every_shipment(shipbob_client):
    order = await shipbob_client.create_order(fulfilment_request(("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)))

    result = await shipbob_client.cancel_order(order.order_ref)

    assert result.outcome is CancelOutcome.CANCELLED
    assert set(result.cancelled_shipments) == {s.shipment_id for s in order.shipments}
    assert result.refused_shipments == ()
    after = await shipbob_client.get_order(order.order_ref)
    assert after.status is FulfilmentOrderStatus.CANCELLED
    assert {s.status for s in after.shipments} == {ShipmentStatus.CANCELLED}


async def test_cancel_after_pick_is_refused_with_the_reason(shipbob_client, sandbox_control):
    order = await shipbob_client.create_order(fulfilment_request(("TEE-CLASSIC", 1), center_id=CICERO))
    [shipment] = order.shipments
    (await sandbox_control.post(f"/shipments/{shipment.shipment_id}/pick")).raise_for_status()

    picked = await shipbob_client.get_order(order.order_ref)
    result = await shipbob_client.cancel_order(order.order_ref)

    assert (picked.shipments[0].status, picked.shipments[0].status_detail) == (ShipmentStatus.PICKED, "Picked")
    assert result.outcome is CancelOutcome.NOT_CANCELLABLE
    assert result.refused_shipments == (shipment.shipment_id,)
    assert result.cancelled_shipments == ()
    assert shipment.shipment_id in result.reason and "Picked" in result.reason


async def test_cancel_with_one_centre_picked_is_partial(shipbob_client, sandbox_control):
    order = await shipbob_client.create_order(fulfilment_request(("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)))
    picked, waiting = sorted(order.shipments, key=lambda s: s.center_id)
    (await sandbox_control.post(f"/shipments/{picked.shipment_id}/pick")).raise_for_status()

    result = await shipbob_client.cancel_order(order.order_ref)

    assert result.outcome is CancelOutcome.PARTIALLY_CANCELLED
    assert result.cancelled_shipments == (waiting.shipment_id,)
    assert result.refused_shipments == (picked.shipment_id,)
    assert picked.shipment_id in result.reason


async def test_cancel_one_shipment_before_and_after_pick(shipbob_client, sandbox_control):
    order = await shipbob_client.create_order(fulfilment_request(("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)))
    picked, waiting = sorted(order.shipments, key=lambda s: s.center_id)
    (await sandbox_control.post(f"/shipments/{picked.shipment_id}/pick")).raise_for_status()

    cancelled = await shipbob_client.cancel_shipment(waiting.shipment_id)
    repeated = await shipbob_client.cancel_shipment(waiting.shipment_id)
    refused = await shipbob_client.cancel_shipment(picked.shipment_id)

    assert cancelled == repeated
    assert (cancelled.outcome, cancelled.cancelled_shipments) == (CancelOutcome.CANCELLED, (waiting.shipment_id,))
    assert (refused.outcome, refused.refused_shipments) == (CancelOutcome.NOT_CANCELLABLE, (picked.shipment_id,))
    assert "Picked" in refused.reason


async def test_exception_webhook_maps_like_the_polled_shipment(shipbob_client, sandbox_control, shipbob_receiver):
    order = await shipbob_client.create_order(fulfilment_request(("HOODIE-M", 1)))
    [shipment] = order.shipments
    answer = await sandbox_control.post(f"/shipments/{shipment.shipment_id}/exception", json={"detail": "OutOfStock"})
    answer.raise_for_status()

    [delivery] = await shipbob_receiver.wait_for(1, topic="order.shipment.exception")
    payload = json.loads(delivery["body"])
    from_webhook = shipment_from_webhook(payload)

    assert order_reference_of(payload) == order.reference
    assert (from_webhook.status, from_webhook.status_detail) == (ShipmentStatus.EXCEPTION, "OutOfStock")
    assert (await shipbob_client.get_order(order.order_ref)).shipments == (from_webhook,)


async def test_stock_by_center_reports_fulfillable_units_per_centre(shipbob_client):
    before = await shipbob_client.stock_by_center(["TEE-CLASSIC", "MUG-CERAMIC", "NO-SUCH-SKU"])
    await shipbob_client.create_order(fulfilment_request(("MUG-CERAMIC", 2)))
    after = await shipbob_client.stock_by_center(["MUG-CERAMIC"])

    centres = {(s.sku, s.center_id) for s in before}
    assert centres == {("TEE-CLASSIC", CICERO), ("TEE-CLASSIC", MORENO_VALLEY), ("MUG-CERAMIC", CICERO)}
    mugs_before = next(s for s in before if s.sku == "MUG-CERAMIC")
    [mugs_after] = after
    assert mugs_before.center_name == "Cicero (IL)"
    assert mugs_after.fulfillable == mugs_before.fulfillable - 2


async def test_stock_by_center_follows_the_cursor(shipbob_sandbox, shipbob_client, transport, monkeypatch):
    monkeypatch.setattr("adapters.shipbob.PAGE_SIZE", 2)

    stock = await shipbob_client.stock_by_center(["HOODIE-M"])

    assert {s.sku for s in stock} == {"HOODIE-M"}
    pages = [r for r in transport.sent if r.url.path.endswith("/inventory-level/locations")]
    assert len(pages) > 1
    assert all(r.url.host == httpx.URL(shipbob_sandbox.url).host for r in pages)


async def test_inventory_id_is_looked_up_once_per_sku(shipbob_client, transport):
    first = await shipbob_client.inventory_id("MUG-CERAMIC")
    again = await shipbob_client.inventory_id("MUG-CERAMIC")
    other = await shipbob_client.inventory_id("TEE-CLASSIC")

    assert first == again and first.isdigit() and other != first
    assert len([r for r in transport.sent if r.url.path.endswith("/inventory-level")]) == 2
    with pytest.raises(BusinessError, match="NO-SUCH-SKU"):
        await shipbob_client.inventory_id("NO-SUCH-SKU")


async def test_429_pauses_the_budget_for_x_retry_after_then_succeeds(shipbob_sandbox, sandbox_control):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    budget = RateBudget(50, 5, sleep=sleep)
    async with ShipBobClient(settings(shipbob_sandbox), budget=budget) as client:
        order_ref = (await client.create_order(fulfilment_request(("TEE-CLASSIC", 1)))).order_ref
        fault = {"count": 1, "retry_after": 1, "method": "GET"}
        (await sandbox_control.post("/faults", json=fault)).raise_for_status()

        order = await client.get_order(order_ref)

    assert order.order_ref == order_ref
    assert sum(waits) >= 0.9


async def test_a_long_x_retry_after_is_handed_to_the_caller(shipbob_sandbox, sandbox_control, transport):
    async with ShipBobClient(settings(shipbob_sandbox), transport=transport) as client:
        fault = {"count": 1, "retry_after": 120, "method": "POST"}
        (await sandbox_control.post("/faults", json=fault)).raise_for_status()

        with pytest.raises(RetryableError) as caught:
            await client.create_order(fulfilment_request(("TEE-CLASSIC", 1)))
        with pytest.raises(RetryableError, match="wait"):
            await client.find_order("anything")

    assert caught.value.retry_after == 120
    assert caught.value.status == 429
    assert len(transport.sent) == 1


async def test_a_bad_token_is_not_retryable_and_not_in_the_message(shipbob_sandbox):
    token = "pat_not_a_real_token_4f1c9e2a7b"
    async with ShipBobClient(settings(shipbob_sandbox, token=token)) as client:
        with pytest.raises(NonRetryableError) as caught:
            await client.find_order("anything")

    assert caught.value.status == 401
    assert token not in str(caught.value) and token not in repr(caught.value.__dict__)


async def test_a_read_only_token_cannot_create(shipbob_sandbox):
    async with ShipBobClient(settings(shipbob_sandbox, token=shipbob_sandbox.read_only_token)) as client:
        with pytest.raises(NonRetryableError) as caught:
            await client.create_order(fulfilment_request(("TEE-CLASSIC", 1)))

    assert caught.value.status == 403


async def test_an_invalid_order_names_shipbobs_field(shipbob_client):
    request = fulfilment_request(("TEE-CLASSIC", 1)).model_copy(update={"address": Address(city="Paris")})

    with pytest.raises(NonRetryableError) as caught:
        await shipbob_client.create_order(request)

    assert caught.value.status == 400
    assert "recipient.address.address1" in caught.value.message


async def test_an_unknown_order_is_not_retryable(shipbob_client):
    with pytest.raises(NonRetryableError) as caught:
        await shipbob_client.get_order("999999999")

    assert caught.value.status == 404


# Returns (contract §2.7)


def return_request(*lines: tuple[str, int], action: Disposition | None = None) -> ThreePLReturnRequest:
    return ThreePLReturnRequest(
        reference=f"rma-{uuid.uuid4().hex[:12]}",
        center_id=CICERO,
        lines=tuple(ReturnLine(sku=sku, quantity=Decimal(qty)) for sku, qty in lines),
        requested_action=action,
    )


@pytest.fixture
async def warehouse(shipbob_sandbox):
    driver = Warehouse(shipbob_sandbox.url, shipbob_sandbox.token, shipbob_sandbox.channel_id)
    yield driver
    await driver.aclose()


async def test_create_return_sends_inventory_ids_and_a_duplicate_returns_the_same(shipbob_client, transport):
    request = return_request(("MUG-CERAMIC", 2), ("TEE-CLASSIC", 1))

    created = await shipbob_client.create_return(request)
    again = await shipbob_client.create_return(request)

    assert (created.reference, created.status, created.processed) == (
        request.reference, ReturnStatus.AWAITING_ARRIVAL, ())
    assert again == created
    assert await shipbob_client.find_return(request.reference) == created
    [first, second] = [r for r in transport.sent if r.method == "POST" and r.url.path.endswith("/return")]
    assert json.loads(first.content)["inventory"] == [
        {"id": int(await shipbob_client.inventory_id("MUG-CERAMIC")), "quantity": 2, "requested_action": "Default"},
        {"id": int(await shipbob_client.inventory_id("TEE-CLASSIC")), "quantity": 1, "requested_action": "Default"},
    ]
    assert first.headers["shipbob_channel_id"] and second.content == first.content


async def test_a_lost_return_create_is_recovered_by_the_callers_retry(shipbob_client, transport):
    request = return_request(("MUG-CERAMIC", 1), action=Disposition.RESTOCK)
    await shipbob_client.inventory_id("MUG-CERAMIC")
    transport.lose_next_post = True

    with pytest.raises(RetryableError, match="timed out"):
        await shipbob_client.create_return(request)
    recovered = await shipbob_client.create_return(request)

    assert recovered == await shipbob_client.find_return(request.reference)
    assert len([r for r in transport.sent if r.method == "POST"]) == 2


async def test_processed_units_map_by_sku_with_partial_quantity_and_dispose(shipbob_sandbox, shipbob_client, warehouse):
    created = await shipbob_client.create_return(return_request(("MUG-CERAMIC", 3), ("TEE-CLASSIC", 1)))
    await warehouse.receive_return(
        int(created.return_ref), [("MUG-CERAMIC", 1, "Restock"), ("MUG-CERAMIC", 1, "Dispose")]
    )

    async with ShipBobClient(settings(shipbob_sandbox)) as fresh:
        completed = await fresh.get_return(created.return_ref)

    assert completed.status is ReturnStatus.COMPLETED
    assert completed.processed == (
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.RESTOCK),
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.DISPOSE),
    )
    assert completed == await shipbob_client.get_return(created.return_ref)


async def test_return_webhook_maps_like_the_polled_return(shipbob, shipbob_client, shipbob_receiver, warehouse):
    subscribed = await shipbob.post(
        "/webhook", json={"topics": RETURN_TOPICS, "url": shipbob_receiver.url, "secret": shipbob_receiver.secret}
    )
    try:
        created = await shipbob_client.create_return(return_request(("TEE-CLASSIC", 2)))
        await warehouse.receive_return(int(created.return_ref), [("TEE-CLASSIC", 2, "Quarantine")])
        [delivery] = await shipbob_receiver.wait_for(1, topic="return.completed")
    finally:
        await shipbob.delete(f"/webhook/{subscribed.json()['id']}")
    payload = json.loads(delivery["body"])

    assert return_reference_of(payload) == created.reference
    from_webhook = await shipbob_client.return_of(payload)
    assert from_webhook == await shipbob_client.get_return(created.return_ref)
    assert from_webhook.processed == (
        ProcessedItem(sku="TEE-CLASSIC", quantity=Decimal(2), disposition=Disposition.QUARANTINE),
    )


async def test_cancel_return_only_while_awaiting_arrival(shipbob_client, warehouse):
    awaited = await shipbob_client.create_return(return_request(("MUG-CERAMIC", 1)))
    received = await shipbob_client.create_return(return_request(("MUG-CERAMIC", 1)))
    await warehouse.receive_return(int(received.return_ref), [])

    cancelled = await shipbob_client.cancel_return(awaited.return_ref)
    again = await shipbob_client.cancel_return(awaited.return_ref)

    assert cancelled.status is ReturnStatus.CANCELLED and again == cancelled
    with pytest.raises(BusinessError, match="completed") as refused:
        await shipbob_client.cancel_return(received.return_ref)
    assert refused.value.code == "not_cancellable"
    assert await shipbob_client.find_return(f"never-{uuid.uuid4().hex}") is None


async def test_a_return_of_an_sku_shipbob_does_not_hold_is_a_business_error(shipbob_client, transport):
    with pytest.raises(BusinessError, match="NO-SUCH-SKU"):
        await shipbob_client.create_return(return_request(("NO-SUCH-SKU", 1)))
    assert not [r for r in transport.sent if r.method == "POST"]
