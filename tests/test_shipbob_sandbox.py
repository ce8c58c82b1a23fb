"""The ShipBob sandbox over real HTTP: the behaviours of the contract note (§2.9) our adapter relies on."""
import asyncio
import json
import uuid

import httpx
from standardwebhooks import Webhook

from sandbox.shipbob import ShipBobConfig, run_shipbob_sandbox
from sandbox.shipbob.warehouse import Warehouse
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


# Returns (contract §2.7, §2.9 item 8)

RETURN_TOPICS = ["return.created", "return.updated", "return.completed"]


async def _inventory_id(client: httpx.AsyncClient, sku: str) -> int:
    items = (await client.get("/inventory-level", params={"SearchBy": sku})).json()["items"]
    return next(item["inventory_id"] for item in items if item["sku"] == sku)


def _return_body(*items: tuple[int, int, str], center_id: int = 1, reference: str | None = None, **extra) -> dict:
    return {"reference_id": reference or f"rma-{uuid.uuid4().hex[:12]}", "fulfillment_center": {"id": center_id},
            "inventory": [{"id": inventory_id, "quantity": quantity, "requested_action": action}
                          for inventory_id, quantity, action in items], **extra}


async def _create_return(client: httpx.AsyncClient, *items: tuple[int, int, str], **extra) -> dict:
    response = await client.post("/return", json=_return_body(*items, **extra))
    assert response.status_code == 201, response.text
    return response.json()


async def _dock(sandbox: ShipBobSandbox, return_id: int, step: str, body: dict | None = None) -> httpx.Response:
    async with sandbox.control() as control:
        return await control.post(f"/returns/{return_id}/{step}", json=body)


async def _on_hand(client: httpx.AsyncClient, inventory_id: int, center_id: int) -> int:
    locations = (await client.get(f"/inventory-level/{inventory_id}/locations")).json()["locations"]
    return next(row["on_hand_quantity"] for row in locations if row["location_id"] == center_id)


async def test_return_needs_the_channel_and_expects_inventory_ids(shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    order = await _create(shipbob, ("MUG-CERAMIC", 1))
    body = _return_body((mug, 2, "Restock"), original_shipment_id=order["shipments"][0]["id"],
                        tracking_number="1Z999AA10123456784")

    without = await shipbob.post("/return", json=body, headers={"shipbob_channel_id": ""})
    created = await shipbob.post("/return", json=body)

    assert without.status_code == 400 and without.headers["content-type"].startswith("application/problem+json")
    assert "shipbob_channel_id" in without.json()["errors"]
    assert created.status_code == 201, created.text
    rma = created.json()
    assert (rma["reference_id"], rma["status"], rma["return_type"]) == (body["reference_id"], "AwaitingArrival",
                                                                        "Regular")
    assert rma["fulfillment_center"] == {"id": 1, "name": "Cicero (IL)"}
    assert rma["original_shipment_id"] == order["shipments"][0]["id"]
    [item] = rma["inventory"]
    assert (item["id"], item["name"], item["quantity"], item["action_taken"]) == (mug, "Ceramic Mug", 2, [])
    assert item["action_requested"]["action"] == "Restock"
    assert rma["awaiting_arrival_date"] and rma["arrived_date"] is None and rma["completed_date"] is None
    assert [h["status"] for h in rma["status_history"]] == ["AwaitingArrival"]
    assert (rma["invoice"], rma["transactions"]) == (None, [])
    assert (await shipbob.get(f"/return/{rma['id']}")).json() == rma


async def test_return_refuses_an_inventory_id_twice_a_sku_and_an_unknown_item(shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")

    twice = await shipbob.post("/return", json=_return_body((mug, 1, "Restock"), (mug, 1, "Dispose")))
    by_sku = await shipbob.post("/return", json=_return_body(("MUG-CERAMIC", 1, "Restock")))
    unknown = await shipbob.post("/return", json=_return_body((999999999, 1, "Default")))
    bad_action = await shipbob.post("/return", json=_return_body((mug, 1, "Donate")))

    assert twice.status_code == 400 and "more than once" in twice.json()["errors"]["inventory[1].id"][0]
    assert twice.json()["status"] == 400 and twice.json()["title"]
    assert by_sku.status_code == 400 and "inventory[0].id" in by_sku.json()["errors"]
    assert unknown.status_code == 422 and "999999999" in unknown.json()["detail"]
    assert bad_action.status_code == 400 and "inventory[0].requested_action" in bad_action.json()["errors"]


async def test_duplicate_return_reference_is_422_and_found_by_reference_ids(shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    body = _return_body((mug, 1, "Default"))
    created = (await shipbob.post("/return", json=body)).json()

    duplicate = await shipbob.post("/return", json=body)
    found = (await shipbob.get("/return", params={"ReferenceIds": body["reference_id"]})).json()

    assert duplicate.status_code == 422
    assert duplicate.json()["status"] == 422 and body["reference_id"] in duplicate.json()["detail"]
    assert set(found) == {"items", "first", "next", "prev", "last"}
    assert [r["id"] for r in found["items"]] == [created["id"]] and found["next"] is None


async def test_return_list_filters_by_status_and_pages_with_cursors(shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    ids = [(await _create_return(shipbob, (mug, 1, "Default")))["id"] for _ in range(3)]
    await shipbob.post(f"/return/{ids[0]}:cancel")

    first = (await shipbob.get("/return", params={"Ids": ",".join(map(str, ids)), "Limit": 2})).json()
    second = (await shipbob.get(first["next"])).json()
    cancelled = (await shipbob.get("/return", params={"Ids": ids, "Status": "Cancelled"})).json()

    assert [r["id"] for r in first["items"] + second["items"]] == ids[::-1]
    assert second["next"] is None and second["prev"]
    assert [r["id"] for r in cancelled["items"]] == [ids[0]]


async def test_return_lifecycle_processes_fewer_units_and_restocks_them(shipbob_sandbox, shipbob):
    mug, tee = await _inventory_id(shipbob, "MUG-CERAMIC"), await _inventory_id(shipbob, "TEE-CLASSIC")
    before = await _on_hand(shipbob, mug, 1), await _on_hand(shipbob, tee, 1)
    rma = await _create_return(shipbob, (mug, 3, "Restock"), (tee, 1, "Default"))

    too_early = await _dock(shipbob_sandbox, rma["id"], "process",
                            {"items": [{"inventory_id": mug, "quantity_processed": 1, "action": "Restock"}]})
    arrived = (await _dock(shipbob_sandbox, rma["id"], "arrive")).json()
    too_many = await _dock(shipbob_sandbox, rma["id"], "process",
                           {"items": [{"inventory_id": mug, "quantity_processed": 4, "action": "Restock"}]})
    sorted_units = {"items": [{"inventory_id": mug, "quantity_processed": 1, "action": "Restock"},
                              {"inventory_id": mug, "quantity_processed": 1, "action": "Dispose"},
                              {"inventory_id": tee, "quantity_processed": 1, "action": "Quarantine"}]}
    processing = (await _dock(shipbob_sandbox, rma["id"], "process", sorted_units)).json()
    completed = (await _dock(shipbob_sandbox, rma["id"], "complete")).json()

    assert too_early.status_code == 409 and too_many.status_code == 409
    assert (arrived["status"], processing["status"], completed["status"]) == ("Arrived", "Processing", "Completed")
    assert [h["status"] for h in completed["status_history"]] == ["AwaitingArrival", "Arrived", "Processing",
                                                                   "Completed"]
    assert all(completed[f"{d}_date"] for d in ("awaiting_arrival", "arrived", "processing", "completed"))
    assert completed["cancelled_date"] is None and completed["invoice"]["currency_code"] == "USD"
    mug_item = next(item for item in completed["inventory"] if item["id"] == mug)
    assert mug_item["quantity"] == 3
    assert [(a["action"], a["quantity_processed"]) for a in mug_item["action_taken"]] == [("Restock", 1),
                                                                                         ("Dispose", 1)]
    assert (await _on_hand(shipbob, mug, 1), await _on_hand(shipbob, tee, 1)) == (before[0] + 1, before[1])
    assert (await shipbob.get(f"/return/{rma['id']}")).json() == completed


async def test_return_is_modified_or_cancelled_only_while_awaiting_arrival(shipbob_sandbox, shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    awaited = await _create_return(shipbob, (mug, 1, "Default"))
    received = await _create_return(shipbob, (mug, 1, "Default"))
    await _dock(shipbob_sandbox, received["id"], "arrive")

    changed = await shipbob.put(f"/return/{awaited['id']}",
                                json=_return_body((mug, 2, "Dispose"), reference=awaited["reference_id"]))
    cancelled = await shipbob.post(f"/return/{awaited['id']}:cancel")
    again = await shipbob.post(f"/return/{awaited['id']}:cancel")
    refused_cancel = await shipbob.post(f"/return/{received['id']}:cancel")
    refused_change = await shipbob.put(f"/return/{received['id']}",
                                       json=_return_body((mug, 2, "Default"), reference=received["reference_id"]))
    arrive_cancelled = await _dock(shipbob_sandbox, awaited["id"], "arrive")

    assert changed.status_code == 200 and changed.json()["inventory"][0]["quantity"] == 2
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "Cancelled" and cancelled.json()["cancelled_date"]
    assert again.status_code == 422 and refused_cancel.status_code == 422 and refused_change.status_code == 422
    assert "Arrived" in refused_cancel.json()["detail"]
    assert arrive_cancelled.status_code == 409
    assert (await shipbob.get("/return/999999999")).status_code == 404


async def test_return_webhooks_are_signed_and_carry_the_return(shipbob_sandbox, shipbob, shipbob_receiver):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    subscribed = await shipbob.post("/webhook", json={"topics": RETURN_TOPICS, "url": shipbob_receiver.url,
                                                       "secret": shipbob_receiver.secret})
    try:
        rma = await _create_return(shipbob, (mug, 2, "Restock"))
        await _dock(shipbob_sandbox, rma["id"], "arrive")
        await _dock(shipbob_sandbox, rma["id"], "process",
                    {"items": [{"inventory_id": mug, "quantity_processed": 1, "action": "Restock"}]})
        await _dock(shipbob_sandbox, rma["id"], "complete")
        (created,) = await shipbob_receiver.wait_for(1, "return.created")
        updated = await shipbob_receiver.wait_for(2, "return.updated")
        (completed,) = await shipbob_receiver.wait_for(1, "return.completed")
    finally:
        await shipbob.delete(f"/webhook/{subscribed.json()['id']}")

    verify = Webhook(shipbob_receiver.secret).verify
    assert verify(created["body"], created["headers"])["status"] == "AwaitingArrival"
    assert {verify(u["body"], u["headers"])["status"] for u in updated} == {"Arrived", "Processing"}
    assert verify(completed["body"], completed["headers"]) == json.loads(
        (await shipbob.get(f"/return/{rma['id']}")).content)
    assert completed["headers"]["webhook-id"].startswith("msg_")


async def test_return_webhooks_honour_the_duplicate_and_drop_quirks(shipbob_sandbox, shipbob, shipbob_receiver):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    subscribed = await shipbob.post("/webhook", json={"topics": RETURN_TOPICS, "url": shipbob_receiver.url})
    async with shipbob_sandbox.control() as control:
        try:
            await control.post("/quirks", json={"duplicate_deliveries": True})
            rma = await _create_return(shipbob, (mug, 1, "Default"))
            first, second = await shipbob_receiver.wait_for(2, "return.created")
            await control.post("/quirks", json={"duplicate_deliveries": False, "drop_webhooks": True})
            await shipbob.post(f"/return/{rma['id']}:cancel")
            log = (await control.get("/webhook-deliveries")).json()
        finally:
            await control.post("/quirks", json={"duplicate_deliveries": False, "drop_webhooks": False})
            await shipbob.delete(f"/webhook/{subscribed.json()['id']}")
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert [e["outcome"] for e in log if e["resource_id"] == rma["id"] and e["topic"] == "return.updated"] == [
        "dropped"]
    assert shipbob_receiver.of_topic("return.updated") == []


async def test_warehouse_driver_plays_the_returns_dock(shipbob_sandbox, shipbob):
    mug = await _inventory_id(shipbob, "MUG-CERAMIC")
    prefix = f"rma-{uuid.uuid4().hex[:8]}-"
    rma = await _create_return(shipbob, (mug, 2, "Default"), reference=f"{prefix}1")
    warehouse = Warehouse(shipbob_sandbox.url, shipbob_sandbox.token, shipbob_sandbox.channel_id)
    try:
        [listed] = await warehouse.returns(prefix)
        done = await warehouse.receive_return(rma["id"], [("MUG-CERAMIC", 1, "Restock"), (mug, 1, "Quarantine")])
    finally:
        await warehouse.aclose()
    assert listed["id"] == rma["id"]
    assert done["status"] == "Completed"
    assert [(a["action"], a["quantity_processed"]) for a in done["inventory"][0]["action_taken"]] == [
        ("Restock", 1), ("Quarantine", 1)]
