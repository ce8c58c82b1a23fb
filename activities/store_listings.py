"""Reading what one store lists, counting the calls it costs (operators and the benchmark see them).

A publish reads only the SKUs it is about, as the store shows them *now* (one call per 100 SKUs):
WooCommerce moves stock itself (refunds restock, cancellations give back), people edit it, other
workers push it, so no copy is kept between publishes. A full read, for a reconciliation or a whole
catalogue, costs one call per 100 products plus one per variable product (there is no endpoint
listing every variation), and says it is alive after each page: a big store outlasts any heartbeat
timeout otherwise.
"""
from temporalio import activity

from canonical.inventory import Listing

READ_CHUNK = 100


class StoreListings:
    def __init__(self, store) -> None:
        self._store = store
        self.calls = 0

    async def current(self, skus: list[str]) -> dict[str, Listing]:
        """SKU → listing for those of `skus` the store lists (options with their `parent_id`)."""
        found: dict[str, Listing] = {}
        for start in range(0, len(skus), READ_CHUNK):
            found |= await self._store.find_listings(skus[start : start + READ_CHUNK])
            self._count_call()
        return found

    async def everything(self) -> dict[str, Listing]:
        found: dict[str, Listing] = {}
        parents: list[str] = []
        async for listing in self._pages(self._store.list_listings):
            if listing.sku:
                found[listing.sku] = listing
            if listing.variable:
                parents.append(listing.listing_id)
        for parent in parents:
            async for option in self._pages(lambda page: self._store.list_option_listings(parent, page)):
                if option.sku:
                    found[option.sku] = option
        return found

    async def _pages(self, read_page):
        page_number, has_next = 1, True
        while has_next:
            page = await read_page(page_number)
            self._count_call()
            for listing in page.listings:
                yield listing
            page_number, has_next = page_number + 1, page.has_next

    def _count_call(self) -> None:
        self.calls += 1
        if activity.in_activity():
            activity.heartbeat(f"{self.calls} listing read(s)")
