"""`/inventory-level`: stock network-wide and per fulfilment centre, with cursor pages (contract §2.8).

fulfillable = on hand − committed; sellable = fulfillable + awaiting (nothing is ever awaiting here, no
receiving orders); backordered = units of waiting exception shipments.
"""
from starlette.responses import Response

from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.paging import cursor_page
from sandbox.shipbob.state import Product, Store
from sandbox.shipbob.wire import ApiError, ShipBobJSON, query_bool, query_int, query_ints


def _held(store: Store, product: Product) -> int:
    return sum(s.lines.get(product.id, 0) for s in store.shipments.values()
               if s.status == "Exception" and not s.committed)


def _locations(store: Store, product: Product, location_id: int | None) -> list[dict]:
    rows = []
    for center in store.centers.values():
        stock = store.stock.get((center.id, product.inventory_id))
        if stock is None or location_id not in (None, center.id):
            continue
        rows.append({"location_id": center.id, "name": center.name, "location_type": "hub",
                     "on_hand_quantity": stock.on_hand, "committed_quantity": stock.committed,
                     "fulfillable_quantity": stock.fulfillable, "awaiting_quantity": 0,
                     "internal_transfer_quantity": 0})
    return rows


def level_view(store: Store, product: Product) -> dict:
    rows = _locations(store, product, None)
    fulfillable = sum(r["fulfillable_quantity"] for r in rows)
    held = _held(store, product)
    return {
        "inventory_id": product.inventory_id, "sku": product.reference_id, "name": product.name,
        "total_on_hand_quantity": sum(r["on_hand_quantity"] for r in rows),
        "total_committed_quantity": sum(r["committed_quantity"] for r in rows),
        "total_fulfillable_quantity": fulfillable, "total_awaiting_quantity": 0,
        "total_backordered_quantity": held, "total_exception_quantity": held,
        "total_internal_transfer_quantity": 0, "total_sellable_quantity": fulfillable,
    }


def locations_view(store: Store, product: Product, location_id: int | None = None) -> dict:
    return {"inventory_id": product.inventory_id, "sku": product.reference_id, "name": product.name,
            "locations": _locations(store, product, location_id)}


def _products(call: Call) -> list[Product]:
    search = (call.query.get("SearchBy") or "").lower()
    ids = set(query_ints(call.query, "InventoryIds"))
    active = query_bool(call.query, "IsActive")
    products = sorted(call.store.products.values(), key=lambda p: p.inventory_id)
    return [p for p in products if active is not False and (not ids or p.inventory_id in ids)
            and (not search or search in p.reference_id.lower() or search in p.name.lower())]


def inventory_levels(call: Call) -> Response:
    return cursor_page(call, [level_view(call.store, p) for p in _products(call)], "PageSize")


def inventory_locations(call: Call) -> Response:
    location_id = query_int(call.query, "LocationId", 0, 0, 2**31 - 1) or None
    items = [locations_view(call.store, p, location_id) for p in _products(call)]
    return cursor_page(call, [item for item in items if item["locations"] or location_id is None], "PageSize")


def one_item_locations(call: Call) -> Response:
    product = next((p for p in call.store.products.values() if p.inventory_id == call.path["inventory_id"]), None)
    if product is None:
        raise ApiError(404)
    return ShipBobJSON(locations_view(call.store, product))


def inventory_routes(gate: Gate) -> list:
    return [
        gate.route("GET", "/2026-01/inventory-level", "inventory_read", inventory_levels),
        gate.route("GET", "/2026-01/inventory-level/locations", "inventory_read", inventory_locations),
        gate.route("GET", "/2026-01/inventory-level/{inventory_id:int}/locations", "inventory_read",
                   one_item_locations),
    ]
