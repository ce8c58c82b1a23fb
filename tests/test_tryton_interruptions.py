"""Every ERP step, interrupted between each pair of its calls and overlapped by a second attempt, ends right.

A fault point in the RPC client (`adapters.tryton_rpc.FaultPoint`) makes the n-th call of a step fail
before it reaches Tryton, lose its response after Tryton did it, or kill the caller; the step is then
run again, as Temporal's next attempt would, and the ERP is read back: one sale, one payment, one credit
note settled once, the rest of a shipment still open and shippable, and no misleading reason to park.
"""
import asyncio
import contextlib
import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from adapters.erp import InvoiceState, SalesOrderState
from adapters.errors import RetryableError
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import Fault, FaultPoint, Killed, TrytonRpc
from canonical import Order, Payment
from canonical.keys import customer_key
from canonical.returns import Disposition, ProcessedItem, ReturnLine
from embedded.tryton import TrytonServer
from tests.test_tryton_erp import REDUCED, STRICT, customer_for, eur, key_of, make_order, product_line, sales_for
from tests.test_tryton_fulfilment import sale_states, shipments_of, shipped, stock
from tests.test_tryton_returns import delivered_and_invoiced, note, returns_of, tee_refund

MODES = [("before", "fail"), ("after", "fail"), ("before", "kill"), ("after", "kill")]
"""Connection dropped, response lost, worker killed before a call, worker killed after Tryton did it."""


@dataclass
class Case:
    order: Order
    extra: dict = field(default_factory=dict)


class Step:
    """One ERP step: what it needs first, the step itself, and what the ERP must show afterwards."""

    async def prepare(self, erp, tryton) -> Case:
        raise NotImplementedError

    async def run(self, erp, case: Case):
        raise NotImplementedError

    async def check(self, tryton, case: Case, result) -> None:
        raise NotImplementedError


class EnsureCustomer(Step):
    async def prepare(self, erp, tryton):
        return Case(make_order([product_line(1, "MUG-CERAMIC", 1, "12.50", "12.50")]))

    async def run(self, erp, case):
        return await customer_for(erp, case.order)

    async def check(self, tryton, case, result):
        code = customer_key(case.order.store_id, case.order.customer)
        fields = ["addresses", "contact_mechanisms"]
        (party,) = await tryton.call("party.party", "search_read", [("code", "=", code)], 0, None, None, fields)
        assert (len(party["addresses"]), len(party["contact_mechanisms"])) == (1, 1)
        assert result.customer_ref == str(party["id"])


class CreateSale(Step):
    async def prepare(self, erp, tryton):
        order = make_order([product_line(1, "TEE-CLASSIC", 2, "40.00", "36.00"),
                            product_line(2, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED)])  # fmt: skip
        return Case(order, {"customer": await customer_for(erp, order)})

    async def run(self, erp, case):
        return await erp.create_sales_order(key_of(case.order), case.order, case.extra["customer"], STRICT)

    async def check(self, tryton, case, result):
        fields = ["state", "shipments.state", "invoices.state", "total_amount"]
        (sale,) = await sales_for(tryton, key_of(case.order), fields)
        assert sale["state"] == "processing" and result.state == SalesOrderState.PROCESSING
        assert [s["state"] for s in sale["shipments."]] == ["waiting"]
        assert [i["state"] for i in sale["invoices."]] == ["draft"]
        assert sale["total_amount"] == result.total_amount.amount == Decimal("74.85")


class CancelSale(Step):
    async def prepare(self, erp, tryton):
        order = make_order([product_line(1, "HOODIE-M", 2, "90.00", "90.00")])
        await erp.create_sales_order(key_of(order), order, await customer_for(erp, order), STRICT)
        return Case(order)

    async def run(self, erp, case):
        return await erp.cancel_sales_order(key_of(case.order))

    async def check(self, tryton, case, result):
        fields = ["state", "shipment_state", "invoice_state", "shipments.state", "invoices.state"]
        (sale,) = await sales_for(tryton, key_of(case.order), fields)
        assert (sale["state"], sale["shipment_state"], sale["invoice_state"]) == ("done", "none", "none")
        assert {d["state"] for d in sale["shipments."] + sale["invoices."]} == {"cancelled"}
        assert result.state == SalesOrderState.CANCELLED


class ShipPart(Step):
    """Two of three tees leave; the third and the book stay on an open shipment, which can still ship."""

    async def prepare(self, erp, tryton):
        order = make_order([product_line(1, "TEE-CLASSIC", 3, "60.00", "60.00"),
                            product_line(2, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED)])  # fmt: skip
        await erp.create_sales_order(key_of(order), order, await customer_for(erp, order), STRICT)
        return Case(order)

    async def run(self, erp, case):
        return await erp.ship_sales_order(key_of(case.order), "S1", [shipped("TEE-CLASSIC", 2)])

    async def check(self, tryton, case, result):
        assert [(line.sku, line.quantity) for line in result.lines] == [("TEE-CLASSIC", 2)]
        assert await shipments_of(tryton, case.order) == [
            ("done", "S1", {"TEE-CLASSIC": 2.0}),
            ("waiting", None, {"TEE-CLASSIC": 1.0, "BOOK-COFFEE": 1.0}),
        ]
        assert await sale_states(tryton, case.order) == ("processing", "partially shipped", "pending")


class PayInvoice(Step):
    async def prepare(self, erp, tryton):
        order = make_order([product_line(1, "MUG-CERAMIC", 2, "25.00", "25.00")])
        await erp.create_sales_order(key_of(order), order, await customer_for(erp, order), STRICT)
        return Case(order, {"payment": Payment(transaction_id=f"ch_{order.order_id}", paid_at=dt.datetime.now(dt.UTC))})

    async def run(self, erp, case):
        return await erp.invoice_sales_order(key_of(case.order), case.extra["payment"], eur("30.00"))

    async def check(self, tryton, case, result):
        assert result.state == InvoiceState.PAID
        (invoice,) = await tryton.call("account.invoice", "read", [int(result.erp_ref)], ["state", "payment_lines"])
        assert invoice["state"] == "paid"
        payments = await tryton.call("account.move.line", "read", invoice["payment_lines"], ["credit"])
        assert [p["credit"] for p in payments] == [Decimal("30.00")]
        assert (await sale_states(tryton, case.order))[2] == "paid"


class OpenReturn(Step):
    async def prepare(self, erp, tryton):
        return Case(await delivered_and_invoiced(erp, product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00")))

    async def run(self, erp, case):
        rma = f"RMA-{case.order.order_id}"
        return await erp.create_return(key_of(case.order), rma, [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])

    async def check(self, tryton, case, result):
        (stored,) = await returns_of(tryton, f"RMA-{case.order.order_id}")
        assert stored["state"] == "processing" and result.erp_ref == str(stored["id"])
        assert [(line["product."]["code"], line["quantity"]) for line in stored["lines."]] == [("TEE-CLASSIC", -1.0)]
        (draft,) = stored["invoices"]
        assert (await note(tryton, draft))["state"] == "draft"
        copies = await tryton.call("sale.sale", "search", [("origin", "=", f"sale.sale,{result.erp_ref}")], 0, None,
                                   None)  # fmt: skip
        sale_id = (await sales_for(tryton, key_of(case.order), ["id"]))[0]["id"]
        others = await tryton.call("sale.sale", "search", [("origin", "=", f"sale.sale,{sale_id}")], 0, None, None)
        assert copies == [] and others == [stored["id"]]


class ReceiveReturn(Step):
    async def prepare(self, erp, tryton):
        order = await delivered_and_invoiced(erp, product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00"))
        rma = f"RMA-{order.order_id}"
        await erp.create_return(key_of(order), rma, [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(2))])
        return Case(order, {"rma": rma, "before": (await stock(tryton, "TEE-CLASSIC"))["TEE-CLASSIC"][0]})

    async def run(self, erp, case):
        received = [ProcessedItem(sku="TEE-CLASSIC", quantity=Decimal(1), disposition=Disposition.RESTOCK)]
        return await erp.receive_return(case.extra["rma"], received)

    async def check(self, tryton, case, result):
        assert result.received == (ProcessedItem(sku="TEE-CLASSIC", quantity=1, disposition=Disposition.RESTOCK),)
        (stored,) = await returns_of(tryton, case.extra["rma"])
        shipments = await tryton.call("stock.shipment.out.return", "read", sorted(stored["shipment_returns"]),
                                      ["state"])  # fmt: skip
        assert [s["state"] for s in shipments] == ["done", "cancelled"]
        assert (await stock(tryton, "TEE-CLASSIC"))["TEE-CLASSIC"][0] - case.extra["before"] == 1


class PostCreditNote(Step):
    """A refund paid back through the gateway: one posted credit note, settled once."""

    async def prepare(self, erp, tryton):
        return Case(await delivered_and_invoiced(erp, product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00")))

    async def run(self, erp, case):
        key = f"refund-{case.order.order_id}"
        return await erp.post_credit_note(key_of(case.order), key, [tee_refund()], "Too small", "store refund 7")

    async def check(self, tryton, case, result):
        key = f"refund-{case.order.order_id}"
        notes = await tryton.call("account.invoice", "search_read", [("reference", "=", key)], 0, None, None,
                                  ["state", "total_amount", "payment_lines", "lines"])  # fmt: skip
        assert [(n["state"], n["total_amount"]) for n in notes] == [("paid", Decimal("-24.00"))]
        fields = ["debit", "move.description"]
        payouts = await tryton.call("account.move.line", "read", notes[0]["payment_lines"], fields)
        assert [(p["debit"], p["move."]["description"]) for p in payouts] == [(Decimal("24.00"), "store refund 7")]
        assert len(notes[0]["lines"]) == 1 and result.erp_ref == str(notes[0]["id"])
        sale_id = (await sales_for(tryton, key_of(case.order), ["id"]))[0]["id"]
        drafts = await tryton.call("account.invoice", "search", [("state", "=", "draft"), ("party", "=", (
            await tryton.call("sale.sale", "read", [sale_id], ["party"]))[0]["party"])], 0, None, None)  # fmt: skip
        assert drafts == []


STEPS = {
    "ensure_customer": EnsureCustomer(),
    "create_sales_order": CreateSale(),
    "cancel_sales_order": CancelSale(),
    "ship_sales_order": ShipPart(),
    "invoice_sales_order": PayInvoice(),
    "create_return": OpenReturn(),
    "receive_return": ReceiveReturn(),
    "post_credit_note": PostCreditNote(),
}


@contextlib.contextmanager
def _maybe(error: type[Exception]):
    """A stop 0.2 s into a call may come after a short step finished: then the step is simply done."""
    with contextlib.suppress(error):
        yield


async def faulty_erp(settings, *faults: Fault) -> tuple[TrytonErp, FaultPoint]:
    """A worker's ERP client, logged in and with the web shop known, whose next calls meet `faults`."""
    fault_point = FaultPoint()
    erp = TrytonErp(settings, fault_point=fault_point)
    await erp.get_sales_order("warm-up:0")
    fault_point.calls.clear()
    fault_point.faults.extend(faults)
    return erp, fault_point


async def calls_of(settings, step: Step, case: Case) -> list[str]:
    """The calls the step makes when nothing goes wrong (the step is run for real on `case`)."""
    erp, recorder = await faulty_erp(settings)
    try:
        await step.run(erp, case)
    finally:
        await erp.aclose()
    return recorder.calls


@pytest.mark.parametrize("when,effect", MODES, ids=[f"{e}-{w}" for w, e in MODES])
@pytest.mark.parametrize("name", STEPS)
async def test_a_step_interrupted_at_any_call_ends_right_when_run_again(name, when, effect, tryton_server, tryton_erp,
                                                                        tryton):  # fmt: skip
    step = STEPS[name]
    count = len(await calls_of(tryton_server.settings, step, await step.prepare(tryton_erp, tryton)))
    for nth in range(1, count + 1):
        case = await step.prepare(tryton_erp, tryton)
        interrupted, _ = await faulty_erp(tryton_server.settings, Fault(when, nth=nth, effect=effect))
        try:
            with pytest.raises((RetryableError, Killed)):
                await step.run(interrupted, case)
        finally:
            await interrupted.aclose()

        result = await step.run(tryton_erp, case)  # the next attempt

        try:
            await step.check(tryton, case, result)
        except AssertionError as failed:
            raise AssertionError(f"{name}, {effect} {when} call {nth} of {count}: {failed}") from failed


@pytest.mark.parametrize("name", STEPS)
async def test_an_attempt_overlapped_at_any_call_by_the_next_one_ends_right(name, tryton_server, tryton_erp, tryton):
    """The first attempt timed out while its call was about to run: the next attempt runs the whole step, then
    the first one goes on. Both end on the one outcome."""
    step = STEPS[name]
    count = len(await calls_of(tryton_server.settings, step, await step.prepare(tryton_erp, tryton)))
    for nth in range(1, count + 1):
        case = await step.prepare(tryton_erp, tryton)
        retried = []

        async def next_attempt():
            retried.append(await step.run(tryton_erp, case))

        first, _ = await faulty_erp(tryton_server.settings, Fault("before", nth=nth, effect=next_attempt))
        try:
            result = await step.run(first, case)
        finally:
            await first.aclose()

        try:
            assert result == retried[0]
            await step.check(tryton, case, result)
        except AssertionError as failed:
            raise AssertionError(f"{name}, overlapped before call {nth} of {count}: {failed}") from failed


@pytest.mark.parametrize("name", STEPS)
async def test_two_attempts_at_once_end_on_one_outcome(name, tryton_server, tryton_erp, tryton):
    step = STEPS[name]
    case = await step.prepare(tryton_erp, tryton)
    other = TrytonErp(tryton_server.settings)
    try:
        first, second = await asyncio.gather(step.run(tryton_erp, case), step.run(other, case))
    finally:
        await other.aclose()

    assert first == second
    await step.check(tryton, case, first)


@pytest.fixture(scope="module")
async def own_tryton(tmp_path_factory):
    """A Tryton of this module's own, to stop and start without stopping the session's."""
    server = TrytonServer(tmp_path_factory.mktemp("tryton-stopped"))
    await asyncio.to_thread(server.start)
    erp = TrytonErp(server.settings)
    settings = server.settings
    rpc = TrytonRpc(settings.url, settings.database, settings.user, settings.password)
    yield server, erp, rpc
    await erp.aclose()
    await rpc.aclose()
    await asyncio.to_thread(server.stop)


@pytest.mark.parametrize("delay", [None, 0.2], ids=["stopped-before-its-call", "stopped-during-its-call"])
@pytest.mark.parametrize("name", STEPS)
async def test_a_step_with_tryton_stopped_ends_right_once_it_is_back(name, delay, own_tryton):
    """Tryton is stopped (SIGTERM) before the step's last call, or 0.2 s into it, and started again."""
    server, erp, tryton = own_tryton
    step = STEPS[name]
    calls = await calls_of(server.settings, step, await step.prepare(erp, tryton))
    case = await step.prepare(erp, tryton)

    stopping = threading.Timer(delay or 0, server.stop)

    async def stop() -> None:
        stopping.start()
        if delay is None:
            await asyncio.to_thread(stopping.join)

    interrupted, _ = await faulty_erp(server.settings, Fault("before", nth=len(calls), effect=stop))
    try:
        with pytest.raises(RetryableError) if delay is None else _maybe(RetryableError):
            await step.run(interrupted, case)
    finally:
        await interrupted.aclose()
    await asyncio.to_thread(stopping.join)
    await asyncio.to_thread(server.start)

    await step.check(tryton, case, await step.run(erp, case))
