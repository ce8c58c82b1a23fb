"""The order check a run makes before its first ERP write: silent for real orders, specific for absurd ones."""
import json
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.woocommerce_orders import order_from_woocommerce
from canonical import FeeLine, Money
from canonical.order_checks import order_problems
from tests.factories import canonical_order

DATA = Path(__file__).parent / "data" / "woocommerce"


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("order_*.json")))
def test_real_store_orders_have_no_problems(name):
    order = order_from_woocommerce("shop1", json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")))
    assert order_problems(order) == []


def test_a_negative_fee_is_a_discount_not_a_problem():
    order = canonical_order()
    discount = FeeLine(line_id="9", name="Loyalty", total=Money(amount=Decimal("-5"), currency="EUR"))
    assert order_problems(order.model_copy(update={"fee_lines": (discount,)})) == []


def test_every_problem_of_an_order_is_named():
    order = canonical_order()
    (line,) = order.lines
    absurd = order.model_copy(update={
        "lines": (line.model_copy(update={"quantity": Decimal("2.5")}),),
        "total": Money(amount=Decimal("1e15"), currency="EUR"),
    })  # fmt: skip
    assert order_problems(absurd) == [
        "line 1 (Classic Tee) is for 2.5 units: only whole units can be sold and shipped",
        "its total is 1E+15 EUR, more than any real order",
    ]
