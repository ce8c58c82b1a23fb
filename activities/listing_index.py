"""Each store's SKU → listing map, read in full pages and kept for the worker's life.

A full read of WooCommerce costs one call per 100 products plus one per variable product (it has
no endpoint listing every variation), so the map is read once and refreshed only when a SKU is
missing or a reconciliation asks for the store's own numbers. Pushed quantities are written back,
so comparing with the map is comparing with what the store shows.
"""
from temporalio import activity

from canonical.inventory import Listing, ListingDraft, PushResult, StockPush


class ListingIndex:
    def __init__(self, store) -> None:
        self._store = store
        self._by_sku: dict[str, Listing] | None = None
        self._absent: set[str] = set()
        self.calls = 0

    @property
    def loaded(self) -> bool:
        return self._by_sku is not None

    async def listings(self, *, refresh: bool = False) -> dict[str, Listing]:
        if refresh or self._by_sku is None:
            self._by_sku = await self._read_all()
            self._absent -= self._by_sku.keys()
        return self._by_sku

    async def covering(self, skus: list[str]) -> dict[str, Listing]:
        """The map, re-read once if it lacks a SKU it did not already lack at the last read: a SKU the
        store has never listed (sold elsewhere only) must not cost a full read at every stock change."""
        listings = await self.listings()
        unexpected = set(skus) - listings.keys() - self._absent
        if unexpected:
            listings = await self.listings(refresh=True)
            self._absent |= unexpected - listings.keys()
        return listings

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
        assert self._by_sku is not None
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
            self._absent.discard(result.sku)

    def pushed(self, pushes: list[StockPush], results: list[PushResult]) -> None:
        """Remember what the store now shows; forget listings the store no longer knows (re-read next time)."""
        assert self._by_sku is not None
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
