"""Reading a store's listings: the SKUs a publish is about, 100 a call; the whole store, options included."""
from dataclasses import dataclass

from activities.store_listings import StoreListings
from canonical.inventory import Listing


@dataclass
class Page:
    listings: list[Listing]
    has_next: bool = False


class Store:
    """Pages of 2 listings; a variable listing's options on their own page."""

    def __init__(self, skus: list[str]) -> None:
        self.listings = [Listing(sku=sku, listing_id=str(n), manages_stock=True, quantity=0)
                         for n, sku in enumerate(skus)]  # fmt: skip
        self.options: dict[str, list[Listing]] = {}
        self.sku_reads: list[int] = []

    async def list_listings(self, page: int) -> Page:
        chunk = self.listings[(page - 1) * 2 : page * 2]
        return Page(chunk, has_next=page * 2 < len(self.listings))

    async def list_option_listings(self, parent_id: str, page: int) -> Page:
        return Page(self.options.get(parent_id, []))

    async def find_listings(self, skus: list[str]) -> dict[str, Listing]:
        self.sku_reads.append(len(skus))
        return {listing.sku: listing for listing in self.listings if listing.sku in skus}


async def test_a_publish_reads_what_the_store_shows_now_100_skus_a_call():
    store = Store([f"S{n}" for n in range(150)])
    reader = StoreListings(store)

    current = await reader.current([f"S{n}" for n in range(120)] + ["ERP-ONLY"])

    assert len(current) == 120 and "ERP-ONLY" not in current
    assert store.sku_reads == [100, 21] and reader.calls == 2


async def test_reading_everything_pages_through_products_and_each_variable_products_options():
    store = Store(["TEE", "MUG", "HOODIE"])
    store.listings[2] = store.listings[2].model_copy(update={"variable": True})
    store.options["2"] = [Listing(sku="HOODIE-S", listing_id="5", parent_id="2", manages_stock=True, quantity=1)]
    reader = StoreListings(store)

    listings = await reader.everything()

    assert set(listings) == {"TEE", "MUG", "HOODIE", "HOODIE-S"}
    assert listings["HOODIE-S"].parent_id == "2" and listings["HOODIE"].variable
    assert reader.calls == 3  # two pages of products, one of options
