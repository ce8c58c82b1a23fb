"""The store order's sale: placed (created, checked against the store's amounts, confirmed) or cancelled."""
from collections import defaultdict
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.rpc import RPCReturnException

from .common import Steps, find_sale, ignore_cancelled, locked_sale, process, read, step

SHIPPED = {"shipped", "done"}
INVOICED = {"posted", "paid"}


class Sales(Steps):
    "retail-sync sales"
    __name__ = "retail_sync.sale"
    steps = ("place", "cancel")
    reads = ("get",)

    @classmethod
    @read
    def get(cls, shop_id: int, key: str) -> dict | None:
        sale = find_sale(shop_id, key, required=False)
        return summary(sale) if sale else None

    @classmethod
    @step
    def place(cls, shop_id: int, key: str, values: dict, expected: dict) -> dict:
        """Create the sale for `key` from `values` and confirm it, if Tryton charges exactly `expected`.

        `values` are the sale's fields with `lines` as a list of line values (`taxes`: tax ids);
        `expected` is {untaxed, taxes: {tax id: amount}, total}. When Tryton's amounts differ, nothing
        is kept and the answer is {placed: false, amounts, line_amounts, tax_rounding}: what Tryton
        would charge. A sale confirmed before is returned as it is; a draft someone left is completed
        from `values`.
        """
        Sale = Pool().get("sale.sale")
        header = {name: value for name, value in values.items() if name != "lines"}
        lines = [{**line, "taxes": [("add", line["taxes"])]} for line in values["lines"]]
        sale = locked_sale(shop_id, key, required=False)
        if sale is None:
            Pool().get("web.shop").lock([shop_id])  # a sale another step is creating: this one restarts after it
            (sale,) = Sale.create([{**header, "web_shop": shop_id, "web_id": key, "lines": [("create", lines)]}])
        elif sale.state in ("draft", "quotation"):
            if sale.state == "quotation":
                Sale.draft([sale])
            old = [line.id for line in sale.lines]
            Sale.write([sale], {**header, "lines": [("delete", old), ("create", lines)]})
        else:
            return {"placed": True, "sale": summary(sale)}
        Sale.quote([sale])
        sale = Sale(sale.id)
        charged = amounts(sale)
        if charged != _amounts(expected):
            raise _Unplaced(sale, charged)
        Sale.confirm([sale])
        process([sale])
        return {"placed": True, "sale": summary(Sale(sale.id))}

    @classmethod
    @step
    def cancel(cls, shop_id: int, key: str) -> dict | None:
        """Cancel the sale if nothing has shipped or been invoiced; None if there is no sale for `key`.

        Tryton only cancels a sale before confirmation. A confirmed one is undone as a Tryton user
        would: its shipments and draft invoices cancelled and those exceptions ignored, which leaves
        it done with nothing to ship or invoice (`undone` in the summary).
        """
        Sale = Pool().get("sale.sale")
        sale = locked_sale(shop_id, key, required=False)
        if sale is None:
            return None
        if sale.state == "confirmed":
            Sale.draft([sale])
            sale = Sale(sale.id)
        if sale.state in ("draft", "quotation"):
            Sale.cancel([sale])
        elif sale.state in ("processing", "done") and not _undone(sale):
            _undo(sale)
        return summary(Sale(sale.id))


class _Unplaced(RPCReturnException):
    """Roll the sale back and answer what Tryton would have charged: amounts, each line's, and how it rounds tax."""

    def __init__(self, sale, charged: dict) -> None:
        super().__init__()
        config = Pool().get("account.configuration")(1)
        self.answer = {
            "placed": False,
            "amounts": charged,
            "line_amounts": [line.amount for line in sale.lines],
            "tax_rounding": config.get_multivalue("tax_rounding", company=sale.company.id),
        }

    def result(self):
        return self.answer


def amounts(sale) -> dict:
    """Untaxed, tax per tax id (as a string: a JSON key) and total, as Tryton computed them."""
    taxes: dict[str, Decimal] = defaultdict(Decimal)
    for line in sale._get_taxes().values():
        taxes[str(line.tax.id)] += line.amount
    return {"untaxed": sale.untaxed_amount, "taxes": {t: a for t, a in taxes.items() if a}, "total": sale.total_amount}


def _amounts(expected: dict) -> dict:
    return {
        "untaxed": Decimal(expected["untaxed"]),
        "taxes": {str(t): Decimal(a) for t, a in expected["taxes"].items() if Decimal(a)},
        "total": Decimal(expected["total"]),
    }


def summary(sale) -> dict:
    return {
        "id": sale.id,
        "number": sale.number or "",
        "state": sale.state,
        "undone": _undone(sale),
        "untaxed_amount": sale.untaxed_amount,
        "tax_amount": sale.tax_amount,
        "total_amount": sale.total_amount,
        "currency": sale.currency.code,
    }


def _undone(sale) -> bool:
    """A confirmed sale `cancel` closed: done, every shipment and invoice cancelled."""
    documents = [*sale.shipments, *sale.invoices]
    return sale.state == "done" and bool(documents) and all(d.state == "cancelled" for d in documents)


def _undo(sale) -> None:
    pool = Pool()
    Shipment = pool.get("stock.shipment.out")
    Invoice = pool.get("account.invoice")
    Sale = pool.get("sale.sale")
    if any(s.state in SHIPPED for s in sale.shipments):
        raise UserError(f"Sale {sale.number} has shipped: it needs a return, not a cancellation")
    if any(i.state in INVOICED for i in sale.invoices):
        raise UserError(f"Sale {sale.number} is invoiced: it needs a credit note, not a cancellation")
    Shipment.cancel([s for s in sale.shipments if s.state != "cancelled"])
    Invoice.cancel([i for i in sale.invoices if i.state != "cancelled"])
    ignore_cancelled(Sale(sale.id))
