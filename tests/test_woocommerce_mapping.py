"""WooCommerce REST v3 order JSON → canonical.Order, on hand-written copies of real responses."""
import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.woocommerce_orders import (
    InvalidOrderPayload,
    looks_like_order,
    order_from_woocommerce,
    refund_from_woocommerce,
)
from canonical import Money, OrderStatus, TaxAmount

DATA = Path(__file__).parent / "data" / "woocommerce"


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def tax(rate_id: str, amount: str, currency: str = "EUR") -> TaxAmount:
    return TaxAmount(rate_id=rate_id, amount=Money(amount=Decimal(amount), currency=currency))


def test_variation_and_coupon_order():
    order = order_from_woocommerce("shop1", load("order_variation_coupon"))

    assert (order.store_id, order.order_id, order.number) == ("shop1", "727", "727")
    assert order.status is OrderStatus.PAID and order.store_status == "processing"
    hoodie, tee = order.lines
    assert hoodie.line_id == "311"
    assert (hoodie.product_id, hoodie.variation_id, hoodie.sku) == ("40", "42", "HOODIE-M")
    assert hoodie.quantity == Decimal(2)
    assert hoodie.subtotal == eur("90.00")
    assert hoodie.total == eur("81.00")
    assert hoodie.unit_price == eur("40.50")
    assert hoodie.taxes == (tax("1", "16.2"),)
    assert tee.variation_id is None
    assert tee.unit_price == eur("18.00")

    (coupon,) = order.discount_lines
    assert (coupon.line_id, coupon.code) == ("314", "spring10")
    assert coupon.discount == eur("11") and coupon.discount_tax == eur("2.2")
    (shipping,) = order.shipping_lines
    assert (shipping.method_id, shipping.method_title, shipping.total) == ("flat_rate", "Flat rate", eur("5.00"))
    assert shipping.taxes == (tax("1", "1"),)

    (rate,) = order.tax_rates
    assert (rate.rate_id, rate.code, rate.label, rate.percent, rate.compound) == (
        "1", "FR-VAT 20%-1", "VAT 20%", Decimal(20), False
    )
    assert order.total == eur("124.80") and order.total_tax == eur("20.80")
    assert order.customer.store_customer_id == "12"
    assert order.billing_address.street2 == "Bât. B"
    assert order.payment.transaction_id == "pi_3OuB2fLk9PzT1m0a1b2c3d4e"
    assert order.payment.paid_at == datetime(2024, 3, 14, 10, 3, 5, tzinfo=UTC)
    assert order.created_at == datetime(2024, 3, 14, 10, 2, 37, tzinfo=UTC)
    assert order.modified_at == datetime(2024, 3, 14, 10, 3, 5, tzinfo=UTC)
    assert order.is_paid


def test_line_totals_already_include_the_coupon():
    order = order_from_woocommerce("shop1", load("order_variation_coupon"))

    lines = sum((line.total for line in order.lines), eur("0"))
    before_discount = sum((line.subtotal for line in order.lines), eur("0"))
    assert before_discount.amount - lines.amount == order.discount_lines[0].discount.amount
    taxes = [t.amount for line in (*order.lines, *order.shipping_lines) for t in line.taxes]
    assert sum((t for t in taxes), eur("0")) == order.total_tax
    assert lines + order.shipping_lines[0].total + order.total_tax == order.total


def test_fees_including_a_negative_fee_and_two_tax_rates():
    order = order_from_woocommerce("shop1", load("order_fees_two_rates"))

    assert order.status is OrderStatus.COMPLETED
    wrapping, reward = order.fee_lines
    assert (wrapping.line_id, wrapping.name, wrapping.total) == ("342", "Gift wrapping", eur("3.00"))
    assert wrapping.taxes == (tax("1", "0.6"),)
    assert (reward.name, reward.total) == ("Loyalty reward", eur("-5.00"))
    assert reward.taxes == (tax("1", "-0.4"), tax("2", "-0.17"))

    tee, book = order.lines
    assert tee.taxes == (tax("1", "4"),)
    assert book.taxes == (tax("2", "1.65"),)
    assert [(r.rate_id, r.percent) for r in order.tax_rates] == [("1", Decimal("20")), ("2", Decimal("5.5"))]
    assert order.tax_rate("2").label == "VAT 5.5%"

    per_rate: dict[str, Decimal] = {}
    for line in (*order.lines, *order.fee_lines, *order.shipping_lines):
        for amount in line.taxes:
            per_rate[amount.rate_id] = per_rate.get(amount.rate_id, Decimal(0)) + amount.amount.amount
    assert per_rate == {"1": Decimal("4.20"), "2": Decimal("1.48")}
    assert order.total_tax == eur("5.68") and order.total == eur("53.68")


def test_free_shipping_zero_tax_is_not_a_tax_amount():
    order = order_from_woocommerce("shop1", load("order_fees_two_rates"))

    (shipping,) = order.shipping_lines
    assert shipping.total == eur("0.00")
    assert shipping.taxes == ()


def test_guest_checkout_with_non_ascii_names():
    order = order_from_woocommerce("shop2", load("order_guest_non_ascii"))

    assert order.customer.store_customer_id is None
    assert order.customer.display_name == "Zoë Müller"
    assert order.customer.email == "zoe.muller@example.pl"
    assert order.customer.company == "Kawiarnia Łąka"
    assert order.billing_address.city == "Łódź"
    assert order.billing_address.postal_code == "90-926"
    assert order.shipping_address.street == "ul. Żeromskiego 12"
    assert order.shipping_address.phone == "+48 600 000 000"
    assert order.customer_note == "Proszę dzwonić przed dostawą — domofon nie działa."
    assert order.payment.method_title == "Przelew bankowy"

    assert order.currency == "PLN"
    (mug,) = order.lines
    assert mug.unit_price == Money(amount=Decimal("12.50"), currency="PLN")
    assert mug.taxes == (tax("3", "8.625", "PLN"),)
    assert order.total == Money(amount=Decimal("64.58"), currency="PLN")
    assert order.status is OrderStatus.AWAITING_PAYMENT and order.store_status == "on-hold"
    assert order.payment.paid_at is None


def test_pending_unpaid_order():
    order = order_from_woocommerce("shop1", load("order_pending_unpaid"))

    assert order.status is OrderStatus.AWAITING_PAYMENT and order.store_status == "pending"
    assert order.payment.paid_at is None and order.payment.method == "stripe"
    assert not order.is_paid and not order.is_cancelled
    assert order.shipping_address.is_empty()


def test_unit_price_is_exact_decimal_division_not_the_float_price():
    order = order_from_woocommerce("shop1", load("order_pending_unpaid"))

    (tee,) = order.lines
    assert tee.unit_price.amount == Decimal("10.00") / Decimal(3)
    assert tee.unit_price.amount != Decimal(3.3333333333333335)


def test_deleted_product_line_keeps_its_data_without_a_sku():
    order = order_from_woocommerce("shop1", load("order_deleted_product"))

    poster, sleeve, book = order.lines
    assert poster.sku is None and poster.name == "Limited Poster (discontinued)"
    assert poster.product_id == "29" and poster.total == eur("15.00")
    assert sleeve.sku is None
    assert sleeve.unit_price == eur("2.00")
    assert book.taxes == (tax("2", "1.65"),), "the empty rate-1 entry is skipped"
    assert order.shipping_lines[0].method_id == "local_pickup"
    assert order.total == eur("54.45")


@pytest.mark.parametrize(
    ("store_status", "expected"),
    [
        ("pending", OrderStatus.AWAITING_PAYMENT),
        ("on-hold", OrderStatus.AWAITING_PAYMENT),
        ("processing", OrderStatus.PAID),
        ("completed", OrderStatus.COMPLETED),
        ("cancelled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.REFUNDED),
        ("failed", OrderStatus.FAILED),
        ("checkout-draft", OrderStatus.OTHER),
        ("awaiting-shipment", OrderStatus.OTHER),
    ],
)
def test_status_mapping(store_status, expected):
    payload = load("order_pending_unpaid")
    payload["status"] = store_status

    order = order_from_woocommerce("shop1", payload)

    assert order.status is expected
    assert order.store_status == store_status


def test_dates_with_an_explicit_offset_are_converted_to_utc():
    payload = load("order_pending_unpaid")
    payload["date_modified_gmt"] = "2024-12-02T00:58:10+01:00"

    order = order_from_woocommerce("shop1", payload)

    assert order.modified_at == datetime(2024, 12, 1, 23, 58, 10, tzinfo=UTC)


def test_looks_like_order():
    assert looks_like_order(load("order_pending_unpaid"))
    assert not looks_like_order({"id": 738})
    assert not looks_like_order({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."})
    assert not looks_like_order([1, 2])
    assert not looks_like_order("webhook_id=5")


def _broken(change) -> dict:
    payload = copy.deepcopy(load("order_variation_coupon"))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "expected a JSON object, got list"),
        ({"id": 738}, "missing field 'status'"),
        (
            {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}},
            "not an order but a WooCommerce error: woocommerce_rest_shop_order_invalid_id",
        ),
        (_broken(lambda p: p.pop("line_items")), "missing field 'line_items'"),
        (_broken(lambda p: p.update(id="727")), "id: expected a positive integer, got '727'"),
        (_broken(lambda p: p.update(status=None)), "status: expected a non-empty string, got None"),
        (_broken(lambda p: p.update(currency="euro")), "currency: expected an ISO 4217 code, got 'euro'"),
        (_broken(lambda p: p.update(total="12,50")), "total: expected a decimal number, got '12,50'"),
        (_broken(lambda p: p.update(total_tax=None)), "total_tax: expected a decimal number, got None"),
        (
            _broken(lambda p: p["line_items"][1].update(total="NaN")),
            "line_items[1].total: expected a finite number, got 'NaN'",
        ),
        (
            _broken(lambda p: p["line_items"][0].update(quantity=0)),
            "line_items[0].quantity: expected a positive number, got 0",
        ),
        (
            _broken(lambda p: p["line_items"][0]["taxes"][0].update(total="abc")),
            "line_items[0].taxes[0].total: expected a decimal number, got 'abc'",
        ),
        (_broken(lambda p: p.update(line_items={})), "line_items: expected a list, got dict"),
        (
            _broken(lambda p: p["tax_lines"][0].pop("rate_percent")),
            "missing field 'tax_lines[0].rate_percent'",
        ),
        (_broken(lambda p: p.pop("date_modified_gmt")), "missing field 'date_modified_gmt'"),
        (
            _broken(lambda p: p.update(date_created_gmt="14/03/2024")),
            "date_created_gmt: expected YYYY-MM-DDTHH:MM:SS, got '14/03/2024'",
        ),
        (_broken(lambda p: p.update(customer_id=-1)), "customer_id: expected a non-negative integer, got -1"),
        (_broken(lambda p: p.update(billing="Claire")), "billing: expected an object, got str"),
    ],
)
def test_malformed_payloads_name_the_field(payload, reason):
    with pytest.raises(InvalidOrderPayload) as caught:
        order_from_woocommerce("shop1", payload)

    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_refunds_list_negative_totals_become_positive_summaries():
    payload = load("order_variation_coupon")
    payload["refunds"] = [{"id": 735, "reason": "Damaged in transit", "total": "-24.30"},
                          {"id": 731, "reason": "", "total": "-5.00"}]

    order = order_from_woocommerce("shop1", payload)

    assert [(r.refund_id, r.amount, r.reason) for r in order.refunds] == [
        ("735", eur("24.30"), "Damaged in transit"), ("731", eur("5.00"), "")]


REFUND = {
    "id": 735, "date_created": "2024-03-15T10:00:00", "date_created_gmt": "2024-03-15T09:00:00",
    "amount": "55.60", "reason": "RMA-17", "refunded_by": 1, "refunded_payment": True,
    "meta_data": [{"id": 901, "key": "_retail_sync_refund_key", "value": "shop1:727:refund:RMA-17"}],
    "line_items": [{"id": 736, "name": "Organic Hoodie - M", "product_id": 40, "variation_id": 42, "quantity": -1,
                    "subtotal": "-40.50", "total": "-40.50", "total_tax": "-8.10", "sku": "HOODIE-M",
                    "taxes": [{"id": 1, "total": "-8.1", "subtotal": "-8.1"}],
                    "meta_data": [{"id": 902, "key": "_refunded_item_id", "value": "311", "display_key": "",
                                   "display_value": "311"}]}],
    "shipping_lines": [{"id": 737, "method_title": "Flat rate", "method_id": "flat_rate", "total": "-5.00",
                        "total_tax": "-1.00", "taxes": [{"id": 1, "total": "-1", "subtotal": ""}],
                        "meta_data": [{"id": 903, "key": "_refunded_item_id", "value": "313"}]}],
    "fee_lines": [{"id": 738, "name": "Gift wrap", "total": "-1.00", "total_tax": "0.00", "taxes": [],
                   "meta_data": [{"id": 904, "key": "_refunded_item_id", "value": "316"}]}],
    "tax_lines": [{"id": 739, "rate_id": 1, "tax_total": "-8.10", "shipping_tax_total": "-1.00"}],
}


def test_refund_lines_name_the_order_items_and_tax_rates_with_positive_amounts():
    refund = refund_from_woocommerce("shop1", "727", "EUR", REFUND, "_retail_sync_refund_key")

    assert (refund.refund_id, refund.store_id, refund.order_id) == ("735", "shop1", "727")
    assert (refund.amount, refund.reason, refund.key, refund.refunded_payment) == (
        eur("55.60"), "RMA-17", "shop1:727:refund:RMA-17", True)
    assert refund.created_at == datetime(2024, 3, 15, 9, 0, tzinfo=UTC)
    hoodie, shipping, fee = refund.lines
    assert (hoodie.line_id, hoodie.sku, hoodie.quantity, hoodie.amount, hoodie.taxes) == (
        "311", "HOODIE-M", Decimal(1), eur("40.50"), (tax("1", "8.1"),))
    assert (shipping.line_id, shipping.quantity, shipping.amount, shipping.taxes) == (
        "313", Decimal(0), eur("5.00"), (tax("1", "1"),))
    assert (fee.line_id, fee.amount, fee.taxes) == ("316", eur("1.00"), ())


def test_a_refund_without_our_key_was_made_by_someone_else():
    merchant = dict(REFUND, meta_data=[], line_items=[], shipping_lines=[], fee_lines=[])

    refund = refund_from_woocommerce("shop1", "727", "EUR", merchant, "_retail_sync_refund_key")

    assert refund.key is None and refund.lines == ()


def test_our_key_at_the_end_of_the_reason_names_a_refund_whose_meta_was_never_saved():
    unsaved = dict(REFUND, meta_data=[], reason="Return RMA-17 [retail-sync:shop1:727:refund:RMA-17]")

    refund = refund_from_woocommerce("shop1", "727", "EUR", unsaved, "_retail_sync_refund_key")

    assert (refund.key, refund.reason) == ("shop1:727:refund:RMA-17", "Return RMA-17")


@pytest.mark.parametrize("reason", [
    "Return RMA-17 [retail-sync:shop1:999:refund:RMA-17]",  # another order's key
    "Return RMA-17 [retail-sync:shop2:727:refund:RMA-17]",  # another store's
    "[retail-sync:shop1:727:refund:RMA-17] was mentioned by the merchant",  # not at the end
])
def test_a_key_in_the_reason_counts_only_for_this_order_and_at_the_end(reason):
    merchant = dict(REFUND, meta_data=[], reason=reason)

    refund = refund_from_woocommerce("shop1", "727", "EUR", merchant, "_retail_sync_refund_key")

    assert (refund.key, refund.reason) == (None, reason)


def test_a_refund_line_without_its_order_item_is_unreadable():
    broken = copy.deepcopy(REFUND)
    broken["line_items"][0]["meta_data"] = []

    with pytest.raises(InvalidOrderPayload, match=r"line_items\[0\]: missing the refunded order item id"):
        refund_from_woocommerce("shop1", "727", "EUR", broken, "_retail_sync_refund_key")
