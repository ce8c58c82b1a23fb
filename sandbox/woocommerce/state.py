"""The store's data, in memory: catalogue, orders, notes, webhooks, keys' nonces.

One re-entrant lock guards it; handlers mutate only while holding it and never await inside it.
Ids follow WordPress tables: products and orders share the posts sequence, order items, notes
(comments), meta rows and webhooks have their own.
"""
import itertools
import os
import pickle
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from embedded import demo_catalog
from sandbox.woocommerce.config import ApiKey, SandboxConfig

ADMIN_USER_ID = 1
PERSISTED = ("customer_ids", "products", "coupons", "orders", "refunds", "notes", "webhooks", "nonces",
             "_post_ids", "_item_ids", "_meta_ids", "_comment_ids", "_webhook_ids")
STATUS_NAMES = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
}


@dataclass
class Meta:
    id: int
    key: str
    value: Any


@dataclass
class TaxRate:
    id: int
    name: str
    tax_class: str
    percent: Decimal
    shipping: bool = True
    compound: bool = False

    @property
    def code(self) -> str:
        """`WC_Tax::get_rate_code`: COUNTRY-STATE-NAME-PRIORITY, empty parts dropped."""
        return f"{self.name}-1".upper()


@dataclass
class Coupon:
    code: str
    discount_type: str  # percent | fixed_cart | fixed_product (priced as fixed_cart)
    amount: Decimal
    id: int = 0
    status: str = "publish"
    description: str = ""
    created: datetime | None = None
    modified: datetime | None = None


@dataclass
class Product:
    id: int
    name: str
    sku: str
    type: str  # simple | variable | variation
    regular_price: str
    created: datetime
    modified: datetime
    sale_price: str = ""
    status: str = "publish"
    tax_class: str = ""
    tax_status: str = "taxable"
    manage_stock: bool = False
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"
    low_stock_amount: int | None = None
    description: str = ""
    parent_id: int = 0
    variations: list[int] = field(default_factory=list)
    attributes: list[dict] = field(default_factory=list)
    meta: list[Meta] = field(default_factory=list)
    total_sales: int = 0

    @property
    def price(self) -> str:
        return self.sale_price or self.regular_price

    def recompute_stock_status(self) -> None:
        """`validate_props`: a managed product without a quantity counts as 0 (out of stock)."""
        if self.manage_stock:
            if (self.stock_quantity or 0) > 0:
                self.stock_status = "instock"
            else:
                self.stock_status = "outofstock" if self.backorders == "no" else "onbackorder"

    def formatted_name(self) -> str:
        """`WC_Product::get_formatted_name`, as stock notes print it."""
        return f"{self.name} ({self.sku or '#' + str(self.id)})"


@dataclass
class LineItem:
    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    tax_class: str
    subtotal: Decimal
    total: Decimal
    subtotal_taxes: dict[int, Decimal] = field(default_factory=dict)
    taxes: dict[int, Decimal] = field(default_factory=dict)
    meta: list[Meta] = field(default_factory=list)


@dataclass
class ShippingLine:
    id: int
    method_title: str
    method_id: str
    total: Decimal
    instance_id: str = "0"
    taxes: dict[int, Decimal] = field(default_factory=dict)
    meta: list[Meta] = field(default_factory=list)


@dataclass
class FeeLine:
    id: int
    name: str
    total: Decimal
    tax_class: str = ""
    tax_status: str = "taxable"
    taxes: dict[int, Decimal] = field(default_factory=dict)
    meta: list[Meta] = field(default_factory=list)


@dataclass
class CouponLine:
    id: int
    code: str
    discount: Decimal = Decimal(0)
    discount_tax: Decimal = Decimal(0)
    meta: list[Meta] = field(default_factory=list)
    rule: Coupon | None = None
    """The coupon as it was applied (WooCommerce keeps it in the item's `coupon_info`), so an order
    still prices after its coupon is changed or deleted."""


@dataclass
class TaxLine:
    id: int
    rate: TaxRate
    tax_total: Decimal
    shipping_tax_total: Decimal


@dataclass
class Order:
    id: int
    order_key: str
    currency: str
    created: datetime
    modified: datetime
    status: str = "pending"
    customer_id: int = 0
    customer_note: str = ""
    billing: dict = field(default_factory=dict)
    shipping: dict = field(default_factory=dict)
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    date_paid: datetime | None = None
    date_completed: datetime | None = None
    meta: list[Meta] = field(default_factory=list)
    line_items: list[LineItem] = field(default_factory=list)
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    fee_lines: list[FeeLine] = field(default_factory=list)
    coupon_lines: list[CouponLine] = field(default_factory=list)
    tax_lines: list[TaxLine] = field(default_factory=list)
    discount_total: Decimal = Decimal(0)
    discount_tax: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    cart_tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    stock_reduced: bool = False
    status_before_trash: str = ""


@dataclass
class RefundItem:
    """A negative copy of an order item (`_refunded_item_id` names it); `kind` is the order list it came from."""

    id: int
    kind: str  # line_items | shipping_lines | fee_lines
    refunded_item_id: int
    name: str
    quantity: int
    total: Decimal
    taxes: dict[int, Decimal] = field(default_factory=dict)
    product_id: int = 0
    variation_id: int = 0
    tax_class: str = ""
    method_id: str = ""


@dataclass
class Refund:
    """A `shop_order_refund`: a child post of its order with a positive `amount`."""

    id: int
    order_id: int
    amount: Decimal
    reason: str
    created: datetime
    refunded_by: int
    refunded_payment: bool = False
    items: list[RefundItem] = field(default_factory=list)
    meta: list[Meta] = field(default_factory=list)


@dataclass
class Note:
    id: int
    order_id: int
    note: str
    customer_note: bool
    author: str  # "system" or the user's display name
    created: datetime


@dataclass
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    created: datetime
    modified: datetime
    failure_count: int = 0
    pending_delivery: bool = True

    @property
    def resource(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        return self.topic.split(".", 1)[1]


ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                  "country")


def empty_address(kind: str) -> dict:
    address = {name: "" for name in ADDRESS_FIELDS}
    if kind == "billing":
        address["email"] = ""
    address["phone"] = ""
    return address


class Store:
    def __init__(self, config: SandboxConfig, home_url: str) -> None:
        self.config = config
        self.home_url = home_url
        self.is_ssl = home_url.startswith("https://")
        self.tz = ZoneInfo(config.timezone)
        self.lock = threading.RLock()
        self.keys: dict[str, ApiKey] = {k.consumer_key: k for k in config.api_keys}
        self.nonces: dict[str, dict[int, str]] = {k.consumer_key: {} for k in config.api_keys}
        self.customer_ids = {ADMIN_USER_ID}
        self._post_ids = itertools.count(10)
        self._item_ids = itertools.count(1)
        self._meta_ids = itertools.count(100)
        self._comment_ids = itertools.count(1)
        self._webhook_ids = itertools.count(1)
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self.refunds: dict[int, Refund] = {}
        self.gateway_refusals: dict[str, str] = {}
        self.gateway_delays: dict[str, float] = {}
        """Payment method → seconds its gateway takes to answer a refund (the store lock is free meanwhile)."""
        self.gateway_refunds: list[dict] = []
        """Every `process_refund` call, refused or not: the gateway's record, not the store's, so not persisted."""
        self.locked_skus: dict[str, str] = {}
        """SKU → message of a plugin refusing saves of that product (`woocommerce_rest_pre_insert_*`)."""
        self.order_view_overrides: dict[int, dict] = {}
        """Order id → fields a plugin rewrites in that order's REST view (`woocommerce_rest_prepare_shop_order_object`)."""
        self.notes: dict[int, Note] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.tax_rates = [TaxRate(r.rate_id, r.name, r.tax_class, r.percent) for r in demo_catalog.TAX_RATES]
        self.coupons = {
            "welcome10": Coupon("welcome10", "percent", Decimal("10"), id=8),
            "fiveoff": Coupon("fiveoff", "fixed_cart", Decimal("5.00"), id=9),
        }
        """Code → coupon; the two demo coupons predate the catalogue, below the first post id."""
        self.batch_limit = config.batch_limit
        """The `woocommerce_rest_batch_items_limit` filter's value; a setting, not data, so not persisted."""
        self.on_event: Callable[[str, int], None] = lambda topic, resource_id: None
        if config.seed_catalogue:
            self._seed_catalogue()

    def save(self, path: Path) -> None:
        with self.lock:
            data = pickle.dumps({name: getattr(self, name) for name in PERSISTED})
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        os.replace(partial, path)

    def load(self, path: Path) -> None:
        with self.lock:
            for name, value in pickle.loads(path.read_bytes()).items():
                setattr(self, name, value)

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)

    def next_post_id(self) -> int:
        return next(self._post_ids)

    def next_item_id(self) -> int:
        return next(self._item_ids)

    def next_meta_id(self) -> int:
        return next(self._meta_ids)

    def next_comment_id(self) -> int:
        return next(self._comment_ids)

    def next_webhook_id(self) -> int:
        return next(self._webhook_ids)

    def new_order_key(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "wc_order_" + "".join(secrets.choice(alphabet) for _ in range(13))

    def emit(self, topic: str, resource_id: int) -> None:
        """A WordPress hook fired for a webhook topic; delivery is the dispatcher's business."""
        self.on_event(topic, resource_id)

    def product_by_sku(self, sku: str) -> Product | None:
        """A trashed product frees its SKU (`wc_product_has_unique_sku` skips the trash)."""
        return next((p for p in self.products.values() if sku and p.sku == sku and p.status != "trash"), None)

    def refunds_of(self, order_id: int) -> list[Refund]:
        """Newest first, as `WC_Order::get_refunds` lists them."""
        return sorted((r for r in self.refunds.values() if r.order_id == order_id), key=lambda r: r.id, reverse=True)

    def rates_for(self, tax_class: str) -> list[TaxRate]:
        return [r for r in self.tax_rates if r.tax_class == tax_class]

    def add_note(self, order_id: int, text: str, customer_note: bool = False, author: str = "system") -> Note:
        note = Note(self.next_comment_id(), order_id, text, customer_note, author, self.now())
        self.notes[note.id] = note
        return note

    def _seed_catalogue(self) -> None:
        now = self.now()
        parents: dict[str, Product] = {}
        for sku, name in demo_catalog.VARIABLE_PARENTS.items():
            parent = Product(self.next_post_id(), name, sku, "variable", "", now, now)
            parent.attributes = [{"id": 0, "name": "Size", "position": 0, "visible": True, "variation": True,
                                  "options": []}]
            parents[sku] = self.products[parent.id] = parent
        for item in demo_catalog.PRODUCTS:
            parent = parents.get(item.parent_sku or "")
            product = Product(
                self.next_post_id(), item.name, item.sku, "variation" if parent else "simple", str(item.price),
                now, now, tax_class=item.tax_class, manage_stock=True, stock_quantity=item.stock,
                parent_id=parent.id if parent else 0,
            )
            if parent:
                size = item.sku.rsplit("-", 1)[-1]
                product.attributes = [{"id": 0, "name": "Size", "option": size}]
                parent.attributes[0]["options"].append(size)
                parent.variations.append(product.id)
            product.recompute_stock_status()
            self.products[product.id] = product
