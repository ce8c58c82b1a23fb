"""The catalogue plan: what a store must create or update to show the ERP's products and prices."""
from decimal import Decimal

from canonical.catalog_plan import plan_catalog
from canonical.inventory import CatalogProduct, CatalogVariant, Listing, ListingStatus

D = Decimal


def hoodie(m_price: str = "42.0000") -> CatalogProduct:
    return CatalogProduct(sku="HOODIE", name="Hoodie", regular_price=D("40"), variants=(
        CatalogVariant(sku="HOODIE-S", name="Hoodie - S", options={"Size": "S"}, regular_price=D("40.0000"),
                       sale_price=D("35.0000")),
        CatalogVariant(sku="HOODIE-M", name="Hoodie - M", options={"Size": "M"}, regular_price=D(m_price)),
    ))  # fmt: skip


def test_a_new_variable_product_is_a_parent_without_prices_and_one_option_per_variant():
    plan = plan_catalog([hoodie()], {})

    (parent,) = plan.products
    assert (parent.listing_id, parent.variable, parent.manages_stock, parent.regular_price) == (None, True, False, None)
    assert parent.option_values == {"Size": ["S", "M"]}
    small, medium = plan.options["HOODIE"]
    assert (small.options, small.regular_price, small.sale_price) == ({"Size": "S"}, D("40.00"), D("35.00"))
    assert (medium.regular_price, medium.sale_price, medium.manages_stock) == (D("42.00"), None, True)


def listed_hoodie() -> dict[str, Listing]:
    """The hoodie as the store lists it: parent 7, options 8 and 9."""
    return {
        "HOODIE": Listing(sku="HOODIE", listing_id="7", variable=True, name="Hoodie"),
        "HOODIE-S": Listing(sku="HOODIE-S", listing_id="8", parent_id="7", name="Hoodie - S", manages_stock=True,
                            regular_price=D("40.00"), sale_price=D("35.00")),
        "HOODIE-M": Listing(sku="HOODIE-M", listing_id="9", parent_id="7", name="Hoodie - M", manages_stock=True,
                            regular_price=D("42.00")),
    }  # fmt: skip


def test_only_what_differs_after_rounding_to_the_stores_decimals_is_updated():
    listings = listed_hoodie()

    assert plan_catalog([hoodie("42.0040")], listings).unchanged == 3

    plan = plan_catalog([hoodie("39.995")], listings)
    assert plan.products == [] and plan.unchanged == 2
    (medium,) = plan.options["HOODIE"]
    assert (medium.listing_id, medium.parent_id, medium.regular_price) == ("9", "7", D("40.00"))


def test_a_deactivated_product_is_made_private_not_deleted():
    tee = CatalogProduct(sku="TEE", name="Tee", regular_price=D("20"), active=False)
    listing = Listing(sku="TEE", listing_id="3", name="Tee", manages_stock=True, regular_price=D("20.00"))

    (draft,) = plan_catalog([tee], {"TEE": listing}).products

    assert (draft.listing_id, draft.status) == ("3", ListingStatus.PRIVATE)


def test_descriptions_are_the_stores_unless_it_takes_them_from_the_erp():
    tee = CatalogProduct(sku="TEE", name="Tee", regular_price=D("20"), description="Organic cotton")
    listing = Listing(sku="TEE", listing_id="3", name="Tee", manages_stock=True, regular_price=D("20.00"),
                      description="Written by the merchant")  # fmt: skip

    assert plan_catalog([tee], {"TEE": listing}).unchanged == 1
    (draft,) = plan_catalog([tee], {"TEE": listing}, descriptions=True).products
    assert draft.description == "Organic cotton"
    assert plan_catalog([tee], {}).products[0].description is None  # a new listing: no description sent


def test_an_option_the_store_lists_under_another_product_is_reported_not_moved():
    listings = listed_hoodie() | {"HOODIE-M": Listing(sku="HOODIE-M", listing_id="21", parent_id="20",
                                                      name="Jumper - M", regular_price=D("30.00"))}  # fmt: skip

    plan = plan_catalog([hoodie()], listings)

    assert plan.options == {} and plan.unchanged == 2
    (conflict,) = plan.conflicts
    assert (conflict.sku, conflict.ok, conflict.listing_id, conflict.code) == (
        "HOODIE-M", False, "21", "option_of_another_listing")
    assert conflict.message == ("the store lists HOODIE-M as an option of listing 20, not of HOODIE (listing 7): "
                                "move it there in the store, or give the ERP variant another SKU")


def test_an_existing_option_of_a_product_the_store_does_not_list_yet_is_reported():
    listings = {"HOODIE-M": Listing(sku="HOODIE-M", listing_id="21", parent_id="20", regular_price=D("42.00"))}

    plan = plan_catalog([hoodie()], listings)

    assert [d.sku for d in plan.products] == ["HOODIE"] and [d.sku for d in plan.options["HOODIE"]] == ["HOODIE-S"]
    assert [(c.sku, c.code) for c in plan.conflicts] == [("HOODIE-M", "option_of_another_listing")]
