"""The ShipBob sandbox over real HTTP: the behaviours of the contract note (§2.9) our adapter relies on."""
import asyncio
import json
import uuid

import httpx
from standardwebhooks import Webhook

from sandbox.shipbob import ShipBobConfig, run_shipbob_sandbox
from tests.plugins.shipbob import FAST_CLOCKS, ShipBobSandbox

RECIPIENT = {"name": "Ada Lovelace", "email": "ada@example.com",
             "address": {"address1": "12 Rue de la Paix", "city": "Paris", "zip_code": "75002", "country": "FR"}}


def _order_body(*lines: tuple[str, int], reference: str | None = None, **extra) -> dict:
    return {"reference_id": reference or f"test-{uuid.uuid4().hex[:12]}", "shipping_method": "Standard",
            "type": "DTC", "recipient": RECIPIENT,
            "products": [{"reference_id": sku, "name": sku.title(), "quantity": quantity} for sku, quantity in lines],
            **extra}


async def _create(client: httpx.AsyncClient, *lines: tuple[str, int], **extra) -> dict:
    response = await client.post("/order", json=_order_body(*lines, **extra))
    assert response.status_code == 201, response.text
    return response.json()


async def _restock(sandbox: ShipBobSandbox, center_id: int, sku: str, quantity: int) -> dict:
    async with sandbox.control() as control:
        response = await control.post("/restock", json={"center_id": center_id, "sku": sku, "quantity": quantity})
    assert response.status_code == 200, response.text
    return response.json()


async def _simulate(client: httpx.AsyncClient, shipment_id: int, *actions: str) -> str:
    simulation = None
    for action in reversed(actions):
        simulation = {"action": action, **({"next": simulation} if simulation else {})}
    response = await client.post("/simulate/shipment", json={"shipment_id": str(shipment_id), "simulation": simulation})
    assert response.status_code == 200, response.text
    return response.json()["simulation_id"]


async def _wait_status(client: httpx.AsyncClient, shipment_id: int, status: str, detail: str) -> dict:
    for _ in range(200):
        shipment = (await client.get(f"/shipment/{shipment_id}")).json()
        if shipment["status"] == status and [d["name"] for d in shipment["status_details"]] == [detail]:
            return shipment
        await asyncio.sleep(0.01)
    raise AssertionError(f"shipment {shipment_id} never reached {status}/{detail}: {shipment}")


# Authentication, channel, rate limit


async def test_bearer_token_is_checked_then_its_scope(shipbob_sandbox):
    async with httpx.AsyncClient(base_url=shipbob_sandbox.api_url) as anonymous:
        assert (await anonymous.get("/order")).status_code == 401
        wrong = await anonymous.get("/order", headers={"Authorization": "Bearer pat_wrong"})
    assert wrong.status_code == 401 and "x-remaining-calls" not in wrong.headers
    async with shipbob_sandbox.client(shipbob_sandbox.read_only_token) as read_only:
        assert (await read_only.get("/order")).status_code == 200
        refused = await read_only.post("/order", json=_order_body(("TEE-CLASSIC", 1)))
    assert refused.status_code == 403 and refused.headers["x-remaining-calls"].isdigit()


async def test_channel_is_listed_and_required_on_create(shipbob_sandbox, shipbob):
    (channel,) = (await shipbob.get("/channel")).json()["items"]
    assert channel["id"] == shipbob_sandbox.channel_id and "orders_write" in channel["scopes"]
    without = await shipbob.post("/order", json=_order_body(("TEE-CLASSIC", 1)),
                                 headers={"shipbob_channel_id": ""})
    assert without.status_code == 400 and "shipbob_channel_id" in without.json()


async def test_sliding_window_rate_limit_answers_429_with_x_retry_after():
    async with run_shipbob_sandbox(ShipBobConfig(rate_limit=3, **FAST_CLOCKS)) as running:
        async with ShipBobSandbox(running).client() as client:
            remaining = [(await client.get("/channel")).headers["x-remaining-calls"] for _ in range(3)]
            refused = await client.get("/channel")
    assert remaining == ["2", "1", "0"]
    assert refused.status_code == 429 and refused.headers["x-remaining-calls"] == "0"
    retry_after = int(refused.headers["x-retry-after"])
    assert 1 <= retry_after <= 60
    assert refused.json() == {"statusCode": 429,
                              "message": f"Rate limit is exceeded. Try again in {retry_after} seconds."}


async def test_forced_429_from_the_control_surface(shipbob_sandbox, shipbob):
    async with shipbob_sandbox.control() as control:
        await control.post("/faults", json={"count": 1, "retry_after": 7})
    forced, after = await shipbob.get("/order"), await shipbob.get("/order")
    assert (forced.status_code, forced.headers["x-retry-after"], after.status_code) == (429, "7", 200)


# Orders


async def test_duplicate_reference_is_422_and_the_order_is_found_by_reference(shipbob):
    body = _order_body(("TEE-CLASSIC", 1))
    created = (await shipbob.post("/order", json=body)).json()
    duplicate = await shipbob.post("/order", json=body)
    assert duplicate.status_code == 422
    assert duplicate.json() == {"": ["Cannot insert order with existing ReferenceId"]}
    found = await shipbob.get("/order", params={"ReferenceIds": body["reference_id"]})
    assert [o["id"] for o in found.json()] == [created["id"]]
    assert found.headers["Total-Count"] == "1" and found.headers["Page-Number"] == "1"
    assert (await shipbob.get(f"/order/{created['id']}")).json()["reference_id"] == body["reference_id"]


async def test_order_list_pages_with_headers(shipbob):
    for _ in range(2):
        await _create(shipbob, ("TEE-CLASSIC", 1))
    first = await shipbob.get("/order", params={"Limit": 1, "SortOrder": "Oldest"})
    assert first.headers["Page-Size"] == "1" and int(first.headers["Total-Pages"]) >= 2
    second = await shipbob.get(first.headers["Next-Page"])
    assert second.json()[0]["id"] > first.json()[0]["id"]


async def test_order_without_one_centre_holding_everything_splits_into_shipments(shipbob):
    order = await _create(shipbob, ("MUG-CERAMIC", 1), ("BOOK-COFFEE", 2), unit_price=None)
    by_center = {s["location"]["id"]: s for s in order["shipments"]}
    assert set(by_center) == {1, 2} and order["status"] == "Processing"
    assert [p["reference_id"] for p in by_center[1]["products"]] == ["MUG-CERAMIC"]
    assert by_center[2]["products"][0]["inventory_items"][0]["quantity"] == 2

    await _simulate(shipbob, by_center[1]["id"], "ShipOrder")
    await _wait_status(shipbob, by_center[1]["id"], "Completed", "InTransit")
    assert (await shipbob.get(f"/order/{order['id']}")).json()["status"] == "PartiallyFulfilled"
    await _simulate(shipbob, by_center[2]["id"], "ShipOrder")
    await _wait_status(shipbob, by_center[2]["id"], "Completed", "InTransit")
    after = (await shipbob.get(f"/order/{order['id']}")).json()
    assert after["status"] == "Fulfilled"
    assert len({s["tracking"]["tracking_number"] for s in after["shipments"]}) == 2


async def test_location_id_forces_the_centre(shipbob):
    order = await _create(shipbob, ("TEE-CLASSIC", 1), location_id=2)
    assert [s["location"]["name"] for s in order["shipments"]] == ["Moreno Valley (CA)"]


async def test_unknown_sku_is_created_and_waits_out_of_stock_until_restocked(shipbob_sandbox, shipbob):
    sku = f"NEW-{uuid.uuid4().hex[:6]}"
    nameless = await shipbob.post("/order", json={**_order_body(), "products": [{"reference_id": sku, "quantity": 1}]})
    assert nameless.status_code == 400 and "products[0].name" in nameless.json()
    order = await _create(shipbob, (sku, 1))
    (held,) = order["shipments"]
    assert order["status"] == "Exception" and held["status"] == "Exception"
    assert [(d["id"], d["name"]) for d in held["status_details"]] == [(303, "OutOfStock")]
    levels = (await shipbob.get("/inventory-level", params={"SearchBy": sku})).json()["items"]
    assert levels[0]["total_on_hand_quantity"] == 0 and levels[0]["total_backordered_quantity"] == 1

    await _restock(shipbob_sandbox, 2, sku, 3)
    released = (await shipbob.get(f"/shipment/{held['id']}")).json()
    assert (released["status"], released["location"]["id"], released["status_details"]) == ("Processing", 2, [])


async def test_partial_stock_ships_what_there_is_and_holds_the_rest(shipbob_sandbox, shipbob):
    sku = f"PART-{uuid.uuid4().hex[:6]}"
    await _restock(shipbob_sandbox, 1, sku, 2)
    order = await _create(shipbob, (sku, 5))
    shipped, held = order["shipments"]
    assert (shipped["status"], shipped["products"][0]["inventory_items"][0]["quantity"]) == ("Processing", 2)
    assert held["status"] == "Exception" and held["products"][0]["inventory_items"][0]["quantity"] == 3
    assert [(d["id"], d["name"]) for d in held["status_details"]] == [(308, "InventoryPartiallyCommitted")]


async def test_inventory_per_location_moves_committed_then_on_hand(shipbob_sandbox, shipbob):
    sku = f"INV-{uuid.uuid4().hex[:6]}"
    await _restock(shipbob_sandbox, 1, sku, 5)
    (item,) = (await shipbob.get("/inventory-level", params={"SearchBy": sku})).json()["items"]

    async def cicero() -> dict:
        page = await shipbob.get("/inventory-level/locations", params={"InventoryIds": item["inventory_id"]})
        (row,) = page.json()["items"][0]["locations"]
        return {k: row[k] for k in ("location_id", "on_hand_quantity", "committed_quantity", "fulfillable_quantity")}

    order = await _create(shipbob, (sku, 2))
    assert await cicero() == {"location_id": 1, "on_hand_quantity": 5, "committed_quantity": 2,
                              "fulfillable_quantity": 3}
    await _simulate(shipbob, order["shipments"][0]["id"], "ShipOrder")
    await _wait_status(shipbob, order["shipments"][0]["id"], "Completed", "InTransit")
    assert await cicero() == {"location_id": 1, "on_hand_quantity": 3, "committed_quantity": 0,
                              "fulfillable_quantity": 3}


async def test_inventory_levels_page_with_cursors(shipbob):
    first = (await shipbob.get("/inventory-level", params={"PageSize": 2})).json()
    assert len(first["items"]) == 2 and first["prev"] is None and first["next"]
    second = (await shipbob.get(first["next"])).json()
    assert second["prev"] and second["items"][0]["inventory_id"] > first["items"][-1]["inventory_id"]


# Shipping and webhooks


async def test_simulated_ship_and_deliver_send_signed_webhooks(shipbob, shipbob_receiver):
    order = await _create(shipbob, ("TEE-CLASSIC", 1))
    shipment_id = order["shipments"][0]["id"]
    simulation_id = await _simulate(shipbob, shipment_id, "ShipOrder", "DeliverOrder")
    (shipped,) = await shipbob_receiver.wait_for(1, "order.shipped")
    await shipbob_receiver.wait_for(1, "order.shipment.delivered")

    payload = Webhook(shipbob_receiver.secret).verify(shipped["body"], shipped["headers"])
    assert payload["id"] == shipment_id and payload["order_id"] == order["id"]
    assert payload["status"] == "Completed" and payload["tracking"]["tracking_number"]
    assert shipped["headers"]["webhook-id"].startswith("msg_")
    shipment = (await shipbob.get(f"/shipment/{shipment_id}")).json()
    assert [d["name"] for d in shipment["status_details"]] == ["Delivered"] and shipment["delivery_date"]
    status = (await shipbob.get(f"/simulate/status/{simulation_id}")).json()
    assert [status["simulation"]["status"], status["simulation"]["next"]["status"]] == ["Completed", "Completed"]


async def test_failing_receiver_is_retried_on_the_schedule_with_a_stable_id(shipbob, shipbob_receiver):
    shipbob_receiver.statuses = [500, 500, 302, 500]
    order = await _create(shipbob, ("TEE-CLASSIC", 1))
    await _simulate(shipbob, order["shipments"][0]["id"], "ShipOrder")
    attempts = await shipbob_receiver.wait_for(5, "order.shipped")
    assert len({a["headers"]["webhook-id"] for a in attempts}) == 1
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(attempts, attempts[1:])]
    # immediately, 5 s, 5 min, 30 min, 2 h scaled by 0.0001: 0.5 ms, 30 ms, 180 ms, 720 ms
    assert gaps[2] >= 0.17 and gaps[3] >= 0.7 and gaps[1] < gaps[2] < gaps[3]
    for attempt in attempts:
        Webhook(shipbob_receiver.secret).verify(attempt["body"], attempt["headers"])


async def test_quirks_duplicate_deliveries_and_shipped_without_tracking(shipbob_sandbox, shipbob, shipbob_receiver):
    async with shipbob_sandbox.control() as control:
        await control.post("/quirks", json={"duplicate_deliveries": True, "shipped_without_tracking": True})
        try:
            order = await _create(shipbob, ("TEE-CLASSIC", 1))
            shipment_id = order["shipments"][0]["id"]
            await _simulate(shipbob, shipment_id, "ShipOrder")
            first, second = await shipbob_receiver.wait_for(2, "order.shipped")
        finally:
            await control.post("/quirks", json={"duplicate_deliveries": False, "shipped_without_tracking": False})
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert json.loads(first["body"])["tracking"] is None
    assert (await shipbob.get(f"/shipment/{shipment_id}")).json()["tracking"]["tracking_number"]


async def test_quirk_out_of_order_delivers_the_later_event_first(shipbob_sandbox, shipbob, shipbob_receiver):
    async with shipbob_sandbox.control() as control:
        await control.post("/quirks", json={"out_of_order": True})
        try:
            order = await _create(shipbob, ("TEE-CLASSIC", 1))
            await _simulate(shipbob, order["shipments"][0]["id"], "ShipOrder", "DeliverOrder")
            received = await shipbob_receiver.wait_for(2)
        finally:
            await control.post("/quirks", json={"out_of_order": False})
    assert [r["headers"]["x-webhook-topic"] for r in received] == ["order.shipment.delivered", "order.shipped"]


async def test_quirk_drop_webhooks_leaves_polling_as_the_only_way(shipbob_sandbox, shipbob, shipbob_receiver):
    async with shipbob_sandbox.control() as control:
        await control.post("/quirks", json={"drop_webhooks": True})
        try:
            order = await _create(shipbob, ("TEE-CLASSIC", 1))
            await _simulate(shipbob, order["shipments"][0]["id"], "ShipOrder")
            await _wait_status(shipbob, order["shipments"][0]["id"], "Completed", "InTransit")
            await asyncio.sleep(0.05)
        finally:
            await control.post("/quirks", json={"drop_webhooks": False})
        log = (await control.get("/webhook-deliveries")).json()
    assert shipbob_receiver.received == []
    assert any(e["resource_id"] == order["shipments"][0]["id"] and e["outcome"] == "dropped" for e in log)
    tracked = await shipbob.get("/order", params={"HasTracking": "true", "IsTrackingUploaded": "false",
                                                  "IDs": order["id"]})
    assert [o["id"] for o in tracked.json()] == [order["id"]]


async def test_warehouse_exception_and_hold_fire_their_topics(shipbob_sandbox, shipbob, shipbob_receiver):
    order = await _create(shipbob, ("TEE-CLASSIC", 1))
    shipment_id = order["shipments"][0]["id"]
    async with shipbob_sandbox.control() as control:
        held = await control.post(f"/shipments/{shipment_id}/exception", json={"detail": "InvalidAddress"})
    assert held.json()["status"] == "OnHold" and held.json()["status_details"][0]["id"] == 401
    (event,) = await shipbob_receiver.wait_for(1, "order.shipment.on_hold")
    assert json.loads(event["body"])["id"] == shipment_id


# Cancel


async def test_cancel_before_pick_succeeds_and_releases_stock(shipbob_sandbox, shipbob, shipbob_receiver):
    sku = f"CXL-{uuid.uuid4().hex[:6]}"
    await _restock(shipbob_sandbox, 1, sku, 4)
    order = await _create(shipbob, (sku, 3))
    result = (await shipbob.post(f"/order/{order['id']}:cancel")).json()
    assert result["status"] == "Success" and result["order"]["status"] == "Cancelled"
    assert result["canceled_shipment_results"] == [{"shipment_id": order["shipments"][0]["id"], "action": "Cancel",
                                                    "is_success": True, "reason": "Order cancelled"}]
    (level,) = (await shipbob.get("/inventory-level", params={"SearchBy": sku})).json()["items"]
    assert level["total_committed_quantity"] == 0 and level["total_fulfillable_quantity"] == 4
    await shipbob_receiver.wait_for(1, "order.shipment.cancelled")


async def test_cancel_after_pick_fails(shipbob_sandbox, shipbob):
    order = await _create(shipbob, ("TEE-CLASSIC", 1))
    shipment_id = order["shipments"][0]["id"]
    async with shipbob_sandbox.control() as control:
        picked = await control.post(f"/shipments/{shipment_id}/pick")
    assert picked.json()["status_details"][0]["id"] == 100
    result = (await shipbob.post(f"/order/{order['id']}:cancel")).json()
    assert result["status"] == "Failure" and result["order"]["status"] == "Processing"
    assert result["canceled_shipment_results"][0]["is_success"] is False
    assert "Picked" in result["canceled_shipment_results"][0]["reason"]
    assert (await shipbob.post(f"/shipment/{shipment_id}:cancel")).status_code == 422


async def test_cancel_of_a_split_order_with_one_picked_shipment_is_partial(shipbob_sandbox, shipbob):
    order = await _create(shipbob, ("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1))
    mug, book = order["shipments"]
    async with shipbob_sandbox.control() as control:
        await control.post(f"/shipments/{mug['id']}/pick")
    result = (await shipbob.post(f"/order/{order['id']}:cancel")).json()
    assert result["status"] == "PartialSuccess"
    assert {r["shipment_id"]: r["is_success"] for r in result["canceled_shipment_results"]} == {
        mug["id"]: False, book["id"]: True}
    assert result["order"]["status"] == "Processing"


async def test_single_shipment_cancel_answers_the_shipment(shipbob):
    order = await _create(shipbob, ("TEE-CLASSIC", 1))
    cancelled = await shipbob.post(f"/shipment/{order['shipments'][0]['id']}:cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled"


# Persistence


async def test_orders_and_ids_survive_a_restart(tmp_path):
    config = ShipBobConfig(state_file=tmp_path / "shipbob.pickle", **FAST_CLOCKS)
    async with run_shipbob_sandbox(config) as running:
        async with ShipBobSandbox(running).client() as client:
            first = await _create(client, ("MUG-CERAMIC", 1), reference="restart-1")
    async with run_shipbob_sandbox(config) as running:
        async with ShipBobSandbox(running).client() as client:
            again = (await client.get(f"/order/{first['id']}")).json()
            duplicate = await client.post("/order", json=_order_body(("MUG-CERAMIC", 1), reference="restart-1"))
            second = await _create(client, ("MUG-CERAMIC", 1))
            (mug,) = (await client.get("/inventory-level", params={"SearchBy": "MUG-CERAMIC"})).json()["items"]
    assert again["shipments"] == first["shipments"] and duplicate.status_code == 422
    assert second["id"] > first["id"] and mug["total_committed_quantity"] == 2
