"""Returns (RMA) and refunds as the retailer sees them, whatever store, ERP or 3PL handles them.

A refund names store order lines (by the store's line id) with quantities and amounts
excluding tax, plus the tax per rate, so the store, the ERP credit note and any report agree
to the cent. A return names SKUs and quantities; what the warehouse did with each unit comes
back as its disposition.
"""
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from canonical.money import Money
from canonical.order import TaxAmount


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LineKind(StrEnum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    FEE = "fee"


class RefundLine(_Model):
    """Part of one store order line (product, shipping or fee line) given back."""

    line_id: str
    kind: LineKind = LineKind.PRODUCT
    sku: str | None = None
    quantity: Decimal = Decimal(0)  # 0 for an amount-only refund of a line (e.g. shipping)
    amount: Money  # excluding tax, positive
    taxes: tuple[TaxAmount, ...] = ()


class Refund(_Model):
    """A refund that exists in the store (made by the merchant there, or by us)."""

    refund_id: str
    store_id: str
    order_id: str
    amount: Money  # positive, tax included
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()
    key: str | None = None  # our idempotency key when we created it
    refunded_payment: bool = False  # True when the payment gateway moved the money
    created_at: datetime | None = None


class RefundRequest(_Model):
    """Ask the store to refund; `key` makes it happen at most once.

    With lines, what is left of each line is refunded, units at the line's own price, so `amount` is what
    the asker expected; without, `amount` is refunded as it is."""

    key: str
    store_id: str
    order_id: str
    reason: str
    lines: tuple[RefundLine, ...]
    amount: Money
    refund_payment: bool  # ask the payment gateway to send the money back
    restock: bool  # put the refunded quantities back in the store's stock


class Disposition(StrEnum):
    """What the warehouse does with a returned unit."""

    RESTOCK = "restock"
    DISPOSE = "dispose"
    QUARANTINE = "quarantine"


class ReturnLine(_Model):
    sku: str
    quantity: Decimal
    reason: str = ""


class ThreePLReturnRequest(_Model):
    """Ask the warehouse to expect a return; `reference` is the RMA number printed on the box."""

    reference: str
    center_id: str
    original_shipment_id: str | None = None
    lines: tuple[ReturnLine, ...]
    requested_action: Disposition | None = None


class ReturnStatus(StrEnum):
    AWAITING_ARRIVAL = "awaiting_arrival"
    ARRIVED = "arrived"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProcessedItem(_Model):
    """Units of a SKU the warehouse received and what it did with them (may be fewer than expected)."""

    sku: str
    quantity: Decimal
    disposition: Disposition


class ThreePLReturn(_Model):
    return_ref: str
    reference: str
    status: ReturnStatus
    processed: tuple[ProcessedItem, ...] = ()
