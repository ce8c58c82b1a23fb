"""Customer credit notes for the store's refunds, posted (and settled) once per refund key.

A refund credits exactly the store order lines it names, at the amounts the store refunded, with the
taxes of the sale lines they came from. The credit note carries the refund's key as its reference
from the moment it exists: a repeated call finds it, and a posted one is returned as it is. The draft
an RMA's return sale made is used when it credits the same units; otherwise a credit of the sale's
posted invoice is made, linked line by line to the invoice lines it credits.

Refunds of one order are serialised by the step's transaction (`common.step`): two refunds posted at
once make two credit notes, each from its own draft, never one draft filled twice.
"""
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.transaction import without_check_access

from .common import NotReady, Steps, locked_sale, post_invoices, process, step
from .invoicing import pay_in_full

PRICE_DIGITS = Decimal("0.0001")  # invoice line unit_price precision
CREDITED = ["validated", "posted", "paid"]


@dataclass
class _Credit:
    """What a refund gives back on one sale line: units (0 for an amount only), amount excluding tax, tax."""

    sale_line: object
    quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)

    @property
    def product(self) -> int:
        return self.sale_line.product.id


class CreditNotes(Steps):
    "retail-sync credit notes"
    __name__ = "retail_sync.credit_note"
    steps = ("post",)

    @classmethod
    @step
    def post(cls, shop_id: int, key: str, refund: dict, services: dict, payout: dict | None) -> dict:
        """Post the credit note for `refund` ({key, reason, lines: [{line_id, kind, sku, quantity, amount,
        tax}]}); `services` names the products of shipping and fee lines by kind. With `payout`
        ({reference, method}) the money went back through the payment provider: the note is settled.

        A refund the sale's invoice must be posted for first raises `NotReady`.
        """
        Invoice = Pool().get("account.invoice")
        sale = locked_sale(shop_id, key)
        refund_key = refund["key"]
        note = _find(refund_key)
        if note is None or note.state not in ("posted", "paid"):
            credits = _credits(services, sale, refund_key, refund["lines"])
            note = note or _draft_for(sale, credits, refund_key)
            _check_left(sale, credits, note, refund_key)
            _fill(note, credits, refund_key, refund["reason"])
            _check_tax(Invoice(note.id), credits, refund_key)
            post_invoices([Invoice(note.id)])
        if payout:
            _settle(Invoice(note.id), payout)
        note = Invoice(note.id)
        process(note.sales)
        return {
            "id": note.id,
            "number": note.number or "",
            "untaxed_amount": -note.untaxed_amount,
            "tax_amount": -note.tax_amount,
            "total_amount": -note.total_amount,
            "currency": note.currency.code,
        }


def _credits(services: dict, sale, refund_key: str, lines: list[dict]) -> list[_Credit]:
    """Refund lines grouped by the sale line they give back: products by SKU, shipping and fees by service."""
    by_code = {}
    for line in sale.lines:
        if line.type == "line" and line.product:
            by_code.setdefault(line.product.code, line)
    credits: dict[int, _Credit] = {}
    for line in lines:
        code = line["sku"] if line["kind"] == "product" else services[line["kind"]]
        sale_line = by_code.get(code) if code else None
        if sale_line is None:
            what = code or f"product line {line['line_id']} without a SKU"
            raise UserError(f"Refund {refund_key} credits {what}, which sale {sale.number} does not have")
        credit = credits.setdefault(sale_line.id, _Credit(sale_line))
        credit.quantity += Decimal(str(line["quantity"]))
        credit.amount += Decimal(line["amount"])
        credit.tax += Decimal(line["tax"])
    return list(credits.values())


def _find(refund_key: str):
    Invoice = Pool().get("account.invoice")
    domain = [("type", "=", "out"), ("reference", "=", refund_key), ("state", "!=", "cancelled")]
    found = Invoice.search(domain, order=[("id", "ASC")], limit=1)
    return found[0] if found else None


def _draft_for(sale, credits: list[_Credit], refund_key: str):
    """A draft of the sale's returns crediting the same units, a credit an earlier version left untagged, or a
    new credit of the sale's posted invoice."""
    pool = Pool()
    Invoice = pool.get("account.invoice")
    InvoiceLine = pool.get("account.invoice.line")
    Sale = pool.get("sale.sale")
    units = {c.product: c.quantity for c in credits}
    returns = Sale.search([("origin", "=", f"sale.sale,{sale.id}")])
    drafts = [i.id for r in returns for i in r.invoices]
    domain = [("id", "in", drafts), ("state", "=", "draft"), ("reference", "=", None)]
    for draft in Invoice.search(domain, order=[("id", "ASC")]):
        drafted: dict[int, Decimal] = defaultdict(Decimal)
        for line in draft.lines:
            drafted[line.product.id] -= Decimal(str(line.quantity))
        if drafted == units:
            return draft
    invoice_lines = [f"account.invoice.line,{i.id}" for line in sale.lines for i in line.invoice_lines]
    domain = [("origin", "in", invoice_lines), ("invoice.state", "=", "draft"), ("invoice.reference", "=", None)]
    if unfinished := InvoiceLine.search(domain, limit=1):
        return unfinished[0].invoice
    posted = [i for i in sale.invoices if i.state in ("posted", "paid")]
    if not posted and sale.invoices and all(i.state == "cancelled" for i in sale.invoices):
        raise UserError(f"Sale {sale.number} was cancelled: refund {refund_key} has no invoice to credit. If the "
                        "money went back in the store, give the refund up; otherwise credit it by hand")
    if not posted:
        raise NotReady(f"Sale {sale.number} has no posted invoice to credit yet: refund {refund_key} waits for it")
    with without_check_access():  # as the Credit wizard does
        (note,) = Invoice.credit(posted[:1], reference=refund_key)
    return note


def _check_left(sale, credits: list[_Credit], note, refund_key: str) -> None:
    """Each sale line can be credited up to its amount, less the credit notes (of the sale or its returns) so far."""
    pool = Pool()
    InvoiceLine = pool.get("account.invoice.line")
    Sale = pool.get("sale.sale")
    returns = Sale.search([("origin", "=", f"sale.sale,{sale.id}")])
    origins = [f"sale.line,{line.id}" for r in returns for line in r.lines]
    origins += [f"account.invoice.line,{i.id}" for c in credits for i in c.sale_line.invoice_lines]
    domain = [("origin", "in", origins), ("invoice.state", "in", CREDITED), ("invoice", "!=", note.id)]
    credited: dict[int, Decimal] = defaultdict(Decimal)
    for line in InvoiceLine.search(domain):
        credited[line.product.id] -= line.amount
    over = [
        f"{c.amount} on {c.sale_line.description or c.sale_line.product.code} "
        f"({c.sale_line.amount - credited[c.product]} left)"
        for c in credits
        if c.amount > c.sale_line.amount - credited[c.product]
    ]
    if over:
        raise UserError(f"Refund {refund_key} credits more than is left on sale {sale.number}: {', '.join(over)}")


def _fill(note, credits: list[_Credit], refund_key: str, reason: str) -> None:
    """Keep one line per credited sale line, at the refunded units and amount; taxes only where tax was refunded."""
    Invoice = Pool().get("account.invoice")
    todo = {c.product: c for c in credits}
    operations, dropped = [], []
    for line in note.lines:
        credit = todo.pop(line.product.id if line.product else None, None)
        if credit is None:
            dropped.append(line.id)
            continue
        units = credit.quantity or Decimal(1)
        values = {"quantity": float(-units), "unit_price": (credit.amount / units).quantize(PRICE_DIGITS)}
        if not credit.tax and line.taxes:
            values["taxes"] = [("remove", [t.id for t in line.taxes])]
        operations.append(("write", [line.id], values))
    if todo:
        raise UserError(f"Refund {refund_key}: the ERP's credit note {note.id} lacks lines to credit")
    if dropped:
        operations.append(("delete", dropped))
    values = {"reference": refund_key, "description": reason or f"Refund {refund_key}", "lines": operations}
    Invoice.write([note], values)


def _check_tax(note, credits: list[_Credit], refund_key: str) -> None:
    """The ERP's tax must be the store's, give or take a cent of rounding per line, before anything is posted."""
    refunded = sum((c.tax for c in credits), Decimal(0))
    if abs(-note.tax_amount - refunded) > Decimal("0.01") * len(credits):
        raise UserError(
            f"Refund {refund_key} refunds {refunded} of tax but the ERP computes {-note.tax_amount}: "
            f"check the sale's taxes against the store's"
        )


def _settle(note, payout: dict) -> None:
    """Pay the posted credit note out with the web-shop payment method under the provider's reference, so it
    is reconciled like the invoice was; one already settled is left as it is."""
    pool = Pool()
    Invoice = pool.get("account.invoice")
    Date = pool.get("ir.date")
    if note.state == "posted" and not note.reconciled:
        pay_in_full(note, payout["method"], Date.today(), payout["reference"])
    elif note.state == "posted":
        Invoice.process([note])
    if Invoice(note.id).state != "paid":
        raise UserError(f"Credit note {note.number or note.id} could not be settled: reconcile it in the ERP")
