"""The SKU → listing map: read in full only when it must be."""
from dataclasses import dataclass
from decimal import Decimal

from activities.listing_index import ListingIndex
from canonical.inventory import Listing, ListingDraft, PushResult, StockPush


@dataclass
class Page:
    listings: list[Listing]
    has_next: bool = False


class Store:
    """Pages of 2 listings; a variable listing's options on their own pages."""

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
    index = ListingIndex(store)
    await index.listings()
    store.listings[3] = store.listings[3].model_copy(update={"quantity": 9})  # WooCommerce restocked it itself

    fresh = await index.fresh([f"S{n}" for n in range(120)] + ["ERP-ONLY"])

    assert len(fresh) == 120 and "ERP-ONLY" not in fresh
    assert fresh["S3"].quantity == 9 and (await index.listings())["S3"].quantity == 9
    assert store.sku_reads == [100, 21]


async def test_variable_listings_bring_their_options_and_pushes_are_remembered():
    store = Store(["HOODIE"])
    store.listings[0] = store.listings[0].model_copy(update={"variable": True})
    store.options["0"] = [Listing(sku="HOODIE-S", listing_id="5", parent_id="0", manages_stock=True, quantity=1)]
    index = ListingIndex(store)

    listings = await index.listings()
    assert listings["HOODIE-S"].parent_id == "0"

    push = StockPush(sku="HOODIE-S", listing_id="5", parent_id="0", quantity=4)
    index.pushed([push], [PushResult(sku="HOODIE-S", ok=True, listing_id="5")])
    assert (await index.listings())["HOODIE-S"].quantity == 4
    index.pushed([push], [PushResult(sku="HOODIE-S", ok=False, code="woocommerce_rest_invalid_id")])
    assert "HOODIE-S" not in await index.listings()


async def test_what_the_catalogue_wrote_is_remembered_without_reading_the_store_again():
    store = Store(["TEE"])
    index = ListingIndex(store)
    await index.listings()
    reads = index.calls

    new = ListingDraft(sku="MUG", name="Mug", regular_price=Decimal("9.00"))
    repriced = ListingDraft(sku="TEE", listing_id="0", name="Tee", regular_price=Decimal("21.00"))
    index.written([new, repriced], [PushResult(sku="MUG", ok=True, listing_id="42"),
                                    PushResult(sku="TEE", ok=True, listing_id="0")])  # fmt: skip

    listings = await index.listings()
    assert index.calls == reads
    assert (listings["MUG"].listing_id, listings["MUG"].regular_price) == ("42", Decimal("9.00"))
    assert (listings["TEE"].regular_price, listings["TEE"].quantity) == (Decimal("21.00"), 0)
