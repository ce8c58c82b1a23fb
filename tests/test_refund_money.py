"""What a refund may give back of each order line: units, money and tax per rate, never more than was paid."""
from decimal import Decimal

import pytest

from activities.refunds import refundable_lines
from adapters.errors import BusinessError
from canonical import Money, Order, ShippingLine, TaxAmount
from canonical.returns import LineKind, RefundLine
from tests.factories import canonical_order, eur


def order_with(quantity: int, total: str, tax: str) -> Order:
    """One line of `quantity` units costing `total` (after discounts) plus `tax` at rate 1, and shipping."""
    order = canonical_order()
    line = order.lines[0].model_copy(update={
        "quantity": Decimal(quantity), "total": eur(total), "unit_price": eur(str(Decimal(total) / quantity)),
        "taxes": (TaxAmount(rate_id="1", amount=eur(tax)),)})  # fmt: skip
    shipping = ShippingLine(line_id="31", method_id="flat_rate", method_title="Flat rate", total=eur("4.90"),
                            taxes=(TaxAmount(rate_id="1", amount=eur("0.98")),))  # fmt: skip
    return order.model_copy(update={"lines": (line,), "shipping_lines": (shipping,)})


def units(quantity: int, amount: str = "0.00", tax: str = "0.00") -> RefundLine:
    """Asked for: `quantity` units of line 11, at whatever the asker computed."""
    return RefundLine(line_id="11", sku="TEE-CLASSIC", quantity=Decimal(quantity), amount=eur(amount),
                      taxes=(TaxAmount(rate_id="1", amount=eur(tax)),))  # fmt: skip


def money_of(lines: list[RefundLine]) -> list[tuple[Decimal, Money, list[Money]]]:
    return [(line.quantity, line.amount, [tax.amount for tax in line.taxes]) for line in lines]


def returned_one_at_a_time(order: Order, count: int) -> list[list[RefundLine]]:
    given: list[RefundLine] = []
    refunds = []
    for _ in range(count):
        refund = refundable_lines(order, given, [units(1, "6.67", "1.33")])
        refunds.append(refund)
        given += refund
    return refunds


def test_three_units_of_20_00_returned_one_at_a_time_give_back_20_00_not_20_01():
    refunds = returned_one_at_a_time(order_with(3, "20.00", "4.00"), 3)

    assert [money_of(refund) for refund in refunds] == [
        [(Decimal(1), eur("6.67"), [eur("1.33")])],
        [(Decimal(1), eur("6.66"), [eur("1.34")])],
        [(Decimal(1), eur("6.67"), [eur("1.33")])],
    ]
    assert sum(line.amount.amount for refund in refunds for line in refund) == Decimal("20.00")


def test_three_units_of_10_00_returned_one_at_a_time_give_back_all_10_00():
    refunds = returned_one_at_a_time(order_with(3, "10.00", "2.00"), 3)

    assert [line.amount for refund in refunds for line in refund] == [eur("3.33"), eur("3.34"), eur("3.33")]
    assert [line.taxes[0].amount for refund in refunds for line in refund] == [eur("0.67"), eur("0.66"), eur("0.67")]


def test_a_unit_the_merchant_refunded_before_is_not_refunded_again():
    order = order_with(2, "40.00", "8.00")
    merchants = RefundLine(line_id="11", quantity=Decimal(1), amount=eur("20.00"),
                           taxes=(TaxAmount(rate_id="1", amount=eur("4.00")),))  # fmt: skip

    rest = refundable_lines(order, [merchants], [units(2, "40.00", "8.00")])

    assert money_of(rest) == [(Decimal(1), eur("20.00"), [eur("4.00")])]


def test_money_the_merchant_gave_back_without_units_caps_what_the_units_get():
    order = order_with(2, "40.00", "8.00")
    goodwill = RefundLine(line_id="11", quantity=Decimal(0), amount=eur("30.00"),
                          taxes=(TaxAmount(rate_id="1", amount=eur("6.00")),))  # fmt: skip

    rest = refundable_lines(order, [goodwill], [units(2, "40.00", "8.00")])

    assert money_of(rest) == [(Decimal(2), eur("10.00"), [eur("2.00")])]


def test_an_amount_for_shipping_is_capped_at_what_is_left_of_it():
    order = order_with(1, "20.00", "4.00")
    earlier = RefundLine(line_id="31", kind=LineKind.SHIPPING, amount=eur("4.00"),
                         taxes=(TaxAmount(rate_id="1", amount=eur("0.80")),))  # fmt: skip
    asked = earlier.model_copy(update={"amount": eur("4.90"), "taxes": (TaxAmount(rate_id="1", amount=eur("0.98")),)})

    rest = refundable_lines(order, [earlier], [asked])

    assert money_of(rest) == [(Decimal(0), eur("0.90"), [eur("0.18")])]


def test_units_are_priced_in_the_stores_cents_though_line_taxes_carry_more_decimals():
    order = order_with(3, "20.00", "4")  # WooCommerce sends item taxes unpadded ("4", "8.1", "1.7391304348")

    refunds = returned_one_at_a_time(order, 3)

    assert [line.taxes[0].amount for refund in refunds for line in refund] == [eur("1.33"), eur("1.34"), eur("1.33")]


def test_nothing_is_left_of_a_line_refunded_in_full():
    order = order_with(1, "20.00", "4.00")

    assert refundable_lines(order, [units(1, "20.00", "4.00")], [units(1, "20.00", "4.00")]) == []


def test_a_line_that_is_not_on_the_order_is_refused():
    with pytest.raises(BusinessError, match="line 99 is not on order 1001"):
        refundable_lines(order_with(1, "20.00", "4.00"), [], [units(1).model_copy(update={"line_id": "99"})])
