"""Stock and catalogue end to end: Tryton → Temporal → two WooCommerce sandboxes, real numbers read back."""
import asyncio
import uuid
from decimal import Decimal

import httpx

from canonical.inventory import ListingDraft
from canonical.keys import order_workflow_id, stock_sync_workflow_id
from starter import cli_stock
from starter.cli import main as cli
from starter.order_runs import hand_order_to_run
from embedded.tryton_bootstrap import WEB_PRICE_LIST
from tests.plugins.inventory import EAST_CENTRE, STORES, THREEPL_STORE, InventoryStack
from tests.plugins.temporal import eventually
from workflows.catalog_sync import CatalogSyncInput, CatalogSyncWorkflow
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow
from workflows.stock_sync import StockSyncWorkflow

SETTLE_S = 60


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


async def shown(stack: InventoryStack, store_id: str, sku: str) -> int | None:
    listing = await stack.shoppers[store_id].listing(sku)
    return listing["stock_quantity"] if listing else None


async def reaches(stack: InventoryStack, sku: str, quantity: int, stores=STORES) -> None:
    for store_id in stores:
        await eventually(lambda: shown(stack, store_id, sku), lambda q: q == quantity, SETTLE_S)


async def listed(stack: InventoryStack, sku: str, price: str = "20.00", stock: int = 0) -> None:
    for shopper in stack.shoppers.values():
        await shopper.add_product(sku, f"Product {sku}", Decimal(price), stock=stock)


async def list_in_stores(stack: InventoryStack, skus: list[str]) -> None:
    """What a merchant's import does: one listing per SKU in north and south, stock managed, none yet."""
    drafts = [ListingDraft(sku=sku, name=f"Bulk {sku}", regular_price=Decimal("10.00")) for sku in skus]
    for store_id in STORES:
        for start in range(0, len(drafts), 100):
            await stack.stores.client(store_id).write_catalog(None, drafts[start : start + 100], [])


async def stocked_product(stack: InventoryStack, prefix: str, quantity: int) -> str:
    """A new product in the ERP, listed in both stores, `quantity` received and shown by both."""
    sku = unique(prefix)
    await stack.catalogue.add_product(sku, f"Product {sku}", Decimal("10.00"))
    await listed(stack, sku)
    await stack.catalogue.receive_stock({sku: quantity})
    await reaches(stack, sku, quantity)
    return sku


async def last_change(stack: InventoryStack, store_id: str):
    handle = stack.client.get_workflow_handle_for(StockSyncWorkflow.run, stock_sync_workflow_id(store_id))
    return await handle.query(StockSyncWorkflow.last_change)


async def test_a_receipt_reaches_both_stores_and_an_unacknowledged_order_is_not_sold_twice(inventory_stack):
    stack = inventory_stack
    sku, stray = await stocked_product(stack, "INV-TEE", 3), unique("INV-STRAY")

    north = stack.shoppers["north"]
    await north.add_product(stray, "Not in the ERP", Decimal("5.00"), stock=5)
    order = await north.place_order([(sku, 2), (stray, 1)], paid=True)
    assert await shown(stack, "north", sku) == 1  # WooCommerce took the two units when the order was paid
    await hand_order_to_run(stack.client, stack.settings.temporal.task_queue, stack.settings.orders,
                            await stack.stores.client("north").get_order(order["id"]))  # fmt: skip
    run = stack.client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id("north", str(order["id"])))
    parked = await eventually(lambda: run.query(OrderToCashWorkflow.progress), lambda p: p.stage == "parked", SETTLE_S)
    assert stray in parked.parked.reason  # the ERP refused the sale: the order stays unacknowledged

    for store_id in STORES:  # a stock event for the SKU while the ERP still counts 3
        await stack.client.get_workflow_handle(stock_sync_workflow_id(store_id)).signal("stock_changed", [sku])
    await reaches(stack, sku, 1)
    for _ in range(6):  # and it stays at 1, poll after poll
        assert [await shown(stack, store_id, sku) for store_id in STORES] == [1, 1]
        await asyncio.sleep(0.5)
    await run.execute_update(OrderToCashWorkflow.cancel, "test done")


async def test_250_changed_skus_take_three_batch_calls_per_store(inventory_stack):
    stack = inventory_stack
    skus = await stack.catalogue.add_products_bulk(250, unique("BULK") + "-")
    await list_in_stores(stack, skus)

    await stack.catalogue.receive_stock({sku: 7 for sku in skus})

    await reaches(stack, skus[-1], 7)
    for store_id in STORES:
        report = await eventually(lambda: last_change(stack, store_id), lambda r: r and r.fixed >= 250, SETTLE_S)
        assert report.batch_calls == 3 and report.fixed == 250 and not report.failed
        assert {(await stack.shoppers[store_id].listing(sku))["stock_quantity"] for sku in skus[::25]} == {7}


async def test_a_batch_with_one_sku_the_store_refuses_updates_the_other_99_and_reports_it(inventory_stack):
    stack = inventory_stack
    skus = await stack.catalogue.add_products_bulk(100, unique("PAIR") + "-")
    await list_in_stores(stack, skus)
    await stack.catalogue.receive_stock({sku: 1 for sku in skus})
    await reaches(stack, skus[-1], 1)

    refused, gone = skus[40], skus[60]
    await stack.shoppers["south"].lock_sku(refused, "Locked by the ERP import plugin")
    await stack.shoppers["south"].delete_product(gone)
    try:
        await stack.catalogue.receive_stock({sku: 4 for sku in skus})
        await reaches(stack, skus[-1], 5)
        report = await eventually(lambda: last_change(stack, "south"), lambda r: r and r.failed, SETTLE_S)
        assert await shown(stack, "south", refused) == 1 and await shown(stack, "north", refused) == 5
    finally:
        await stack.shoppers["south"].unlock_skus()

    assert [(f.sku, f.code, f.message) for f in report.failed] == [
        (refused, "product_locked", "Locked by the ERP import plugin")]
    assert gone in report.missing_in_store
    assert {await shown(stack, "south", sku) for sku in skus if sku not in (refused, gone)} == {5}


async def test_a_store_that_is_down_catches_up_and_a_smaller_batch_limit_is_split(inventory_stack):
    stack = inventory_stack
    skus = await stack.catalogue.add_products_bulk(120, unique("DOWN") + "-")
    await list_in_stores(stack, skus)
    south = stack.shoppers["south"]
    await south.set_batch_limit(50)
    async with httpx.AsyncClient(base_url=f"{stack.urls['south']}/__sandbox/") as control:
        await control.post("faults", json={"path_prefix": "/wp-json/wc/v3/products", "method": "POST", "status": 503})
        try:
            await stack.catalogue.receive_stock({sku: 2 for sku in skus})
            await reaches(stack, skus[-1], 2, stores=["north"])  # north does not wait for south
            await asyncio.sleep(2)
            assert await shown(stack, "south", skus[-1]) in (0, None)
        finally:
            await control.delete("faults")

    await reaches(stack, skus[-1], 2, stores=["south"])  # caught up, in batches the store accepts (≤ 50)
    assert {await shown(stack, "south", sku) for sku in skus} == {2}
    await south.set_batch_limit(None)


async def test_reconciliation_finds_hand_edits_and_a_dry_run_changes_nothing(inventory_stack):
    stack = inventory_stack
    sku = await stocked_product(stack, "RECON", 6)
    await stack.shoppers["north"].set_stock(sku, 40)  # edited by hand: no ERP event will ever say so

    dry = await reconcile(stack, "north", dry_run=True)
    assert any(d.sku == sku and (d.store, d.available) == (40, 6) for d in dry.largest), dry
    assert await shown(stack, "north", sku) == 40

    fixed = await reconcile(stack, "north", dry_run=False)
    assert fixed.drifted >= 1 and fixed.fixed == fixed.drifted
    assert await shown(stack, "north", sku) == 6


async def reconcile(stack: InventoryStack, store_id: str, *, dry_run: bool):
    return await stack.client.execute_workflow(
        StockReconciliationWorkflow.run, ReconcileInput(store_id=store_id, dry_run=dry_run),
        id=f"reconcile-test-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.temporal.task_queue,
    )  # fmt: skip


async def test_a_new_erp_product_with_two_variants_and_a_price_change_reach_the_store(inventory_stack):
    stack = inventory_stack
    sku = unique("HOODIE")
    await stack.catalogue.add_product(sku, "Hoodie", Decimal("40.00"), variants=[
        (f"{sku}-S", {"Size": "S"}, Decimal("40.00")), (f"{sku}-M", {"Size": "M"}, Decimal("42.00"))])  # fmt: skip

    first = await sync_catalog(stack, "north")
    assert {f"{sku}-S", f"{sku}-M", sku} <= set(first.created)
    small, medium = [await stack.shoppers["north"].listing(f"{sku}-{size}") for size in "SM"]
    assert (small["regular_price"], medium["regular_price"]) == ("40.00", "42.00")
    assert small["parent_id"] == medium["parent_id"] == (await stack.shoppers["north"].listing(sku))["id"]

    await stack.catalogue.set_list_price(f"{sku}-M", Decimal("39.50"))
    await stack.catalogue.set_price_list_price(WEB_PRICE_LIST, f"{sku}-S", Decimal("35.00"))
    second = await sync_catalog(stack, "north", since=first.cursor)
    assert sorted(second.updated) == [f"{sku}-M", f"{sku}-S"]
    medium = await stack.shoppers["north"].listing(f"{sku}-M")
    small = await stack.shoppers["north"].listing(f"{sku}-S")
    assert (medium["regular_price"], medium["sale_price"]) == ("39.50", "")
    assert (small["regular_price"], small["sale_price"], small["price"]) == ("40.00", "35.00", "35.00")


async def sync_catalog(stack: InventoryStack, store_id: str, since: str | None = None):
    return await stack.client.execute_workflow(
        CatalogSyncWorkflow.run, CatalogSyncInput(store_id=store_id, since=since),
        id=f"catalog-test-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.temporal.task_queue,
    )  # fmt: skip


async def test_operators_read_a_skus_stock_and_the_drift_from_the_cli(inventory_stack, monkeypatch, capsys):
    stack = inventory_stack
    sku = await stocked_product(stack, "CLI", 5)
    await stack.shoppers["north"].set_stock(sku, 9)
    temporal = stack.settings.temporal.model_copy(update={"address": stack.client.service_client.config.target_host})
    monkeypatch.setattr(cli_stock, "load_settings", lambda: stack.settings.model_copy(update={"temporal": temporal}))

    assert await asyncio.to_thread(cli, ["stock", "show", sku]) == 0
    shown_lines = capsys.readouterr().out.splitlines()
    assert shown_lines[0] == f"{sku}: in flight (sold, not yet in the ERP) 0"
    assert "  store north: ERP WH forecast 5, available-to-sell 5, store shows 9" in shown_lines
    assert "  store south: ERP WH forecast 5, available-to-sell 5, store shows 5" in shown_lines

    assert await asyncio.to_thread(cli, ["stock", "reconcile", "--store", "north", "--dry-run"]) == 0
    report = capsys.readouterr().out
    assert "drifted, would fix" in report and f"  {sku}: store shows 9, available-to-sell 5" in report
    assert await shown(stack, "north", sku) == 9


async def test_a_store_selling_the_3pls_stock_shows_what_its_centre_can_ship(inventory_stack):
    stack = inventory_stack
    sku = unique("FC")
    await stack.shoppers[THREEPL_STORE].add_product(sku, "Shipped from one centre", Decimal("6.00"), stock=0)
    await stack.warehouse.restock(EAST_CENTRE, sku, 7)
    await stack.warehouse.restock(1, sku, 5)  # another centre: not this store's

    await reaches(stack, sku, 7, stores=[THREEPL_STORE])
    await stack.warehouse.restock(EAST_CENTRE, sku, 3)
    await reaches(stack, sku, 10, stores=[THREEPL_STORE])


async def test_a_run_that_cannot_answer_does_not_stop_the_publish_and_its_units_stay_out(inventory_stack):
    """Its worker is gone (a task queue no one polls): the query times out, its lines count from its history."""
    stack = inventory_stack
    sku = await stocked_product(stack, "INV-DEAF", 3)
    order = await stack.shoppers["north"].place_order([(sku, 2)], paid=True)  # north now shows 1, south still 3
    await hand_order_to_run(stack.client, f"no-worker-{uuid.uuid4()}", stack.settings.orders,
                            await stack.stores.client("north").get_order(order["id"]))  # fmt: skip
    deaf = order_workflow_id("north", str(order["id"]))
    try:
        for store_id in STORES:
            await stack.client.get_workflow_handle(stock_sync_workflow_id(store_id)).signal("stock_changed", [sku])

        await reaches(stack, sku, 1)  # south too: 3 in the ERP, 2 of them sold by the run that cannot say so
        report = await last_change(stack, "south")
        assert deaf in report.unanswered_runs and report.fixed == 1 and not report.failed
    finally:
        await stack.client.get_workflow_handle(deaf).terminate("test over")
