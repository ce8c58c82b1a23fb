"""Shipments of an order, and cancelling: a whole order (`Success|Failure|PartialSuccess`) or one shipment.

"The shipment must not be picked, packed, or shipped" (contract §2.5): a split order whose first shipment is
already picked cancels only the rest, and says so with `PartialSuccess`.
"""
from starlette.responses import Response

from sandbox.shipbob import fulfilment
from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.orders import find_order
from sandbox.shipbob.state import Shipment
from sandbox.shipbob.views import order_view, shipment_view
from sandbox.shipbob.wire import ApiError, ShipBobJSON, invalid


def _shipment(call: Call) -> Shipment:
    shipment = call.store.shipments.get(call.path["shipment_id"])
    if shipment is None or ("order_id" in call.path and shipment.order_id != call.path["order_id"]):
        raise ApiError(404)
    return shipment


def order_shipments(call: Call) -> Response:
    order = find_order(call)
    return ShipBobJSON([shipment_view(call.store, call.store.shipments[i]) for i in order.shipment_ids])


def get_shipment(call: Call) -> Response:
    return ShipBobJSON(shipment_view(call.store, _shipment(call)))


def cancel_order(call: Call) -> Response:
    store, order = call.store, find_order(call)
    results = []
    for shipment_id in order.shipment_ids:
        refusal = fulfilment.cancel(store, store.shipments[shipment_id])
        results.append({"shipment_id": shipment_id, "action": "Cancel", "is_success": refusal is None,
                        "reason": refusal or "Order cancelled"})
    succeeded = sum(r["is_success"] for r in results)
    status = "Success" if succeeded == len(results) else "Failure" if not succeeded else "PartialSuccess"
    return ShipBobJSON({"order_id": order.id, "status": status, "order": order_view(store, order),
                        "canceled_shipment_results": results})


def cancel_shipment(call: Call) -> Response:
    shipment = _shipment(call)
    refusal = fulfilment.cancel(call.store, shipment)
    if refusal is not None:
        raise invalid("", refusal, 422)
    return ShipBobJSON(shipment_view(call.store, shipment))


def mark_tracking_uploaded(call: Call) -> Response:
    """`shipment:batchUpdateTrackingUpload`: the documented polling loop marks what it has synced."""
    body = call.json()
    ids, flag = body.get("shipment_ids"), body.get("is_tracking_uploaded")
    if not isinstance(ids, list) or not ids or not isinstance(flag, bool):
        raise invalid("shipment_ids", "shipment_ids (non-empty) and is_tracking_uploaded are required.")
    results = []
    for shipment_id in ids:
        shipment = call.store.shipments.get(shipment_id) if isinstance(shipment_id, int) else None
        if shipment is not None:
            shipment.is_tracking_uploaded = flag
        results.append({"shipment_id": shipment_id, "is_success": shipment is not None,
                        "error": None if shipment else "Shipment not found"})
    succeeded = sum(r["is_success"] for r in results)
    return ShipBobJSON({"results": results, "summary": {
        "successful": succeeded, "failed": len(results) - succeeded, "total": len(results)}})


def shipment_routes(gate: Gate) -> list:
    order_shipment = "/2026-01/order/{order_id:int}/shipment/{shipment_id:int}"
    return [
        gate.route("GET", "/2026-01/order/{order_id:int}/shipment", "orders_read", order_shipments),
        gate.route("GET", order_shipment, "orders_read", get_shipment),
        gate.route("GET", "/2026-01/shipment/{shipment_id:int}", "orders_read", get_shipment),
        gate.route("POST", "/2026-01/order/{order_id:int}:cancel", "orders_write", cancel_order),
        gate.route("POST", "/2026-01/shipment/{shipment_id:int}:cancel", "orders_write", cancel_shipment),
        gate.route("POST", order_shipment + ":cancel", "orders_write", cancel_shipment),
        gate.route("POST", "/2026-01/shipment:batchUpdateTrackingUpload", "orders_write", mark_tracking_uploaded),
    ]
