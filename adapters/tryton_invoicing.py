"""Invoicing a Tryton sale: post its customer invoice and record the store's payment on it.

The store has already taken the money, so the invoice is paid in full through Tryton's own pay
wizard; the payment's account move carries the store's transaction id, which is what a
bookkeeper matches against the payment provider's payout report.
"""
import datetime as dt

from adapters.erp import ErpInvoice, InvoiceState
from adapters.errors import BusinessError
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from adapters.tryton_workflow import post_invoice
from canonical import Money, Payment

PAYMENT_METHOD = "Web shop payments"
"""The `account.invoice.payment.method` store payments go through (created by the ERP's set-up)."""
INVOICE_FIELDS = ["number", "state", "total_amount", "amount_to_pay", "currency.code", "company", "party", "account"]
UNPOSTED = {"draft", "validated"}


async def invoice_sale(rpc: TrytonRpc, sale_id: int, payment: Payment, amount: Money) -> ErpInvoice:
    """Post the sale's invoice if still draft, then pay it with `amount`; an invoice already paid is left as it is."""
    invoice = await _sale_invoice(rpc, sale_id)
    if invoice["currency."]["code"] != amount.currency:
        raise BusinessError(
            SYSTEM, f"Payment in {amount.currency} for invoice {_name(invoice)} in {invoice['currency.']['code']}"
        )
    if invoice["state"] in UNPOSTED:
        await post_invoice(rpc, invoice["id"])
        invoice = await _read(rpc, invoice["id"])
    if invoice["state"] == "posted":
        await _pay(rpc, invoice, payment, amount)
        invoice = await _read(rpc, invoice["id"])
    if invoice["state"] != "paid":
        raise BusinessError(SYSTEM, f"Invoice {_name(invoice)} is {invoice['state']} after recording the payment")
    currency = amount.currency
    return ErpInvoice(
        erp_ref=str(invoice["id"]),
        number=invoice["number"],
        state=InvoiceState.PAID,
        total_amount=Money(amount=invoice["total_amount"], currency=currency),
        amount_to_pay=Money(amount=invoice["amount_to_pay"], currency=currency),
    )


async def settle_credit_note(rpc: TrytonRpc, note_id: int, payout_reference: str) -> None:
    """The refund went back through the payment provider: pay the posted credit note out with the web-shop
    payment method, so it is reconciled like the invoice was, under the provider's reference."""
    note = await _read(rpc, note_id)
    if note["state"] != "posted":
        return
    start = {
        "payee": note["party"],
        "payees": [note["party"]],
        "amount": note["amount_to_pay"],  # negative for a credit note, as the wizard proposes it
        "currency": note["currency."]["id"],
        "description": payout_reference,
        "company": note["company"],
        "invoice_account": note["account"],
        "payment_method": await _payment_method(rpc),
        "date": dt.date.today(),
    }
    result = await rpc.run_wizard(
        "account.invoice.pay", "choice", {"start": start}, model="account.invoice", ids=[note_id]
    )
    if "view" in result or (await _read(rpc, note_id))["state"] != "paid":
        raise BusinessError(SYSTEM, f"Credit note {_name(note)} could not be settled: reconcile it in the ERP")


async def _sale_invoice(rpc: TrytonRpc, sale_id: int) -> dict:
    """The sale's one live customer invoice (invoiced on order, so confirming the sale created it)."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["number", "invoices"])
    invoices = [i for i in await rpc.call("account.invoice", "read", sale["invoices"], INVOICE_FIELDS)
                if i["state"] != "cancelled"]  # fmt: skip
    if len(invoices) != 1:
        raise BusinessError(
            SYSTEM, f"Sale {sale['number']} has {len(invoices)} open invoices, expected one: settle it in the ERP"
        )
    return invoices[0]


async def _pay(rpc: TrytonRpc, invoice: dict, payment: Payment, amount: Money) -> None:
    """Tryton's pay wizard, for the exact amount due: anything else needs a person to decide."""
    if amount.amount != invoice["amount_to_pay"]:
        raise BusinessError(
            SYSTEM,
            f"The store took {amount.amount} {amount.currency} but invoice {_name(invoice)} asks "
            f"{invoice['amount_to_pay']}: check the order's taxes and rounding in the ERP",
        )
    start = {
        "payee": invoice["party"],
        "payees": [invoice["party"]],
        "amount": amount.amount,
        "currency": invoice["currency."]["id"],
        "description": payment.transaction_id or payment.method_title or None,
        "company": invoice["company"],
        "invoice_account": invoice["account"],
        "payment_method": await _payment_method(rpc),
        "date": payment.paid_at.date() if payment.paid_at else dt.date.today(),
    }
    result = await rpc.run_wizard(
        "account.invoice.pay", "choice", {"start": start}, model="account.invoice", ids=[invoice["id"]]
    )
    if "view" in result:  # the wizard asks how to settle a difference
        raise BusinessError(SYSTEM, f"Invoice {_name(invoice)} could not be paid in full by {amount.amount}")


async def _payment_method(rpc: TrytonRpc) -> int:
    found = await rpc.call("account.invoice.payment.method", "search", [("name", "=", PAYMENT_METHOD)], 0, 1, None)
    if not found:
        raise BusinessError(SYSTEM, f"No payment method named {PAYMENT_METHOD!r} in the ERP: create it, then retry")
    return found[0]


async def _read(rpc: TrytonRpc, invoice_id: int) -> dict:
    (invoice,) = await rpc.call("account.invoice", "read", [invoice_id], INVOICE_FIELDS)
    return invoice


def _name(invoice: dict) -> str:
    return invoice["number"] or f"#{invoice['id']}"
