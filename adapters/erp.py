"""The ERP port: what order-to-cash needs from any ERP, in canonical terms.

Implementations (see `adapters/tryton.py`) must make `create_sales_order` idempotent
*inside the ERP* on `key`, so a lost response or a concurrent retry can never create a
second sale.
"""
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from canonical import Address, Customer, Money, Order


class SalesOrderState(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    DONE = "done"
    CANCELLED = "cancelled"


class ErpCustomer(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    customer_ref: str
    invoice_address_ref: str
    shipment_address_ref: str


class SalesOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    erp_ref: str
    number: str
    state: SalesOrderState
    untaxed_amount: Money
    tax_amount: Money
    total_amount: Money


class Erp(Protocol):
    async def ensure_customer(
        self, key: str, customer: Customer, billing: Address, shipping: Address
    ) -> ErpCustomer:
        """Find or create the customer and both addresses; safe to call repeatedly."""

    async def create_sales_order(self, key: str, order: Order, customer: ErpCustomer) -> SalesOrder:
        """Create and confirm the sale for `order`; returns the existing sale if `key` is known."""

    async def get_sales_order(self, key: str) -> SalesOrder | None: ...

    async def cancel_sales_order(self, key: str) -> SalesOrder | None:
        """Undo a sale that has not shipped; None if no sale exists for `key`. Idempotent."""

    async def aclose(self) -> None: ...
