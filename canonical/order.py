"""A store order as the business sees it, whatever store it came from.

Amounts are exclusive of tax; each taxed line carries its tax amounts per rate so
an ERP or a refund can reproduce the store's taxes exactly.
"""
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from canonical.money import Money


class OrderStatus(StrEnum):
    """Where the order stands commercially; each store adapter maps its own statuses here."""

    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"
    OTHER = "other"


_PROGRESS = {OrderStatus.PAID: 1, OrderStatus.COMPLETED: 2, OrderStatus.CANCELLED: 3, OrderStatus.REFUNDED: 3}
"""How far an order has moved; a status not named here has not moved past checkout."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Address(_Model):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def is_empty(self) -> bool:
        return not (self.street or self.city or self.postal_code or self.country)


class Customer(_Model):
    """The buyer. `store_customer_id` is None for a guest checkout."""

    store_customer_id: str | None = None
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.company or self.email or "Guest customer"


class TaxRate(_Model):
    """A tax rate as the store defines it (id, code, percentage)."""

    rate_id: str
    code: str = ""
    label: str = ""
    percent: Decimal
    compound: bool = False


class TaxAmount(_Model):
    rate_id: str
    amount: Money


class OrderLine(_Model):
    """One product line. `sku` is a snapshot taken when the order was read."""

    line_id: str
    sku: str | None
    name: str
    product_id: str
    variation_id: str | None = None
    quantity: Decimal
    unit_price: Money = Field(description="Unit price after discounts, excluding tax")
    subtotal: Money = Field(description="Line total before discounts, excluding tax")
    total: Money = Field(description="Line total after discounts, excluding tax")
    taxes: tuple[TaxAmount, ...] = ()


class ShippingLine(_Model):
    line_id: str
    method_id: str
    method_title: str
    total: Money
    taxes: tuple[TaxAmount, ...] = ()


class FeeLine(_Model):
    line_id: str
    name: str
    total: Money
    taxes: tuple[TaxAmount, ...] = ()


class DiscountLine(_Model):
    """A coupon; its effect is already inside the product lines' totals."""

    line_id: str
    code: str
    discount: Money
    discount_tax: Money


class RefundSummary(_Model):
    """An entry of the order's refunds list as the store shows it (amount positive)."""

    refund_id: str
    amount: Money
    reason: str = ""


class Payment(_Model):
    method: str = ""
    method_title: str = ""
    transaction_id: str = ""
    paid_at: datetime | None = None


class Order(_Model):
    store_id: str
    order_id: str
    number: str
    status: OrderStatus
    store_status: str = Field(description="The store's own status word, for operators")
    holds_stock: bool = Field(default=False, description="The store has taken the lines' units off its stock")
    currency: str
    prices_include_tax: bool = False
    created_at: datetime
    modified_at: datetime
    customer: Customer
    billing_address: Address
    shipping_address: Address
    lines: tuple[OrderLine, ...]
    shipping_lines: tuple[ShippingLine, ...] = ()
    fee_lines: tuple[FeeLine, ...] = ()
    discount_lines: tuple[DiscountLine, ...] = ()
    tax_rates: tuple[TaxRate, ...] = ()
    payment: Payment = Payment()
    total: Money
    total_tax: Money
    customer_note: str = ""
    refunds: tuple[RefundSummary, ...] = ()

    @property
    def is_paid(self) -> bool:
        return self.status in (OrderStatus.PAID, OrderStatus.COMPLETED) or self.payment.paid_at is not None

    @property
    def is_cancelled(self) -> bool:
        """Cancelled or refunded in the store. A failed payment is not a cancellation: the customer may
        still pay the order (WooCommerce's "pay for order" link), so a failed order keeps waiting."""
        return self.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)

    def is_older_than(self, other: "Order") -> bool:
        """Whether this snapshot was taken before `other`. WooCommerce's modification time counts whole
        seconds, and a checkout saves an order unpaid and then paid within one; inside a second, payment,
        completion, cancellation and refunds only move forward, so the snapshot further along is the later."""
        return self._taken() < other._taken()

    def _taken(self) -> tuple:
        return (self.modified_at, _PROGRESS.get(self.status, 0), self.payment.paid_at is not None, len(self.refunds))

    def without(self, units: dict[str, Decimal]) -> "Order":
        """The order less `units` (SKU → quantity, e.g. refunded or already shipped), taken off line by line."""
        left = dict(units)
        lines = []
        for line in self.lines:
            sku = line.sku or ""
            taken = min(left.get(sku, Decimal(0)), line.quantity)
            left[sku] = left.get(sku, Decimal(0)) - taken
            if line.quantity > taken:
                lines.append(line.model_copy(update={"quantity": line.quantity - taken}))
        return self.model_copy(update={"lines": tuple(lines)})

    def tax_rate(self, rate_id: str) -> TaxRate | None:
        return next((r for r in self.tax_rates if r.rate_id == rate_id), None)
