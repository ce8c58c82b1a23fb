"""The sale's invoice posted and paid with the store's payment, once; credit notes settled the same way.

The store has already taken the money, so the invoice is paid in full as Tryton's pay wizard would,
with the store's transaction id on the payment's account move: what a bookkeeper matches against the
payment provider's payout report. Posting, paying and marking paid commit together, and an invoice
whose lines are already reconciled is never paid again.
"""
from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.transaction import without_check_access

from .common import Steps, locked_sale, post_invoices, process, step

UNPOSTED = {"draft", "validated"}


class Invoices(Steps):
    "retail-sync invoices"
    __name__ = "retail_sync.invoice"
    steps = ("pay",)

    @classmethod
    @step
    def pay(cls, shop_id: int, key: str, payment: dict) -> dict:
        """Post the sale's invoice if still draft and pay it with `payment` ({amount, currency, description,
        date (None: today), method}: the payment method's name); an invoice already paid is left as it is."""
        pool = Pool()
        Invoice = pool.get("account.invoice")
        sale = locked_sale(shop_id, key)
        invoices = [i for i in sale.invoices if i.state != "cancelled"]
        if len(invoices) != 1:
            raise UserError(
                f"Sale {sale.number} has {len(invoices)} open invoices, expected one: settle it in the ERP"
            )
        (invoice,) = invoices
        if invoice.currency.code != payment["currency"]:
            raise UserError(f"Payment in {payment['currency']} for invoice {_name(invoice)} in {invoice.currency.code}")
        if invoice.state in UNPOSTED:
            post_invoices([invoice])
        invoice = Invoice(invoice.id)
        if invoice.state == "posted" and not invoice.reconciled:
            if payment["amount"] != invoice.amount_to_pay:
                raise UserError(
                    f"The store took {payment['amount']} {payment['currency']} but invoice {_name(invoice)} asks "
                    f"{invoice.amount_to_pay}: check the order's taxes and rounding in the ERP"
                )
            date = payment["date"] or pool.get("ir.date").today()
            pay_in_full(invoice, payment["method"], date, payment["description"])
        process([sale])
        invoice = Invoice(invoice.id)
        if invoice.state != "paid":
            raise UserError(f"Invoice {_name(invoice)} is {invoice.state} after recording the payment")
        return {
            "id": invoice.id,
            "number": invoice.number,
            "total_amount": invoice.total_amount,
            "amount_to_pay": invoice.amount_to_pay,
        }


@without_check_access
def pay_in_full(invoice, method_name: str, date, description: str | None) -> None:
    """Pay what the posted invoice (or credit note: a negative amount) asks, reconcile it, mark it paid.

    As Tryton's pay wizard does it, and with its rights: the wizard runs without checking access."""
    pool = Pool()
    Invoice = pool.get("account.invoice")
    Method = pool.get("account.invoice.payment.method")
    MoveLine = pool.get("account.move.line")
    methods = Method.search([("name", "=", method_name)], limit=1)
    if not methods:
        raise UserError(f"No payment method named {method_name!r} in the ERP: create it, then retry")
    amount = invoice.amount_to_pay
    to_reconcile, remainder = invoice.get_reconcile_lines_for_amount(amount, invoice.currency, party=invoice.party)
    if remainder:
        raise UserError(f"Invoice {_name(invoice)} could not be paid in full by {amount}: settle it in the ERP")
    paid = invoice.pay_invoice(amount, methods[0], date, description)
    MoveLine.reconcile(list(to_reconcile) + list(paid))
    Invoice.process([Invoice(invoice.id)])


def _name(invoice) -> str:
    return invoice.number or f"#{invoice.id}"
