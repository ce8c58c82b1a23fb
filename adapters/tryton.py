"""The ERP port on a real Tryton, over JSON-RPC.

Idempotency lives in Tryton itself: every sale carries the configured web shop and the
order's key as `web_id`, and Tryton enforces UNIQUE(web_shop, web_id). A retry after a lost
response, or two workers racing, therefore end on the same single sale.
"""
from collections.abc import Sequence
from decimal import Decimal

from adapters.erp import (
    ErpCreditNote,
    ErpCustomer,
    ErpInvoice,
    ErpReturn,
    ErpShipment,
    SalesOrder,
    SalesOrderState,
)
from adapters.errors import BusinessError
from adapters.tryton_catalog import catalog_changes
from adapters.tryton_credit_notes import post_credit_note
from adapters.tryton_invoicing import invoice_sale
from adapters.tryton_returns import cancel_return, create_return, receive_return
from adapters.tryton_rpc import SYSTEM, TrytonRpc, TrytonUserError
from adapters.tryton_shipping import release_unshipped, ship_sale, shipped_units
from adapters.tryton_stock import available_stock, stock_changes
from adapters.tryton_workflow import confirm_sale, ignore_exceptions
from canonical import Address, Customer, Money, Order, Payment, TaxAmount
from canonical.fulfilment import FulfilmentLine
from canonical.inventory import CatalogChanges, SourceStock, StockChanges
from canonical.returns import ProcessedItem, RefundLine, ReturnLine
from config import ErpSettings

PRICE_DIGITS = Decimal("0.0001")  # sale.line unit_price precision
SALE_FIELDS = [
    "number",
    "state",
    "untaxed_amount",
    "tax_amount",
    "total_amount",
    "currency.code",
    "shipments.state",
    "invoices.state",
]
STATES = {
    "draft": SalesOrderState.DRAFT,
    "quotation": SalesOrderState.DRAFT,
    "confirmed": SalesOrderState.CONFIRMED,
    "processing": SalesOrderState.PROCESSING,
    "done": SalesOrderState.DONE,
    "cancelled": SalesOrderState.CANCELLED,
}
SHIPPED = {"shipped", "done"}
INVOICED = {"posted", "paid"}


class TrytonErp:
    """Customers and sales orders in Tryton, as the `integration` user."""

    def __init__(self, settings: ErpSettings) -> None:
        self._settings = settings
        self._rpc = TrytonRpc(
            settings.url, settings.database, settings.user, settings.password, timeout=settings.timeout_s
        )
        self._web_shop_id: int | None = None

    async def aclose(self) -> None:
        await self._rpc.aclose()

    async def ensure_customer(self, key: str, customer: Customer, billing: Address, shipping: Address) -> ErpCustomer:
        """The party whose code is `key`, with an e-mail and both addresses; an empty shipping address means billing."""
        shipping = billing if shipping.is_empty() else shipping
        countries = await self._countries(billing, shipping)
        party_id = await self._find_party(key)
        if party_id is None:
            party_id = await self._create_party(key, customer)
        await self._ensure_email(party_id, customer.email)
        billing_id = await self._ensure_address(party_id, billing, countries)
        shipping_id = await self._ensure_address(party_id, shipping, countries)
        return ErpCustomer(
            key=key,
            customer_ref=str(party_id),
            invoice_address_ref=str(billing_id),
            shipment_address_ref=str(shipping_id),
        )

    async def create_sales_order(self, key: str, order: Order, customer: ErpCustomer) -> SalesOrder:
        """Create, quote and confirm the sale for `order`, or finish the one `key` already names."""
        sale_id = await self._find_sale(key)
        if sale_id is None:
            values = await self._sale_values(key, order, customer)
            try:
                (sale_id,) = await self._rpc.call("sale.sale", "create", [values])
            except TrytonUserError as error:
                if "web ID" not in error.message or "unique" not in error.message:
                    raise
                sale_id = await self._find_sale(key)
        await confirm_sale(self._rpc, sale_id)
        return await self._read_sale(key, sale_id)

    async def get_sales_order(self, key: str) -> SalesOrder | None:
        sale_id = await self._find_sale(key)
        return None if sale_id is None else await self._read_sale(key, sale_id)

    async def cancel_sales_order(self, key: str) -> SalesOrder | None:
        """Cancel the sale if nothing has shipped or been invoiced; reports CANCELLED either way.

        Tryton only cancels a sale before confirmation. A confirmed sale is undone the way a
        Tryton user would: cancel its shipments and draft invoices, then accept those exceptions,
        which leaves the sale `done` with nothing to ship or invoice. For the business that is a
        cancelled order, so `_read_sale` reports it as CANCELLED.
        """
        sale_id = await self._find_sale(key)
        if sale_id is None:
            return None
        (sale,) = await self._rpc.call("sale.sale", "read", [sale_id], SALE_FIELDS)
        if sale["state"] == "confirmed":
            await self._rpc.call("sale.sale", "draft", [sale_id])
            sale["state"] = "draft"
        if sale["state"] in ("draft", "quotation"):
            await self._rpc.call("sale.sale", "cancel", [sale_id])
        elif sale["state"] in ("processing", "done") and not _is_undone(sale):
            await self._undo_confirmed_sale(sale)
        return await self._read_sale(key, sale_id)

    async def ship_sales_order(self, key: str, shipment_ref: str, lines: list[FulfilmentLine]) -> ErpShipment:
        """One done Tryton shipment per 3PL shipment; the rest of the sale stays on an open one.

        The 3PL is the physical truth: where Tryton sees too little stock to assign the shipment,
        the assignment is forced (`assign_force`), and Tryton's stock goes negative until a count.
        """
        return await ship_sale(self._rpc, await self._existing_sale(key), shipment_ref, lines)

    async def shipped_units(self, key: str) -> dict[str, Decimal]:
        """Done moves of the sale's lines to the customer location."""
        sale_id = await self._find_sale(key)
        return {} if sale_id is None else await shipped_units(self._rpc, sale_id)

    async def release_unshipped(self, key: str) -> None:
        """Cancel the sale's open shipments and accept the exception (see `tryton_shipping`)."""
        await release_unshipped(self._rpc, await self._existing_sale(key))

    async def invoice_sales_order(self, key: str, payment: Payment, amount: Money) -> ErpInvoice:
        """Post the sale's invoice and pay it with the store's payment, whose transaction id the payment keeps."""
        return await invoice_sale(self._rpc, await self._existing_sale(key), payment, amount)

    async def create_return(self, key: str, rma: str, lines: list[ReturnLine]) -> ErpReturn:
        """A confirmed return sale of `lines` referenced `rma`: Tryton then awaits the units and drafts the credit."""
        return await create_return(self._rpc, await self._existing_sale(key), rma, lines)

    async def receive_return(self, rma: str, received: list[ProcessedItem]) -> ErpReturn:
        """Receive what the warehouse processed: restocked units into storage, the rest into waste locations."""
        return await receive_return(self._rpc, rma, received)

    async def cancel_return(self, rma: str) -> None:
        """Cancel the return sale's shipment and credit note while nothing was received (see `tryton_returns`)."""
        await cancel_return(self._rpc, rma)

    async def post_credit_note(
        self, key: str, refund_key: str, lines: list[RefundLine], reason: str, payout_reference: str | None = None
    ) -> ErpCreditNote:
        """A posted credit note for exactly the refunded lines, with the refund's key as its reference."""
        sale_id = await self._existing_sale(key)
        return await post_credit_note(self._rpc, self._settings, sale_id, refund_key, lines, reason, payout_reference)

    async def stock_changes(self, cursor: str | None) -> StockChanges:
        """Goods whose stock moves were created or written since `cursor` (see `adapters.tryton_changes`)."""
        return await stock_changes(self._rpc, cursor)

    async def available_stock(self, skus: Sequence[str] | None, warehouses: Sequence[str]) -> list[SourceStock]:
        """Tryton's forecast quantity as the `web_shop` module reads it for a store."""
        return await available_stock(self._rpc, skus, warehouses)

    async def catalog_changes(self, cursor: str | None, price_list: str | None) -> CatalogChanges:
        """Goods templates as simple or variable products (rules in `adapters.tryton_catalog`)."""
        return await catalog_changes(self._rpc, cursor, price_list)

    async def _undo_confirmed_sale(self, sale: dict) -> None:
        shipments, invoices = sale["shipments."], sale["invoices."]
        if any(s["state"] in SHIPPED for s in shipments):
            raise BusinessError(SYSTEM, f"Sale {sale['number']} has shipped: it needs a return, not a cancellation")
        if any(i["state"] in INVOICED for i in invoices):
            raise BusinessError(
                SYSTEM, f"Sale {sale['number']} is invoiced: it needs a credit note, not a cancellation"
            )
        open_shipments = [s["id"] for s in shipments if s["state"] != "cancelled"]
        open_invoices = [i["id"] for i in invoices if i["state"] != "cancelled"]
        if open_shipments:
            await self._rpc.call("stock.shipment.out", "cancel", open_shipments)
        if open_invoices:
            await self._rpc.call("account.invoice", "cancel", open_invoices)
        (states,) = await self._rpc.call("sale.sale", "read", [sale["id"]], ["invoice_state", "shipment_state"])
        if states["invoice_state"] == "exception":
            await ignore_exceptions(self._rpc, sale["id"], "sale.handle.invoice.exception", "invoices")
        if states["shipment_state"] == "exception":
            await ignore_exceptions(self._rpc, sale["id"], "sale.handle.shipment.exception", "moves")

    async def _sale_values(self, key: str, order: Order, customer: ErpCustomer) -> dict:
        (party,) = await self._rpc.call("party.party", "read", [int(customer.customer_ref)], ["customer_payment_term"])
        return {
            "web_shop": await self._web_shop(),
            "web_id": key,
            "reference": order.number,
            "description": f"Order {order.number} from store {order.store_id}",
            "comment": order.customer_note or None,
            "party": int(customer.customer_ref),
            "invoice_address": int(customer.invoice_address_ref),
            "shipment_address": int(customer.shipment_address_ref),
            "payment_term": party["customer_payment_term"],
            "sale_date": order.created_at.date(),
            "currency": await self._currency(order.currency),
            "lines": [["create", await self._sale_lines(order)]],
        }

    async def _sale_lines(self, order: Order) -> list[dict]:
        """Lines priced as the store charged them, with the ERP taxes at the store's rates."""
        shipping_code, fee_code = self._settings.shipping_product_code, self._settings.fee_product_code
        codes = {line.sku for line in order.lines if line.sku}
        codes |= {shipping_code} if order.shipping_lines else set()
        codes |= {fee_code} if order.fee_lines else set()
        products = await self._products(codes)
        taxes = await self._taxes_by_rate()

        def line(product_code: str, quantity: Decimal, total: Decimal, label: str, tax_amounts, where: str) -> dict:
            product = products.get(product_code)
            if product is None:
                raise BusinessError(
                    SYSTEM, f"Unknown SKU {product_code!r} on {where}: add the product to the ERP, then retry"
                )
            unit_price = total / quantity if quantity else Decimal(0)
            return {
                "type": "line",
                "product": product["id"],
                "unit": product["default_uom"],
                "quantity": float(quantity),
                "unit_price": unit_price.quantize(PRICE_DIGITS),
                "description": label,
                "taxes": [["add", _tax_ids(order, tax_amounts, taxes, where)]],
            }

        lines = []
        for number, item in enumerate(order.lines, start=1):
            where = f"line {number} ({item.name})"
            if not item.sku:
                raise BusinessError(SYSTEM, f"Missing SKU on {where}: set the SKU in the store, then retry")
            lines.append(line(item.sku, item.quantity, item.total.amount, item.name, item.taxes, where))
        for shipping in order.shipping_lines:
            where = f"shipping line {shipping.method_title!r}"
            total = shipping.total.amount
            lines.append(line(shipping_code, Decimal(1), total, shipping.method_title, shipping.taxes, where))
        for fee in order.fee_lines:
            lines.append(line(fee_code, Decimal(1), fee.total.amount, fee.name, fee.taxes, f"fee line {fee.name!r}"))
        return lines

    async def _read_sale(self, key: str, sale_id: int) -> SalesOrder:
        (sale,) = await self._rpc.call("sale.sale", "read", [sale_id], SALE_FIELDS)
        currency = sale["currency."]["code"]
        return SalesOrder(
            key=key,
            erp_ref=str(sale_id),
            number=sale["number"] or "",
            state=SalesOrderState.CANCELLED if _is_undone(sale) else STATES[sale["state"]],
            untaxed_amount=Money(amount=sale["untaxed_amount"], currency=currency),
            tax_amount=Money(amount=sale["tax_amount"], currency=currency),
            total_amount=Money(amount=sale["total_amount"], currency=currency),
        )

    async def _find_sale(self, key: str) -> int | None:
        domain = [("web_shop", "=", await self._web_shop()), ("web_id", "=", key)]
        found = await self._rpc.call("sale.sale", "search", domain, 0, 1, None)
        return found[0] if found else None

    async def _existing_sale(self, key: str) -> int:
        sale_id = await self._find_sale(key)
        if sale_id is None:
            raise BusinessError(SYSTEM, f"No sale for order {key} in the ERP")
        return sale_id

    async def _web_shop(self) -> int:
        if self._web_shop_id is None:
            name = self._settings.web_shop
            found = await self._rpc.call("web.shop", "search", [("name", "=", name)], 0, 1, None)
            if not found:
                raise BusinessError(SYSTEM, f"No web shop named {name!r} in the ERP: create it, then retry")
            self._web_shop_id = found[0]
        return self._web_shop_id

    async def _currency(self, code: str) -> int:
        found = await self._rpc.call("currency.currency", "search", [("code", "=", code)], 0, 1, None)
        if not found:
            raise BusinessError(SYSTEM, f"Unknown currency {code}: add it to the ERP, then retry")
        return found[0]

    async def _products(self, codes: set[str]) -> dict[str, dict]:
        domain = [("code", "in", sorted(codes)), ("salable", "=", True)]
        found = await self._rpc.call("product.product", "search_read", domain, 0, None, None, ["code", "default_uom"])
        return {product["code"]: product for product in found}

    async def _taxes_by_rate(self) -> dict[Decimal, int]:
        """Customer percentage taxes by rate (0.2 for 20 %); the first one wins if two share a rate."""
        domain = [
            ("parent", "=", None),
            ("type", "=", "percentage"),
            ["OR", ("group", "=", None), ("group.kind", "in", ["sale", "both"])],
        ]
        found = await self._rpc.call("account.tax", "search_read", domain, 0, None, [("id", "ASC")], ["rate"])
        taxes: dict[Decimal, int] = {}
        for tax in found:
            taxes.setdefault(tax["rate"], tax["id"])
        return taxes

    async def _find_party(self, code: str) -> int | None:
        found = await self._rpc.call("party.party", "search", [("code", "=", code)], 0, 1, None)
        return found[0] if found else None

    async def _create_party(self, code: str, customer: Customer) -> int:
        """party.code is unique: losing a race to another worker means the party now exists."""
        values = {"code": code, "name": customer.display_name, "addresses": []}
        try:
            (party_id,) = await self._rpc.call("party.party", "create", [values])
            return party_id
        except TrytonUserError as error:
            existing = await self._find_party(code) if "must be unique" in error.message else None
            if existing is None:
                raise
            return existing

    async def _ensure_email(self, party_id: int, email: str) -> None:
        if not email:
            return
        domain = [("party", "=", party_id), ("type", "=", "email"), ("value", "=", email)]
        if not await self._rpc.call("party.contact_mechanism", "search", domain, 0, 1, None):
            await self._rpc.call(
                "party.contact_mechanism", "create", [{"party": party_id, "type": "email", "value": email}]
            )

    async def _ensure_address(self, party_id: int, address: Address, countries: dict[str, int]) -> int:
        """An existing address with the same street, postal code, city and country, else a new one."""
        values = {
            "party": party_id,
            "party_name": address.company or address.full_name or None,
            "street": "\n".join(part for part in (address.street, address.street2) if part) or None,
            "postal_code": address.postal_code or None,
            "city": address.city or None,
            "country": countries.get(address.country.upper()),
        }
        fields = ["street", "postal_code", "city", "country"]
        domain = [("party", "=", party_id)]
        existing = await self._rpc.call("party.address", "search_read", domain, 0, None, None, fields)
        for candidate in existing:
            if all(_same(candidate[field], values[field]) for field in fields):
                return candidate["id"]
        (address_id,) = await self._rpc.call("party.address", "create", [values])
        return address_id

    async def _countries(self, *addresses: Address) -> dict[str, int]:
        codes = {a.country.upper() for a in addresses if a.country}
        found = await self._rpc.call(
            "country.country", "search_read", [("code", "in", sorted(codes))], 0, None, None, ["code"]
        )
        countries = {country["code"]: country["id"] for country in found}
        if unknown := codes - countries.keys():
            raise BusinessError(SYSTEM, f"Unknown country {', '.join(sorted(unknown))}: add it to the ERP, then retry")
        return countries


def _tax_ids(order: Order, amounts: tuple[TaxAmount, ...], taxes: dict[Decimal, int], where: str) -> list[int]:
    """The ERP taxes at the rates the store charged; a zero amount at a non-zero rate did not apply."""
    ids = []
    for amount in amounts:
        rate = order.tax_rate(amount.rate_id)
        if rate is None:
            raise BusinessError(SYSTEM, f"Tax rate {amount.rate_id!r} on {where} is not among the order's tax rates")
        if not amount.amount.amount and rate.percent:
            continue
        tax_id = taxes.get(rate.percent / 100)
        if tax_id is None:
            raise BusinessError(
                SYSTEM,
                f"No ERP tax at {rate.percent.normalize()}% for {where}: add a customer tax at that rate, then retry",
            )
        ids.append(tax_id)
    return ids


def _is_undone(sale: dict) -> bool:
    """A confirmed sale that `cancel_sales_order` closed: done, every shipment and invoice cancelled."""
    documents = sale["shipments."] + sale["invoices."]
    return sale["state"] == "done" and bool(documents) and all(d["state"] == "cancelled" for d in documents)


def _same(stored, wanted) -> bool:
    if isinstance(wanted, str) or isinstance(stored, str):
        return " ".join((stored or "").split()).casefold() == " ".join((wanted or "").split()).casefold()
    return stored == wanted
