"""Units refunded before they shipped: the ERP stops holding them, in a real trytond."""
from tests.test_tryton_erp import key_of, product_line
from tests.test_tryton_fulfilment import confirmed_sale, sale_states, shipments_of, shipped, stock


async def test_what_was_refunded_before_shipping_is_released_and_the_sale_is_done_shipping(tryton_erp, tryton):
    before = await stock(tryton, "TEE-CLASSIC")
    order = await confirmed_sale(tryton_erp, product_line(1, "TEE-CLASSIC", 3, "60.00", "60.00"))
    await tryton_erp.ship_sales_order(key_of(order), "S1", [shipped("TEE-CLASSIC", 2)])
    assert await tryton_erp.shipped_units(key_of(order)) == {"TEE-CLASSIC": 2}

    await tryton_erp.release_unshipped(key_of(order))
    await tryton_erp.release_unshipped(key_of(order))  # a retry changes nothing

    assert await shipments_of(tryton, order) == [("done", "S1", {"TEE-CLASSIC": 2.0}),
                                                 ("cancelled", None, {"TEE-CLASSIC": 1.0})]  # fmt: skip
    assert (await sale_states(tryton, order))[1] == "sent"
    on_hand, forecast = (await stock(tryton, "TEE-CLASSIC"))["TEE-CLASSIC"]
    assert (on_hand, forecast) == (before["TEE-CLASSIC"][0] - 2, before["TEE-CLASSIC"][1] - 2)
