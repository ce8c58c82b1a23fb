"""An order as `GET /wc/v3/orders/{id}` shows it; webhooks send exactly this, built at delivery time.

Line `sku` and `parent_name` are read from the current product, so they change if the product does.
Item `taxes[]` amounts are the stored raw values, not 2-dp strings; `price` is a JSON number.
"""
from decimal import Decimal

from sandbox.woocommerce.lifecycle import needs_payment
from sandbox.woocommerce.state import Meta, Order, Store
from sandbox.woocommerce.wire import json_price, money, raw_decimal, wc_dates

CURRENCY_SYMBOLS = {"EUR": "&euro;", "USD": "&#36;", "GBP": "&pound;"}


def meta_view(meta: list[Meta]) -> list[dict]:
    return [{"id": m.id, "key": m.key, "value": m.value} for m in meta]


def item_meta_view(meta: list[Meta]) -> list[dict]:
    return [{"id": m.id, "key": m.key, "value": m.value, "display_key": m.key, "display_value": m.value}
            for m in meta]


def _taxes(totals: dict[int, Decimal], subtotals: dict[int, Decimal] | None = None) -> list[dict]:
    return [{"id": rate_id, "total": raw_decimal(amount),
             "subtotal": raw_decimal(subtotals[rate_id]) if subtotals and rate_id in subtotals else ""}
            for rate_id, amount in totals.items()]


def _dated(store: Store, name: str, moment) -> dict:
    local, gmt = wc_dates(moment, store.tz)
    return {name: local, f"{name}_gmt": gmt}


def order_view(store: Store, order: Order, dp: int = 2) -> dict:
    base = f"{store.home_url}/wp-json/wc/v3"
    lines = []
    for line in order.line_items:
        product = store.products.get(line.variation_id or line.product_id)
        parent = store.products.get(line.product_id) if line.variation_id else None
        lines.append({
            "id": line.id, "name": line.name, "product_id": line.product_id, "variation_id": line.variation_id,
            "quantity": line.quantity, "tax_class": line.tax_class,
            "subtotal": money(line.subtotal, dp), "subtotal_tax": money(sum(line.subtotal_taxes.values(),
                                                                              Decimal(0)), dp),
            "total": money(line.total, dp), "total_tax": money(sum(line.taxes.values(), Decimal(0)), dp),
            "taxes": _taxes(line.taxes, line.subtotal_taxes), "meta_data": item_meta_view(line.meta),
            "sku": product.sku if product else None, "price": json_price(line.total, line.quantity),
            "image": {"id": "", "src": ""}, "parent_name": parent.name if parent else None,
        })
    view = {
        "id": order.id, "parent_id": 0, "status": order.status, "currency": order.currency,
        "version": "7.9.0", "prices_include_tax": False,
        **_dated(store, "date_created", order.created), **_dated(store, "date_modified", order.modified),
        "discount_total": money(order.discount_total, dp), "discount_tax": money(order.discount_tax, dp),
        "shipping_total": money(order.shipping_total, dp), "shipping_tax": money(order.shipping_tax, dp),
        "cart_tax": money(order.cart_tax, dp), "total": money(order.total, dp),
        "total_tax": money(order.total_tax, dp), "customer_id": order.customer_id, "order_key": order.order_key,
        "billing": dict(order.billing), "shipping": dict(order.shipping),
        "payment_method": order.payment_method, "payment_method_title": order.payment_method_title,
        "transaction_id": order.transaction_id, "customer_ip_address": "", "customer_user_agent": "",
        "created_via": "rest-api", "customer_note": order.customer_note,
        **_dated(store, "date_completed", order.date_completed), **_dated(store, "date_paid", order.date_paid),
        "cart_hash": "", "number": str(order.id), "meta_data": meta_view(order.meta),
        "line_items": lines,
        "tax_lines": [{
            "id": t.id, "rate_code": t.rate.code, "rate_id": t.rate.id, "label": t.rate.name,
            "compound": t.rate.compound, "tax_total": money(t.tax_total, dp),
            "shipping_tax_total": money(t.shipping_tax_total, dp), "rate_percent": float(t.rate.percent),
            "meta_data": []} for t in order.tax_lines],
        "shipping_lines": [{
            "id": s.id, "method_title": s.method_title, "method_id": s.method_id, "instance_id": s.instance_id,
            "total": money(s.total, dp), "total_tax": money(sum(s.taxes.values(), Decimal(0)), dp),
            "taxes": _taxes(s.taxes), "meta_data": item_meta_view(s.meta)} for s in order.shipping_lines],
        "fee_lines": [{
            "id": f.id, "name": f.name, "tax_class": f.tax_class, "tax_status": f.tax_status,
            "total": money(f.total, dp),
            "total_tax": money(sum(f.taxes.values(), Decimal(0)), dp), "taxes": _taxes(f.taxes),
            "meta_data": item_meta_view(f.meta)} for f in order.fee_lines],
        "coupon_lines": [{
            "id": c.id, "code": c.code, "discount": money(c.discount, dp),
            "discount_tax": money(c.discount_tax, dp), "meta_data": item_meta_view(c.meta)}
            for c in order.coupon_lines],
        "refunds": [{"id": r.id, "reason": r.reason, "total": "-" + money(r.amount, dp)}
                    for r in store.refunds_of(order.id)],
        "payment_url": f"{store.home_url}/checkout/order-pay/{order.id}/?pay_for_order=true&key={order.order_key}",
        "is_editable": order.status in ("pending", "on-hold", "auto-draft"),
        "needs_payment": needs_payment(order), "needs_processing": True,
        "currency_symbol": CURRENCY_SYMBOLS.get(order.currency, order.currency),
        "_links": {"self": [{"href": f"{base}/orders/{order.id}"}], "collection": [{"href": f"{base}/orders"}]},
    }
    if order.customer_id:
        view["_links"]["customer"] = [{"href": f"{store.home_url}/wp-json/wc/v3/customers/{order.customer_id}"}]
    view.update(store.order_view_overrides.get(order.id, {}))
    return view
