"""`/wc/v3/orders/{order_id}/refunds`: the refunds controller, whose errors are HTTP 500 with a bare-int `data`.

Create reads `line_items[]` as `RestApiUtil::adjust_create_refund_request_parameters` does (order item
ids; `refund_tax[].id` = tax rate id) and, without `amount`, refunds the sum of the lines and taxes.
`api_refund` and `api_restock` both default to true (contract §11). Not idempotent.

Create runs in `WC_REST_Order_Refunds_Controller::prepare_object_for_database`'s order: `wc_create_refund`
(refund saved with its reason, gateway, restock, status, `order.updated`), and only then the request's
`meta_data` (`save_meta_data`). A slow gateway leaves the refund listed without money moved or meta; PHP
dying at `refund_meta` (a host fault) leaves it paid without meta.
"""
from decimal import Decimal, InvalidOperation

from sandbox.woocommerce.errors import BareDataError, WooError, invalid_params
from sandbox.woocommerce.order_view import item_meta_view, meta_view
from sandbox.woocommerce.orders import upsert_meta
from sandbox.woocommerce.refunds import (
    RefundedItem,
    RefundFailed,
    SavedRefund,
    finish_refund,
    refund_payment_at_gateway,
    save_refund,
)
from sandbox.woocommerce.rest import Call, Route, Waiting, collection, respond
from sandbox.woocommerce.state import Meta, Order, Refund, RefundItem, Store
from sandbox.woocommerce.wire import arg_bool, arg_enum, arg_int, json_price, money, raw_decimal, wc_dates

ZERO = Decimal(0)


def _order(call: Call) -> Order:
    order = call.store.orders.get(int(call.path["order_id"]))
    if order is None:
        raise BareDataError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
    return order


def _refund(call: Call) -> Refund:
    refund = call.store.refunds.get(int(call.path["id"]))
    if refund is None:
        raise WooError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
    if refund.order_id != _order(call).id:
        raise BareDataError("woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404)
    return refund


def _dp(call: Call) -> int:
    arg_enum(call.query, "context", ("view", "edit"), "view")
    return arg_int(call.query, "dp", default=2, minimum=0)


def _number(value, name: str) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        raise invalid_params({name: f"{name} is not of type string."})


def _requested_items(posted) -> dict[int, RefundedItem]:
    items: dict[int, RefundedItem] = {}
    for entry in posted if isinstance(posted, list) else []:
        if not isinstance(entry, dict) or not str(entry.get("id", "")).isdigit():
            continue
        taxes = {int(tax["id"]): _number(tax.get("refund_total"), "line_items")
                 for tax in entry.get("refund_tax") or [] if isinstance(tax, dict) and str(tax.get("id")).isdigit()}
        items[int(entry["id"])] = RefundedItem(arg_int(entry, "quantity", default=0),
                                               _number(entry.get("refund_total"), "line_items"), taxes)
    return items


def _tax_lines(store: Store, items: list[RefundItem], dp: int) -> list[dict]:
    """`WC_Order_Refund::update_taxes`: one negative tax line per rate the refunded items carry."""
    cart: dict[int, Decimal] = {}
    shipping: dict[int, Decimal] = {}
    for item in items:
        target = shipping if item.kind == "shipping_lines" else cart
        for rate_id, amount in item.taxes.items():
            target[rate_id] = target.get(rate_id, ZERO) + amount
    return [{"id": rate.id, "rate_code": rate.code, "rate_id": rate.id, "label": rate.name,
             "compound": rate.compound, "tax_total": money(cart.get(rate.id, ZERO), dp),
             "shipping_tax_total": money(shipping.get(rate.id, ZERO), dp), "rate_percent": float(rate.percent),
             "meta_data": []} for rate in store.tax_rates if rate.id in cart or rate.id in shipping]


def _item_view(store: Store, item: RefundItem, dp: int) -> dict:
    meta = item_meta_view([Meta(0, "_refunded_item_id", str(item.refunded_item_id))])
    taxes = [{"id": rate_id, "total": raw_decimal(amount), "subtotal": raw_decimal(amount)}
             for rate_id, amount in item.taxes.items()]
    total_tax = money(sum(item.taxes.values(), ZERO), dp)
    common = {"id": item.id, "total": money(item.total, dp), "total_tax": total_tax, "taxes": taxes,
              "meta_data": meta}
    if item.kind == "shipping_lines":
        return {"id": item.id, "method_title": item.name, "method_id": item.method_id, "instance_id": "0",
                **common}
    if item.kind == "fee_lines":
        return {"id": item.id, "name": item.name, "tax_class": "", "tax_status": "taxable", **common}
    product = store.products.get(item.variation_id or item.product_id)
    return {"id": item.id, "name": item.name, "product_id": item.product_id, "variation_id": item.variation_id,
            "quantity": item.quantity, "tax_class": item.tax_class, "subtotal": money(item.total, dp),
            "subtotal_tax": total_tax, **common, "sku": product.sku if product else None,
            "price": json_price(item.total, item.quantity)}


def refund_view(store: Store, refund: Refund, dp: int = 2) -> dict:
    local, gmt = wc_dates(refund.created, store.tz)
    base = f"{store.home_url}/wp-json/wc/v3/orders/{refund.order_id}"
    return {
        "id": refund.id, "date_created": local, "date_created_gmt": gmt, "amount": money(refund.amount, dp),
        "reason": refund.reason, "refunded_by": refund.refunded_by, "refunded_payment": refund.refunded_payment,
        "meta_data": meta_view(refund.meta),
        **{kind: [_item_view(store, item, dp) for item in refund.items if item.kind == kind]
           for kind in ("line_items", "shipping_lines")},
        "tax_lines": _tax_lines(store, refund.items, dp),
        "fee_lines": [_item_view(store, item, dp) for item in refund.items if item.kind == "fee_lines"],
        "_links": {"self": [{"href": f"{base}/refunds/{refund.id}"}], "collection": [{"href": f"{base}/refunds"}],
                   "up": [{"href": base}]},
    }


def list_refunds(call: Call):
    dp = _dp(call)
    page = arg_int(call.query, "page", default=1, minimum=1)
    per_page = arg_int(call.query, "per_page", default=10, minimum=1, maximum=100)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    order_id = int(call.path["order_id"])
    refunds = [refund_view(call.store, r, dp) for r in call.store.refunds_of(order_id)]
    return collection(call, refunds, f"orders/{order_id}/refunds", page, per_page, None)


def get_refund(call: Call):
    dp = _dp(call)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, refund_view(call.store, _refund(call), dp))


def post_refund(call: Call):
    store, body = call.store, call.body
    _dp(call)  # arguments are validated before anything happens
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    order = _order(call)
    items = _requested_items(body.get("line_items"))
    if body.get("amount") in (None, ""):
        amount = sum((i.refund_total + sum(i.refund_tax.values(), ZERO) for i in items.values()), ZERO)
    else:
        amount = _number(body["amount"], "amount")
    if amount < 0:
        raise BareDataError("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400)
    try:
        saved = save_refund(store, order, amount, str(body.get("reason") or ""), items)
    except RefundFailed as failure:
        raise BareDataError("woocommerce_rest_cannot_create_order_refund", str(failure), 500)
    restock = arg_bool(body, "api_restock", True)
    if not arg_bool(body, "api_refund", True):
        return _created(call, saved, restock, gateway=False)
    delay = store.gateway_delays.get(order.payment_method, 0)
    if delay:
        return Waiting(delay, lambda: _created(call, saved, restock, gateway=True))
    return _created(call, saved, restock, gateway=True)


def _created(call: Call, saved: SavedRefund, restock: bool, gateway: bool):
    """The rest of `wc_create_refund` once the gateway answered, then the controller's meta save."""
    store, refund = call.store, saved.refund
    if gateway:
        try:
            refund_payment_at_gateway(store, saved)
        except RefundFailed as failure:
            raise BareDataError("woocommerce_rest_cannot_create_order_refund", str(failure), 500)
    finish_refund(store, saved, restock)
    call.step("refund_meta")
    upsert_meta(store, refund.meta, call.body.get("meta_data"))
    location = f"{store.home_url}/wp-json/wc/v3/orders/{refund.order_id}/refunds/{refund.id}"
    return respond(store, refund_view(store, refund, _dp(call)), 201, {"Location": location})


def delete_refund(call: Call):
    """Refunds cannot be trashed; deleting one fires `order.updated` but leaves stock and status alone."""
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    refund = _refund(call)
    if not arg_bool(call.params, "force"):
        raise WooError(501, "woocommerce_rest_trash_not_supported",
                       "The shop_order_refund does not support trashing.")
    previous = refund_view(call.store, refund, _dp(call))
    del call.store.refunds[refund.id]
    call.store.emit("order.updated", refund.order_id)
    return respond(call.store, previous)


ROUTES = [
    Route(("GET",), r"orders/(?P<order_id>\d+)/refunds", list_refunds),
    Route(("POST",), r"orders/(?P<order_id>\d+)/refunds", post_refund),
    Route(("GET",), r"orders/(?P<order_id>\d+)/refunds/(?P<id>\d+)", get_refund),
    Route(("DELETE",), r"orders/(?P<order_id>\d+)/refunds/(?P<id>\d+)", delete_refund),
]
