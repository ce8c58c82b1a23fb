"""What every step shares: who may run it, one write transaction serialised with the others, its errors."""
from decimal import Decimal
from functools import wraps

from trytond import backend
from trytond.exceptions import UserError
from trytond.model import Model
from trytond.pool import Pool
from trytond.rpc import RPC
from trytond.transaction import Transaction

STEP_TIMEOUT = 45
"""Seconds a step may run before Tryton aborts its transaction; the integration's HTTP call waits longer (60 s),
so a step never goes on in Tryton after its caller gave up on it."""


class NotReady(UserError):
    """Not yet: the ERP lacks what the step needs and will have it later (a credit note before the invoice is
    posted). Sent as its own kind, so the integration waits instead of asking a person."""

    KIND = "RetailSyncNotReady"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.args = (self.KIND, (message, "", None))


class Steps(Model):
    """A model whose `steps` are RPC methods, each doing one whole step (see `step`) in a read-write call,
    and whose `reads` are read-only RPC methods (see `read`)."""

    steps: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({name: RPC(readonly=False, timeout=STEP_TIMEOUT) for name in cls.steps})
        cls.__rpc__.update({name: RPC() for name in cls.reads})


def read(method):
    """A read-only answer, for a user whose groups may read the model (the module's group)."""

    @wraps(method)
    def wrapper(cls, *args):
        Pool().get("ir.model.access").check(cls.__name__, "read")
        return method(cls, *args)

    return wrapper


def step(method):
    """A whole step in the transaction of one call.

    Only a user whose groups may write the step's model runs it (the module's group). The step first
    takes the database's write lock (SQLite starts a write transaction only at the first write,
    after reads that would then be stale), and `locked_sale` locks the order's sale (PostgreSQL), so
    two steps of one order never interleave: the second one sees what the first one committed.
    """

    @wraps(method)
    def wrapper(cls, *args):
        Pool().get("ir.model.access").check(cls.__name__, "write")
        connection = Transaction().connection
        if backend.name == "sqlite" and not connection.in_transaction:
            connection.execute("BEGIN IMMEDIATE")
        return method(cls, *args)

    return wrapper


def locked_sale(shop_id: int, key: str, required: bool = True):
    """The web shop's sale whose web id is the order's key, locked for this step; None if there is none."""
    sale = find_sale(shop_id, key, required)
    if sale is not None:
        Pool().get("sale.sale").lock([sale])
    return sale


def find_sale(shop_id: int, key: str, required: bool = True):
    Sale = Pool().get("sale.sale")
    sales = Sale.search([("web_shop", "=", shop_id), ("web_id", "=", key)], limit=1)
    if not sales and required:
        raise UserError(f"No sale for order {key} in the ERP")
    return sales[0] if sales else None


def process(sales) -> None:
    """Bring the sales' shipment and invoice states up to date now, in this transaction.

    Tryton queues `sale.process` after a confirmation, a shipment or a payment and, without a queue
    worker, runs it after the commit in a transaction of its own: a server stopped in between leaves
    a confirmed sale with no shipment. Processing here makes the step complete when it commits.
    """
    Sale = Pool().get("sale.sale")
    Sale.process(Sale.browse([s.id for s in sales]))


def ignore_cancelled(sale) -> None:
    """Accept the sale's cancelled invoices and moves instead of recreating them, as the handle-exception
    wizards allow, then process it: nothing is left to invoice or ship for them."""
    pool = Pool()
    Sale = pool.get("sale.sale")
    SaleLine = pool.get("sale.line")
    handled = set(sale.invoices_ignored) | set(sale.invoices_recreated)
    if invoices := [i.id for i in sale.invoices if i.state == "cancelled" and i not in handled]:
        Sale.write([sale], {"invoices_ignored": [("add", invoices)]})
    for line in sale.lines:
        handled = set(line.moves_ignored) | set(line.moves_recreated)
        if moves := [m.id for m in line.moves if m.state == "cancelled" and m not in handled]:
            SaleLine.write([line], {"moves_ignored": [("add", moves)]})
    process([sale])


def quantity(value) -> Decimal:
    """Tryton stores quantities as floats; 2.0 units read back as Decimal 2."""
    number = Decimal(str(value))
    return number.to_integral_value() if number == number.to_integral_value() else number


def post_invoices(invoices) -> None:
    """Post, accepting that taxes differ from the products' defaults: the store's taxes are the ones charged."""
    Invoice = Pool().get("account.invoice")
    with Transaction().set_context(_skip_warnings=True):
        Invoice.post(invoices)
