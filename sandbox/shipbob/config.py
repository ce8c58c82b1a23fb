"""How one sandbox ShipBob account is set up; the demo token and channel live here and nowhere else.

Sources for everything under `sandbox/shipbob/`: /work/shared/contracts/shipbob-3pl.md §2 (OpenAPI
`brianzinn/shipbob-node-sdk@8a102294:openapi-2026-01.json`, `api-evangelist/shipbob@85d4fc01`,
https://developer.shipbob.com/status-reference, /rate-limit, /webhooks, /sandbox/simulations).
"""
from pathlib import Path

from pydantic import BaseModel, Field

from embedded import demo_catalog

API_VERSION = "2026-01"
WRITE_SCOPES = ("orders_write", "inventory_write", "webhooks_write", "returns_write", "fulfillments_write",
                "products_write", "receiving_write")
READ_SCOPES = ("orders_read", "inventory_read", "webhooks_read", "returns_read", "fulfillments_read",
               "products_read", "receiving_read", "channels_read", "locations_read")


class ApiToken(BaseModel):
    """A Personal Access Token: one merchant user of one application, with the scopes it was granted."""

    token: str
    scopes: list[str] = [*READ_SCOPES, *WRITE_SCOPES]


DEMO_TOKEN = ApiToken(token="pat_sandbox_2d6f0c9e4b7a41e3a8c5d1f06b9e2a47")
DEMO_READ_ONLY_TOKEN = ApiToken(token="pat_sandbox_readonly_7c1e9a3d5f2b48e6", scopes=list(READ_SCOPES))
DEMO_CHANNEL_ID = 431726
DEMO_CHANNEL_NAME = "retail-sync WooCommerce"


class FulfillmentCenter(BaseModel):
    id: int
    name: str


DEMO_CENTERS = [FulfillmentCenter(id=1, name="Cicero (IL)"), FulfillmentCenter(id=2, name="Moreno Valley (CA)")]
DEMO_ONLY_IN = {"MUG-CERAMIC": 1, "BOOK-COFFEE": 2, "HOODIE-M": 2}
"""SKUs stocked in one centre only, so a demo order of a mug and a book splits into two shipments."""


def demo_stock() -> dict[str, dict[int, int]]:
    """On-hand units per SKU per centre: the catalogue's stock, halved between centres unless only in one."""
    stock = {}
    for product in demo_catalog.PRODUCTS:
        if product.sku in DEMO_ONLY_IN:
            stock[product.sku] = {DEMO_ONLY_IN[product.sku]: product.stock}
        else:
            first = product.stock // 2
            stock[product.sku] = {DEMO_CENTERS[0].id: first, DEMO_CENTERS[1].id: product.stock - first}
    return stock


class Quirks(BaseModel):
    """Real ShipBob behaviours a receiver must survive, off by default (contract §2.6 field reports)."""

    shipped_without_tracking: bool = False  # `order.shipped` carries `tracking: null`; a later GET has it
    no_delivered_event: bool = False  # carrier-dependent: `order.shipment.delivered` never sent
    duplicate_deliveries: bool = False  # every message delivered twice, same `webhook-id`
    out_of_order: bool = False  # each message held back until the next one has gone out
    drop_webhooks: bool = False  # nothing is delivered: only polling sees changes


class ShipBobConfig(BaseModel):
    port: int = Field(default=0, ge=0, le=65535)
    tokens: list[ApiToken] = [DEMO_TOKEN, DEMO_READ_ONLY_TOKEN]
    channel_id: int = DEMO_CHANNEL_ID
    channel_name: str = DEMO_CHANNEL_NAME
    centers: list[FulfillmentCenter] = DEMO_CENTERS
    stock: dict[str, dict[int, int]] = Field(default_factory=demo_stock)
    """On-hand units per SKU per centre id at start; products are seeded from the demo catalogue."""
    rate_limit: int = Field(default=150, ge=1)
    rate_window_s: float = Field(default=60.0, gt=0)
    webhook_timeout_s: float = Field(default=15.0, gt=0)
    webhook_retry_factor: float = Field(default=1.0, gt=0)
    """Multiplies ShipBob's retry schedule (5 s … 10 h); tests compress it, e.g. 0.001."""
    out_of_order_hold_s: float = Field(default=1.0, ge=0)
    """With the `out_of_order` quirk, how long a message waits for a later one to overtake it."""
    simulation_minute_s: float = Field(default=60.0, ge=0)
    """How long one minute of a simulation's `delay` lasts here."""
    quirks: Quirks = Quirks()
    state_file: Path | None = None
    """Where the account keeps its data between runs, as ShipBob's database does (ids keep growing)."""
