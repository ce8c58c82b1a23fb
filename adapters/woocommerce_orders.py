"""WooCommerce REST v3 order and refund JSON → `canonical.Order` and `canonical.returns.Refund`.

Pure mapping with no I/O, so a webhook body and a polled order map identically.
Money arrives as strings and is read straight into Decimal; `line_items[].price` is a
float WooCommerce computes at read time, so it is ignored and the unit price is
derived from the line `total` instead.
"""
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.json_values import MAX_ID, decimal_of, is_text, positive_id, shown, utc_moment

from canonical import (
    Address,
    Customer,
    DiscountLine,
    FeeLine,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    RefundSummary,
    ShippingLine,
    TaxAmount,
    TaxRate,
)
from canonical.keys import refund_key_in_reason
from canonical.returns import LineKind, Refund, RefundLine

ORDER_STATUSES = {
    "pending": OrderStatus.AWAITING_PAYMENT,
    "on-hold": OrderStatus.AWAITING_PAYMENT,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}
"""WooCommerce's core statuses; any other word (checkout-draft, plugin statuses) is OTHER."""
STOCK_HOLDING_STATUSES = {"processing", "on-hold", "completed"}
"""WooCommerce takes the units off its stock when an order reaches one of these (and gives them back on cancel)."""


class InvalidOrderPayload(ValueError):
    """The JSON is not a WooCommerce order we can read; the message names the offending field."""


def looks_like_order(payload: object) -> bool:
    """True for an order body; False for a ping, a `{"id": N}` deletion or a REST error object."""
    return isinstance(payload, dict) and all(k in payload for k in ("id", "status", "line_items"))


def order_status(store_status: str) -> OrderStatus:
    return ORDER_STATUSES.get(store_status, OrderStatus.OTHER)


def order_from_woocommerce(store_id: str, payload: object) -> Order:
    """Map one REST v3 order (as returned by `GET /orders/{id}` or sent by a webhook)."""
    if not isinstance(payload, dict):
        raise InvalidOrderPayload(f"expected a JSON object, got {type(payload).__name__}")
    if "code" in payload and "message" in payload and "id" not in payload:
        raise InvalidOrderPayload(f"not an order but a WooCommerce error: {_code(payload['code'])}")
    for required in ("id", "status", "line_items"):
        if required not in payload:
            raise InvalidOrderPayload(f"missing field '{required}'")

    order_id = _positive_int(payload["id"], "id")
    status = payload["status"]
    if not isinstance(status, str) or not status or not is_text(status):
        raise InvalidOrderPayload(f"status: expected a non-empty string, got {shown(status)}")
    currency = payload.get("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise InvalidOrderPayload(f"currency: expected an ISO 4217 code, got {shown(currency)}")
    money = _MoneyReader(currency.upper())
    billing = _mapping(payload.get("billing"), "billing")
    tax_rates = tuple(_tax_rate(t, f"tax_lines[{i}]") for i, t in enumerate(_items(payload, "tax_lines")))

    return Order(
        store_id=store_id,
        order_id=str(order_id),
        number=_text(payload.get("number"), "number") or str(order_id),
        status=order_status(status),
        store_status=status,
        holds_stock=status in STOCK_HOLDING_STATUSES,
        currency=money.currency,
        prices_include_tax=_flag(payload.get("prices_include_tax"), "prices_include_tax"),
        created_at=_utc(payload.get("date_created_gmt"), "date_created_gmt"),
        modified_at=_utc(payload.get("date_modified_gmt"), "date_modified_gmt"),
        customer=_customer(payload.get("customer_id", 0), billing),
        billing_address=_address(billing, "billing"),
        shipping_address=_address(_mapping(payload.get("shipping"), "shipping"), "shipping"),
        lines=tuple(_line(item, f"line_items[{i}]", money) for i, item in enumerate(_items(payload, "line_items"))),
        shipping_lines=tuple(
            _shipping(item, f"shipping_lines[{i}]", money) for i, item in enumerate(_items(payload, "shipping_lines"))
        ),
        fee_lines=tuple(_fee(item, f"fee_lines[{i}]", money) for i, item in enumerate(_items(payload, "fee_lines"))),
        discount_lines=tuple(
            _coupon(item, f"coupon_lines[{i}]", money) for i, item in enumerate(_items(payload, "coupon_lines"))
        ),
        tax_rates=tax_rates,
        payment=Payment(
            method=_text(payload.get("payment_method"), "payment_method"),
            method_title=_text(payload.get("payment_method_title"), "payment_method_title"),
            transaction_id=_text(payload.get("transaction_id"), "transaction_id"),
            paid_at=_utc_or_none(payload.get("date_paid_gmt"), "date_paid_gmt"),
        ),
        total=money(payload.get("total"), "total"),
        total_tax=money(payload.get("total_tax"), "total_tax"),
        customer_note=_text(payload.get("customer_note"), "customer_note"),
        refunds=tuple(
            _refund_summary(item, f"refunds[{i}]", money) for i, item in enumerate(_items(payload, "refunds"))
        ),
    )


REFUND_LINE_KINDS = {"line_items": LineKind.PRODUCT, "shipping_lines": LineKind.SHIPPING, "fee_lines": LineKind.FEE}


def refund_from_woocommerce(store_id: str, order_id: str, currency: str, payload: object, key_meta: str) -> Refund:
    """Map one refund of `GET /orders/{id}/refunds`; WooCommerce stores it negated, we keep amounts positive.

    A refund carries no currency of its own: it is the order's. Lines name the *order* item they
    refund (`_refunded_item_id`), not the refund's own copy. Our key is in the `key_meta` entry, or at the
    end of the reason, which WooCommerce saves before the gateway call (the meta only after it).
    """
    data = _mapping(payload, "refund")
    money = _MoneyReader(currency)
    lines = []
    for field, kind in REFUND_LINE_KINDS.items():
        lines += [_refund_line(item, f"{field}[{i}]", kind, money) for i, item in enumerate(_items(data, field))]
    keys = [m.get("value") for m in _items(data, "meta_data") if m.get("key") == key_meta]
    key_in_reason, reason = refund_key_in_reason(_text(data.get("reason"), "reason"), store_id, order_id)
    key = _text(keys[-1], f"meta_data.{key_meta}") if keys and isinstance(keys[-1], str) else key_in_reason
    return Refund(
        refund_id=_id(data.get("id"), "id"),
        store_id=store_id,
        order_id=order_id,
        amount=money(data.get("amount"), "amount"),
        reason=reason,
        lines=tuple(lines),
        key=key,
        refunded_payment=_flag(data.get("refunded_payment"), "refunded_payment"),
        created_at=_utc_or_none(data.get("date_created_gmt"), "date_created_gmt"),
    )


class _MoneyReader:
    """Reads WooCommerce money strings in the order's currency."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def __call__(self, value: object, field: str) -> Money:
        return Money(amount=_decimal(value, field), currency=self.currency)


def _decimal(value: object, field: str) -> Decimal:
    """Money arrives as strings, quantities as ints; a float goes through its shortest repr, never binary."""
    number = decimal_of(value)
    if number is None:
        raise InvalidOrderPayload(f"{field}: expected a decimal number, got {shown(value)}")
    if not number.is_finite():
        raise InvalidOrderPayload(f"{field}: expected a finite number, got {shown(value)}")
    return number


def _positive_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidOrderPayload(f"{field}: expected a positive integer, got {shown(value)}")
    return value


def _non_negative_int(value: object, field: str) -> int:
    """Customer 0 is a guest; product 0 is a line added for a product that never existed."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise InvalidOrderPayload(f"{field}: expected a non-negative integer, got {shown(value)}")
    return value


def _code(value: object) -> str:
    return value if isinstance(value, str) and is_text(value) and len(value) <= 100 else shown(value)


def _flag(value: object, field: str) -> bool:
    """WooCommerce sends JSON booleans; the string "false" is not false, so it is refused rather than guessed."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidOrderPayload(f"{field}: expected true or false, got {shown(value)}")
    return value


def _id(value: object, field: str) -> str:
    return str(_positive_int(value, field))


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidOrderPayload(f"{field}: expected a string, got {shown(value)}")
    if not is_text(value):
        raise InvalidOrderPayload(f"{field}: not valid Unicode text ({shown(value)})")
    return value


def _mapping(value: object, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidOrderPayload(f"{field}: expected an object, got {type(value).__name__}")
    return value


def _items(parent: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = parent.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidOrderPayload(f"{field}: expected a list, got {type(value).__name__}")
    return [_mapping(item, f"{field}[{i}]") for i, item in enumerate(value)]


def _utc_or_none(value: object, field: str) -> datetime | None:
    """`*_gmt` dates carry no offset but are UTC; an explicit offset is honoured."""
    if value is None or value == "":
        return None
    moment = utc_moment(value) if isinstance(value, str) else None
    if moment is None:
        raise InvalidOrderPayload(f"{field}: expected YYYY-MM-DDTHH:MM:SS, got {shown(value)}")
    return moment


def _utc(value: object, field: str) -> datetime:
    moment = _utc_or_none(value, field)
    if moment is None:
        raise InvalidOrderPayload(f"missing field '{field}'")
    return moment


def _customer(customer_id: object, billing: dict[str, Any]) -> Customer:
    """WooCommerce's customer id 0 is a guest checkout."""
    customer_id = _non_negative_int(customer_id, "customer_id")
    return Customer(
        store_customer_id=str(customer_id) if customer_id else None,
        email=_text(billing.get("email"), "billing.email"),
        first_name=_text(billing.get("first_name"), "billing.first_name"),
        last_name=_text(billing.get("last_name"), "billing.last_name"),
        company=_text(billing.get("company"), "billing.company"),
        phone=_text(billing.get("phone"), "billing.phone"),
    )


def _address(data: dict[str, Any], field: str) -> Address:
    def text(key: str) -> str:
        return _text(data.get(key), f"{field}.{key}")

    return Address(
        first_name=text("first_name"),
        last_name=text("last_name"),
        company=text("company"),
        street=text("address_1"),
        street2=text("address_2"),
        city=text("city"),
        state=text("state"),
        postal_code=text("postcode"),
        country=text("country"),
        phone=text("phone"),
    )


def _tax_rate(data: dict[str, Any], field: str) -> TaxRate:
    if "rate_percent" not in data:
        raise InvalidOrderPayload(f"missing field '{field}.rate_percent'")
    return TaxRate(
        rate_id=_id(data.get("rate_id"), f"{field}.rate_id"),
        code=_text(data.get("rate_code"), f"{field}.rate_code"),
        label=_text(data.get("label"), f"{field}.label"),
        percent=_decimal(data["rate_percent"], f"{field}.rate_percent"),
        compound=_flag(data.get("compound"), f"{field}.compound"),
    )


def _taxes(data: dict[str, Any], field: str, money: _MoneyReader) -> tuple[TaxAmount, ...]:
    """Tax per rate id from `taxes[].total`.

    WooCommerce lists every rate that matched the item, with `total` "" when the rate only
    applied before discounts and "0" for e.g. free shipping: neither is tax to reproduce.
    """
    amounts = []
    for i, tax in enumerate(_items(data, "taxes")):
        if tax.get("total") in ("", None):
            continue
        amount = money(tax["total"], f"{field}.taxes[{i}].total")
        if amount.amount:
            amounts.append(TaxAmount(rate_id=_id(tax.get("id"), f"{field}.taxes[{i}].id"), amount=amount))
    return tuple(amounts)


def _line(data: dict[str, Any], field: str, money: _MoneyReader) -> OrderLine:
    """`sku` is null once the product is deleted and "" when it never had one: both None."""
    quantity = _decimal(data.get("quantity"), f"{field}.quantity")
    if quantity <= 0:
        raise InvalidOrderPayload(f"{field}.quantity: expected a positive number, got {shown(data.get('quantity'))}")
    total = money(data.get("total"), f"{field}.total")
    try:
        unit_price = total.amount / quantity
    except ArithmeticError:
        raise InvalidOrderPayload(f"{field}: total {total.amount} over quantity {quantity} is no unit price") from None
    variation_id = data.get("variation_id") or 0
    return OrderLine(
        line_id=_id(data.get("id"), f"{field}.id"),
        sku=_text(data.get("sku"), f"{field}.sku") or None,
        name=_text(data.get("name"), f"{field}.name"),
        product_id=str(_non_negative_int(data.get("product_id"), f"{field}.product_id")),
        variation_id=_id(variation_id, f"{field}.variation_id") if variation_id else None,
        quantity=quantity,
        unit_price=Money(amount=unit_price, currency=money.currency),
        subtotal=money(data.get("subtotal"), f"{field}.subtotal"),
        total=total,
        taxes=_taxes(data, field, money),
    )


def _shipping(data: dict[str, Any], field: str, money: _MoneyReader) -> ShippingLine:
    return ShippingLine(
        line_id=_id(data.get("id"), f"{field}.id"),
        method_id=_text(data.get("method_id"), f"{field}.method_id"),
        method_title=_text(data.get("method_title"), f"{field}.method_title"),
        total=money(data.get("total"), f"{field}.total"),
        taxes=_taxes(data, field, money),
    )


def _fee(data: dict[str, Any], field: str, money: _MoneyReader) -> FeeLine:
    """Fees may be negative (a discount added as a fee); their taxes are then negative too."""
    return FeeLine(
        line_id=_id(data.get("id"), f"{field}.id"),
        name=_text(data.get("name"), f"{field}.name"),
        total=money(data.get("total"), f"{field}.total"),
        taxes=_taxes(data, field, money),
    )


def _coupon(data: dict[str, Any], field: str, money: _MoneyReader) -> DiscountLine:
    return DiscountLine(
        line_id=_id(data.get("id"), f"{field}.id"),
        code=_text(data.get("code"), f"{field}.code"),
        discount=money(data.get("discount"), f"{field}.discount"),
        discount_tax=money(data.get("discount_tax"), f"{field}.discount_tax"),
    )


def _refund_summary(data: dict[str, Any], field: str, money: _MoneyReader) -> RefundSummary:
    """`refunds[].total` is negative ("-10.00"); the summary's amount is what went back, positive."""
    total = money(data.get("total"), f"{field}.total")
    return RefundSummary(
        refund_id=_id(data.get("id"), f"{field}.id"),
        amount=Money(amount=abs(total.amount), currency=total.currency),
        reason=_text(data.get("reason"), f"{field}.reason"),
    )


def _refund_line(data: dict[str, Any], field: str, kind: LineKind, money: _MoneyReader) -> RefundLine:
    refunded = [positive_id(m.get("value")) for m in _items(data, "meta_data") if m.get("key") == "_refunded_item_id"]
    if not refunded or refunded[0] is None:
        raise InvalidOrderPayload(f"{field}: missing the refunded order item id (_refunded_item_id)")
    total = money(data.get("total"), f"{field}.total")
    taxes = tuple(TaxAmount(rate_id=t.rate_id, amount=_given_back(t.amount)) for t in _taxes(data, field, money))
    return RefundLine(
        line_id=str(refunded[0]),
        kind=kind,
        sku=_text(data.get("sku"), f"{field}.sku") or None,
        quantity=abs(_decimal(data.get("quantity", 0), f"{field}.quantity")),
        amount=_given_back(total),
        taxes=taxes,
    )


def _given_back(stored: Money) -> Money:
    """A refund item's stored (negative) amount as money given back; `0 - x` so zero stays "0.00", not "-0.00"."""
    return Money(amount=Decimal(0) - stored.amount, currency=stored.currency)
