"""Customer credit notes in Tryton for the store's refunds.

A refund credits exactly the store order lines it names, at the amounts the store refunded, with
the taxes of the sale lines they came from (set at the store's rates when the sale was created).
The credit note carries the refund's key as its reference: a retry finds it, and a posted one is
returned as it is. The credit note an RMA's return sale drafted is used when it credits the same
units; otherwise Tryton's "Credit" of the sale's invoice makes a new one, linked line by line to
the invoice lines it credits.
"""
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from adapters.erp import ErpCreditNote
from adapters.errors import BusinessError
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from adapters.tryton_invoicing import settle_credit_note
from adapters.tryton_workflow import post_invoice
from canonical import Money
from canonical.returns import LineKind, RefundLine
from config import ErpSettings

PRICE_DIGITS = Decimal("0.0001")  # invoice line unit_price precision
CREDITED = ["validated", "posted", "paid"]
NOTE_FIELDS = ["number", "state", "reference", "untaxed_amount", "tax_amount", "total_amount", "currency.code"]
SALE_LINE_FIELDS = ["type", "product", "product.code", "description", "amount", "invoice_lines"]


@dataclass
class _Credit:
    """What a refund gives back on one sale line: units (0 for an amount only), amount excluding tax, tax."""

    sale_line: dict
    quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)

    @property
    def product(self) -> int:
        return self.sale_line["product"]


async def post_credit_note(
    rpc: TrytonRpc,
    settings: ErpSettings,
    sale_id: int,
    refund_key: str,
    lines: list[RefundLine],
    reason: str,
    payout_reference: str | None = None,
) -> ErpCreditNote:
    """Post the credit note for `refund_key`, from a draft the sale already has or a new credit of its invoice;
    settle it when the money went back through the payment provider (`payout_reference`)."""
    note = await _find(rpc, refund_key)
    if note and note["state"] in ("posted", "paid"):
        if payout_reference:
            await settle_credit_note(rpc, note["id"], payout_reference)
            note = await _read(rpc, note["id"])
        return _result(note, refund_key)
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["number", "lines"])
    sale_lines = await rpc.call("sale.line", "read", sale["lines"], SALE_LINE_FIELDS)
    credits = _credits(settings, sale["number"], sale_lines, refund_key, lines)
    note_id = note["id"] if note else await _draft_for(rpc, sale_id, sale["number"], sale_lines, credits)
    await _check_left(rpc, sale_id, sale["number"], credits, note_id, refund_key)
    await _fill(rpc, note_id, credits, refund_key, reason)
    await _check_tax(rpc, note_id, credits, refund_key)
    await post_invoice(rpc, note_id)
    if payout_reference:
        await settle_credit_note(rpc, note_id, payout_reference)
    return _result(await _read(rpc, note_id), refund_key)


def _credits(
    settings: ErpSettings, number: str, sale_lines: list[dict], refund_key: str, lines: list[RefundLine]
) -> list[_Credit]:
    """Refund lines grouped by the sale line they give back: products by SKU, shipping and fees by service."""
    by_code: dict[str, dict] = {}
    for line in sale_lines:
        if line["type"] == "line" and line["product."]:
            by_code.setdefault(line["product."]["code"], line)
    services = {LineKind.SHIPPING: settings.shipping_product_code, LineKind.FEE: settings.fee_product_code}
    credits: dict[int, _Credit] = {}
    for line in lines:
        code = line.sku if line.kind == LineKind.PRODUCT else services[line.kind]
        sale_line = by_code.get(code) if code else None
        if sale_line is None:
            what = code or f"product line {line.line_id} without a SKU"
            raise BusinessError(SYSTEM, f"Refund {refund_key} credits {what}, which sale {number} does not have")
        credit = credits.setdefault(sale_line["id"], _Credit(sale_line))
        credit.quantity += line.quantity
        credit.amount += line.amount.amount
        credit.tax += sum((tax.amount.amount for tax in line.taxes), Decimal(0))
    return list(credits.values())


async def _find(rpc: TrytonRpc, refund_key: str) -> dict | None:
    domain = [("type", "=", "out"), ("reference", "=", refund_key), ("state", "!=", "cancelled")]
    found = await rpc.call("account.invoice", "search_read", domain, 0, 1, [("id", "ASC")], ["id", *NOTE_FIELDS])
    return found[0] if found else None


async def _draft_for(rpc: TrytonRpc, sale_id: int, number: str, sale_lines: list[dict], credits: list[_Credit]) -> int:
    """A draft of the sale's returns crediting the same units, a credit a crash left unfinished, or a new credit."""
    units = {c.product: c.quantity for c in credits}
    domain = [("origin", "=", f"sale.sale,{sale_id}")]
    returns = await rpc.call("sale.sale", "search_read", domain, 0, None, None, ["invoices"])
    drafts = [invoice_id for r in returns for invoice_id in r["invoices"]]
    domain = [("id", "in", drafts), ("state", "=", "draft"), ("reference", "=", None)]
    for draft in await rpc.call("account.invoice", "search_read", domain, 0, None, [("id", "ASC")], ["lines"]):
        lines = await rpc.call("account.invoice.line", "read", draft["lines"], ["product", "quantity"])
        drafted: dict[int, Decimal] = defaultdict(Decimal)
        for line in lines:
            drafted[line["product"]] -= Decimal(str(line["quantity"]))
        if drafted == units:
            return draft["id"]
    invoice_lines = [f"account.invoice.line,{i}" for line in sale_lines for i in line["invoice_lines"]]
    domain = [("origin", "in", invoice_lines), ("invoice.state", "=", "draft"), ("invoice.reference", "=", None)]
    if unfinished := await rpc.call("account.invoice.line", "search_read", domain, 0, 1, None, ["invoice"]):
        return unfinished[0]["invoice"]
    return await _credit_invoice(rpc, sale_id, number)


async def _credit_invoice(rpc: TrytonRpc, sale_id: int, number: str) -> int:
    """Tryton's Credit wizard on the sale's posted invoice: a draft crediting every line, trimmed afterwards."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["invoices"])
    invoices = await rpc.call("account.invoice", "read", sale["invoices"], ["state"])
    posted = [i["id"] for i in invoices if i["state"] in ("posted", "paid")]
    if not posted:
        raise BusinessError(SYSTEM, f"Sale {number} has no posted invoice to credit yet")
    start = {"start": {"with_refund": False, "with_refund_allowed": False, "invoice_date": None}}
    result = await rpc.run_wizard("account.invoice.credit", "credit", start, model="account.invoice", ids=posted[:1])
    (note_id,) = result["actions"][0][1]["res_id"]
    return note_id


async def _check_left(
    rpc: TrytonRpc, sale_id: int, number: str, credits: list[_Credit], note_id: int, refund_key: str
) -> None:
    """Each sale line can be credited up to its amount, less the credit notes (of the sale or its returns) so far."""
    domain = [("origin", "=", f"sale.sale,{sale_id}")]
    returns = await rpc.call("sale.sale", "search_read", domain, 0, None, None, ["lines"])
    origins = [f"sale.line,{line_id}" for r in returns for line_id in r["lines"]]
    origins += [f"account.invoice.line,{i}" for c in credits for i in c.sale_line["invoice_lines"]]
    domain = [("origin", "in", origins), ("invoice.state", "in", CREDITED), ("invoice", "!=", note_id)]
    earlier = await rpc.call("account.invoice.line", "search_read", domain, 0, None, None, ["product", "amount"])
    credited: dict[int, Decimal] = defaultdict(Decimal)
    for line in earlier:
        credited[line["product"]] -= line["amount"]
    over = [
        f"{c.amount} on {c.sale_line['description'] or c.sale_line['product.']['code']} "
        f"({c.sale_line['amount'] - credited[c.product]} left)"
        for c in credits
        if c.amount > c.sale_line["amount"] - credited[c.product]
    ]
    if over:
        raise BusinessError(
            SYSTEM, f"Refund {refund_key} credits more than is left on sale {number}: {', '.join(over)}"
        )


async def _fill(rpc: TrytonRpc, note_id: int, credits: list[_Credit], refund_key: str, reason: str) -> None:
    """Keep one line per credited sale line, at the refunded units and amount; taxes only where tax was refunded."""
    (note,) = await rpc.call("account.invoice", "read", [note_id], ["lines"])
    lines = await rpc.call("account.invoice.line", "read", note["lines"], ["product", "taxes"])
    todo = {c.product: c for c in credits}
    operations, dropped = [], []
    for line in lines:
        credit = todo.pop(line["product"], None)
        if credit is None:
            dropped.append(line["id"])
            continue
        quantity = credit.quantity or Decimal(1)
        values = {"quantity": float(-quantity), "unit_price": (credit.amount / quantity).quantize(PRICE_DIGITS)}
        if not credit.tax and line["taxes"]:
            values["taxes"] = [["remove", line["taxes"]]]
        operations.append(["write", [line["id"]], values])
    if todo:
        raise BusinessError(SYSTEM, f"Refund {refund_key}: the ERP's credit note {note_id} lacks lines to credit")
    if dropped:
        operations.append(["delete", dropped])
    values = {"reference": refund_key, "description": reason or f"Refund {refund_key}", "lines": operations}
    await rpc.call("account.invoice", "write", [note_id], values)


async def _check_tax(rpc: TrytonRpc, note_id: int, credits: list[_Credit], refund_key: str) -> None:
    """The ERP's tax must be the store's, give or take a cent of rounding per line, before anything is posted."""
    (note,) = await rpc.call("account.invoice", "read", [note_id], ["tax_amount"])
    refunded = sum((c.tax for c in credits), Decimal(0))
    if abs(-note["tax_amount"] - refunded) > Decimal("0.01") * len(credits):
        raise BusinessError(
            SYSTEM,
            f"Refund {refund_key} refunds {refunded} of tax but the ERP computes {-note['tax_amount']}: "
            f"check the sale's taxes against the store's",
        )


async def _read(rpc: TrytonRpc, note_id: int) -> dict:
    (note,) = await rpc.call("account.invoice", "read", [note_id], NOTE_FIELDS)
    return note


def _result(note: dict, refund_key: str) -> ErpCreditNote:
    currency = note["currency."]["code"]
    return ErpCreditNote(
        erp_ref=str(note["id"]),
        number=note["number"] or "",
        refund_key=refund_key,
        untaxed_amount=Money(amount=-note["untaxed_amount"], currency=currency),
        tax_amount=Money(amount=-note["tax_amount"], currency=currency),
        total_amount=Money(amount=-note["total_amount"], currency=currency),
    )
