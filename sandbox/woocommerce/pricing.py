"""Order arithmetic as WooCommerce does it: coupons in cents, taxes per line and rate, then totals.

Taxes are rounded per line (`woocommerce_tax_round_at_subtotal` = no). Coupons are applied to line
subtotals, not sequentially; the rounding remainder goes one cent at a time to the dearest lines.
"""
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal

from sandbox.woocommerce.state import CouponLine, LineItem, Order, Store, TaxLine
from sandbox.woocommerce.wire import round_cents

ZERO = Decimal(0)


def _cents(amount: Decimal) -> int:
    return int(round_cents(amount) * 100)


def _line_taxes(store: Store, tax_class: str, amount: Decimal) -> dict[int, Decimal]:
    return {rate.id: round_cents(amount * rate.percent / 100) for rate in store.rates_for(tax_class)}


def _coupon_discounts(coupon_type: str, amount: Decimal, lines: list[LineItem]) -> dict[int, int]:
    """Discount in cents per line id (`WC_Discounts::apply_coupon_percent|fixed_cart` + remainder)."""
    priced = sorted((line for line in lines if line.subtotal > 0), key=lambda line: line.subtotal, reverse=True)
    discounts = {line.id: 0 for line in lines}
    subtotal_cents = sum(_cents(line.subtotal) for line in priced)
    if not priced or not subtotal_cents:
        return discounts
    if coupon_type == "percent":
        for line in priced:
            discounts[line.id] = int((Decimal(_cents(line.subtotal)) * amount / 100).to_integral_value(ROUND_FLOOR))
        wanted = _cents(Decimal(subtotal_cents) * amount / 100 / 100)
    else:
        wanted = min(_cents(amount), subtotal_cents)
        for line in priced:
            share = Decimal(wanted) * _cents(line.subtotal) / subtotal_cents
            discounts[line.id] = int(share.to_integral_value(ROUND_FLOOR))
    remaining = wanted - sum(discounts.values())
    for line in priced:
        for _ in range(line.quantity):
            if remaining <= 0:
                return discounts
            if discounts[line.id] < _cents(line.subtotal):
                discounts[line.id] += 1
                remaining -= 1
    return discounts


def apply_coupons(store: Store, order: Order) -> None:
    """Reset line totals to subtotals and apply every coupon on the order again."""
    for line in order.line_items:
        line.total = line.subtotal
    for coupon_line in order.coupon_lines:
        coupon = coupon_line.rule
        discounts = _coupon_discounts(coupon.discount_type, coupon.amount, order.line_items)
        coupon_line.discount, coupon_line.discount_tax = ZERO, ZERO
        for line in order.line_items:
            cut = Decimal(discounts[line.id]) / 100
            cut = min(cut, line.total)
            line.total -= cut
            coupon_line.discount += cut
            coupon_line.discount_tax += sum(_line_taxes(store, line.tax_class, cut).values(), ZERO)


def _shipping_tax_class(store: Store, order: Order) -> str | None:
    """Shipping tax class "inherit": standard if any line uses it, else the first class the lines use."""
    used = {line.tax_class for line in order.line_items}
    classes = [""] + sorted({rate.tax_class for rate in store.tax_rates} - {""})
    return next((c for c in classes if c in used), None)


def calculate_totals(store: Store, order: Order) -> None:
    """`WC_Order::calculate_totals`: item taxes, shipping and fee taxes, tax lines, order totals."""
    for line in order.line_items:
        line.subtotal_taxes = _line_taxes(store, line.tax_class, line.subtotal)
        line.taxes = _line_taxes(store, line.tax_class, line.total)
    shipping_class = _shipping_tax_class(store, order)
    for shipping in order.shipping_lines:
        shipping.taxes = {} if shipping_class is None else {
            rate.id: round_cents(shipping.total * rate.percent / 100)
            for rate in store.rates_for(shipping_class) if rate.shipping}
    for fee in order.fee_lines:
        fee.taxes = _line_taxes(store, fee.tax_class, fee.total) if fee.tax_status == "taxable" else {}

    cart_taxes: dict[int, Decimal] = {}
    shipping_taxes: dict[int, Decimal] = {}
    for taxes in [line.taxes for line in order.line_items] + [fee.taxes for fee in order.fee_lines]:
        for rate_id, amount in taxes.items():
            cart_taxes[rate_id] = cart_taxes.get(rate_id, ZERO) + amount
    for shipping in order.shipping_lines:
        for rate_id, amount in shipping.taxes.items():
            shipping_taxes[rate_id] = shipping_taxes.get(rate_id, ZERO) + amount

    existing = {tax_line.rate.id: tax_line for tax_line in order.tax_lines}
    order.tax_lines = []
    for rate in store.tax_rates:
        if rate.id in cart_taxes or rate.id in shipping_taxes:
            tax_line = existing.get(rate.id) or TaxLine(store.next_item_id(), rate, ZERO, ZERO)
            tax_line.tax_total = cart_taxes.get(rate.id, ZERO)
            tax_line.shipping_tax_total = shipping_taxes.get(rate.id, ZERO)
            order.tax_lines.append(tax_line)

    subtotal = sum((line.subtotal for line in order.line_items), ZERO)
    items_total = sum((line.total for line in order.line_items), ZERO)
    order.discount_total = subtotal - items_total
    order.discount_tax = sum((sum(line.subtotal_taxes.values(), ZERO) - sum(line.taxes.values(), ZERO)
                              for line in order.line_items), ZERO)
    order.shipping_total = sum((s.total for s in order.shipping_lines), ZERO)
    order.shipping_tax = sum(shipping_taxes.values(), ZERO)
    order.cart_tax = sum(cart_taxes.values(), ZERO)
    order.total_tax = order.cart_tax + order.shipping_tax
    fees = sum((fee.total for fee in order.fee_lines), ZERO)
    order.total = round_cents(items_total + fees + order.shipping_total + order.total_tax)


def coupon_line(store: Store, code: str) -> CouponLine:
    return CouponLine(store.next_item_id(), code, rule=replace(store.coupons[code]))
