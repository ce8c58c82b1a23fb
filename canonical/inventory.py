"""Stock and catalogue as the retailer sees them, whatever ERP, 3PL or store holds them.

A *listing* is what one store shows for one SKU; its ids are opaque references only the
store's adapter reads. The ERP is the source of the catalogue (names, prices) and, with the
3PL, of the quantities each store may sell.
"""
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class SourceStock(_Model):
    """Units a source (ERP warehouse forecast or 3PL fulfillable) can still promise for a SKU."""

    sku: str
    quantity: Decimal


class StockChanges(_Model):
    """SKUs whose stock moved since a cursor, and the cursor to ask from next time."""

    skus: tuple[str, ...]
    cursor: str


class ListingStatus(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"
    PRIVATE = "private"
    PENDING = "pending"


class Listing(_Model):
    """One SKU as a store shows it. A variable product's options are listings with `parent_id`."""

    sku: str
    listing_id: str
    parent_id: str | None = None
    variable: bool = False
    """A parent whose options (variations) carry the stock and prices."""
    name: str = ""
    status: ListingStatus = ListingStatus.PUBLISHED
    regular_price: Decimal | None = None
    sale_price: Decimal | None = None
    manages_stock: bool = False
    quantity: int | None = None
    backorders_allowed: bool = False
    description: str = ""


class StockPush(_Model):
    """Set a listing's stock to an absolute number of units."""

    sku: str
    listing_id: str
    parent_id: str | None = None
    quantity: int


class PushResult(_Model):
    """A store's answer for one item of a batch: batches succeed per item, not as a whole."""

    sku: str
    ok: bool
    listing_id: str | None = None
    code: str = ""
    message: str = ""
    retryable: bool = False


class CatalogVariant(_Model):
    """One sellable option of a product (its own SKU, price and stock)."""

    sku: str
    name: str
    options: dict[str, str] = {}
    """Attribute → value, e.g. {"Size": "M"}: how the store labels the option."""
    regular_price: Decimal
    sale_price: Decimal | None = None
    active: bool = True
    description: str = ""


class CatalogProduct(_Model):
    """A product as the ERP defines it. With variants it is a variable product in the store."""

    sku: str
    name: str
    regular_price: Decimal
    sale_price: Decimal | None = None
    active: bool = True
    manages_stock: bool = True
    variants: tuple[CatalogVariant, ...] = ()
    description: str = ""


class CatalogChanges(_Model):
    """Products created or changed (name, price, status) since a cursor, and the next cursor."""

    products: tuple[CatalogProduct, ...]
    cursor: str


class ListingDraft(_Model):
    """What a store should show for one SKU, built from the catalogue: a listing to create
    (`listing_id` None) or to update. Description and images stay the store's own."""

    sku: str
    listing_id: str | None = None
    parent_id: str | None = None
    """Set for an option (variation) of a variable listing."""
    variable: bool = False
    name: str = ""
    """Ignored for an option: the store names it after its parent and option values."""
    status: ListingStatus = ListingStatus.PUBLISHED
    regular_price: Decimal | None = None
    sale_price: Decimal | None = None
    """None: no sale price (an existing one is removed)."""
    manages_stock: bool = True
    options: dict[str, str] = {}
    """For an option: attribute → value, e.g. {"Size": "M"}."""
    option_values: dict[str, list[str]] = {}
    description: str | None = None
    """None: leave the store's description alone (the default: the store owns it)."""
    """For a variable listing: attribute → every value its options use, e.g. {"Size": ["S", "M"]}."""
