"""What a store must create or update so its catalogue shows the ERP's products and prices. Pure.

Only ERP-owned fields are compared and written: name, regular and sale price, status and stock
management; the description too when the store is configured to take it from the ERP (it is the
store's by default, as are images). A product the ERP deactivated is made private in the store,
never deleted (orders and reviews still point at it). An option the store lists under another product
is reported, never written: WooCommerce 7.9 would move it to the product the write names. The reasons
for a failed listing that the store's own error does not give in the retailer's words are made here
(code and message), wherever the failure is found: the plan, the store client, the activity.
"""
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from canonical.inventory import CatalogProduct, CatalogVariant, Listing, ListingDraft, ListingStatus, PushResult


@dataclass
class CatalogPlan:
    products: list[ListingDraft] = field(default_factory=list)
    """Simple products and variable parents: one batch endpoint."""
    options: dict[str, list[ListingDraft]] = field(default_factory=dict)
    """Parent SKU → its options to create or update: one batch endpoint per parent."""
    unchanged: int = 0
    conflicts: list[PushResult] = field(default_factory=list)
    """Options the store lists under another product: not written, for a person to sort out."""


OPTION_OF_ANOTHER_LISTING = "option_of_another_listing"


def option_of_another_listing(sku: str, listing_id: str, message: str) -> PushResult:
    return PushResult(sku=sku, ok=False, listing_id=listing_id, code=OPTION_OF_ANOTHER_LISTING, message=message)


SKU_IN_TRASH = "sku_in_trash"
PRODUCT_NOT_IN_STORE = "product_not_in_store"


def sku_in_trash(sku: str, holder_id: str, holder_parent_id: str | None) -> PushResult:
    """A create the store refused because a trashed product (or an option of one) still holds the SKU."""
    if holder_parent_id:
        where = (f"an option (id {holder_id}) of product {holder_parent_id} in the store's trash: empty the trash "
                 f"or restore product {holder_parent_id}")
    else:
        where = f"a product in the store's trash (id {holder_id}): empty the trash or restore that product"
    return PushResult(sku=sku, ok=False, listing_id=holder_id, code=SKU_IN_TRASH,
                      message=f"SKU {sku} is held by {where}")


def product_not_in_store(sku: str, product_sku: str) -> PushResult:
    """An option not sent because its product could not be created: it has no id to be written under."""
    return PushResult(sku=sku, ok=False, code=PRODUCT_NOT_IN_STORE,
                      message=f"{sku} is not written: its product {product_sku} could not be created in the store "
                              f"(see {product_sku})")


def plan_catalog(
    products: Iterable[CatalogProduct],
    listings: Mapping[str, Listing],
    price_decimals: int = 2,
    descriptions: bool = False,
) -> CatalogPlan:
    """`price_decimals`: how many the store keeps (WooCommerce's currency setting); ERP prices are rounded to them.
    `descriptions`: the ERP's descriptions replace the store's."""
    plan = CatalogPlan()
    step = Decimal(1).scaleb(-price_decimals)
    for product in map(lambda p: _rounded(p, step), products):
        parent = listings.get(product.sku)
        wanted = _product_draft(product, parent, descriptions)
        if parent is None or _differs(wanted, parent):
            plan.products.append(wanted)
        else:
            plan.unchanged += 1
        for variant in product.variants:
            option = listings.get(variant.sku)
            if option is not None and (parent is None or option.parent_id != parent.listing_id):
                plan.conflicts.append(_misplaced(option, product.sku, parent))
                continue
            draft = _option_draft(variant, option, parent, descriptions)
            if option is None or _differs(draft, option):
                plan.options.setdefault(product.sku, []).append(draft)
            else:
                plan.unchanged += 1
    return plan


def _misplaced(option: Listing, product_sku: str, parent: Listing | None) -> PushResult:
    where = f"an option of listing {option.parent_id}" if option.parent_id else "a product of its own"
    ours = f"{product_sku} (listing {parent.listing_id})" if parent else f"{product_sku} (not in the store yet)"
    return option_of_another_listing(option.sku, option.listing_id,
                                     f"the store lists {option.sku} as {where}, not of {ours}: move it there in "
                                     "the store, or give the ERP variant another SKU")


def _rounded(product: CatalogProduct, step: Decimal) -> CatalogProduct:
    def price(amount: Decimal | None) -> Decimal | None:
        return None if amount is None else amount.quantize(step, ROUND_HALF_UP)

    variants = tuple(v.model_copy(update={"regular_price": price(v.regular_price), "sale_price": price(v.sale_price)})
                     for v in product.variants)  # fmt: skip
    return product.model_copy(update={"regular_price": price(product.regular_price),
                                      "sale_price": price(product.sale_price), "variants": variants})  # fmt: skip


def _status(active: bool) -> ListingStatus:
    return ListingStatus.PUBLISHED if active else ListingStatus.PRIVATE


def _product_draft(product: CatalogProduct, listing: Listing | None, descriptions: bool) -> ListingDraft:
    variable = bool(product.variants)
    values: dict[str, list[str]] = {}
    for variant in product.variants:
        for name, value in variant.options.items():
            if value not in values.setdefault(name, []):
                values[name].append(value)
    return ListingDraft(
        sku=product.sku,
        listing_id=listing.listing_id if listing else None,
        variable=variable,
        name=product.name,
        status=_status(product.active),
        regular_price=None if variable else product.regular_price,
        sale_price=None if variable else product.sale_price,
        manages_stock=product.manages_stock and not variable,
        option_values=values,
        description=product.description if descriptions else None,
    )


def _option_draft(
    variant: CatalogVariant, listing: Listing | None, parent: Listing | None, descriptions: bool
) -> ListingDraft:
    return ListingDraft(
        sku=variant.sku,
        listing_id=listing.listing_id if listing else None,
        parent_id=parent.listing_id if parent else None,
        name=variant.name,
        status=_status(variant.active),
        regular_price=variant.regular_price,
        sale_price=variant.sale_price,
        options=variant.options,
        description=variant.description if descriptions else None,
    )


def _differs(draft: ListingDraft, listing: Listing) -> bool:
    return (
        (draft.name != listing.name and draft.parent_id is None)
        or draft.status != listing.status
        or not _same_price(draft.regular_price, listing.regular_price)
        or not _same_price(draft.sale_price, listing.sale_price)
        or draft.manages_stock != listing.manages_stock
        or (draft.description is not None and draft.description != listing.description)
    )


def _same_price(ours: Decimal | None, theirs: Decimal | None) -> bool:
    return ours == theirs or (ours is None and theirs == 0) or (theirs is None and ours == 0)
