"""ShipBob JSON ↔ canonical mapping, and error classification on canned responses.

Payloads under tests/data/shipbob/ follow the 2026-01 `ShipmentViewModel`/`OrderViewModel`
(contract §2.4). The sandbox tests cover the protocol; the MockTransport cases here are the
ones a server rarely produces (dropped connections, timeouts, a token echoed back, a page link
to another host).
"""
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from adapters.errors import BusinessError, NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.shipbob import ShipBobClient, classify, sliding_window_budget
from adapters.shipbob_mapping import (
    InvalidShipBobPayload,
    cancel_result,
    order_body,
    order_from_shipbob,
    order_reference_of,
    return_body,
    return_from_webhook,
    return_inventory_ids,
    return_reference_of,
    shipment_from_webhook,
    shipment_status,
)
from canonical.fulfilment import (
    CancelOutcome,
    FulfilmentLine,
    FulfilmentOrderStatus,
    FulfilmentRequest,
    ShipmentStatus,
    Tracking,
)
from canonical.order import Address
from canonical.returns import Disposition, ProcessedItem, ReturnLine, ReturnStatus, ThreePLReturnRequest
from config import ThreePLSettings

DATA = Path(__file__).parent / "data" / "shipbob"
TOKEN = "pat_9f3c1e7a5b2d4f6081a3c5e7d9b1f3a5"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("status", "details", "expected"),
    [
        ("None", [], ShipmentStatus.PROCESSING),
        ("Processing", [], ShipmentStatus.PROCESSING),
        ("Processing", ["Picked"], ShipmentStatus.PICKED),
        ("Processing", ["Packed"], ShipmentStatus.PICKED),
        ("Processing", ["Labeled"], ShipmentStatus.PICKED),
        ("LabeledCreated", [], ShipmentStatus.SHIPPED),
        ("Completed", ["InTransit"], ShipmentStatus.SHIPPED),
        ("Completed", ["DeliveryException"], ShipmentStatus.SHIPPED),
        ("Completed", ["Delivered"], ShipmentStatus.DELIVERED),
        ("Exception", ["OutOfStock"], ShipmentStatus.EXCEPTION),
        ("OnHold", ["InvalidAddress"], ShipmentStatus.ON_HOLD),
        ("ImportReview", [], ShipmentStatus.ON_HOLD),
        ("Cancelled", [], ShipmentStatus.CANCELLED),
        ("CleanSweeped", [], ShipmentStatus.EXCEPTION),
    ],
)
def test_shipment_status_table(status, details, expected):
    assert shipment_status(status, details) is expected


def test_shipped_webhook_maps_centre_lines_and_tracking():
    shipment = shipment_from_webhook(load("shipment_shipped"))

    assert shipment.shipment_id == "100810005"
    assert (shipment.center_id, shipment.center_name) == ("156", "Cicero (IL)")
    assert shipment.status is ShipmentStatus.SHIPPED
    assert shipment.status_detail == "InTransit"
    assert shipment.lines == (
        FulfilmentLine(sku="TSHIRT-BLU-M", name="T-shirt blue M", quantity=Decimal(2)),
        FulfilmentLine(sku="MUG-01", name="Mug", quantity=Decimal(1)),
    )
    assert shipment.tracking == Tracking(
        carrier="USPS",
        number="9400111899223197428490",
        url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
    )
    assert shipment.shipped_at == datetime(2026, 2, 4, 15, 40, tzinfo=UTC)


def test_delivered_detail_makes_a_completed_shipment_delivered():
    shipment = shipment_from_webhook(load("shipment_delivered"))

    assert shipment.status is ShipmentStatus.DELIVERED
    assert shipment.status_detail == "Delivered"


def test_shipped_without_tracking_keeps_tracking_none_and_uses_fulfilment_date():
    shipment = shipment_from_webhook(load("shipment_shipped_no_tracking"))

    assert shipment.status is ShipmentStatus.SHIPPED
    assert shipment.tracking is None
    assert shipment.shipped_at == datetime(2026, 2, 4, 17, 45, 9, 447000, tzinfo=UTC)


def test_exception_and_hold_keep_a_readable_detail():
    out_of_stock = shipment_from_webhook(load("shipment_exception_out_of_stock"))
    on_hold = shipment_from_webhook(load("shipment_on_hold_invalid_address"))

    assert (out_of_stock.status, out_of_stock.status_detail) == (ShipmentStatus.EXCEPTION, "OutOfStock")
    assert (on_hold.status, on_hold.status_detail) == (ShipmentStatus.ON_HOLD, "InvalidAddress")
    assert out_of_stock.tracking is None and out_of_stock.shipped_at is None


def test_detail_without_name_is_named_from_its_id():
    payload = load("shipment_shipped")
    payload["status"], payload["status_details"] = "Processing", [{"id": 101}]

    shipment = shipment_from_webhook(payload)

    assert (shipment.status, shipment.status_detail) == (ShipmentStatus.PICKED, "Packed")
    assert shipment.shipped_at is None


def test_unknown_status_is_an_exception_that_names_it():
    payload = load("shipment_exception_out_of_stock")
    payload["status"], payload["status_details"] = "CleanSweeped", []

    shipment = shipment_from_webhook(payload)

    assert (shipment.status, shipment.status_detail) == (ShipmentStatus.EXCEPTION, "CleanSweeped")


def test_shipment_without_location_yet_has_an_empty_centre():
    payload = load("shipment_exception_out_of_stock")
    payload["location"] = None

    assert shipment_from_webhook(payload).center_id == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("id"), "shipment.id"),
        (lambda p: p.update(id="abc"), "shipment.id"),
        (lambda p: p.update(status=3), "shipment.status"),
        (lambda p: p.pop("status"), "shipment.status"),
        (lambda p: p.update(products="TSHIRT"), "products"),
        (lambda p: p["products"][0].update(inventory_items=[]), "products[0].inventory_items"),
        (lambda p: p["products"][0]["inventory_items"][0].update(quantity="two"), "inventory_items[0].quantity"),
        (lambda p: p["products"][1].update(reference_id=None, sku=None), "products[1]"),
        (lambda p: p["tracking"].update(shipping_date="yesterday"), "tracking.shipping_date"),
    ],
)
def test_malformed_webhook_names_the_field(change, message):
    payload = load("shipment_shipped")
    change(payload)

    with pytest.raises(InvalidShipBobPayload, match=message.replace("[", r"\[").replace("]", r"\]")):
        shipment_from_webhook(payload)


@pytest.mark.parametrize("payload", [None, [], "shipment", 42])
def test_webhook_body_that_is_not_an_object_is_refused(payload):
    with pytest.raises(InvalidShipBobPayload, match="expected a JSON object"):
        shipment_from_webhook(payload)


def test_order_reference_of_a_webhook():
    assert order_reference_of(load("shipment_shipped")) == "shop1-1042"
    assert order_reference_of({"id": 1, "reference_id": None}) is None
    assert order_reference_of({"id": 1, "reference_id": ""}) is None
    assert order_reference_of(["shop1-1042"]) is None


def test_split_order_has_one_shipment_per_centre_with_its_lines():
    order = order_from_shipbob(load("order_split"))

    assert (order.order_ref, order.reference, order.status) == (
        "319726050",
        "shop1-1075",
        FulfilmentOrderStatus.PARTIALLY_FULFILLED,
    )
    shipped, held = order.shipments
    assert (shipped.center_id, shipped.status, shipped.tracking.number) == (
        "156",
        ShipmentStatus.SHIPPED,
        "1Z999AA10123456784",
    )
    assert {(line.sku, line.quantity) for line in shipped.lines} == {("TSHIRT-BLU-M", 2), ("MUG-01", 1)}
    assert (held.center_id, held.status, held.status_detail) == (
        "182",
        ShipmentStatus.EXCEPTION,
        "InventoryPartiallyCommitted",
    )
    assert [(line.sku, line.quantity) for line in held.lines] == [("TSHIRT-BLU-M", 1)]


def test_fetched_shipments_replace_the_embedded_ones():
    payload = load("order_split")
    order = order_from_shipbob(payload, [payload["shipments"][1]])

    assert [s.shipment_id for s in order.shipments] == ["100810061"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Processing", FulfilmentOrderStatus.PROCESSING),
        ("Fulfilled", FulfilmentOrderStatus.FULFILLED),
        ("Exception", FulfilmentOrderStatus.EXCEPTION),
        ("ImportReview", FulfilmentOrderStatus.EXCEPTION),
        ("Cancelled", FulfilmentOrderStatus.CANCELLED),
    ],
)
def test_order_status(status, expected):
    payload = load("order_split")
    payload["status"] = status

    assert order_from_shipbob(payload).status is expected


def test_partial_cancel_lists_both_sides_with_the_reason():
    result = cancel_result(load("cancel_partial"))

    assert result.outcome is CancelOutcome.PARTIALLY_CANCELLED
    assert result.cancelled_shipments == ("100810061",)
    assert result.refused_shipments == ("100810060",)
    assert result.reason == "shipment 100810060: Shipment cannot be canceled because it has been picked"


@pytest.mark.parametrize(
    ("status", "outcome"), [("Success", CancelOutcome.CANCELLED), ("Failure", CancelOutcome.NOT_CANCELLABLE)]
)
def test_cancel_outcomes(status, outcome):
    payload = load("cancel_partial")
    payload["status"] = status

    assert cancel_result(payload).outcome is outcome


def test_cancel_with_unknown_status_is_refused():
    with pytest.raises(InvalidShipBobPayload, match="cancel.status"):
        cancel_result({"order_id": 1, "status": "Maybe", "canceled_shipment_results": []})


def request(**overrides) -> FulfilmentRequest:
    fields = {
        "reference": "shop1-1075",
        "order_number": "1075",
        "recipient_name": "Jean Dupont",
        "recipient_email": "jean@example.fr",
        "address": Address(
            street="12 rue de la Paix", street2="Bât. B", city="Paris", postal_code="75002", country="FR"
        ),
        "lines": (FulfilmentLine(sku="TSHIRT-BLU-M", name="T-shirt blue M", quantity=Decimal("3")),),
    }
    return FulfilmentRequest(**{**fields, **overrides})


def test_order_body_sends_skus_as_reference_ids_and_only_filled_fields():
    assert order_body(request()) == {
        "reference_id": "shop1-1075",
        "order_number": "1075",
        "recipient": {
            "name": "Jean Dupont",
            "address": {
                "address1": "12 rue de la Paix",
                "address2": "Bât. B",
                "city": "Paris",
                "zip_code": "75002",
                "country": "FR",
            },
            "email": "jean@example.fr",
        },
        "products": [{"reference_id": "TSHIRT-BLU-M", "name": "T-shirt blue M", "quantity": 3}],
        "shipping_method": "Standard",
        "type": "DTC",
        "sales_channel": "woocommerce",
    }


def test_order_body_forces_a_centre_and_names_unnamed_products_by_sku():
    body = order_body(request(center_id="182", lines=(FulfilmentLine(sku="MUG-01", quantity=Decimal(1)),)))

    assert body["location_id"] == 182
    assert body["products"] == [{"reference_id": "MUG-01", "name": "MUG-01", "quantity": 1}]


def test_order_body_refuses_fractional_units():
    with pytest.raises(InvalidShipBobPayload, match="whole units"):
        order_body(request(lines=(FulfilmentLine(sku="ROPE", quantity=Decimal("1.5")),)))


def test_budget_never_exceeds_the_sliding_minute():
    budget = sliding_window_budget(150)

    assert budget._burst + 60 * budget._rate == pytest.approx(150)


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (httpx.Response(500, json={"": ["An error has occurred."]}), RetryableError, "HTTP 500: An error has occurred"),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), RetryableError, "HTTP 503: Service Unavailable"),
        (
            httpx.Response(400, json={"recipient.address.country": ["The Country field is required."]}),
            NonRetryableError,
            "HTTP 400: recipient.address.country: The Country field is required.",
        ),
        (
            httpx.Response(422, json={"products": ["Quantity must be greater than 0"]}),
            NonRetryableError,
            "HTTP 422: products: Quantity must be greater than 0",
        ),
        (
            httpx.Response(404, json={"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4",
                                      "title": "Not Found", "status": 404, "detail": "Return 77 was not found"}),
            NonRetryableError,
            "HTTP 404: Not Found: Return 77 was not found",
        ),
        (
            httpx.Response(400, json={"title": "One or more validation errors occurred.", "status": 400,
                                      "errors": {"Inventory[0].Id": ["Inventory id is required"]}}),
            NonRetryableError,
            "One or more validation errors occurred.: Inventory[0].Id: Inventory id is required",
        ),
        (httpx.Response(401), NonRetryableError, "HTTP 401: Unauthorized"),
        (httpx.Response(403, json={"": ["Insufficient scope"]}), NonRetryableError, "HTTP 403: Insufficient scope"),
    ],
)
def test_classify(response, kind, text):
    error = classify("GET order/1", response)

    assert type(error) is kind
    assert text in str(error)
    assert error.status == response.status_code


def test_429_reads_x_retry_after_not_retry_after():
    response = httpx.Response(
        429,
        json={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 25 seconds."},
        headers={"x-retry-after": "25", "x-remaining-calls": "0", "Retry-After": "999"},
    )

    error = classify("GET order", response)

    assert isinstance(error, RetryableError)
    assert error.retry_after == 25
    assert "Rate limit is exceeded. Try again in 25 seconds." in str(error)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def client(handler, token: str = TOKEN) -> ShipBobClient:
    fake = FakeTime()
    settings = ThreePLSettings(url="https://api.shipbob.test", token=token, channel_id="42101", timeout_s=5)
    budget = RateBudget(100, 10, clock=fake.clock, sleep=fake.sleep)
    return ShipBobClient(settings, budget=budget, transport=httpx.MockTransport(handler))


@pytest.fixture(autouse=True)
def no_jitter(monkeypatch):
    monkeypatch.setattr("adapters.retrying._jitter", lambda state: 0.0)


@pytest.mark.parametrize("failure", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out")])
async def test_dropped_connections_are_retried_on_reads_then_retryable(failure):
    sent = []

    def handler(request):
        sent.append(request)
        raise failure

    async with client(handler) as shipbob:
        with pytest.raises(RetryableError):
            await shipbob.get_order("319726050")

    assert len(sent) == 4


async def test_a_create_is_sent_once_even_when_the_connection_drops():
    sent = []

    def handler(request):
        sent.append(request)
        raise httpx.ReadTimeout("read timed out")

    async with client(handler) as shipbob:
        with pytest.raises(RetryableError, match="timed out"):
            await shipbob.create_order(request())

    assert len(sent) == 1
    assert sent[0].headers["shipbob_channel_id"] == "42101"
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_token_echoed_by_the_server_never_reaches_the_error():
    def handler(request):
        return httpx.Response(401, json={"": [f"Token {TOKEN} is not valid"]})

    async with client(handler) as shipbob:
        with pytest.raises(NonRetryableError) as caught:
            await shipbob.get_order("1")

    assert TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_fractional_quantity_is_a_business_error_before_any_request():
    async with client(lambda request: pytest.fail("no request expected")) as shipbob:
        with pytest.raises(BusinessError, match="whole units"):
            await shipbob.create_order(request(lines=(FulfilmentLine(sku="ROPE", quantity=Decimal("1.5")),)))


async def test_a_page_link_to_another_host_is_not_followed():
    def handler(request):
        next_page = "https://elsewhere.test/2026-01/inventory-level/locations?Cursor=x"
        return httpx.Response(200, json={"items": [], "next": next_page})

    async with client(handler) as shipbob:
        with pytest.raises(NonRetryableError, match="elsewhere.test"):
            await shipbob.stock_by_center(["MUG-01"])


async def test_a_body_that_is_not_an_order_is_not_retryable():
    async with client(lambda request: httpx.Response(200, json={"id": 5})) as shipbob:
        with pytest.raises(NonRetryableError, match="unreadable response"):
            await shipbob.get_order("5")


# Returns (contract §2.7)

SKUS = {"8200007": "TSHIRT-BLU-M", "8200011": "MUG-01"}


def return_request(*lines: tuple[str, str], action: Disposition | None = None) -> ThreePLReturnRequest:
    return ThreePLReturnRequest(
        reference="shop-eu:rma:1042",
        center_id="156",
        original_shipment_id="100810005",
        lines=tuple(ReturnLine(sku=sku, quantity=Decimal(quantity)) for sku, quantity in lines),
        requested_action=action,
    )


def test_completed_return_sums_processed_units_per_sku_and_action():
    rma = return_from_webhook(load("return_completed_partial"), SKUS)

    assert (rma.return_ref, rma.reference, rma.status) == ("2400318", "shop-eu:rma:1043", ReturnStatus.COMPLETED)
    assert rma.processed == (
        ProcessedItem(sku="TSHIRT-BLU-M", quantity=Decimal(2), disposition=Disposition.RESTOCK),
        ProcessedItem(sku="TSHIRT-BLU-M", quantity=Decimal(1), disposition=Disposition.DISPOSE),
    )


def test_created_return_awaits_arrival_with_nothing_processed_and_needs_no_skus():
    payload = load("return_created")

    rma = return_from_webhook(payload)

    assert (rma.return_ref, rma.status, rma.processed) == ("2400317", ReturnStatus.AWAITING_ARRIVAL, ())
    assert return_reference_of(payload) == "shop-eu:rma:1042"
    assert return_inventory_ids(payload) == set()
    assert return_inventory_ids(load("return_completed_partial")) == {"8200007"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("AwaitingArrival", ReturnStatus.AWAITING_ARRIVAL),
        ("Arrived", ReturnStatus.ARRIVED),
        ("Processing", ReturnStatus.PROCESSING),
        ("Completed", ReturnStatus.COMPLETED),
        ("Cancelled", ReturnStatus.CANCELLED),
    ],
)
def test_return_status_table(status, expected):
    payload = load("return_created")
    payload["status"] = status

    assert return_from_webhook(payload).status is expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("reference_id"), "return.reference_id"),
        (lambda p: p.update(status="Lost"), "return.status"),
        (lambda p: p.update(id="R-1"), "return.id"),
        (lambda p: p["inventory"][0]["action_taken"][0].update(action="Donate"), "action_taken\\[0\\].action"),
        (lambda p: p["inventory"][0]["action_taken"][1].update(quantity_processed=-1), "quantity_processed"),
        (lambda p: p["inventory"][0].update(action_taken={}), "action_taken"),
    ],
)
def test_malformed_return_names_the_field(change, message):
    payload = load("return_completed_partial")
    change(payload)

    with pytest.raises(InvalidShipBobPayload, match=message):
        return_from_webhook(payload, SKUS)


def test_processed_units_of_an_unknown_inventory_id_are_refused_not_guessed():
    with pytest.raises(InvalidShipBobPayload, match="no SKU known for inventory 8200007"):
        return_from_webhook(load("return_completed_partial"))
    with pytest.raises(InvalidShipBobPayload, match="JSON object"):
        return_from_webhook([])
    assert return_reference_of({"reference_id": 42}) is None


def test_return_body_sends_inventory_ids_once_with_the_default_action():
    body = return_body(return_request(("TSHIRT-BLU-M", "1"), ("MUG-01", "1"), ("TSHIRT-BLU-M", "2")),
                       {"TSHIRT-BLU-M": "8200007", "MUG-01": "8200011"})

    assert body == {
        "reference_id": "shop-eu:rma:1042",
        "fulfillment_center": {"id": 156},
        "inventory": [
            {"id": 8200007, "quantity": 3, "requested_action": "Default"},
            {"id": 8200011, "quantity": 1, "requested_action": "Default"},
        ],
        "original_shipment_id": 100810005,
    }


@pytest.mark.parametrize(
    ("disposition", "action"),
    [(Disposition.RESTOCK, "Restock"), (Disposition.DISPOSE, "Dispose"), (Disposition.QUARANTINE, "Quarantine")],
)
def test_return_body_asks_for_the_disposition(disposition, action):
    body = return_body(return_request(("MUG-01", "1"), action=disposition), {"MUG-01": "8200011"})

    assert body["inventory"][0]["requested_action"] == action


def test_return_body_refuses_fractional_units():
    with pytest.raises(InvalidShipBobPayload, match="whole units"):
        return_body(return_request(("MUG-01", "0.5")), {"MUG-01": "8200011"})
