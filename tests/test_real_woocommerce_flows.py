"""The order, shipment, refund and stock flows end to end with each real store in the sandbox's place: real
webhooks from WooCommerce to the starter, the real worker, Tryton and the 3PL sandbox, outcomes read back
from the store and the ERP."""
import asyncio
import uuid
from decimal import Decimal

from activities.orders import ERP_SALE_NUMBER_META_KEY
from canonical.keys import order_workflow_id
from tests.plugins.real_woocommerce import RealStockStack
from tests.plugins.stack import OrderStack, reach, sales_for
from tests.plugins.temporal import eventually
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow

STOCK_SETTLE_S = 60


def store_id(stack: OrderStack) -> str:
    return stack.settings.stores[0].id


async def credit_notes(stack: OrderStack, order_id) -> list[dict]:
    return await stack.erp.call(
        "account.invoice", "search_read",
        [("reference", "like", f"{store_id(stack)}:{order_id}:refund:%"), ("state", "in", ["posted", "paid"])],
        0, None, None, ["total_amount", "untaxed_amount", "tax_amount"],
    )  # fmt: skip


async def shipped(stack: OrderStack, order: dict) -> None:
    """The 3PL ships every parcel of the order, and the run closes."""
    await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT, store_id(stack))
    prefix = f"{store_id(stack)}:{order['id']}:"
    for shipment in await eventually(lambda: stack.warehouse.shipments(prefix), bool):
        await stack.warehouse.ship(shipment["id"])
    run = stack.client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store_id(stack),
                                                                                          str(order["id"])))
    assert (await asyncio.wait_for(run.result(), 180)).stage == OrderStage.COMPLETED


async def test_a_paid_order_becomes_one_erp_sale_noted_in_the_store(real_order_stack: OrderStack):
    stack = real_order_stack
    order = await stack.shopper.place_order([("TEE-CLASSIC", 2), ("BOOK-COFFEE", 1)], paid=True, customer="lukasz")
    done = await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT, store_id(stack))

    (sale,) = await sales_for(stack, order["id"], store_id(stack))
    assert (sale["number"], sale["state"], sale["reference"]) == (done.erp_sale_number, "processing", order["number"])
    assert sale["party."]["name"] == "Łukasz Wiśniewski" and sale["shipment_address."]["city"] == "Łódź"
    assert sale["total_amount"] == Decimal(order["total"]) and sale["tax_amount"] == Decimal(order["total_tax"])
    assert await stack.store.get_order_meta(order["id"], ERP_SALE_NUMBER_META_KEY) == sale["number"]
    notes = [n.text for n in await stack.store.list_order_notes(order["id"]) if "ERP sale" in n.text]
    assert [text.split(" created")[0] for text in notes] == [f"ERP sale {sale['number']}"]


async def test_a_shipped_order_is_completed_in_the_store_with_its_tracking(real_order_stack: OrderStack):
    stack = real_order_stack
    order = await stack.shopper.place_order([("MUG-CERAMIC", 1)], paid=True)

    await shipped(stack, order)

    store_order = await stack.shopper.get_order(order["id"])
    (parcel,) = await stack.warehouse.shipments(f"{store_id(stack)}:{order['id']}:")
    tracking = parcel["tracking"]["tracking_number"]
    notes = [n for n in await stack.store.list_order_notes(order["id"]) if tracking in n.text]
    assert store_order["status"] == "completed"
    assert len(notes) == 1 and notes[0].customer_visible


async def test_a_merchant_refund_in_the_store_becomes_one_credit_note(real_order_stack: OrderStack):
    stack = real_order_stack
    order = await stack.shopper.place_order([("TEE-CLASSIC", 2)], paid=True)
    await shipped(stack, order)
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")

    await stack.shopper.refund_line(order["id"], tee, 1)  # the store delivers order.updated itself

    (note,) = await eventually(lambda: credit_notes(stack, order["id"]), bool, 120)
    assert (note["untaxed_amount"], note["tax_amount"]) == (-Decimal(tee["total"]) / 2, -Decimal(tee["total_tax"]) / 2)
    await asyncio.sleep(2)
    assert len(await credit_notes(stack, order["id"])) == 1


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


async def reaches(stock: RealStockStack, sku: str, quantity: int) -> None:
    await eventually(lambda: stock.shown(sku), lambda shown: shown == quantity, STOCK_SETTLE_S)


async def stays(stock: RealStockStack, sku: str, quantity: int) -> None:
    """Poll after poll of the ERP watch, nothing publishes another number."""
    for _ in range(6):
        assert await stock.shown(sku) == quantity
        await asyncio.sleep(0.5)


async def stocked_product(stock: RealStockStack, prefix: str, quantity: int, size: str | None = None) -> str:
    """A new product in the ERP, listed in the store at 0, `quantity` received and shown by the store; with
    `size`, the one option of that size of a new variable product (its SKU is returned)."""
    sku = unique(prefix)
    if size is None:
        await stock.catalogue.add_product(sku, f"Product {sku}", Decimal("10.00"))
        await stock.list_product(sku)
    else:
        await stock.catalogue.add_product(sku, f"Product {sku}", Decimal("10.00"),
                                          variants=[(f"{sku}-{size}", {"Size": size}, Decimal("10.00"))])  # fmt: skip
        sku = await stock.list_option(sku, size)
    await stock.catalogue.receive_stock({sku: quantity})
    await reaches(stock, sku, quantity)
    return sku


async def test_an_erp_receipt_reaches_a_product_and_an_option_in_the_store(real_stock_stack: RealStockStack):
    stock = real_stock_stack
    sku, parent = unique("RS-TEE"), unique("RS-HOODIE")
    await stock.catalogue.add_product(sku, "Tee", Decimal("10.00"))
    await stock.catalogue.add_product(parent, "Hoodie", Decimal("40.00"),
                                      variants=[(f"{parent}-S", {"Size": "S"}, Decimal("40.00"))])  # fmt: skip
    await stock.list_product(sku, stock=9)  # typed in by hand before the ERP had any
    option = await stock.list_option(parent, "S")

    await stock.catalogue.receive_stock({sku: 3, option: 4})

    await reaches(stock, sku, 3)
    await reaches(stock, option, 4)
    await stock.catalogue.receive_stock({option: 2})
    await reaches(stock, option, 6)
    assert await stock.shown(sku) == 3 and await stock.shown(parent) is None  # the parent holds no stock


async def test_a_paid_order_the_erp_refused_keeps_its_units_off_the_store(real_stock_stack: RealStockStack):
    stock, stack = real_stock_stack, real_stock_stack.orders
    sku, stray = await stocked_product(stock, "RS-INV", 3), unique("RS-STRAY")
    await stock.list_product(stray, stock=5)  # not in the ERP: it refuses the sale

    order = await stack.shopper.place_order([(sku, 2), (stray, 1)], paid=True)
    assert await stock.shown(sku) == 1  # WooCommerce took the two units when the order was paid
    parked = await reach(stack, order["id"], OrderStage.PARKED, stock.store_id)  # the store's webhook started it
    run = stack.client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(stock.store_id,
                                                                                          str(order["id"])))
    try:
        assert stray in parked.parked.reason
        await stock.catalogue.receive_stock({sku: 4})  # the ERP counts 7, two of them sold in the store

        await reaches(stock, sku, 5)
        await stays(stock, sku, 5)
    finally:
        await run.execute_update(OrderToCashWorkflow.cancel, "test done")


async def test_an_order_the_erp_took_is_not_taken_off_twice(real_stock_stack: RealStockStack, tryton_erp):
    stock, stack = real_stock_stack, real_stock_stack.orders
    sku = await stocked_product(stock, "RS-SOLD", 3)
    await stack.warehouse.restock(1, sku, 2)  # the 3PL holds them too, so the run ships from it
    order = await stack.shopper.place_order([(sku, 2)], paid=True)
    await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT, stock.store_id)  # the ERP sale holds 2 of 3

    await stock.catalogue.receive_stock({sku: 4})

    assert [s.quantity for s in await tryton_erp.available_stock([sku], ["WH"])] == [5]
    await reaches(stock, sku, 5)
    await stays(stock, sku, 5)


async def test_reconciliation_finds_hand_edits_and_a_dry_run_changes_nothing(real_stock_stack: RealStockStack):
    stock, stack = real_stock_stack, real_stock_stack.orders
    sku, option = await stocked_product(stock, "RS-RECON", 6), await stocked_product(stock, "RS-RECOP", 4, "M")
    await stack.shopper.set_stock(sku, 6000)  # typos no ERP event will ever report, beyond any drift the store had
    await stack.shopper.set_stock(option, 7000)

    dry = await reconcile(stock, dry_run=True)
    assert {(d.sku, d.store, d.available) for d in dry.largest} >= {(sku, 6000, 6), (option, 7000, 4)}, dry
    assert (await stock.shown(sku), await stock.shown(option)) == (6000, 7000)

    fixed = await reconcile(stock, dry_run=False)
    assert fixed.drifted >= 2 and fixed.fixed == fixed.drifted and not fixed.failed, fixed
    assert (await stock.shown(sku), await stock.shown(option)) == (6, 4)
    again = await reconcile(stock, dry_run=True)
    assert again.drifted == 0 and not again.failed, again


async def reconcile(stock: RealStockStack, *, dry_run: bool):
    return await stock.orders.client.execute_workflow(
        StockReconciliationWorkflow.run, ReconcileInput(store_id=stock.store_id, dry_run=dry_run),
        id=f"reconcile-test-{uuid.uuid4().hex[:8]}", task_queue=stock.orders.settings.temporal.task_queue,
    )  # fmt: skip
