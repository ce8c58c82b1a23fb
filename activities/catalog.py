"""The catalogue activity: products and prices changed in the ERP, written to one store in batches.

Parents first (one products batch per ≤ limit), then each variable product's options through its
own variations batch, so a newly created parent's id is known before its options are sent; the options
of a parent the store refused to create are reported, not sent. New listings are handed to the store's
stock sync run at once: they start at 0 units otherwise.
"""
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client

from activities.errors import as_temporal_errors
from activities.store_listings import StoreListings
from activities.stock_signals import republish_stock
from canonical.catalog_plan import plan_catalog, product_not_in_store
from canonical.inventory import ListingDraft, PushResult

if TYPE_CHECKING:  # workflows import this module for its models; keep HTTP clients out of their sandbox
    from activities.stores import StoreDirectory
    from adapters.erp import Erp


class CatalogSyncRequest(BaseModel):
    store_id: str
    cursor: str | None = None


class CatalogReport(BaseModel):
    store_id: str
    cursor: str
    """The ERP watermark the next run starts from."""
    products_changed: int = 0
    created: list[str] = []
    updated: list[str] = []
    unchanged: int = 0
    failed: list[PushResult] = []


class CatalogActivities:
    def __init__(self, stores: "StoreDirectory", erp: "Erp", client: Client) -> None:
        self._stores = stores
        self._erp = erp
        self._client = client

    @activity.defn
    async def sync_catalog(self, request: CatalogSyncRequest) -> CatalogReport:
        with as_temporal_errors():
            store = self._stores.settings(request.store_id)
            woo = self._stores.client(store.id)
            changes = await self._erp.catalog_changes(request.cursor, store.price_list)
            skus = [sku for product in changes.products for sku in (product.sku, *(v.sku for v in product.variants))]
            listings = await StoreListings(woo).current(skus)
            plan = plan_catalog(changes.products, listings, store.price_decimals, store.catalog_descriptions)
            report = CatalogReport(store_id=store.id, cursor=changes.cursor, products_changed=len(changes.products),
                                   unchanged=plan.unchanged, failed=plan.conflicts)  # fmt: skip
            parent_ids = {draft.sku: draft.listing_id for draft in plan.products}
            for results in await self._write(woo, None, plan.products, store.batch_limit, report):
                parent_ids.update((r.sku, r.listing_id) for r in results if r.ok)
            for parent_sku, options in plan.options.items():
                listed = listings.get(parent_sku)
                parent_id = parent_ids.get(parent_sku) or (listed.listing_id if listed else None)
                if parent_id is None:  # the store refused to create their product: nothing to write them under
                    report.failed += [product_not_in_store(option.sku, parent_sku) for option in options]
                    continue
                drafts = [option.model_copy(update={"parent_id": parent_id}) for option in options]
                await self._write(woo, parent_id, drafts, store.batch_limit, report)
        if report.created:
            await republish_stock(self._client, store.id, report.created)
        return report

    async def _write(
        self, woo, parent_id: str | None, drafts: list[ListingDraft], limit: int, report: CatalogReport
    ) -> list[list[PushResult]]:
        written = []
        for start in range(0, len(drafts), limit):
            chunk = drafts[start : start + limit]
            creates = [d for d in chunk if d.listing_id is None]
            updates = [d for d in chunk if d.listing_id is not None]
            results = await woo.write_catalog(parent_id, creates, updates)
            created = {d.sku for d in creates}
            for result in results:
                if not result.ok:
                    report.failed.append(result)
                elif result.sku in created:
                    report.created.append(result.sku)
                else:
                    report.updated.append(result.sku)
            written.append(results)
            activity.heartbeat(len(report.created) + len(report.updated))
        return written

    def all(self) -> list:
        return [self.sync_catalog]
