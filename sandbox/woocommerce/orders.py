"""`/wc/v3/orders`: list, read, create, update, trash/delete, following the v2/v3 orders controllers.

Create saves the order first (firing `order.created`), then applies coupons, then the status (so its
transition moves stock and adds notes), then `set_paid`. An invalid coupon therefore fails the request
after the order exists, as in WooCommerce. Every save bumps `date_modified` and fires `order.updated`.
"""
import re
from decimal import Decimal, InvalidOperation

from sandbox.woocommerce import lifecycle, pricing, refunds
from sandbox.woocommerce.errors import WooError, invalid_id, invalid_params
from sandbox.woocommerce.order_view import order_view
from sandbox.woocommerce.rest import EDITABLE, Call, Route, collection, respond
from sandbox.woocommerce.state import (
    FeeLine, LineItem, Meta, Order, ShippingLine, Store, empty_address,
)
from sandbox.woocommerce.wire import (
    arg_bool, arg_date, arg_enum, arg_int, arg_int_list, arg_list,
)

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "checkout-draft")
LIST_STATUSES = ("any", "trash") + ORDER_STATUSES
ORDERBY = ("date", "id", "include", "title", "slug", "modified")


def _dp(call: Call) -> int:
    return arg_int(call.query, "dp", default=2, minimum=0)


def _status_arg(call: Call) -> str | None:
    status = call.param("status")
    if status is not None and status not in ORDER_STATUSES:
        raise invalid_params({"status": f"status is not one of {', '.join(ORDER_STATUSES[:-1])}, and "
                                        f"{ORDER_STATUSES[-1]}."})
    return status


def _decimal(value, name: str) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise invalid_params({name: f"{name} is not of type string."})


def list_orders(call: Call):
    store, query = call.store, call.query
    page = arg_int(query, "page", default=1, minimum=1)
    per_page = arg_int(query, "per_page", default=10, minimum=1, maximum=100)
    offset = arg_int(query, "offset", minimum=0)
    direction = arg_enum(query, "order", ("asc", "desc"), "desc")
    orderby = arg_enum(query, "orderby", ORDERBY, "date")
    statuses = arg_list(query, "status") or ["any"]
    bad = next((i for i, s in enumerate(statuses) if s not in LIST_STATUSES), None)
    if bad is not None:
        raise invalid_params({"status": f"status[{bad}] is not one of {', '.join(LIST_STATUSES[:-1])}, and "
                                        f"{LIST_STATUSES[-1]}."})
    bounds = {name: arg_date(query, name, store.tz) for name in ("after", "before", "modified_after",
                                                                 "modified_before")}
    gmt = arg_bool(query, "dates_are_gmt")
    include, exclude = arg_int_list(query, "include"), arg_int_list(query, "exclude")
    customer = arg_int(query, "customer")
    product = arg_int(query, "product")
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")

    def column(moment):
        """The posts table's `post_date`/`post_modified` (site wall time) or their `_gmt` twins."""
        return (moment if gmt else moment.astimezone(store.tz)).replace(tzinfo=None)

    def wanted(order: Order) -> bool:
        if "any" in statuses:
            if order.status == "trash" and "trash" not in statuses:
                return False
        elif order.status not in statuses:
            return False
        created, modified = column(order.created), column(order.modified)
        return all((
            bounds["after"] is None or created > bounds["after"],
            bounds["before"] is None or created < bounds["before"],
            bounds["modified_after"] is None or modified > bounds["modified_after"],
            bounds["modified_before"] is None or modified < bounds["modified_before"],
            not include or order.id in include,
            order.id not in exclude,
            customer is None or order.customer_id == customer,
            not product or any(product in (li.product_id, li.variation_id) for li in order.line_items),
        ))

    orders = [o for o in store.orders.values() if wanted(o)]
    if orderby == "include" and include:
        orders.sort(key=lambda o: include.index(o.id))
    else:
        def sort_key(o):
            return {"id": (o.id,), "modified": (o.modified, o.id)}.get(orderby, (o.created, o.id))
        orders.sort(key=sort_key, reverse=direction == "desc")
    dp = _dp(call)
    return collection(call, orders, "orders", page, per_page, offset, lambda o: order_view(store, o, dp))


def _order(call: Call, missing_status: int) -> Order:
    order = call.store.orders.get(int(call.path["id"]))
    if order is None:
        raise invalid_id("shop_order", missing_status)
    return order


def get_order(call: Call):
    dp = _dp(call)
    order = _order(call, 404)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, order_view(call.store, order, dp))


def upsert_meta(store: Store, meta: list[Meta], posted) -> None:
    """`WC_Data::update_meta_data`: by id if given, else the first entry with that key (others dropped)."""
    for entry in posted if isinstance(posted, list) else []:
        if not isinstance(entry, dict) or "key" not in entry:
            continue
        key, value = entry["key"], entry.get("value")
        target = next((m for m in meta if entry.get("id") and m.id == int(entry["id"])), None)
        if target is None and not entry.get("id"):
            same_key = [m for m in meta if m.key == key]
            target = same_key[0] if same_key else None
            for duplicate in same_key[1:]:
                meta.remove(duplicate)
        if target is None:
            meta.append(Meta(store.next_meta_id(), key, value))
        else:
            target.key, target.value = key, value
    meta[:] = [m for m in meta if m.value is not None]


def _product_reference(posted: dict, creating: bool) -> int:
    """`get_product_id`: sku wins, then product_id (without variation_id), then variation_id."""
    if posted.get("sku"):
        return 0
    if posted.get("product_id") and not posted.get("variation_id"):
        return int(posted["product_id"])
    if posted.get("variation_id"):
        return int(posted["variation_id"])
    if not creating:
        return 0
    raise WooError(400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required.")


def _set_line_item(store: Store, order: Order, posted: dict) -> None:
    item = next((li for li in order.line_items if posted.get("id") and li.id == int(posted["id"])), None)
    if posted.get("id") and item is None:
        raise WooError(400, "woocommerce_rest_invalid_item_id",
                       "Order item ID provided is not associated with order.")
    creating = item is None
    reference = _product_reference(posted, creating)
    product = store.product_by_sku(posted["sku"]) if posted.get("sku") else store.products.get(reference)
    if creating:
        item = LineItem(store.next_item_id(), "", 0, 0, 1, "", Decimal(0), Decimal(0))
        order.line_items.append(item)
    current = item.variation_id or item.product_id
    if product is not None and product.id != current:
        is_variation = product.type == "variation"
        item.product_id = product.parent_id if is_variation else product.id
        item.variation_id = product.id if is_variation else 0
        item.name, item.tax_class = product.name, product.tax_class
        if is_variation:
            item.meta = [m for m in item.meta if m.key.startswith("_")] + [
                Meta(store.next_meta_id(), a["name"].lower(), a["option"]) for a in product.attributes]
        if creating:
            quantity = int(posted.get("quantity", 1))
            item.subtotal = item.total = Decimal(product.price or 0) * quantity
    if "name" in posted:
        item.name = str(posted["name"])
    if "quantity" in posted:
        item.quantity = int(posted["quantity"])
    if "tax_class" in posted:
        item.tax_class = str(posted["tax_class"])
    if "subtotal" in posted:
        item.subtotal = _decimal(posted["subtotal"], "line_items")
    if "total" in posted:
        item.total = _decimal(posted["total"], "line_items")
    upsert_meta(store, item.meta, posted.get("meta_data"))


def _set_shipping_line(store: Store, order: Order, posted: dict) -> None:
    line = next((s for s in order.shipping_lines if posted.get("id") and s.id == int(posted["id"])), None)
    if line is None:
        if "method_id" not in posted:
            raise WooError(400, "woocommerce_rest_invalid_shipping_item", "Shipping method ID is required.")
        line = ShippingLine(store.next_item_id(), "", "", Decimal(0))
        order.shipping_lines.append(line)
    line.method_title = str(posted.get("method_title", line.method_title))
    line.method_id = str(posted.get("method_id", line.method_id))
    line.instance_id = str(posted.get("instance_id", line.instance_id))
    if "total" in posted:
        line.total = _decimal(posted["total"], "shipping_lines")
    upsert_meta(store, line.meta, posted.get("meta_data"))


def _set_fee_line(store: Store, order: Order, posted: dict) -> None:
    line = next((f for f in order.fee_lines if posted.get("id") and f.id == int(posted["id"])), None)
    if line is None:
        if "name" not in posted:
            raise WooError(400, "woocommerce_rest_invalid_fee_item", "Fee name is required.")
        line = FeeLine(store.next_item_id(), "", Decimal(0))
        order.fee_lines.append(line)
    line.name = str(posted.get("name", line.name))
    line.tax_class = str(posted.get("tax_class", line.tax_class))
    line.tax_status = str(posted.get("tax_status", line.tax_status))
    if "total" in posted:
        line.total = _decimal(posted["total"], "fee_lines")
    upsert_meta(store, line.meta, posted.get("meta_data"))


ITEM_SETTERS = {"line_items": (_set_line_item, "line_items"), "shipping_lines": (_set_shipping_line, "shipping_lines"),
                "fee_lines": (_set_fee_line, "fee_lines")}
RECALCULATING = ("billing", "shipping", "line_items", "shipping_lines", "fee_lines", "coupon_lines")


def _validate_billing_email(body: dict) -> None:
    """WordPress checks the schema's `format: email` before the controller runs: an empty or malformed
    billing e-mail is refused (the shipping address has none in the schema, so anything there is ignored)."""
    billing = body.get("billing")
    if isinstance(billing, dict) and "email" in billing and not is_email(billing["email"]):
        raise invalid_params({"billing": "Invalid email address."})


def is_email(value: object) -> bool:
    """WordPress's `is_email`: a local part of its allowed characters, a domain of two or more labels."""
    if not isinstance(value, str) or len(value) < 6 or value.count("@") != 1 or value.startswith("@"):
        return False
    local, domain = value.split("@")
    if not re.fullmatch(r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+", local) or ".." in domain:
        return False
    labels = domain.split(".")
    return len(labels) > 1 and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", label, re.I) for label in labels)


def _apply_fields(store: Store, order: Order, body: dict) -> None:
    """`prepare_object_for_database`: everything but status and coupons, which come later."""
    for kind in ("billing", "shipping"):
        if isinstance(body.get(kind), dict):
            order.__dict__[kind].update({k: str(v) for k, v in body[kind].items() if k in order.__dict__[kind]})
    for name in ("currency", "customer_note", "payment_method", "payment_method_title", "transaction_id"):
        if body.get(name) is not None:
            setattr(order, name, str(body[name]))
    if body.get("customer_id") is not None:
        customer_id = int(body["customer_id"])
        if customer_id and customer_id not in store.customer_ids:
            raise WooError(400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.")
        order.customer_id = customer_id
    for kind, (setter, attribute) in ITEM_SETTERS.items():
        for posted in body.get(kind) or []:
            if not isinstance(posted, dict):
                continue
            removing = posted.get("quantity", 1) == 0 or ("product_id" in posted and posted["product_id"] is None)
            if removing:
                items = getattr(order, attribute)
                items[:] = [i for i in items if not (posted.get("id") and i.id == int(posted["id"]))]
            else:
                setter(store, order, posted)
    upsert_meta(store, order.meta, body.get("meta_data"))


def _apply_coupons(store: Store, order: Order, posted) -> None:
    """`calculate_coupons`: drop every coupon, then apply the posted codes one by one."""
    order.coupon_lines = []
    pricing.apply_coupons(store, order)
    pricing.calculate_totals(store, order)
    for entry in posted if isinstance(posted, list) else []:
        if not isinstance(entry, dict) or entry.get("id"):
            continue
        code = str(entry.get("code") or "").strip().lower()
        if not code:
            raise WooError(400, "woocommerce_rest_invalid_coupon", "Coupon code is required.")
        if code not in store.coupons or store.coupons[code].status != "publish":
            raise WooError(400, "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!')
        order.coupon_lines.append(pricing.coupon_line(store, code))
        pricing.apply_coupons(store, order)
        pricing.calculate_totals(store, order)


def _set_status(store: Store, order: Order, status: str) -> None:
    """A change to `refunded` runs `wc_order_fully_refunded` (contract §4)."""
    was = order.status
    lifecycle.set_status(store, order, status)
    if status == "refunded" != was:
        refunds.refund_remaining(store, order)


def _save(store: Store, order: Order) -> None:
    order.modified = store.now()
    store.emit("order.updated", order.id)


def create_order(call: Call):
    store, body = call.store, call.body
    _validate_billing_email(body)
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.")
    status = _status_arg(call)
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    now = store.now()
    order = Order(store.next_post_id(), store.new_order_key(), store.config.currency, now, now,
                  billing=empty_address("billing"), shipping=empty_address("shipping"))
    _apply_fields(store, order, body)
    pricing.calculate_totals(store, order)
    store.orders[order.id] = order
    store.emit("order.created", order.id)
    _save(store, order)
    if "coupon_lines" in body:
        _apply_coupons(store, order, body["coupon_lines"])
    if status:
        _set_status(store, order, status)
    _save(store, order)
    if arg_bool(body, "set_paid"):
        lifecycle.payment_complete(store, order, str(body.get("transaction_id") or ""))
        _save(store, order)
    location = f"{store.home_url}/wp-json/wc/v3/orders/{order.id}"
    return respond(store, order_view(store, order, _dp(call)), 201, {"Location": location})


def update_order(call: Call):
    store, body = call.store, call.body
    _validate_billing_email(body)
    status = _status_arg(call)
    order = _order(call, 400)
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    _apply_fields(store, order, body)
    if "coupon_lines" in body:
        _apply_coupons(store, order, body["coupon_lines"])
    if any(name in body for name in RECALCULATING):
        pricing.calculate_totals(store, order)
    if status:
        _set_status(store, order, status)
    _save(store, order)
    if arg_bool(body, "set_paid") and lifecycle.needs_payment(order):
        lifecycle.payment_complete(store, order, str(body.get("transaction_id") or ""))
        _save(store, order)
    return respond(store, order_view(store, order, _dp(call)))


def delete_order(call: Call):
    """Answers with the order as it was before deletion. Only the trash fires `order.deleted` (its hooks
    are `wp_trash_post` / `woocommerce_trash_order`): an order deleted for good goes without a word."""
    store = call.store
    order = _order(call, 404)
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    previous = order_view(store, order, _dp(call))
    if arg_bool(call.params, "force"):
        del store.orders[order.id]
        for note_id in [n.id for n in store.notes.values() if n.order_id == order.id]:
            del store.notes[note_id]
        for refund in store.refunds_of(order.id):
            del store.refunds[refund.id]
    elif order.status == "trash":
        raise WooError(410, "woocommerce_rest_already_trashed", "The shop_order has already been deleted.")
    else:
        order.status_before_trash, order.status = order.status, "trash"
        order.modified = store.now()
        store.emit("order.deleted", order.id)
    return respond(store, previous)


ROUTES = [
    Route(("GET",), "orders", list_orders),
    Route(("POST",), "orders", create_order),
    Route(("GET",), r"orders/(?P<id>\d+)", get_order),
    Route(EDITABLE, r"orders/(?P<id>\d+)", update_order),
    Route(("DELETE",), r"orders/(?P<id>\d+)", delete_order),
]
