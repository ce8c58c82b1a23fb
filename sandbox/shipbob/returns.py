"""`/return`: expect a customer's return (RMA), read, list with cursor pages, modify or cancel while awaited.

Items name ShipBob inventory ids, not SKUs, each at most once (contract §2.7). Refusals are RFC 7807
ProblemDetails. ShipBob does not document a duplicate `reference_id` on returns; the sandbox refuses it with
422 as orders do (inference), so a lost create is recovered by `GET /return?ReferenceIds=`.
"""
from starlette.responses import Response

from sandbox.shipbob import return_handling
from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.paging import cursor_page
from sandbox.shipbob.state import Return, ReturnItem
from sandbox.shipbob.views import return_view
from sandbox.shipbob.wire import ApiError, ShipBobJSON, now, problem, query_ints, query_list

REQUESTED_ACTIONS = ("Default", "Restock", "Quarantine", "Dispose")
STATUSES = ("AwaitingArrival", "Arrived", "Processing", "Completed", "Cancelled")


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parsed(call: Call, reference_of_self: int | None = None) -> Return:
    """Validate a create or modify body into a return (not stored); `reference_of_self` may keep its RMA."""
    body, store, errors = call.json(), call.store, {}
    reference_id = body.get("reference_id")
    if not isinstance(reference_id, str) or not reference_id.strip():
        errors["reference_id"] = ["The reference_id field is required."]
    center = body.get("fulfillment_center")
    center_id = _whole(center.get("id")) if isinstance(center, dict) else None
    if center_id is None:
        errors["fulfillment_center.id"] = ["The fulfillment_center.id field is required."]
    items, seen = [], set()
    inventory = body.get("inventory")
    if not isinstance(inventory, list) or not inventory:
        errors["inventory"] = ["The inventory field is required."]
        inventory = []
    for index, entry in enumerate(inventory):
        field = f"inventory[{index}]"
        entry = entry if isinstance(entry, dict) else {}
        inventory_id, quantity = _whole(entry.get("id")), _whole(entry.get("quantity"))
        action = entry.get("requested_action")
        if inventory_id is None:
            errors[f"{field}.id"] = ["The id field is required."]
        elif inventory_id in seen:
            errors[f"{field}.id"] = [f"Inventory id {inventory_id} appears more than once in the return."]
        if quantity is None or quantity < 1:
            errors[f"{field}.quantity"] = ["Quantity must be greater than 0."]
        if action not in REQUESTED_ACTIONS:
            errors[f"{field}.requested_action"] = [f"requested_action must be one of {', '.join(REQUESTED_ACTIONS)}."]
        seen.add(inventory_id)
        items.append(ReturnItem(inventory_id, quantity, action))
    shipment_id = body.get("original_shipment_id")
    if shipment_id is not None and _whole(shipment_id) is None:
        errors["original_shipment_id"] = ["The value is not valid for original_shipment_id."]
    tracking = body.get("tracking_number")
    if tracking is not None and not isinstance(tracking, str):
        errors["tracking_number"] = ["The value is not valid for tracking_number."]
    if errors:
        raise problem(400, errors=errors)
    if center_id not in store.centers:
        raise problem(422, f"Fulfillment center {center_id} is not a fulfillment center of this account.")
    unknown = [str(item.inventory_id) for item in items if store.product_by_inventory_id(item.inventory_id) is None]
    if unknown:
        raise problem(422, f"Inventory {', '.join(unknown)} was not found.")
    if shipment_id is not None and shipment_id not in store.shipments:
        raise problem(422, f"Original shipment {shipment_id} was not found.")
    if any(r.reference_id == reference_id and r.id != reference_of_self for r in store.returns.values()):
        raise problem(422, f"A return with reference_id '{reference_id}' already exists.")
    return Return(0, reference_id, center_id, items, shipment_id, tracking or None, [])


def _channel(call: Call) -> None:
    try:
        call.require_channel()
    except ApiError as refusal:
        raise problem(400, errors=refusal.errors) from None


def create_return(call: Call) -> Response:
    _channel(call)
    rma = _parsed(call)
    rma.id = call.store.next_return_id()
    rma.moved("AwaitingArrival", now())
    call.store.returns[rma.id] = rma
    return_handling.created(call.store, rma)
    return ShipBobJSON(return_view(call.store, rma), 201)


def _return(call: Call) -> Return:
    rma = call.store.returns.get(call.path["return_id"])
    if rma is None:
        raise problem(404, f"Return {call.path['return_id']} was not found.")
    return rma


def get_return(call: Call) -> Response:
    return ShipBobJSON(return_view(call.store, _return(call)))


def modify_return(call: Call) -> Response:
    _channel(call)
    rma = _return(call)
    if rma.status != "AwaitingArrival":
        raise problem(422, f"Return {rma.id} is {rma.status}; only returns awaiting arrival can be modified.")
    changed = _parsed(call, reference_of_self=rma.id)
    rma.reference_id, rma.center_id, rma.items = changed.reference_id, changed.center_id, changed.items
    rma.original_shipment_id, rma.tracking_number = changed.original_shipment_id, changed.tracking_number
    call.store.emit("return.updated", rma.id, return_view(call.store, rma))
    return ShipBobJSON(return_view(call.store, rma))


def cancel_return(call: Call) -> Response:
    rma = _return(call)
    try:
        return_handling.cancel(call.store, rma)
    except return_handling.Refused:
        detail = f"Return {rma.id} is {rma.status}; only returns awaiting arrival can be cancelled."
        raise problem(422, detail) from None
    return ShipBobJSON(return_view(call.store, rma))


def list_returns(call: Call) -> Response:
    """Newest first; filters combine with AND, values within one filter with OR."""
    query = call.query
    ids, references = set(query_ints(query, "Ids")), set(query_list(query, "ReferenceIds"))
    statuses, centers = set(query_list(query, "Status")), set(query_ints(query, "FulfillmentCenterIds"))
    shipments, inventory = set(query_ints(query, "OriginalShipmentIds")), set(query_ints(query, "InventoryIds"))
    if statuses - set(STATUSES):
        raise problem(400, errors={"Status": [f"Status must be among {', '.join(STATUSES)}."]})
    matches = [
        rma for rma in sorted(call.store.returns.values(), key=lambda r: r.id, reverse=True)
        if (not ids or rma.id in ids) and (not references or rma.reference_id in references)
        and (not statuses or rma.status in statuses) and (not centers or rma.center_id in centers)
        and (not shipments or rma.original_shipment_id in shipments)
        and (not inventory or any(item.inventory_id in inventory for item in rma.items))
    ]
    return cursor_page(call, [return_view(call.store, rma) for rma in matches], "Limit")


def return_routes(gate: Gate) -> list:
    one = "/2026-01/return/{return_id:int}"
    return [
        gate.route("POST", "/2026-01/return", "returns_write", create_return),
        gate.route("GET", "/2026-01/return", "returns_read", list_returns),
        gate.route("GET", one, "returns_read", get_return),
        gate.route("PUT", one, "returns_write", modify_return),
        gate.route("POST", one + ":cancel", "returns_write", cancel_return),
    ]
