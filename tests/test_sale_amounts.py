"""The rule that compares an ERP sale with the store order, on its own (the real Tryton: test_tryton_sale_amounts)."""
from decimal import Decimal

from canonical import TaxAmount
from canonical.sale_amounts import Adjustment, Amounts, LineAmount, TaxRounding, compare, store_amounts
from tests.test_tryton_erp import REDUCED, eur, make_order, product_line

D = Decimal
STORE_RULE = {"store_rounding": TaxRounding.LINE, "erp_rounding": TaxRounding.TOTAL}


def test_the_store_charged_its_total_with_tax_per_rate_summed_then_rounded():
    """Two tees at 10.00 and a book at 31.65, prices including tax: its lines before tax show 46.66."""
    line = product_line(1, "TEE-CLASSIC", 1, "8.33", "8.33")
    line = line.model_copy(update={"taxes": (TaxAmount(rate_id="1", amount=eur("1.666667")),)})
    book = product_line(2, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED)
    order = make_order([line, line.model_copy(update={"line_id": "3"}), book])
    order = order.model_copy(update={"total": eur("51.65"), "total_tax": eur("4.98")})

    assert store_amounts(order, D("0.01")) == Amounts(D("46.67"), {D(20): D("3.33"), D("5.5"): D("1.65")}, D("51.65"))


def test_a_missing_rate_is_never_settled_even_within_the_tolerance():
    store = Amounts(D("10.00"), {D("5.5"): D("0.01")}, D("10.01"))
    erp = Amounts(D("10.00"), {}, D("10.00"))

    compared = compare(store, erp, [], tolerance=D("0.05"), **STORE_RULE)

    assert compared.adjustments == ()
    assert compared.difference == "untaxed 10.00 / 10.00, tax 5.5% 0.01 / none, total 10.01 / 10.00 (store / ERP)"
    assert compared.causes == ("the ERP charges no tax at 5.5%",)


def test_a_tax_off_by_a_cent_is_settled_by_an_amount_taxed_at_its_rate_and_an_untaxed_counterpart():
    store = Amounts(D("30.00"), {D("5.5"): D("1.66")}, D("31.66"))
    erp = Amounts(D("30.00"), {D("5.5"): D("1.65")}, D("31.65"))
    lines = [LineAmount("Line 1 (Book)", D(1), D("30.00"), D("30.00"))]

    compared = compare(store, erp, lines, tolerance=D("0.01"), **STORE_RULE)

    assert compared.adjustments == (Adjustment(amount=D("0.1818"), rate=D("5.5")), Adjustment(amount=D("-0.1818")))
    assert compare(store, erp, lines, tolerance=D("0.005"), **STORE_RULE).causes == (
        "tax at 5.5% is rounded per line in the store and per total in the ERP",
    )
