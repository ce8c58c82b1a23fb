"""The account's data, in memory: products, stock per centre, orders, shipments, subscriptions, simulations.

Everything runs on one event loop and handlers never await while mutating, so there is no lock.
Stock is kept per (centre, inventory item), the unit ShipBob counts in; returns have their own table next
to `shipments` and move `on_hand` back up when restocked units are put away.
"""
import itertools
import os
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Callable

from embedded import demo_catalog
from sandbox.shipbob.config import FulfillmentCenter, ShipBobConfig

PERSISTED = ("products", "stock", "orders", "shipments", "subscriptions", "simulations", "returns",
             "_product_ids", "_inventory_ids", "_order_ids", "_shipment_ids", "_subscription_ids", "_return_ids")

# https://developer.shipbob.com/status-reference: detail name -> (id, shipment status, description)
STATUS_DETAILS = {
    "Picked": (100, "Processing", "Picking Completed"),
    "Packed": (101, "Processing", "Packing Completed"),
    "Labeled": (102, "Processing", "Label Generated"),
    "Processing": (200, "Completed", "Waiting For Carrier Pickup"),
    "InTransit": (201, "Completed", "Shipment In Transit"),
    "OutForDelivery": (202, "Completed", "Shipment Out For Delivery"),
    "Delivered": (203, "Completed", "Shipment Delivered"),
    "DeliveryException": (204, "Completed", "OrderTracking contains CatchAll date"),
    "Bundle": (300, "Exception", "Shipment Contains Bundle Item"),
    "MergedItem": (301, "Exception", "Shipment Contains Merge Child"),
    "InactiveSku": (302, "Exception", "Shipment Contains an inactive sku"),
    "OutOfStock": (303, "Exception", "No Stock On Hand For Sku"),
    "UnknownSku": (304, "Exception", "No Sku History (if there are no reasons)"),
    "InternalTransferInProgress": (305, "Exception", "Stock Being Transferred Between FCs"),
    "BinTransferInProgress": (306, "Exception", "Stock Being Transferred Between Bins"),
    "InventoryInNonPickableLocation": (307, "Exception", "Stock In Non-pickable Location"),
    "InventoryPartiallyCommitted": (308, "Exception", "Shipment is partially allocated"),
    "PaymentDeclined": (400, "OnHold", "Payment Failure"),
    "InvalidAddress": (401, "OnHold", "Invalid Address"),
    "ReserveDateNotMet": (402, "OnHold", "Wait For Pick Date"),
    "MissingTarriffInformation": (404, "OnHold", "Missing Customs Info"),
}


@dataclass
class Product:
    id: int
    reference_id: str  # the merchant's SKU
    name: str
    inventory_id: int  # one inventory item per product here (no bundles or kits)


@dataclass
class Stock:
    """One inventory item in one fulfilment centre. Committed units are allocated to unshipped shipments."""

    on_hand: int = 0
    committed: int = 0

    @property
    def fulfillable(self) -> int:
        return self.on_hand - self.committed


@dataclass
class OrderLine:
    product_id: int
    quantity: int
    unit_price: Decimal | None = None
    external_line_id: int | None = None
    gtin: str | None = None
    upc: str | None = None
    unit_of_measure: str | None = None


@dataclass
class Order:
    id: int
    reference_id: str
    order_number: str
    type: str
    shipping_method: str
    recipient: dict
    created: datetime
    purchase_date: datetime | None
    lines: list[OrderLine]
    tags: list[dict] = field(default_factory=list)
    gift_message: str | None = None
    total_price: Decimal | None = None
    shipping_terms: dict = field(default_factory=lambda: {"carrier_type": None, "payment_term": None})
    shipment_ids: list[int] = field(default_factory=list)


@dataclass
class StatusDetail:
    name: str
    inventory_id: int | None = None
    center_id: int | None = None  # `exception_fulfillment_center_id`

    @property
    def id(self) -> int:
        return STATUS_DETAILS[self.name][0]


@dataclass
class Tracking:
    carrier: str
    carrier_service: str
    tracking_number: str
    tracking_url: str
    shipping_date: datetime


@dataclass
class Shipment:
    id: int
    order_id: int
    center_id: int
    lines: dict[int, int]  # product id -> units in this shipment
    created: datetime
    updated: datetime
    status: str = "Processing"
    details: list[StatusDetail] = field(default_factory=list)
    committed: bool = True  # its units are counted in the centre's committed stock
    tracking: Tracking | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    tracking_updated_at: datetime | None = None
    is_tracking_uploaded: bool = False

    @property
    def cancellable(self) -> bool:
        """ShipBob: "the shipment must not be picked, packed, or shipped" (contract §2.5)."""
        if self.status == "Processing":
            return not self.details
        return self.status in ("Exception", "OnHold")


@dataclass
class ReturnAction:
    """What the warehouse did with some units of one returned item (`action_taken`)."""

    action: str  # Restock | Dispose | Quarantine
    quantity: int
    reason: str | None = None


@dataclass
class ReturnItem:
    inventory_id: int
    quantity: int  # units the customer is expected to send back
    requested_action: str  # Default | Restock | Quarantine | Dispose
    taken: list[ReturnAction] = field(default_factory=list)


@dataclass
class Return:
    id: int
    reference_id: str  # the merchant's RMA number, on the box label when there is no tracking number
    center_id: int
    items: list[ReturnItem]
    original_shipment_id: int | None
    tracking_number: str | None
    history: list[tuple[str, datetime]]  # (status, when), oldest first; the last is the current status

    @property
    def status(self) -> str:
        return self.history[-1][0]

    def moved(self, status: str, moment: datetime) -> None:
        self.history.append((status, moment))


@dataclass
class Subscription:
    id: str
    url: str
    topics: list[str]
    secret: str
    description: str | None
    created: datetime


@dataclass
class SimulationStep:
    action: str
    delay_minutes: int
    schedule_time: datetime
    status: str = "Scheduled"
    message: str | None = None


@dataclass
class Simulation:
    id: str
    shipment_id: int
    steps: list[SimulationStep]


class Store:
    def __init__(self, config: ShipBobConfig) -> None:
        self.config = config
        self.quirks = config.quirks.model_copy()
        self.centers: dict[int, FulfillmentCenter] = {c.id: c for c in config.centers}
        self._product_ids = itertools.count(5100001)
        self._inventory_ids = itertools.count(8200001)
        self._order_ids = itertools.count(11500001)
        self._shipment_ids = itertools.count(33000001)
        self._subscription_ids = itertools.count(1)
        self._return_ids = itertools.count(2400001)
        self.products: dict[int, Product] = {}
        self.stock: dict[tuple[int, int], Stock] = {}
        self.orders: dict[int, Order] = {}
        self.shipments: dict[int, Shipment] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.simulations: dict[str, Simulation] = {}
        self.returns: dict[int, Return] = {}
        self.on_event: Callable[[str, int, dict], None] = lambda topic, resource_id, payload: None
        self._seed()

    def save(self, path: Path) -> None:
        data = pickle.dumps({name: getattr(self, name) for name in PERSISTED})
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        os.replace(partial, path)

    def load(self, path: Path) -> None:
        for name, value in pickle.loads(path.read_bytes()).items():
            setattr(self, name, value)

    def persist(self) -> None:
        """Write the data out after every change when a state file is configured."""
        if self.config.state_file:
            self.save(self.config.state_file)

    def emit(self, topic: str, resource_id: int, payload: dict) -> None:
        """An event ShipBob publishes to webhook subscribers; delivery is the dispatcher's business."""
        self.on_event(topic, resource_id, payload)

    def next_order_id(self) -> int:
        return next(self._order_ids)

    def next_shipment_id(self) -> int:
        return next(self._shipment_ids)

    def next_subscription_id(self) -> str:
        return str(next(self._subscription_ids))

    def next_return_id(self) -> int:
        return next(self._return_ids)

    def product_by_sku(self, sku: str) -> Product | None:
        return next((p for p in self.products.values() if p.reference_id == sku), None)

    def product_by_inventory_id(self, inventory_id: int) -> Product | None:
        return next((p for p in self.products.values() if p.inventory_id == inventory_id), None)

    def add_product(self, sku: str, name: str) -> Product:
        product = Product(next(self._product_ids), sku, name, next(self._inventory_ids))
        self.products[product.id] = product
        return product

    def stock_at(self, center_id: int, product: Product) -> Stock:
        return self.stock.setdefault((center_id, product.inventory_id), Stock())

    def fulfillable(self, center_id: int, product: Product) -> int:
        stock = self.stock.get((center_id, product.inventory_id))
        return stock.fulfillable if stock else 0

    def order_of(self, shipment: Shipment) -> Order:
        return self.orders[shipment.order_id]

    def _seed(self) -> None:
        names = {p.sku: p.name for p in demo_catalog.PRODUCTS}
        for sku, per_center in self.config.stock.items():
            product = self.add_product(sku, names.get(sku, sku))
            for center_id, units in per_center.items():
                self.stock_at(center_id, product).on_hand = units
