"""Available-to-sell and the stock plan: the numbers every store is shown, without I/O."""
from decimal import Decimal

import pytest

from canonical.available_to_sell import (
    LEFT_ALONE_BACKORDERS,
    LEFT_ALONE_UNMANAGED,
    Allocation,
    available_to_sell,
    batches,
    fulfillable_at,
    in_flight_units,
    plan_stock,
)
from canonical.fulfilment import CenterStock
from canonical.inventory import Listing, StockPush


@pytest.mark.parametrize(
    ("source", "in_flight", "allocation", "expected"),
    [
        (Decimal(3), Decimal(2), Allocation(), 1),  # an order the ERP has not seen yet is not sold twice
        (Decimal(3), Decimal(0), Allocation(), 3),
        (Decimal(10), Decimal(1), Allocation(safety_stock=Decimal(2)), 7),
        (Decimal(10), Decimal(0), Allocation(share=Decimal("0.5")), 5),
        (Decimal(7), Decimal(0), Allocation(safety_stock=Decimal(2), share=Decimal("0.5")), 2),  # 2.5 rounds down
        (Decimal(1), Decimal(3), Allocation(), 0),  # never below zero
        (Decimal("-4"), Decimal(0), Allocation(), 0),  # an ERP forecast below zero (over-sold) shows 0
    ],
)
def test_available_to_sell(source, in_flight, allocation, expected):
    assert available_to_sell(source, in_flight, allocation) == expected


def test_in_flight_units_sum_every_unacknowledged_order():
    assert in_flight_units([{"TEE": Decimal(2)}, {"TEE": Decimal(1), "MUG": Decimal(1)}, {}]) == {
        "TEE": Decimal(3), "MUG": Decimal(1)}  # fmt: skip


def listing(sku: str, quantity: int | None = 5, **fields) -> Listing:
    return Listing(**{"sku": sku, "listing_id": f"id-{sku}", "manages_stock": True, "quantity": quantity, **fields})


def test_the_plan_pushes_only_what_differs_and_reports_what_it_leaves_alone():
    listings = {
        "SAME": listing("SAME", 4),
        "DIFF": listing("DIFF", 9),
        "BACK": listing("BACK", 0, backorders_allowed=True),
        "FREE": listing("FREE", None, manages_stock=False),
        "PARENT": listing("PARENT", None, variable=True),
        "OPTION": listing("OPTION", 1, parent_id="id-PARENT"),
    }
    available = {"SAME": 4, "DIFF": 2, "BACK": 3, "FREE": 3, "PARENT": 0, "OPTION": 2, "NEW": 6}

    plan = plan_stock(listings, available)

    assert plan.pushes == [
        StockPush(sku="DIFF", listing_id="id-DIFF", quantity=2),
        StockPush(sku="OPTION", listing_id="id-OPTION", parent_id="id-PARENT", quantity=2),
    ]
    assert plan.drift == {"DIFF": (9, 2), "OPTION": (1, 2)}
    assert plan.unchanged == 1
    assert plan.left_alone == {"BACK": LEFT_ALONE_BACKORDERS, "FREE": LEFT_ALONE_UNMANAGED}
    assert plan.missing_in_store == ["NEW"]


def test_batches_are_per_endpoint_and_never_above_the_limit():
    simple = [StockPush(sku=f"S{i}", listing_id=str(i), quantity=1) for i in range(250)]
    options = [StockPush(sku=f"V{i}", listing_id=str(1000 + i), parent_id="77", quantity=1) for i in range(3)]

    planned = batches(simple + options, 100)

    assert [len(batch) for batch in planned] == [100, 100, 50, 3]
    assert {push.parent_id for push in planned[3]} == {"77"}
    assert [len(batch) for batch in batches(simple[:100], 40)] == [40, 40, 20]


def test_a_store_on_the_3pls_stock_counts_only_its_centres_and_zero_for_skus_held_elsewhere():
    held = [CenterStock(center_id="1", sku="TEE", fulfillable=Decimal(5)),
            CenterStock(center_id="2", sku="TEE", fulfillable=Decimal(7)),
            CenterStock(center_id="1", sku="MUG", fulfillable=Decimal(3))]  # fmt: skip

    assert fulfillable_at(held, ["2"]) == {"TEE": Decimal(7), "MUG": Decimal(0)}
    assert fulfillable_at(held, []) == {"TEE": Decimal(12), "MUG": Decimal(3)}
