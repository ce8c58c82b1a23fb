"""The catalogue sync end to end: Tryton → Temporal → a WooCommerce 10 sandbox, what the run reports and
what the store shows afterwards."""
import uuid
from datetime import timedelta
from decimal import Decimal

from tests.plugins.inventory import InventoryStack
from workflows.catalog_sync import CatalogSyncInput, CatalogSyncWorkflow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


async def sync_catalog(stack: InventoryStack, store_id: str, full: bool = False):
    """Bounded: a run that keeps failing its attempt (they are retried without limit) fails the test."""
    return await stack.client.execute_workflow(
        CatalogSyncWorkflow.run, CatalogSyncInput(store_id=store_id, full=full),
        id=f"catalog-test-{uuid.uuid4().hex[:8]}", task_queue=stack.settings.temporal.task_queue,
        execution_timeout=timedelta(seconds=60),
    )  # fmt: skip


async def in_trash(stack: InventoryStack, store_id: str, sku: str) -> dict:
    """The merchant lists a product under `sku`, then moves it to the trash."""
    shopper = stack.shoppers[store_id]
    listed = await shopper.add_product(sku, f"Old {sku}", Decimal("1.00"))
    await shopper.delete_product(sku, force=False)
    return listed


async def test_a_sku_held_by_the_stores_trash_is_reported_with_its_product_and_the_rest_is_written(inventory_stack):
    stack, north = inventory_stack, inventory_stack.shoppers["north"]
    held, fresh, cap = unique("HELD"), unique("FRESH"), unique("CAP")
    for sku in (held, fresh):
        await stack.catalogue.add_product(sku, f"Product {sku}", Decimal("12.00"))
    await stack.catalogue.add_product(cap, "Cap", Decimal("15.00"), variants=[
        (f"{cap}-S", {"Size": "S"}, Decimal("15.00")), (f"{cap}-M", {"Size": "M"}, Decimal("16.00"))])  # fmt: skip
    trashed, trashed_cap = await in_trash(stack, "north", held), await in_trash(stack, "north", cap)

    first = await sync_catalog(stack, "north")

    failed = {f.sku: (f.code, f.message) for f in first.failed}
    assert failed[held] == ("sku_in_trash", f"SKU {held} is held by a product in the store's trash (id "
                                            f"{trashed['id']}): empty the trash or restore that product")
    assert failed[cap] == ("sku_in_trash", f"SKU {cap} is held by a product in the store's trash (id "
                                           f"{trashed_cap['id']}): empty the trash or restore that product")
    for option in (f"{cap}-S", f"{cap}-M"):  # never sent: their product has no id in the store
        assert failed[option] == ("product_not_in_store", f"{option} is not written: its product {cap} could "
                                                          f"not be created in the store (see {cap})")
    assert fresh in first.created and held not in first.created + first.updated
    assert await north.listing(held) is None and await north.listing(f"{cap}-S") is None

    await north.restore_product(trashed["id"])  # as a draft
    again = await sync_catalog(stack, "north", full=True)

    assert held in again.updated and held not in again.created  # the restored product, not a second one
    restored = await north.product(held)  # the only product with this SKU
    assert (restored["id"], restored["status"], restored["name"]) == (trashed["id"], "publish", f"Product {held}")
