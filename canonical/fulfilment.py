"""Fulfilment as the retailer sees it: what a warehouse is asked to ship, and what it shipped.

A 3PL order may leave in several shipments (split across centres, or across boxes); each
carries its own lines and tracking, so one store order can have several tracking numbers.
"""
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from canonical.order import Address


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class FulfilmentLine(_Model):
    sku: str
    name: str = ""
    quantity: Decimal


class FulfilmentRequest(_Model):
    """Ask a warehouse to ship `lines`. `reference` is our idempotency key for the 3PL order."""

    reference: str
    order_number: str
    center_id: str | None = None  # None: the 3PL chooses
    recipient_name: str
    recipient_email: str = ""
    recipient_phone: str = ""
    address: Address
    shipping_method: str = "Standard"
    lines: tuple[FulfilmentLine, ...]


class ShipmentStatus(StrEnum):
    """Where a shipment stands; each 3PL adapter maps its own statuses here."""

    PROCESSING = "processing"  # accepted, not yet picked
    PICKED = "picked"  # picked/packed/labelled: no longer cancellable
    SHIPPED = "shipped"  # left the warehouse
    DELIVERED = "delivered"
    EXCEPTION = "exception"  # e.g. out of stock at the centre: needs a decision
    ON_HOLD = "on_hold"  # e.g. invalid address: needs a decision
    CANCELLED = "cancelled"


class Tracking(_Model):
    carrier: str
    number: str
    url: str = ""


class Shipment(_Model):
    shipment_id: str
    center_id: str
    center_name: str = ""
    status: ShipmentStatus
    status_detail: str = ""
    lines: tuple[FulfilmentLine, ...]
    tracking: Tracking | None = None
    shipped_at: datetime | None = None


class FulfilmentOrderStatus(StrEnum):
    PROCESSING = "processing"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


class FulfilmentOrder(_Model):
    """The 3PL's order for one `FulfilmentRequest`, with its shipments so far."""

    order_ref: str
    reference: str
    status: FulfilmentOrderStatus
    shipments: tuple[Shipment, ...] = ()


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # every shipment cancelled
    NOT_CANCELLABLE = "not_cancellable"  # nothing could be cancelled (picked, shipped)
    PARTIALLY_CANCELLED = "partially_cancelled"


class CancelResult(_Model):
    outcome: CancelOutcome
    cancelled_shipments: tuple[str, ...] = ()
    refused_shipments: tuple[str, ...] = ()
    reason: str = ""


class CenterStock(_Model):
    """Units a fulfilment centre can ship now (on hand − committed)."""

    center_id: str
    center_name: str = ""
    sku: str
    fulfillable: Decimal
