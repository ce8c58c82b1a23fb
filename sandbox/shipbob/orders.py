"""`/order`: create a fulfilment order (idempotent on `reference_id`), read one, list with page headers.

Line items come by SKU (`reference_id`, a product is created when none exists and `name` is given) or by
ShipBob product `id` (contract §2.3). A duplicate `reference_id` is the exact 422 real accounts answer.
"""
import math
from datetime import datetime

from starlette.responses import Response

from sandbox.shipbob import fulfilment
from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.state import Order, OrderLine, Product
from sandbox.shipbob.views import order_view
from sandbox.shipbob.wire import (
    ApiError, ShipBobJSON, decimal_field, invalid, now, query_bool, query_int, query_ints, query_list)

ORDER_TYPES = ("DTC", "DropShip", "B2B")
DUPLICATE = ApiError(422, {"": ["Cannot insert order with existing ReferenceId"]})


def _required(errors: dict, field: str, value) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.setdefault(field, []).append(f"The {field.rsplit('.', 1)[-1]} field is required.")


def _int(value, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"The value is not valid for {field}.")
    return value


def _date(value, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, f"The value '{value}' is not valid for {field}.") from None


def _lines(call: Call, items: list) -> tuple[list[tuple[OrderLine, str | None]], dict[str, str]]:
    """Each line with the SKU of a product still to create, and those products' names (created only with
    the order, so a refused order leaves no product behind)."""
    lines, new_products, errors = [], {}, {}
    for index, item in enumerate(items):
        field = f"products[{index}]"
        if not isinstance(item, dict):
            raise invalid(field, "The value is not valid.")
        quantity = _int(item.get("quantity"), f"{field}.quantity")
        if quantity is None or quantity < 1:
            errors[f"{field}.quantity"] = ["Quantity must be greater than 0."]
            continue
        product_id = _int(item.get("id"), f"{field}.id")
        sku = item.get("reference_id")
        if product_id is not None:
            if product_id not in call.store.products:
                errors[f"{field}.id"] = [f"Product with id {product_id} does not exist."]
                continue
        elif not sku:
            errors[f"{field}.reference_id"] = ["Either id or reference_id is required."]
            continue
        else:
            product = call.store.product_by_sku(str(sku))
            if product is None and not (item.get("name") or new_products.get(str(sku))):
                errors[f"{field}.name"] = [f"The name field is required when no product has reference_id '{sku}'."]
                continue
            if product is None:
                new_products.setdefault(str(sku), str(item.get("name")))
            product_id = product.id if product else 0
        line = OrderLine(
            product_id, quantity, decimal_field(item.get("unit_price"), f"{field}.unit_price"),
            _int(item.get("external_line_id"), f"{field}.external_line_id"),
            item.get("gtin"), item.get("upc"), item.get("quantity_unit_of_measure_code"))
        lines.append((line, None if product_id else str(sku)))
    if errors:
        raise ApiError(400, errors)
    return lines, new_products


def create_order(call: Call) -> Response:
    call.require_channel()
    body, store = call.json(), call.store
    recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
    address = recipient.get("address") if isinstance(recipient.get("address"), dict) else {}
    errors: dict[str, list[str]] = {}
    _required(errors, "reference_id", body.get("reference_id"))
    _required(errors, "shipping_method", body.get("shipping_method"))
    _required(errors, "recipient.name", recipient.get("name"))
    for name in ("address1", "city", "country"):
        _required(errors, f"recipient.address.{name}", address.get(name))
    if body.get("type") not in ORDER_TYPES:
        errors["type"] = [f"The type field is required and must be one of {', '.join(ORDER_TYPES)}."]
    if not isinstance(body.get("products"), list) or not body["products"]:
        errors["products"] = ["The products field is required."]
    if errors:
        raise ApiError(400, errors)
    reference_id = str(body["reference_id"])
    if any(order.reference_id == reference_id for order in store.orders.values()):
        raise DUPLICATE
    location_id = _int(body.get("location_id"), "location_id")
    if location_id is not None and location_id not in store.centers:
        raise invalid("location_id", f"Location {location_id} is not a fulfillment center of this account.")
    resolved, new_products = _lines(call, body["products"])
    created: dict[str, Product] = {sku: store.add_product(sku, name) for sku, name in new_products.items()}
    lines = []
    for line, new_sku in resolved:
        if new_sku is not None:
            line.product_id = created[new_sku].id
        lines.append(line)
    financials = body.get("financials") if isinstance(body.get("financials"), dict) else {}
    order = Order(
        store.next_order_id(), reference_id, str(body.get("order_number") or reference_id), body["type"],
        str(body["shipping_method"]), {**recipient, "address": address}, now(),
        _date(body.get("purchase_date"), "purchase_date"), lines,
        tags=[{"name": t.get("name"), "value": t.get("value")} for t in body.get("tags") or [] if isinstance(t, dict)],
        gift_message=body.get("gift_message"),
        total_price=decimal_field(financials.get("total_price"), "financials.total_price"),
    )
    if isinstance(body.get("shipping_terms"), dict):
        order.shipping_terms = {k: body["shipping_terms"].get(k) for k in ("carrier_type", "payment_term")}
    store.orders[order.id] = order
    fulfilment.allocate(store, order, location_id)
    return ShipBobJSON(order_view(store, order), 201)


def find_order(call: Call) -> Order:
    order = call.store.orders.get(call.path["order_id"])
    if order is None:
        raise ApiError(404)
    return order


def get_order(call: Call) -> Response:
    return ShipBobJSON(order_view(call.store, find_order(call)))


def _last_update(call: Call, order: Order) -> datetime:
    return max([order.created, *(call.store.shipments[i].updated for i in order.shipment_ids)])


def list_orders(call: Call) -> Response:
    """Newest first unless `SortOrder=Oldest`; page headers as v1.0 documents them (contract §2.4, inference)."""
    query, store = call.query, call.store
    page = query_int(query, "Page", 1, 1, 2**31 - 1)
    limit = query_int(query, "Limit", 50, 1, 250)
    ids, references = set(query_ints(query, "IDs")), set(query_list(query, "ReferenceIds"))
    has_tracking, uploaded = query_bool(query, "HasTracking"), query_bool(query, "IsTrackingUploaded")
    bounds = {name: _date(query.get(name), name) for name in (
        "StartDate", "EndDate", "LastUpdateStartDate", "LastUpdateEndDate")}
    matches = []
    for order in store.orders.values():
        tracked = [store.shipments[i] for i in order.shipment_ids if store.shipments[i].tracking]
        updated = _last_update(call, order)
        if ((ids and order.id not in ids) or (references and order.reference_id not in references)
                or (has_tracking is not None and bool(tracked) != has_tracking)
                or (uploaded is not None and not any(s.is_tracking_uploaded == uploaded for s in tracked))
                or (bounds["StartDate"] and order.created < bounds["StartDate"])
                or (bounds["EndDate"] and order.created > bounds["EndDate"])
                or (bounds["LastUpdateStartDate"] and updated < bounds["LastUpdateStartDate"])
                or (bounds["LastUpdateEndDate"] and updated > bounds["LastUpdateEndDate"])):
            continue
        matches.append(order)
    matches.sort(key=lambda o: o.id, reverse=query.get("SortOrder", "Newest") != "Oldest")
    total_pages = max(1, math.ceil(len(matches) / limit))
    headers = {"Page-Number": str(page), "Total-Pages": str(total_pages), "Total-Count": str(len(matches)),
               "Page-Size": str(limit)}
    if page < total_pages:
        headers["Next-Page"] = call.url(call.request.url.path, **{**dict(query), "Page": page + 1})
    chunk = matches[(page - 1) * limit:page * limit]
    return ShipBobJSON([order_view(store, o) for o in chunk], headers=headers)


def list_channels(call: Call) -> Response:
    config = call.store.config
    channel = {"id": config.channel_id, "name": config.channel_name, "application_name": "SMA",
               "scopes": call.token.scopes}
    return ShipBobJSON({"items": [channel], "next": None, "prev": None})


def order_routes(gate: Gate) -> list:
    return [
        gate.route("GET", "/2026-01/channel", "channels_read", list_channels),
        gate.route("POST", "/2026-01/order", "orders_write", create_order),
        gate.route("GET", "/2026-01/order", "orders_read", list_orders),
        gate.route("GET", "/2026-01/order/{order_id:int}", "orders_read", get_order),
    ]
