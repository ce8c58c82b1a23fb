"""Each store's listings: the SKUs a publish is about, read fresh; the whole store, read in pages.

A publish compares available-to-sell with what the store shows *now* for the SKUs that moved (one
call per 100 SKUs): a copy kept in memory would miss what WooCommerce does itself (it restocks on
refunds and cancellations), hand edits, and what another worker pushed. A full read costs one call per
100 products plus one per variable product (there is no endpoint listing every variation); it is kept
for the catalogue and refreshed by each reconciliation.
"""
from temporalio import activity

from canonical.inventory import Listing, ListingDraft, PushResult, StockPush


READ_CHUNK = 100


class ListingIndex:
    def __init__(self, store) -> None:
        self._store = store
        self._by_sku: dict[str, Listing] | None = None
        self.calls = 0

    @property
    def loaded(self) -> bool:
        return self._by_sku is not None

    async def listings(self, *, refresh: bool = False) -> dict[str, Listing]:
        if refresh or self._by_sku is None:
            self._by_sku = await self._read_all()
        return self._by_sku

    async def fresh(self, skus: list[str]) -> dict[str, Listing]:
        """What the store shows now for these SKUs, 100 per call. Never the kept copy: WooCommerce moves
        stock itself (orders, refunds that restock), people edit it, other workers push it."""
        found: dict[str, Listing] = {}
        for start in range(0, len(skus), READ_CHUNK):
            found |= await self._store.find_listings(skus[start : start + READ_CHUNK])
            self._read_one_page()
        if self._by_sku is not None:
            self._by_sku.update(found)
        return found

    async def _read_all(self) -> dict[str, Listing]:
        found: dict[str, Listing] = {}
        parents: list[str] = []
        page_number, has_next = 1, True
        while has_next:
            page = await self._store.list_listings(page_number)
            self._read_one_page()
            for listing in page.listings:
                if listing.sku:
                    found[listing.sku] = listing
                if listing.variable:
                    parents.append(listing.listing_id)
            page_number, has_next = page_number + 1, page.has_next
        for parent in parents:
            page_number, has_next = 1, True
            while has_next:
                page = await self._store.list_option_listings(parent, page_number)
                self._read_one_page()
                found.update((option.sku, option) for option in page.listings if option.sku)
                page_number, has_next = page_number + 1, page.has_next
        return found

    def _read_one_page(self) -> None:
        """A full read of a big or slow store outlasts any heartbeat timeout unless it says it is alive."""
        self.calls += 1
        if activity.in_activity():
            activity.heartbeat(f"listing page {self.calls}")

    def written(self, drafts: list[ListingDraft], results: list[PushResult]) -> None:
        """Remember listings the catalogue sync created or updated, without reading the store again."""
        if self._by_sku is None:
            return
        by_sku = {draft.sku: draft for draft in drafts}
        for result in results:
            if not result.ok:
                continue
            draft, before = by_sku[result.sku], self._by_sku.get(result.sku)
            fields = draft.model_dump(include=set(Listing.model_fields) - {"description", "listing_id"})
            kept = before.description if before else ""
            self._by_sku[result.sku] = Listing(
                **fields, listing_id=result.listing_id or draft.listing_id,
                quantity=before.quantity if before else None,
                description=kept if draft.description is None else draft.description,
            )  # fmt: skip

    def pushed(self, pushes: list[StockPush], results: list[PushResult]) -> None:
        """Remember what the store now shows; forget listings the store no longer knows (re-read next time)."""
        if self._by_sku is None:
            return
        by_sku = {push.sku: push for push in pushes}
        for result in results:
            listing = self._by_sku.get(result.sku)
            if listing is None:
                continue
            if result.ok:
                self._by_sku[result.sku] = listing.model_copy(update={"quantity": by_sku[result.sku].quantity})
            elif not result.retryable:
                del self._by_sku[result.sku]


class ListingIndexes:
    """One index per store, shared by the stock and catalogue activities of a worker."""

    def __init__(self, stores) -> None:
        self._stores = stores
        self._indexes: dict[str, ListingIndex] = {}

    def of(self, store_id: str) -> ListingIndex:
        if store_id not in self._indexes:
            self._indexes[store_id] = ListingIndex(self._stores.client(store_id))
        return self._indexes[store_id]
