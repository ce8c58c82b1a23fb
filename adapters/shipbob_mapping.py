"""ShipBob API 2026-01 JSON ↔ canonical fulfilment and return models.

Pure mapping with no I/O, so a webhook body and a polled shipment or return map identically.
Field names follow the 2026-01 OpenAPI (`brianzinn/shipbob-node-sdk@8a102294:openapi-2026-01.json`):
`OrderViewModel`, `ShipmentViewModel`, `CanceledOrderViewModel`, the return view; statuses follow
https://developer.shipbob.com/status-reference and /guides/returns (contract §2.3–2.5, §2.7).
"""
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.json_values import decimal_of, is_text, positive_id, shown, utc_moment

from canonical.fulfilment import (
    CancelOutcome,
    CancelResult,
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentOrderStatus,
    FulfilmentRequest,
    Shipment,
    ShipmentStatus,
    Tracking,
)
from canonical.returns import Disposition, ProcessedItem, ReturnStatus, ThreePLReturn, ThreePLReturnRequest

SHIPMENT_STATUSES: dict[tuple[str, str | None], ShipmentStatus] = {
    ("None", None): ShipmentStatus.PROCESSING,
    ("Processing", None): ShipmentStatus.PROCESSING,
    ("Processing", "Picked"): ShipmentStatus.PICKED,
    ("Processing", "Packed"): ShipmentStatus.PICKED,
    ("Processing", "Labeled"): ShipmentStatus.PICKED,
    ("LabeledCreated", None): ShipmentStatus.SHIPPED,
    ("Completed", None): ShipmentStatus.SHIPPED,
    ("Completed", "Delivered"): ShipmentStatus.DELIVERED,
    ("Exception", None): ShipmentStatus.EXCEPTION,
    ("OnHold", None): ShipmentStatus.ON_HOLD,
    ("ImportReview", None): ShipmentStatus.ON_HOLD,
    ("Cancelled", None): ShipmentStatus.CANCELLED,
}
"""(status, status detail name) → canonical; a detail not listed falls back to (status, None).

ImportReview waits for the merchant like OnHold. Any status not listed here (CleanSweeped, or one
ShipBob adds later) maps to EXCEPTION with the raw status as detail: a person decides, nothing is lost.
"""

STATUS_DETAIL_NAMES = {
    100: "Picked", 101: "Packed", 102: "Labeled",
    200: "Processing", 201: "InTransit", 202: "OutForDelivery", 203: "Delivered", 204: "DeliveryException",
    300: "Bundle", 301: "MergedItem", 302: "InactiveSku", 303: "OutOfStock", 304: "UnknownSku",
    305: "InternalTransferInProgress", 306: "BinTransferInProgress", 307: "InventoryInNonPickableLocation",
    308: "InventoryPartiallyCommitted",
    400: "PaymentDeclined", 401: "InvalidAddress", 402: "ReserveDateNotMet", 404: "MissingTarriffInformation",
}  # fmt: skip
"""Names for detail ids, for a detail that arrives without its `name`."""

ORDER_STATUSES = {
    "Processing": FulfilmentOrderStatus.PROCESSING,
    "PartiallyFulfilled": FulfilmentOrderStatus.PARTIALLY_FULFILLED,
    "Fulfilled": FulfilmentOrderStatus.FULFILLED,
    "Exception": FulfilmentOrderStatus.EXCEPTION,
    "ImportReview": FulfilmentOrderStatus.EXCEPTION,
    "Cancelled": FulfilmentOrderStatus.CANCELLED,
}
"""ShipBob imputes the order status from its shipments; any other word needs a person (EXCEPTION)."""

CANCEL_OUTCOMES = {
    "Success": CancelOutcome.CANCELLED,
    "Failure": CancelOutcome.NOT_CANCELLABLE,
    "PartialSuccess": CancelOutcome.PARTIALLY_CANCELLED,
}


RETURN_STATUSES = {
    "AwaitingArrival": ReturnStatus.AWAITING_ARRIVAL,
    "Arrived": ReturnStatus.ARRIVED,
    "Processing": ReturnStatus.PROCESSING,
    "Completed": ReturnStatus.COMPLETED,
    "Cancelled": ReturnStatus.CANCELLED,
}
"""A return status outside ShipBob's five is refused: guessing could start or skip a refund."""

DISPOSITIONS = {"Restock": Disposition.RESTOCK, "Dispose": Disposition.DISPOSE, "Quarantine": Disposition.QUARANTINE}
REQUESTED_ACTIONS = {None: "Default", **{disposition: action for action, disposition in DISPOSITIONS.items()}}
"""No disposition asked for: the warehouse follows the merchant's default returns policy."""


class InvalidShipBobPayload(ValueError):
    """The JSON is not the ShipBob object we expected; the message names the offending field."""


def shipment_status(status: str, details: list[str]) -> ShipmentStatus:
    for detail in details:
        if (status, detail) in SHIPMENT_STATUSES:
            return SHIPMENT_STATUSES[status, detail]
    return SHIPMENT_STATUSES.get((status, None), ShipmentStatus.EXCEPTION)


def order_status(status: str) -> FulfilmentOrderStatus:
    return ORDER_STATUSES.get(status, FulfilmentOrderStatus.EXCEPTION)


def shipment_from_webhook(payload: object) -> Shipment:
    """Map a shipment webhook body (`order.shipped`, `order.shipment.*`), which carries a `ShipmentViewModel`."""
    return shipment_from_shipbob(payload, "shipment")


def order_reference_of(payload: object) -> str | None:
    """Our `FulfilmentRequest.reference` from a webhook body, so the starter can find the order's run."""
    reference = payload.get("reference_id") if isinstance(payload, dict) else None
    return reference if isinstance(reference, str) and reference and is_text(reference) else None


def shipment_from_shipbob(payload: object, field: str = "shipment") -> Shipment:
    """Map one `ShipmentViewModel`, as order bodies, `GET /order/{id}/shipment` and webhooks carry it."""
    data = _object(payload, field)
    raw_status = _text(data.get("status"), f"{field}.status")
    if not raw_status:
        raise InvalidShipBobPayload(f"missing field '{field}.status'")
    details = [_detail_name(d, f"{field}.status_details[{i}]") for i, d in enumerate(_items(data, "status_details"))]
    status = shipment_status(raw_status, details)
    detail = ", ".join(dict.fromkeys(d for d in details if d))
    if (raw_status, None) not in SHIPMENT_STATUSES:
        detail = ", ".join(filter(None, (raw_status, detail)))
    location = _optional_object(data.get("location"), f"{field}.location")
    tracking = _optional_object(data.get("tracking"), f"{field}.tracking")
    shipped = status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
    return Shipment(
        shipment_id=_id(data.get("id"), f"{field}.id"),
        center_id=_id(location["id"], f"{field}.location.id") if location.get("id") is not None else "",
        center_name=_text(location.get("name"), f"{field}.location.name"),
        status=status,
        status_detail=detail,
        lines=tuple(_shipment_line(p, f"{field}.products[{i}]") for i, p in enumerate(_items(data, "products"))),
        tracking=_tracking(tracking, f"{field}.tracking"),
        shipped_at=_shipped_at(data, tracking, field) if shipped else None,
    )


def order_from_shipbob(payload: object, shipments: object = None) -> FulfilmentOrder:
    """Map an `OrderViewModel`; `shipments` (from `GET /order/{id}/shipment`) replaces the embedded ones."""
    data = _object(payload, "order")
    reference = _text(data.get("reference_id"), "order.reference_id")
    if not reference:
        raise InvalidShipBobPayload("missing field 'order.reference_id'")
    embedded = _items(data, "shipments") if shipments is None else _list(shipments, "shipments")
    return FulfilmentOrder(
        order_ref=_id(data.get("id"), "order.id"),
        reference=reference,
        status=order_status(_text(data.get("status"), "order.status")),
        shipments=tuple(shipment_from_shipbob(s, f"order.shipments[{i}]") for i, s in enumerate(embedded)),
    )


def shipments_complete(payload: object) -> bool:
    """False when an order body lists no shipments, or only stubs without status, centre or products."""
    shipments = payload.get("shipments") if isinstance(payload, dict) else None
    return isinstance(shipments, list) and bool(shipments) and all(
        isinstance(s, dict) and all(k in s for k in ("id", "status", "location", "products")) for s in shipments
    )


def cancel_result(payload: object) -> CancelResult:
    """Map `POST /order/{id}:cancel`: PartialSuccess means some units will still ship (contract §2.5)."""
    data = _object(payload, "cancel")
    status = _word(data.get("status"))
    if status not in CANCEL_OUTCOMES:
        raise InvalidShipBobPayload(f"cancel.status: expected Success, Failure or PartialSuccess, got {shown(status)}")
    cancelled, refused, reasons = [], [], []
    for i, result in enumerate(_items(data, "canceled_shipment_results")):
        shipment_id = _id(result.get("shipment_id"), f"canceled_shipment_results[{i}].shipment_id")
        if result.get("is_success") is True:
            cancelled.append(shipment_id)
        else:
            refused.append(shipment_id)
            reason = _text(result.get("reason"), f"canceled_shipment_results[{i}].reason")
            reasons.append(f"shipment {shipment_id}: {reason}" if reason else f"shipment {shipment_id}: refused")
    return CancelResult(
        outcome=CANCEL_OUTCOMES[status],
        cancelled_shipments=tuple(cancelled),
        refused_shipments=tuple(refused),
        reason="; ".join(reasons),
    )


def order_body(request: FulfilmentRequest) -> dict[str, Any]:
    """`POST /order` body: products by SKU as `reference_id`, so ShipBob creates unknown products (contract §2.3)."""
    address = request.address
    recipient = {
        "name": request.recipient_name,
        "address": _present(
            address1=address.street,
            address2=address.street2,
            company_name=address.company,
            city=address.city,
            state=address.state,
            zip_code=address.postal_code,
            country=address.country,
        ),
        **_present(email=request.recipient_email, phone_number=request.recipient_phone or address.phone),
    }
    body: dict[str, Any] = {
        "reference_id": request.reference,
        "order_number": request.order_number,
        "recipient": recipient,
        "products": [
            {"reference_id": line.sku, "name": line.name or line.sku, "quantity": _units(line)}
            for line in request.lines
        ],
        "shipping_method": request.shipping_method,
        "type": "DTC",
        "sales_channel": "woocommerce",
    }
    if request.center_id is not None:
        body["location_id"] = int(_id(request.center_id, "center_id"))
    return body


def return_body(request: ThreePLReturnRequest, inventory_ids: Mapping[str, str]) -> dict[str, Any]:
    """`POST /return` body: items by inventory id (`inventory_ids` maps each SKU), each id once (contract §2.7)."""
    units: dict[str, int] = {}
    for line in request.lines:
        quantity = line.quantity
        if quantity <= 0 or quantity != quantity.to_integral_value():
            raise InvalidShipBobPayload(f"line {line.sku}: ShipBob receives whole units, got quantity {quantity}")
        units[line.sku] = units.get(line.sku, 0) + int(quantity)
    body: dict[str, Any] = {
        "reference_id": request.reference,
        "fulfillment_center": {"id": int(_id(request.center_id, "center_id"))},
        "inventory": [
            {"id": int(_id(inventory_ids[sku], f"inventory id of {sku}")), "quantity": quantity,
             "requested_action": REQUESTED_ACTIONS[request.requested_action]}
            for sku, quantity in units.items()
        ],
    }
    if request.original_shipment_id is not None:
        body["original_shipment_id"] = int(_id(request.original_shipment_id, "original_shipment_id"))
    return body


def return_reference_of(payload: object) -> str | None:
    """Our RMA reference from a return webhook body, so the starter can find the return's run."""
    return order_reference_of(payload)


def return_inventory_ids(payload: object) -> set[str]:
    """Inventory ids whose units were processed: the SKUs `return_from_shipbob` needs to be told."""
    data = _object(payload, "return")
    return {
        _id(item.get("id"), f"return.inventory[{i}].id")
        for i, item in enumerate(_items(data, "inventory"))
        if _items(item, "action_taken")
    }


def return_from_webhook(payload: object, skus: Mapping[str, str] | None = None) -> ThreePLReturn:
    """Map a `return.*` webhook body, which carries the return as `GET /return/{id}` does."""
    return return_from_shipbob(payload, skus or {})


def return_from_shipbob(payload: object, skus: Mapping[str, str]) -> ThreePLReturn:
    """Map a return; `skus` maps inventory ids to SKUs (the return names items by inventory id and name only).

    Processed units are summed per SKU and action taken; they may be fewer than the customer was to send.
    """
    data = _object(payload, "return")
    reference = _text(data.get("reference_id"), "return.reference_id")
    if not reference:
        raise InvalidShipBobPayload("missing field 'return.reference_id'")
    status = _word(data.get("status"))
    if status not in RETURN_STATUSES:
        raise InvalidShipBobPayload(f"return.status: expected one of {', '.join(RETURN_STATUSES)}, got {shown(status)}")
    processed: dict[tuple[str, Disposition], Decimal] = {}
    for i, item in enumerate(_items(data, "inventory")):
        field = f"return.inventory[{i}]"
        inventory_id = _id(item.get("id"), f"{field}.id")
        for j, taken in enumerate(_items(item, "action_taken")):
            action = _word(taken.get("action"))
            if action not in DISPOSITIONS:
                raise InvalidShipBobPayload(f"{field}.action_taken[{j}].action: unknown action {shown(action)}")
            if inventory_id not in skus:
                raise InvalidShipBobPayload(f"{field}.id: no SKU known for inventory {inventory_id}")
            quantity = _decimal(taken.get("quantity_processed"), f"{field}.action_taken[{j}].quantity_processed")
            key = (skus[inventory_id], DISPOSITIONS[action])
            processed[key] = _sum([processed.get(key, Decimal(0)), quantity], f"{field}.action_taken")
    return ThreePLReturn(
        return_ref=_id(data.get("id"), "return.id"),
        reference=reference,
        status=RETURN_STATUSES[status],
        processed=tuple(
            ProcessedItem(sku=sku, quantity=quantity, disposition=disposition)
            for (sku, disposition), quantity in processed.items()
            if quantity
        ),
    )


def _present(**fields: str) -> dict[str, str]:
    """ShipBob validates optional fields it receives (an empty e-mail is an invalid e-mail): send only filled ones."""
    return {key: value for key, value in fields.items() if value}


def _units(line: FulfilmentLine) -> int:
    if line.quantity <= 0 or line.quantity != line.quantity.to_integral_value():
        raise InvalidShipBobPayload(f"line {line.sku}: ShipBob ships whole units, got quantity {line.quantity}")
    return int(line.quantity)


def _detail_name(data: dict[str, Any], field: str) -> str:
    name = _text(data.get("name"), f"{field}.name")
    detail_id = data.get("id")
    return name or (STATUS_DETAIL_NAMES.get(detail_id, "") if isinstance(detail_id, int) else "")


def _shipment_line(data: dict[str, Any], field: str) -> FulfilmentLine:
    """The SKU is the `reference_id` we created the product with; units are the inventory items packed."""
    sku = _text(data.get("reference_id"), f"{field}.reference_id") or _text(data.get("sku"), f"{field}.sku")
    if not sku:
        raise InvalidShipBobPayload(f"{field}: no reference_id or sku")
    items = _items(data, "inventory_items")
    if not items:
        raise InvalidShipBobPayload(f"{field}.inventory_items: expected at least one item")
    quantity = _sum(
        [_decimal(item.get("quantity"), f"{field}.inventory_items[{i}].quantity") for i, item in enumerate(items)],
        f"{field}.inventory_items",
    )
    return FulfilmentLine(sku=sku, name=_text(data.get("name"), f"{field}.name"), quantity=quantity)


def _tracking(data: dict[str, Any], field: str) -> Tracking | None:
    """A shipped shipment may have no tracking yet (field report: `order_shipped` without tracking)."""
    number = _text(data.get("tracking_number"), f"{field}.tracking_number")
    if not number:
        return None
    return Tracking(
        carrier=_text(data.get("carrier"), f"{field}.carrier"),
        number=number,
        url=_text(data.get("tracking_url"), f"{field}.tracking_url"),
    )


def _shipped_at(data: dict[str, Any], tracking: dict[str, Any], field: str) -> datetime | None:
    """The carrier's shipping date, else when ShipBob finished picking, packing and labelling."""
    return _utc_or_none(tracking.get("shipping_date"), f"{field}.tracking.shipping_date") or _utc_or_none(
        data.get("actual_fulfillment_date"), f"{field}.actual_fulfillment_date"
    )


def _utc_or_none(value: object, field: str) -> datetime | None:
    """ShipBob sends ISO 8601, sometimes with 7 fractional digits; a missing offset means UTC."""
    if value is None or value == "":
        return None
    moment = utc_moment(value) if isinstance(value, str) else None
    if moment is None:
        raise InvalidShipBobPayload(f"{field}: expected an ISO 8601 date, got {shown(value)}")
    return moment


def _decimal(value: object, field: str) -> Decimal:
    number = decimal_of(value)
    if number is None or not number.is_finite() or number < 0:
        raise InvalidShipBobPayload(f"{field}: expected a non-negative number, got {shown(value)}")
    return number


def _sum(numbers: list[Decimal], field: str) -> Decimal:
    try:
        return sum(numbers, Decimal(0))
    except ArithmeticError:
        raise InvalidShipBobPayload(f"{field}: the quantities add up to no number") from None


def _id(value: object, field: str) -> str:
    """ShipBob ids are positive integers; they also go into URL paths."""
    number = positive_id(value)
    if number is None:
        raise InvalidShipBobPayload(f"{field}: expected a positive integer id, got {shown(value)}")
    return str(number)


def _word(value: object) -> str | None:
    """A status or action word, or None: only strings are looked up in the tables."""
    return value if isinstance(value, str) else None


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidShipBobPayload(f"{field}: expected a string, got {shown(value)}")
    if not is_text(value):
        raise InvalidShipBobPayload(f"{field}: not valid Unicode text ({shown(value)})")
    return value


def _optional_object(value: object, field: str) -> dict[str, Any]:
    return {} if value is None else _object(value, field)


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidShipBobPayload(f"{field}: expected a JSON object, got {type(value).__name__}")
    return value


def _items(parent: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = parent.get(field)
    return [] if value is None else _list(value, field)


def _list(value: object, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidShipBobPayload(f"{field}: expected a list, got {type(value).__name__}")
    return [_object(item, f"{field}[{i}]") for i, item in enumerate(value)]
