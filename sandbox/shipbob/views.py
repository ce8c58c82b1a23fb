"""What GET answers: `OrderViewModel`, `ShipmentViewModel` and the return (contract §2.3/§2.4/§2.7);
webhooks send the same."""
from datetime import timedelta
from decimal import Decimal

from sandbox.shipbob.state import STATUS_DETAILS, Order, Return, Shipment, Store
from sandbox.shipbob.wire import iso

FULFILMENT_PROMISE = timedelta(days=2)  # inference: ShipBob's usual 2-business-day fulfilment SLA
RETURN_FEE = Decimal("3.00")  # inference: a flat processing fee billed when a return is completed
RETURN_DATES = {"AwaitingArrival": "awaiting_arrival_date", "Arrived": "arrived_date",
                "Processing": "processing_date", "Completed": "completed_date", "Cancelled": "cancelled_date"}


def recipient_view(recipient: dict) -> dict:
    address = recipient.get("address") or {}
    return {
        "name": recipient.get("name"),
        "address": {name: address.get(name) for name in (
            "address1", "address2", "company_name", "city", "state", "country", "zip_code")},
        "email": recipient.get("email"),
        "phone_number": recipient.get("phone_number"),
    }


def _status_details(shipment: Shipment) -> list[dict]:
    return [{
        "id": detail.id, "name": detail.name, "description": STATUS_DETAILS[detail.name][2],
        "inventory_id": detail.inventory_id, "exception_fulfillment_center_id": detail.center_id,
        "extra_information": {"validation_messages": []},
    } for detail in shipment.details]


def _estimate_status(shipment: Shipment) -> str:
    due = shipment.created + FULFILMENT_PROMISE
    if shipment.status in ("Exception", "OnHold"):
        return "AwaitingInventoryAllocation" if shipment.status == "Exception" else "AwaitingReset"
    if shipment.shipped_at:
        return "FulfilledOnTime" if shipment.shipped_at <= due else "FulfilledLate"
    return "PendingOnTime"


def shipment_view(store: Store, shipment: Shipment) -> dict:
    order = store.order_of(shipment)
    center = store.centers[shipment.center_id]
    tracking = shipment.tracking
    products = []
    for product_id, quantity in shipment.lines.items():
        product = store.products[product_id]
        products.append({
            "id": product.id, "reference_id": product.reference_id, "sku": product.reference_id, "name": product.name,
            "inventory_items": [{
                "id": product.inventory_id, "name": product.name, "quantity": quantity,
                "quantity_committed": quantity if shipment.committed else 0, "lot": None,
                "expiration_date": None, "serial_numbers": [], "is_dangerous_goods": False,
            }],
        })
    return {
        "id": shipment.id,
        "order_id": order.id,
        "reference_id": order.reference_id,
        "recipient": {**recipient_view(order.recipient), "full_name": order.recipient.get("name")},
        "created_date": iso(shipment.created),
        "last_update_at": iso(shipment.updated),
        "last_tracking_update_at": iso(shipment.tracking_updated_at),
        "status": shipment.status,
        "status_details": _status_details(shipment),
        "location": {"id": center.id, "name": center.name},
        "invoice_amount": None,
        "invoice_currency_code": None,
        "insurance_value": None,
        "ship_option": order.shipping_method,
        "tracking": None if tracking is None else {
            "carrier": tracking.carrier, "carrier_service": tracking.carrier_service,
            "tracking_number": tracking.tracking_number, "tracking_url": tracking.tracking_url,
            "bol": None, "pro_number": None, "scac": None, "shipping_date": iso(tracking.shipping_date),
        },
        "products": products,
        "parent_cartons": [],
        "measurements": None,
        "is_tracking_uploaded": shipment.is_tracking_uploaded,
        "actual_fulfillment_date": iso(shipment.shipped_at),
        "estimated_fulfillment_date": iso(shipment.created + FULFILMENT_PROMISE),
        "estimated_fulfillment_date_status": _estimate_status(shipment),
        "delivery_date": iso(shipment.delivered_at),
        "require_signature": False,
        "gift_message": order.gift_message,
        "package_material_type": "Unknown",
    }


def order_status(store: Store, order: Order) -> str:
    """Imputed from the shipments (contract §2.4); an OnHold shipment counts as an exception (inference)."""
    live = [store.shipments[i] for i in order.shipment_ids if store.shipments[i].status != "Cancelled"]
    if not live:
        return "Cancelled"
    shipped = [s for s in live if s.status in ("Completed", "LabeledCreated")]
    if len(shipped) == len(live):
        return "Fulfilled"
    if shipped:
        return "PartiallyFulfilled"
    if any(s.status in ("Exception", "OnHold") for s in live):
        return "Exception"
    return "Processing"


def order_view(store: Store, order: Order) -> dict:
    products = []
    for line in order.lines:
        product = store.products[line.product_id]
        products.append({
            "id": product.id, "reference_id": product.reference_id, "sku": product.reference_id,
            "gtin": line.gtin, "upc": line.upc, "quantity": line.quantity, "unit_price": line.unit_price,
            "external_line_id": line.external_line_id, "quantity_unit_of_measure_code": line.unit_of_measure,
        })
    return {
        "id": order.id,
        "created_date": iso(order.created),
        "purchase_date": iso(order.purchase_date),
        "reference_id": order.reference_id,
        "order_number": order.order_number,
        "status": order_status(store, order),
        "type": order.type,
        "channel": {"id": store.config.channel_id, "name": store.config.channel_name},
        "shipping_method": order.shipping_method,
        "recipient": recipient_view(order.recipient),
        "products": products,
        "tags": order.tags,
        "shipments": [shipment_view(store, store.shipments[i]) for i in order.shipment_ids],
        "gift_message": order.gift_message,
        "financials": {"total_price": order.total_price},
        "shipping_terms": order.shipping_terms,
        "retailer_program_data": None,
    }


def return_view(store: Store, rma: Return) -> dict:
    """Each status date is when the return first reached it; `action_type`/`instructions` are inferences."""
    center = store.centers[rma.center_id]
    inventory = []
    for item in rma.items:
        product = store.product_by_inventory_id(item.inventory_id)
        inventory.append({
            "id": item.inventory_id, "name": product.name if product else None, "quantity": item.quantity,
            "action_requested": {"action": item.requested_action, "action_type": "Requested", "instructions": None},
            "action_taken": [{"action": a.action, "action_reason": a.reason, "quantity_processed": a.quantity,
                              "image_url": None} for a in item.taken],
            "lot_number": None, "lot_date": None,
        })
    dates = {field: None for field in RETURN_DATES.values()}
    for status, moment in reversed(rma.history):
        dates[RETURN_DATES[status]] = iso(moment)
    completed = rma.status == "Completed"
    return {
        "id": rma.id,
        "reference_id": rma.reference_id,
        "status": rma.status,
        "return_type": "Regular",
        "channel": {"id": store.config.channel_id, "name": store.config.channel_name},
        "fulfillment_center": {"id": center.id, "name": center.name},
        "tracking_number": rma.tracking_number,
        "original_shipment_id": rma.original_shipment_id,
        "inventory": inventory,
        "insert_date": iso(rma.history[0][1]),
        **dates,
        "status_history": [{"status": status, "timestamp": iso(moment)} for status, moment in rma.history],
        "invoice": {"amount": RETURN_FEE, "currency_code": "USD"} if completed else None,
        "transactions": [{"amount": RETURN_FEE, "transaction_type": "ReturnProcessingFee"}] if completed else [],
    }
