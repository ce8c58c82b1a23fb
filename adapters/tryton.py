"""The ERP port on a real Tryton, over JSON-RPC.

Every write is one step of our Tryton module `retail_sync` (`adapters/tryton_module`): one call, one
Tryton transaction, idempotent on the key it is given. A worker killed, Tryton stopped or a response
lost leaves the ERP before the step or after it, never halfway, and the next attempt finds the step
done. Steps of one order are serialised inside Tryton, so overlapping attempts (one timed out while
its call still runs) and concurrent refunds of one order never interleave.

Idempotency of the sale itself lives in Tryton too: every sale carries the configured web shop and
the order's key as `web_id`, and Tryton enforces UNIQUE(web_shop, web_id).
"""
from collections.abc import Sequence
from decimal import Decimal

from adapters.erp import (
    ErpCreditNote,
    ErpCustomer,
    ErpInvoice,
    ErpReturn,
    ErpShipment,
    InvoiceState,
    SalesOrder,
    SalesOrderState,
)
from adapters.errors import BusinessError
from adapters.tryton_catalog import catalog_changes
from adapters.tryton_rpc import SYSTEM, FaultPoint, TrytonRpc
from adapters.tryton_sales import place_sale
from adapters.tryton_stock import available_stock, stock_changes
from canonical import Address, Customer, Money, Order, Payment
from canonical.fulfilment import FulfilmentLine
from canonical.inventory import CatalogChanges, SourceStock, StockChanges
from canonical.returns import Disposition, LineKind, ProcessedItem, RefundLine, ReturnLine
from canonical.sale_amounts import AmountsPolicy
from config import ErpSettings

PAYMENT_METHOD = "Web shop payments"
"""The `account.invoice.payment.method` store payments and payouts go through (created by the ERP's set-up)."""
QUARANTINE_LOCATION = "QUA"
"""Code of the warehouse's waste location for returned units held aside rather than scrapped."""
STATES = {
    "draft": SalesOrderState.DRAFT,
    "quotation": SalesOrderState.DRAFT,
    "confirmed": SalesOrderState.CONFIRMED,
    "processing": SalesOrderState.PROCESSING,
    "done": SalesOrderState.DONE,
    "cancelled": SalesOrderState.CANCELLED,
}


class TrytonErp:
    """Customers, sales, shipments, invoices, returns and credit notes in Tryton, as the `integration` user."""

    def __init__(self, settings: ErpSettings, *, fault_point: FaultPoint | None = None) -> None:
        self._settings = settings
        self._rpc = TrytonRpc(
            settings.url,
            settings.database,
            settings.user,
            settings.password,
            timeout=settings.timeout_s,
            fault_point=fault_point,
        )
        self._web_shop_id: int | None = None

    async def aclose(self) -> None:
        await self._rpc.aclose()

    async def ensure_customer(self, key: str, customer: Customer, billing: Address, shipping: Address) -> ErpCustomer:
        """The party whose code is `key`, with an e-mail and both addresses; an empty shipping address means billing."""
        shipping = billing if shipping.is_empty() else shipping
        party = await self._rpc.call(
            "retail_sync.customer", "ensure", key, customer.display_name, customer.email,
            _address(billing), _address(shipping),
        )  # fmt: skip
        return ErpCustomer(
            key=key,
            customer_ref=str(party["party"]),
            invoice_address_ref=str(party["invoice_address"]),
            shipment_address_ref=str(party["shipment_address"]),
        )

    async def create_sales_order(
        self, key: str, order: Order, customer: ErpCustomer, policy: AmountsPolicy
    ) -> SalesOrder:
        """Create and confirm the sale for `order` at exactly the store's amounts (see `adapters.tryton_sales`),
        or return the one `key` already names."""
        shop = await self._web_shop()
        existing = await self._rpc.call("retail_sync.sale", "get", shop, key)
        if existing and existing["state"] not in ("draft", "quotation"):
            return _sales_order(key, existing)
        size = len(order.lines) + len(order.shipping_lines) + len(order.fee_lines)
        if size > self._settings.max_sale_lines:
            raise BusinessError(
                SYSTEM,
                f"Order {order.number} has {size} lines; one ERP sale takes at most {self._settings.max_sale_lines} "
                "(erp.max_sale_lines): split the order in the store, or raise the limit, then retry",
            )
        (party,) = await self._rpc.call("party.party", "read", [int(customer.customer_ref)], ["customer_payment_term"])
        header = {
            "party": int(customer.customer_ref),
            "invoice_address": int(customer.invoice_address_ref),
            "shipment_address": int(customer.shipment_address_ref),
            "payment_term": party["customer_payment_term"],
        }
        return _sales_order(key, await place_sale(self._rpc, self._settings, shop, key, order, header, policy))

    async def get_sales_order(self, key: str) -> SalesOrder | None:
        found = await self._rpc.call("retail_sync.sale", "get", await self._web_shop(), key)
        return None if found is None else _sales_order(key, found)

    async def cancel_sales_order(self, key: str) -> SalesOrder | None:
        """Cancel the sale if nothing has shipped or been invoiced; a confirmed sale undone reports CANCELLED."""
        found = await self._rpc.call("retail_sync.sale", "cancel", await self._web_shop(), key)
        return None if found is None else _sales_order(key, found)

    async def ship_sales_order(self, key: str, shipment_ref: str, lines: list[FulfilmentLine]) -> ErpShipment:
        """One done Tryton shipment per 3PL shipment; the rest of the sale stays on an open one.

        The 3PL is the physical truth: where Tryton sees too little stock to assign the shipment,
        the assignment is forced, and Tryton's stock goes negative until a count.
        """
        shipped = [{"sku": line.sku, "quantity": line.quantity} for line in lines]
        found = await self._rpc.call("retail_sync.shipment", "ship", await self._web_shop(), key, shipment_ref, shipped)
        return ErpShipment(
            erp_ref=str(found["id"]),
            shipment_ref=shipment_ref,
            lines=tuple(FulfilmentLine(sku=line["sku"], name=line["name"], quantity=line["quantity"])
                        for line in found["lines"]),  # fmt: skip
        )

    async def shipped_units(self, key: str) -> dict[str, Decimal]:
        """Done moves of the sale's lines to the customer location."""
        return await self._rpc.call("retail_sync.shipment", "shipped", await self._web_shop(), key)

    async def release_unshipped(self, key: str) -> None:
        """Cancel the sale's open shipments and accept the exception, in one step."""
        await self._rpc.call("retail_sync.shipment", "release", await self._web_shop(), key)

    async def invoice_sales_order(self, key: str, payment: Payment, amount: Money) -> ErpInvoice:
        """Post the sale's invoice and pay it with the store's payment, whose transaction id the payment keeps."""
        paid = {
            "amount": amount.amount,
            "currency": amount.currency,
            "description": payment.transaction_id or payment.method_title or None,
            "date": payment.paid_at.date() if payment.paid_at else None,
            "method": PAYMENT_METHOD,
        }
        invoice = await self._rpc.call("retail_sync.invoice", "pay", await self._web_shop(), key, paid)
        return ErpInvoice(
            erp_ref=str(invoice["id"]),
            number=invoice["number"],
            state=InvoiceState.PAID,
            total_amount=Money(amount=invoice["total_amount"], currency=amount.currency),
            amount_to_pay=Money(amount=invoice["amount_to_pay"], currency=amount.currency),
        )

    async def create_return(self, key: str, rma: str, lines: list[ReturnLine]) -> ErpReturn:
        """A confirmed return sale of `lines` referenced `rma`: Tryton then awaits the units and drafts the credit."""
        returned = [{"sku": line.sku, "quantity": line.quantity} for line in lines]
        found = await self._rpc.call("retail_sync.return", "open", await self._web_shop(), key, rma, returned)
        return ErpReturn(erp_ref=str(found["id"]), reference=rma)

    async def receive_return(self, rma: str, received: list[ProcessedItem]) -> ErpReturn:
        """Receive what the warehouse processed: restocked units into storage, the rest into waste locations."""
        items = [{"sku": i.sku, "quantity": i.quantity, "disposition": i.disposition.value} for i in received]
        found = await self._rpc.call("retail_sync.return", "receive", rma, items, QUARANTINE_LOCATION)
        put_away = [ProcessedItem(sku=i["sku"], quantity=i["quantity"], disposition=Disposition(i["disposition"]))
                    for i in found["received"]]  # fmt: skip
        return ErpReturn(erp_ref=str(found["id"]), reference=rma, received=tuple(put_away))

    async def cancel_return(self, rma: str) -> None:
        """Cancel the return sale's shipment and credit note while nothing was received, in one step."""
        await self._rpc.call("retail_sync.return", "cancel", rma)

    async def post_credit_note(
        self, key: str, refund_key: str, lines: list[RefundLine], reason: str, payout_reference: str | None = None
    ) -> ErpCreditNote:
        """A posted credit note for exactly the refunded lines, with the refund's key as its reference.

        Before the sale's invoice is posted there is nothing to credit: `NotReadyYet`, to try again later.
        """
        refund = {
            "key": refund_key,
            "reason": reason,
            "lines": [
                {
                    "line_id": line.line_id,
                    "kind": line.kind.value,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "amount": line.amount.amount,
                    "tax": sum((tax.amount.amount for tax in line.taxes), Decimal(0)),
                }
                for line in lines
            ],
        }
        services = {LineKind.SHIPPING.value: self._settings.shipping_product_code,
                    LineKind.FEE.value: self._settings.fee_product_code}  # fmt: skip
        payout = {"reference": payout_reference, "method": PAYMENT_METHOD} if payout_reference else None
        note = await self._rpc.call("retail_sync.credit_note", "post", await self._web_shop(), key, refund, services,
                                    payout)  # fmt: skip
        currency = note["currency"]
        return ErpCreditNote(
            erp_ref=str(note["id"]),
            number=note["number"],
            refund_key=refund_key,
            untaxed_amount=Money(amount=note["untaxed_amount"], currency=currency),
            tax_amount=Money(amount=note["tax_amount"], currency=currency),
            total_amount=Money(amount=note["total_amount"], currency=currency),
        )

    async def stock_changes(self, cursor: str | None) -> StockChanges:
        """Goods whose stock moves were created or written since `cursor` (see `adapters.tryton_changes`)."""
        return await stock_changes(self._rpc, cursor)

    async def available_stock(self, skus: Sequence[str] | None, warehouses: Sequence[str]) -> list[SourceStock]:
        """Tryton's forecast quantity as the `web_shop` module reads it for a store."""
        return await available_stock(self._rpc, skus, warehouses)

    async def catalog_changes(self, cursor: str | None, price_list: str | None) -> CatalogChanges:
        """Goods templates as simple or variable products (rules in `adapters.tryton_catalog`)."""
        return await catalog_changes(self._rpc, cursor, price_list)

    async def _web_shop(self) -> int:
        if self._web_shop_id is None:
            name = self._settings.web_shop
            found = await self._rpc.call("web.shop", "search", [("name", "=", name)], 0, 1, None)
            if not found:
                raise BusinessError(SYSTEM, f"No web shop named {name!r} in the ERP: create it, then retry")
            self._web_shop_id = found[0]
        return self._web_shop_id


def _sales_order(key: str, sale: dict) -> SalesOrder:
    currency = sale["currency"]
    return SalesOrder(
        key=key,
        erp_ref=str(sale["id"]),
        number=sale["number"],
        state=SalesOrderState.CANCELLED if sale["undone"] else STATES[sale["state"]],
        untaxed_amount=Money(amount=sale["untaxed_amount"], currency=currency),
        tax_amount=Money(amount=sale["tax_amount"], currency=currency),
        total_amount=Money(amount=sale["total_amount"], currency=currency),
    )


def _address(address: Address) -> dict:
    return {
        "party_name": address.company or address.full_name or None,
        "street": "\n".join(part for part in (address.street, address.street2) if part) or None,
        "postal_code": address.postal_code or None,
        "city": address.city or None,
        "country": address.country.upper() or None,
    }
