"""The ERP port: what order-to-cash needs from any ERP, in canonical terms.

Implementations (see `adapters/tryton.py`) make every write idempotent *inside the ERP* on its
key, and atomic: a lost response, an interrupted attempt or an overlapping retry can never create a
second sale, pay twice or leave a step halfway.
"""
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from canonical import Address, Customer, Money, Order, Payment
from canonical.fulfilment import FulfilmentLine
from canonical.inventory import CatalogChanges, SourceStock, StockChanges
from canonical.returns import ProcessedItem, RefundLine, ReturnLine
from canonical.sale_amounts import AmountsPolicy


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


class ErpShipment(BaseModel):
    """The ERP's record of one 3PL shipment: the quantities it marked as shipped."""

    model_config = ConfigDict(frozen=True)

    erp_ref: str
    shipment_ref: str
    lines: tuple[FulfilmentLine, ...]


class InvoiceState(StrEnum):
    POSTED = "posted"
    PAID = "paid"


class ErpInvoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    erp_ref: str
    number: str
    state: InvoiceState
    total_amount: Money
    amount_to_pay: Money


class ErpReturn(BaseModel):
    """The ERP's return of goods for one RMA: a return sale and the shipment that receives the units."""

    model_config = ConfigDict(frozen=True)

    erp_ref: str
    reference: str
    received: tuple[ProcessedItem, ...] = ()


class ErpCreditNote(BaseModel):
    model_config = ConfigDict(frozen=True)

    erp_ref: str
    number: str
    refund_key: str
    untaxed_amount: Money
    tax_amount: Money
    total_amount: Money


class Erp(Protocol):
    async def ensure_customer(
        self, key: str, customer: Customer, billing: Address, shipping: Address
    ) -> ErpCustomer:
        """Find or create the customer and both addresses; safe to call repeatedly."""

    async def create_sales_order(
        self, key: str, order: Order, customer: ErpCustomer, policy: AmountsPolicy
    ) -> SalesOrder:
        """Create and confirm the sale for `order` once its untaxed amount, tax per rate and total equal the
        store's to the cent; a difference `policy` does not settle (adjustment lines) is a BusinessError,
        and nothing is confirmed. Returns the existing sale if `key` is known."""

    async def get_sales_order(self, key: str) -> SalesOrder | None: ...

    async def cancel_sales_order(self, key: str) -> SalesOrder | None:
        """Undo a sale that has not shipped; None if no sale exists for `key`. Idempotent."""

    async def ship_sales_order(self, key: str, shipment_ref: str, lines: list[FulfilmentLine]) -> ErpShipment:
        """Mark `lines` of the sale as shipped by the 3PL shipment `shipment_ref`.

        Idempotent per `shipment_ref`. When only part of the sale ships, the ERP's customer shipment
        is split so the rest stays open for later shipments.
        """

    async def shipped_units(self, key: str) -> dict[str, Decimal]:
        """SKU → units of the sale delivered to the customer so far; empty if there is no such sale."""

    async def release_unshipped(self, key: str) -> None:
        """Nothing more of the sale will ship (the rest was refunded): cancel what it still holds open, so the
        sale is done and its units are no longer reserved. Idempotent."""

    async def invoice_sales_order(self, key: str, payment: Payment, amount: Money) -> ErpInvoice:
        """Post the sale's invoice and record the store's payment against it; idempotent."""

    async def create_return(self, key: str, rma: str, lines: list[ReturnLine]) -> ErpReturn:
        """Open the return of `lines` of the sale `key` under the RMA number `rma`; idempotent per `rma`."""

    async def receive_return(self, rma: str, received: list[ProcessedItem]) -> ErpReturn:
        """Receive the units the warehouse processed into stock (restocked) or as scrap; idempotent."""

    async def cancel_return(self, rma: str) -> None:
        """Undo the return `rma` before anything was received, so its units no longer count as returned;
        idempotent, and nothing for an RMA the ERP never had."""

    async def post_credit_note(
        self, key: str, refund_key: str, lines: list[RefundLine], reason: str, payout_reference: str | None = None
    ) -> ErpCreditNote:
        """Post a credit note for exactly these refunded lines (amounts and taxes as given); idempotent per
        `refund_key`. With `payout_reference` (the money went back through the payment provider) it is also
        settled, i.e. reconciled with that payout. `NotReadyYet` while there is nothing to credit yet (the
        sale's invoice is not posted): try again once it is."""

    async def stock_changes(self, cursor: str | None) -> StockChanges:
        """SKUs whose stock moved since `cursor` (opaque, from the previous answer); None: every stocked SKU.

        A move that commits while the ERP is read is reported next time (Tryton: if it commits within two
        minutes of its timestamp), and a SKU is reported again only if it moved again.
        """

    async def available_stock(self, skus: Sequence[str] | None, warehouses: Sequence[str]) -> list[SourceStock]:
        """Units each SKU may still promise (on hand less what confirmed sales hold), summed over the
        `warehouses` (ERP warehouse codes); None: every stocked SKU. Unknown SKUs are left out."""

    async def catalog_changes(self, cursor: str | None, price_list: str | None) -> CatalogChanges:
        """Products created or changed since `cursor` (None: the whole catalogue on sale), inactive ones
        included so a store can hide them; sale prices from the ERP price list named `price_list`."""

    async def aclose(self) -> None: ...
