"""The records kept on a store order (sandbox store): what shipped, each RMA and its outcome, read back whole."""
from decimal import Decimal

import pytest

from activities.order_records import read_order_records, record_return, record_return_outcome, record_shipment
from adapters.errors import BusinessError
from canonical.fulfilment import FulfilmentLine, Shipment, ShipmentStatus, Tracking
from canonical.returns import ReturnLine
from tests.test_woocommerce_adapter import shopper, store  # noqa: F401 (fixtures)


def mugs(quantity: int) -> list[ReturnLine]:
    return [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(quantity))]


async def test_shipments_and_rmas_read_back_and_an_outcome_replaces_what_was_authorised(store, shopper):  # noqa: F811
    order_id = str((await shopper.place_order([("MUG-CERAMIC", 3)], paid=True))["id"])
    for shipment_id, quantity, tracking in (("s1", 2, Tracking(carrier="UPS", number="1Z9")), ("s2", 1, None)):
        await record_shipment(store, order_id, Shipment(
            shipment_id=shipment_id, center_id="7", status=ShipmentStatus.SHIPPED, tracking=tracking,
            lines=(FulfilmentLine(sku="MUG-CERAMIC", quantity=Decimal(quantity)),)))  # fmt: skip
    await record_return(store, order_id, 1, mugs(2))
    await record_return(store, order_id, 2, mugs(1))
    await record_return_outcome(store, order_id, 1, "completed", mugs(1))  # one of the two never came back
    await record_return(store, order_id, 1, mugs(2))  # a retry of the authoriser's write: the outcome stays

    records = await read_order_records(store, order_id)

    assert records.shipped() == {"MUG-CERAMIC": Decimal(3)}
    assert records.shipped_from("MUG-CERAMIC") == ("7", "s1")
    assert records.returns() == {1: mugs(1), 2: mugs(1)}
    assert (await store.get_order_meta(order_id, "_retail_sync_tracking_s1")).count('"tracking_number":"1Z9"') == 1


async def test_a_record_someone_edited_into_nonsense_is_refused_by_name(store, shopper):  # noqa: F811
    order_id = str((await shopper.place_order([("MUG-CERAMIC", 1)], paid=True))["id"])
    await store.set_order_meta(order_id, "_retail_sync_rma_1", '{"lines": [{"sku": "MUG-CERAMIC"}]}')

    with pytest.raises(BusinessError, match="meta _retail_sync_rma_1 is not a record retail-sync wrote"):
        await read_order_records(store, order_id)
