"""The ERP port kept in memory, for simulations that run thousands of order lifetimes (real Tryton takes
seconds per step). It keeps the promises `adapters/erp.py` documents, as our Tryton module
(`adapters/tryton_module`) keeps them, not as would be convenient:

- every write is idempotent on its key and atomic (nothing awaits inside a step); one sale per key, ever;
- a sale is confirmed only at the store's amounts to the cent, an unknown SKU or currency is refused;
- `cancel_sales_order` refuses a sale that shipped or was invoiced; a confirmed sale undone reports CANCELLED;
- `ship_sales_order` is idempotent per 3PL shipment, refuses SKUs the sale lacks and more than it still owes
  (ordered less shipped less released);
- `invoice_sales_order` pays the one invoice (the whole sale, Tryton's "on order" invoicing) once, and only
  with exactly what it asks; a cancelled sale has no invoice to pay;
- `post_credit_note` is idempotent per refund key, raises `NotReadyYet` before the invoice is posted, refuses a
  cancelled sale and more than is left to credit on a line.

Refusals are `BusinessError`s worded like Tryton's. `faults` injects what a network does to a call: the
connection dropped before it reached the ERP, or the response lost after the ERP did it.
"""
import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from adapters import erp as port
from adapters.erp import ErpCustomer, ErpReturn, SalesOrderState
from adapters.errors import BusinessError, NotReadyYet, RetryableError
from canonical import Address, Customer, Money, Order, Payment
from canonical.fulfilment import FulfilmentLine
from canonical.inventory import CatalogChanges, SourceStock, StockChanges
from canonical.returns import LineKind, ProcessedItem, RefundLine, ReturnLine
from canonical.sale_amounts import AmountsPolicy, side_by_side, store_amounts
from embedded.demo_catalog import ADJUSTMENT_SKU, CURRENCY, FEE_SKU, PRODUCTS, SHIPPING_SKU, TAX_RATES

SYSTEM = "erp"
CENT = Decimal("0.01")
PRICE_DIGITS = Decimal("0.0001")  # Tryton's sale.line unit_price precision


@dataclass
class ErpFault:
    """The next call of `method` goes wrong: `before` it reaches the ERP (nothing done) or `after` (done, the
    answer lost). Both look the same to the caller: a `RetryableError`."""

    method: str
    when: Literal["before", "after"] = "after"


@dataclass
class _Line:
    sku: str
    quantity: Decimal
    amount: Decimal  # excluding tax


@dataclass
class _Sale:
    key: str
    number: str
    order_number: str
    currency: str
    lines: list[_Line]
    untaxed: Decimal
    tax: Decimal
    total: Decimal
    state: SalesOrderState = SalesOrderState.PROCESSING
    shipments: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # 3PL shipment → SKU → units
    released: bool = False
    invoice: str = "draft"  # draft → paid; cancelled with the sale
    payments: list[str] = field(default_factory=list)
    credited: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # sale line SKU → amount

    def ordered(self) -> dict[str, Decimal]:
        units: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.lines:
            if line.sku not in (SHIPPING_SKU, FEE_SKU, ADJUSTMENT_SKU):
                units[line.sku] += line.quantity
        return units

    def shipped(self) -> dict[str, Decimal]:
        units: dict[str, Decimal] = defaultdict(Decimal)
        for lines in self.shipments.values():
            for sku, quantity in lines.items():
                units[sku] += quantity
        return dict(units)


@dataclass
class _CreditNote:
    number: str
    sale_key: str
    refund_key: str
    untaxed: Decimal
    tax: Decimal
    settled: bool


class InMemoryErp:
    """The `Erp` port in memory. `sales`, `credit_notes` and `calls` are what a simulation's invariants read."""

    def __init__(self, *, currency: str = CURRENCY) -> None:
        self.currency = currency
        self.products = {p.sku: p.name for p in PRODUCTS} | {s: s.title() for s in (SHIPPING_SKU, FEE_SKU)}
        self.rates = {rate.percent.normalize() for rate in TAX_RATES}
        self.customers: dict[str, ErpCustomer] = {}
        self.sales: dict[str, _Sale] = {}
        self.credit_notes: dict[str, _CreditNote] = {}
        self.returns: dict[str, ErpReturn] = {}
        self.calls: list[str] = []
        self.faults: list[ErpFault] = []

    async def aclose(self) -> None:
        return None

    # -- the Erp protocol ----------------------------------------------------------

    async def ensure_customer(self, key: str, customer: Customer, billing: Address, shipping: Address) -> ErpCustomer:
        async with self._call("ensure_customer"):
            if key not in self.customers:
                n = len(self.customers) + 1
                self.customers[key] = ErpCustomer(key=key, customer_ref=str(n), invoice_address_ref=f"{n}-b",
                                                  shipment_address_ref=f"{n}-s")  # fmt: skip
            return self.customers[key]

    async def create_sales_order(self, key: str, order: Order, customer: ErpCustomer,
                                 policy: AmountsPolicy) -> port.SalesOrder:  # fmt: skip
        async with self._call("create_sales_order"):
            if key in self.sales:
                return self._summary(self.sales[key])
            if order.currency != self.currency:
                raise BusinessError(SYSTEM, f"Unknown currency {order.currency}: add it to the ERP, then retry")
            lines = []
            for number, item in enumerate(order.lines, start=1):
                if not item.sku:
                    raise BusinessError(SYSTEM, f"Missing SKU on line {number} ({item.name}): set the SKU in the "
                                                "store, then retry")  # fmt: skip
                if item.sku not in self.products:
                    raise BusinessError(SYSTEM, f"Unknown SKU {item.sku!r} on line {number} ({item.name}): add the "
                                                "product to the ERP, then retry")  # fmt: skip
                lines.append(self._priced(item.sku, item.quantity, item.total.amount))
            lines += [self._priced(SHIPPING_SKU, Decimal(1), s.total.amount) for s in order.shipping_lines]
            lines += [self._priced(FEE_SKU, Decimal(1), f.total.amount) for f in order.fee_lines]
            for rate in order.tax_rates:
                if rate.percent.normalize() not in self.rates:
                    raise BusinessError(SYSTEM, f"No ERP tax at {rate.percent.normalize()}%: add a customer tax at "
                                                "that rate, then retry")  # fmt: skip
            store = store_amounts(order, CENT)
            untaxed = sum((line.amount for line in lines), Decimal(0))
            if untaxed != store.untaxed:
                erp = type(store)(untaxed=untaxed, taxes=store.taxes, total=untaxed + sum(store.taxes.values()))
                raise BusinessError(SYSTEM, f"The ERP sale would not charge what order {order.number} charged: "
                                            f"{side_by_side(store, erp)}; correct the order, then retry")  # fmt: skip
            tax = sum(store.taxes.values(), Decimal(0))
            sale = _Sale(key=key, number=str(len(self.sales) + 1), order_number=order.number, currency=order.currency,
                         lines=lines, untaxed=untaxed, tax=tax, total=untaxed + tax)  # fmt: skip
            self.sales[key] = sale
            return self._summary(sale)

    async def get_sales_order(self, key: str) -> port.SalesOrder | None:
        async with self._call("get_sales_order"):
            return self._summary(self.sales[key]) if key in self.sales else None

    async def cancel_sales_order(self, key: str) -> port.SalesOrder | None:
        async with self._call("cancel_sales_order"):
            sale = self.sales.get(key)
            if sale is None:
                return None
            if sale.state != SalesOrderState.CANCELLED:
                if sale.shipments:
                    raise BusinessError(SYSTEM, f"Sale {sale.number} has shipped: it needs a return, not a "
                                                "cancellation")  # fmt: skip
                if sale.invoice == "paid":
                    raise BusinessError(SYSTEM, f"Sale {sale.number} is invoiced: it needs a credit note, not a "
                                                "cancellation")  # fmt: skip
                sale.state, sale.invoice = SalesOrderState.CANCELLED, "cancelled"
            return self._summary(sale)

    async def ship_sales_order(self, key: str, shipment_ref: str, lines: list[FulfilmentLine]) -> port.ErpShipment:
        async with self._call("ship_sales_order"):
            sale = self._sale(key)
            where = f"3PL shipment {shipment_ref} of sale {sale.number}"
            if shipment_ref not in sale.shipments:
                wanted: dict[str, Decimal] = defaultdict(Decimal)
                for line in lines:
                    if line.quantity <= 0:
                        raise BusinessError(SYSTEM, f"3PL shipment {shipment_ref} has {line.quantity} × {line.sku}")
                    wanted[line.sku] += line.quantity
                if not wanted:
                    raise BusinessError(SYSTEM, f"3PL shipment {shipment_ref} ships nothing")
                ordered, shipped = sale.ordered(), sale.shipped()
                if unknown := sorted(wanted.keys() - ordered.keys()):
                    raise BusinessError(SYSTEM, f"{where} ships {', '.join(unknown)}, which the sale does not have")
                still_open = {sku: Decimal(0) if sale.released or sale.state == SalesOrderState.CANCELLED
                              else ordered[sku] - shipped.get(sku, Decimal(0)) for sku in ordered}  # fmt: skip
                if over := [f"{q} × {sku} ({still_open[sku]} open)" for sku, q in wanted.items()
                            if q > still_open[sku]]:  # fmt: skip
                    raise BusinessError(SYSTEM, f"{where} ships more than the sale still owes: {', '.join(over)}")
                sale.shipments[shipment_ref] = dict(wanted)
                self._maybe_done(sale)
            recorded = sale.shipments[shipment_ref]
            return port.ErpShipment(erp_ref=f"{sale.number}/{shipment_ref}", shipment_ref=shipment_ref,
                               lines=tuple(FulfilmentLine(sku=sku, name=self.products[sku], quantity=q)
                                           for sku, q in sorted(recorded.items())))  # fmt: skip

    async def shipped_units(self, key: str) -> dict[str, Decimal]:
        async with self._call("shipped_units"):
            return self.sales[key].shipped() if key in self.sales else {}

    async def release_unshipped(self, key: str) -> None:
        async with self._call("release_unshipped"):
            sale = self._sale(key)
            sale.released = True
            self._maybe_done(sale)

    async def invoice_sales_order(self, key: str, payment: Payment, amount: Money) -> port.ErpInvoice:
        async with self._call("invoice_sales_order"):
            sale = self._sale(key)
            if sale.invoice == "cancelled":
                raise BusinessError(SYSTEM, f"Sale {sale.number} has 0 open invoices, expected one: settle it in the "
                                            "ERP")  # fmt: skip
            if amount.currency != sale.currency:
                raise BusinessError(SYSTEM, f"Payment in {amount.currency} for invoice {sale.number} in "
                                            f"{sale.currency}")  # fmt: skip
            if sale.invoice != "paid":
                if amount.amount != sale.total:
                    raise BusinessError(SYSTEM, f"The store took {amount.amount} {amount.currency} but invoice "
                                                f"{sale.number} asks {sale.total}: check the order's taxes and "
                                                "rounding in the ERP")  # fmt: skip
                sale.invoice = "paid"
                sale.payments.append(payment.transaction_id or payment.method_title)
                self._maybe_done(sale)
            total = Money(amount=sale.total, currency=sale.currency)
            return port.ErpInvoice(erp_ref=f"inv-{sale.number}", number=f"INV/{sale.number}",
                                   state=port.InvoiceState.PAID, total_amount=total,
                                   amount_to_pay=Money(amount=Decimal(0), currency=sale.currency))

    async def create_return(self, key: str, rma: str, lines: list[ReturnLine]) -> ErpReturn:
        async with self._call("create_return"):
            sale = self._sale(key)
            if rma not in self.returns:
                shipped = sale.shipped()
                if over := [line.sku for line in lines if line.quantity > shipped.get(line.sku, Decimal(0))]:
                    raise BusinessError(SYSTEM, f"RMA {rma} returns more than shipped of {', '.join(over)}")
                self.returns[rma] = ErpReturn(erp_ref=f"ret-{rma}", reference=rma)
            return self.returns[rma]

    async def receive_return(self, rma: str, received: list[ProcessedItem]) -> ErpReturn:
        async with self._call("receive_return"):
            if rma not in self.returns:
                raise BusinessError(SYSTEM, f"No return {rma} in the ERP")
            found = self.returns[rma]
            if not found.received:
                found = self.returns[rma] = found.model_copy(update={"received": tuple(received)})
            return found

    async def cancel_return(self, rma: str) -> None:
        async with self._call("cancel_return"):
            found = self.returns.get(rma)
            if found is not None and found.received:
                raise BusinessError(SYSTEM, f"RMA {rma}: the ERP has already received units; it needs a person, not "
                                            "a cancel")  # fmt: skip
            self.returns.pop(rma, None)

    async def post_credit_note(self, key: str, refund_key: str, lines: list[RefundLine], reason: str,
                               payout_reference: str | None = None) -> port.ErpCreditNote:  # fmt: skip
        async with self._call("post_credit_note"):
            sale = self._sale(key)
            note = self.credit_notes.get(refund_key)
            if note is None:
                credits = self._credits(sale, refund_key, lines)
                if sale.invoice == "cancelled":
                    raise BusinessError(SYSTEM, f"Sale {sale.number} was cancelled: refund {refund_key} has no "
                                                "invoice to credit. If the money went back in the store, give the "
                                                "refund up; otherwise credit it by hand")  # fmt: skip
                if sale.invoice != "paid":
                    raise NotReadyYet(SYSTEM, f"Sale {sale.number} has no posted invoice to credit yet: refund "
                                              f"{refund_key} waits for it", code="RetailSyncNotReady")  # fmt: skip
                amounts = {line.sku: line.amount for line in sale.lines}
                if over := [f"{amount} on {sku} ({amounts[sku] - sale.credited[sku]} left)"
                            for sku, (amount, _) in credits.items() if amount > amounts[sku] - sale.credited[sku]]:
                    raise BusinessError(SYSTEM, f"Refund {refund_key} credits more than is left on sale "
                                                f"{sale.number}: {', '.join(over)}")  # fmt: skip
                for sku, (amount, _) in credits.items():
                    sale.credited[sku] += amount
                note = _CreditNote(number=f"CN/{len(self.credit_notes) + 1}", sale_key=key, refund_key=refund_key,
                                   untaxed=sum((a for a, _ in credits.values()), Decimal(0)),
                                   tax=sum((t for _, t in credits.values()), Decimal(0)),
                                   settled=payout_reference is not None)  # fmt: skip
                self.credit_notes[refund_key] = note
            elif payout_reference:
                note.settled = True
            money = lambda amount: Money(amount=amount, currency=sale.currency)  # noqa: E731
            return port.ErpCreditNote(erp_ref=note.number, number=note.number, refund_key=refund_key,
                                 untaxed_amount=money(note.untaxed), tax_amount=money(note.tax),
                                 total_amount=money(note.untaxed + note.tax))  # fmt: skip

    async def stock_changes(self, cursor: str | None) -> StockChanges:
        async with self._call("stock_changes"):
            return StockChanges(skus=tuple(self.products) if cursor is None else (), cursor="0")

    async def available_stock(self, skus: Sequence[str] | None, warehouses: Sequence[str]) -> list[SourceStock]:
        async with self._call("available_stock"):
            stocked = {p.sku: Decimal(p.stock) for p in PRODUCTS}
            return [SourceStock(sku=sku, quantity=q) for sku, q in stocked.items() if skus is None or sku in skus]

    async def catalog_changes(self, cursor: str | None, price_list: str | None) -> CatalogChanges:
        async with self._call("catalog_changes"):
            return CatalogChanges(products=(), cursor=cursor or "0")

    # -- inside ---------------------------------------------------------------------

    def _call(self, method: str) -> "_Step":
        return _Step(self, method)

    def _sale(self, key: str) -> _Sale:
        if key not in self.sales:
            raise BusinessError(SYSTEM, f"No sale for order {key} in the ERP")
        return self.sales[key]

    def _priced(self, sku: str, quantity: Decimal, total: Decimal) -> _Line:
        """As Tryton prices the line: unit price to 4 places, the line's amount rounded to the cent."""
        unit_price = (total / quantity).quantize(PRICE_DIGITS) if quantity else Decimal(0)
        return _Line(sku=sku, quantity=quantity, amount=(unit_price * quantity).quantize(CENT))

    def _credits(self, sale: _Sale, refund_key: str, lines: list[RefundLine]) -> dict[str, tuple[Decimal, Decimal]]:
        """Sale line SKU → (amount, tax) the refund gives back: products by SKU, shipping and fees by service."""
        on_sale = {line.sku for line in sale.lines}
        credits: dict[str, tuple[Decimal, Decimal]] = {}
        for line in lines:
            code = {LineKind.SHIPPING: SHIPPING_SKU, LineKind.FEE: FEE_SKU}.get(line.kind, line.sku)
            if not code or code not in on_sale:
                what = code or f"product line {line.line_id} without a SKU"
                raise BusinessError(SYSTEM, f"Refund {refund_key} credits {what}, which sale {sale.number} does not "
                                            "have")  # fmt: skip
            amount, tax = credits.get(code, (Decimal(0), Decimal(0)))
            credits[code] = (amount + line.amount.amount, tax + sum((t.amount.amount for t in line.taxes), Decimal(0)))
        return credits

    def _maybe_done(self, sale: _Sale) -> None:
        shipped, ordered = sale.shipped(), sale.ordered()
        everything = sale.released or all(shipped.get(sku, Decimal(0)) >= q for sku, q in ordered.items())
        if sale.state == SalesOrderState.PROCESSING and everything and sale.invoice == "paid":
            sale.state = SalesOrderState.DONE

    def _summary(self, sale: _Sale) -> port.SalesOrder:
        money = lambda amount: Money(amount=amount, currency=sale.currency)  # noqa: E731
        return port.SalesOrder(key=sale.key, erp_ref=sale.number, number=sale.number, state=sale.state,
                          untaxed_amount=money(sale.untaxed), tax_amount=money(sale.tax),
                          total_amount=money(sale.total))  # fmt: skip


class _Step:
    """One call: a fault before it, the step itself (no await inside: atomic), a fault after it."""

    def __init__(self, erp: InMemoryErp, method: str) -> None:
        self._erp, self._method = erp, method

    def _fault(self, when: str) -> None:
        fault = next((f for f in self._erp.faults if f.method == self._method and f.when == when), None)
        if fault is not None:
            self._erp.faults.remove(fault)
            lost = "response lost" if when == "after" else "connection dropped"
            raise RetryableError(SYSTEM, f"{self._method}: {lost} (simulated fault)")

    async def __aenter__(self) -> None:
        await asyncio.sleep(0)  # a call takes time: let others run between calls, never inside one
        self._erp.calls.append(self._method)
        self._fault("before")

    async def __aexit__(self, kind, error, traceback) -> bool:
        if kind is None:
            self._fault("after")
        return False
