"""The adversity benchmark's hands on the stack: the shopper, the merchant, the warehouse floor, the returns
dock, an operator, and a sender of signed webhooks. Expectations that fail raise `Defect`, which stops that
case and says what happened and what should have."""
import asyncio
import inspect
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from bench.hostile_bodies import standard_webhooks_signature
from bench.stack import STORE, STORE_SECRET, THREEPL_SECRET, BenchStack
from adapters.tryton_rpc import TrytonRpc
from bench.store_rest import StoreRest
from canonical.keys import order_workflow_id, refund_key, refund_workflow_id, sales_order_key
from canonical.returns import RefundLine, RefundRequest, ReturnLine
from starter.returns import AuthorisedReturn, authorise_return
from starter.signatures import woocommerce_signature
from workflows.order_messages import OrderOutcome, OrderProgress, OrderStage
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundRunInput, RefundWorkflow
from workflows.returns import ReturnOutcome, ReturnWorkflow

T = TypeVar("T")
SETTLE_S = 300.0  # a dozen cases share one Tryton, which confirms a sale in about a second alone
CENT = Decimal("0.01")


class Defect(Exception):
    """What the systems did, and what they should have done."""


def expect(holds: bool, defect: str) -> None:
    if not holds:
        raise Defect(defect)


async def until(probe: Callable[[], Awaitable[T] | T], accept: Callable[[T], bool], what: str,
                timeout: float = SETTLE_S) -> T:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise Defect(f"{what}: not within {timeout:.0f} s; last seen: {value!r}"[:2000])
        await asyncio.sleep(0.5)


class Floor:
    """The 3PL as the warehouse sees it, read every two seconds for all cases at once: its 150 requests a
    minute are per token, and a dozen cases asking on their own would spend them."""

    def __init__(self, stack: BenchStack) -> None:
        self._warehouse = stack.warehouse
        self.orders: list[dict] = []
        self.returns: list[dict] = []
        self._reads = asyncio.Event()

    async def watch(self) -> None:
        while True:
            self.orders = await self._call(self._warehouse.orders, f"{STORE}:")
            self.returns = await self._call(self._warehouse.returns, f"RMA-{STORE}-")
            self._reads.set()
            await asyncio.sleep(2)

    async def read_once(self) -> None:
        self._reads.clear()
        await asyncio.wait_for(self._reads.wait(), 60)

    def orders_of(self, order_id) -> list[dict]:
        """Its 3PL orders, oldest first."""
        return sorted((o for o in self.orders if o["reference_id"].startswith(f"{STORE}:{order_id}:")),
                      key=lambda o: o["id"])  # fmt: skip

    def shipments_of(self, order_id) -> list[dict]:
        return [shipment for order in self.orders_of(order_id) for shipment in order["shipments"]]

    def returns_of(self, rma: str) -> list[dict]:
        return [parcel for parcel in self.returns if parcel["reference_id"] == rma]

    async def ship(self, shipment_id: int) -> None:
        await self._call(self._warehouse.ship, shipment_id)

    async def raise_exception(self, shipment_id: int, detail: str) -> None:
        await self._call(self._warehouse.raise_exception, shipment_id, detail)

    async def receive_return(self, return_id: int, processed: list[tuple[str, int, str]]) -> None:
        await self._call(self._warehouse.receive_return, return_id, processed)

    async def _call(self, action, *args):
        """The warehouse's own token has the same 150/min: a refusal says when to ask again."""
        while True:
            try:
                return await action(*args)
            except httpx.HTTPStatusError as refused:
                if refused.response.status_code != 429:
                    raise
                await asyncio.sleep(float(refused.response.headers.get("x-retry-after", "5")))


class Driver:
    def __init__(self, stack: BenchStack, floor: Floor, rest: StoreRest, http: httpx.AsyncClient) -> None:
        self.stack, self.floor, self.rest, self.http = stack, floor, rest, http
        self.shopper = stack.shopper

    # -- order runs ---------------------------------------------------------------

    def order_run(self, order_id) -> WorkflowHandle:
        return self.stack.client.get_workflow_handle_for(OrderToCashWorkflow.run,
                                                         order_workflow_id(STORE, str(order_id)))  # fmt: skip

    async def progress(self, order_id) -> OrderProgress | None:
        try:
            return await self.order_run(order_id).query(OrderToCashWorkflow.progress)
        except Exception:  # no run yet: its webhook is on its way
            return None

    async def reach(self, order_id, stage: OrderStage, timeout: float = SETTLE_S) -> OrderProgress:
        """The run at `stage`; a run that parks on the way is a defect, with its reason."""
        settled = await until(lambda: self.progress(order_id),
                              lambda p: p is not None and p.stage in (stage, OrderStage.PARKED),
                              f"order {order_id} reaching {stage.value}", timeout)  # fmt: skip
        if settled.stage != stage:
            raise Defect(f"order {order_id} parked at {settled.parked.step if settled.parked else '?'} instead of "
                         f"reaching {stage.value}: {settled.parked.reason if settled.parked else ''}")
        return settled

    async def ship_to_completion(self, order_id, timeout: float = SETTLE_S) -> OrderOutcome:
        """The warehouse ships every shipment of the order as it appears, until its run closes."""
        handle, shipped = self.order_run(order_id), set()
        deadline = time.monotonic() + timeout
        while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            for shipment in self.floor.shipments_of(order_id):
                if shipment["status"] == "Processing" and shipment["id"] not in shipped:
                    await self.floor.ship(shipment["id"])
                    shipped.add(shipment["id"])
            run = await self.progress(order_id)
            if run is not None and run.stage == OrderStage.PARKED:
                raise Defect(f"order {order_id} parked at {run.parked.step} while shipping: {run.parked.reason}")
            if time.monotonic() > deadline:
                raise Defect(f"order {order_id} not completed within {timeout:.0f} s of shipping; at "
                             f"{run.stage.value if run else '?'}")
            await asyncio.sleep(1)
        return await handle.result()

    async def place_paid(self, lines: list[tuple[str, int]], customer: str = "zoe") -> dict:
        return await self.shopper.place_order(lines, paid=True, customer=customer)

    async def shipped_order(self, lines: list[tuple[str, int]]) -> dict:
        """A paid order, shipped, completed and invoiced: what refunds and returns start from."""
        order = await self.place_paid(lines, customer="lukasz")
        await self.reach(order["id"], OrderStage.AWAITING_SHIPMENT)
        outcome = await self.ship_to_completion(order["id"])
        expect(outcome.stage == OrderStage.COMPLETED,
               f"order {order['id']} ended {outcome.stage.value}: {outcome.note}")
        return await self.shopper.get_order(order["id"])

    async def activities_scheduled(self, order_id, activity: str) -> int:
        history = await self.order_run(order_id).fetch_history()
        return sum(1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
                   and e.activity_task_scheduled_event_attributes.activity_type.name == activity)  # fmt: skip

    @asynccontextmanager
    async def webhooks_paused(self):
        hooks = await self.stack.store.list_webhooks()
        for hook in hooks:
            await self.stack.store.update_webhook(hook.webhook_id, status="paused")
        try:
            yield
        finally:
            for hook in hooks:
                await self.stack.store.update_webhook(hook.webhook_id, status="active")

    # -- signed webhooks, as the store or the 3PL would send them ----------------------

    async def deliver_order(self, order: dict, topic: str = "order.updated") -> httpx.Response:
        body = json.dumps(order).encode()
        headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
                   "X-WC-Webhook-Signature": woocommerce_signature(body, STORE_SECRET)}  # fmt: skip
        return await self.http.post(f"{self.stack.starter_url}/webhooks/woocommerce/{STORE}", content=body,
                                    headers=headers)  # fmt: skip

    async def deliver_shipment(self, shipment: dict, topic: str = "order.shipped") -> httpx.Response:
        body, delivery_id, sent = json.dumps(shipment).encode(), f"msg_{uuid.uuid4().hex}", int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": delivery_id, "webhook-timestamp": str(sent),
                   "webhook-signature": standard_webhooks_signature(THREEPL_SECRET, delivery_id, sent, body),
                   "x-webhook-topic": topic}  # fmt: skip
        return await self.http.post(f"{self.stack.starter_url}/webhooks/shipbob", content=body, headers=headers)

    # -- refunds and returns ------------------------------------------------------

    async def operator_refund(self, order: dict, refund_of: str) -> WorkflowHandle:
        """An operator refunds one Classic Tee through the gateway: its unit price and taxes as charged."""
        line = next(line for line in (await self.stack.store.get_order(order["id"])).lines if line.sku == "TEE-CLASSIC")
        share = Decimal(1) / line.quantity
        refund_line = RefundLine(
            line_id=line.line_id, sku=line.sku, quantity=Decimal(1),
            amount=line.total.model_copy(update={"amount": (line.total.amount * share).quantize(CENT)}),
            taxes=tuple(tax.model_copy(update={"amount": tax.amount.model_copy(
                update={"amount": (tax.amount.amount * share).quantize(CENT)})}) for tax in line.taxes),
        )  # fmt: skip
        total = refund_line.amount.amount + sum((tax.amount.amount for tax in refund_line.taxes), Decimal(0))
        order_id = str(order["id"])
        request = RefundRequest(key=refund_key(STORE, order_id, refund_of), store_id=STORE, order_id=order_id,
                                reason="goodwill", lines=(refund_line,),
                                amount=line.total.model_copy(update={"amount": total}), refund_payment=True,
                                restock=False)  # fmt: skip
        return await self.stack.client.start_workflow(
            RefundWorkflow.run, RefundRunInput(store_id=STORE, order_id=order_id, request=request),
            id=refund_workflow_id(STORE, order_id, refund_of), task_queue=self.stack.settings.temporal.task_queue,
        )  # fmt: skip

    async def authorise(self, order: dict, sku: str, units: int) -> AuthorisedReturn:
        return await authorise_return(self.stack.client, self.stack.settings, STORE, str(order["id"]),
                                      [ReturnLine(sku=sku, quantity=Decimal(units), reason="bench")])  # fmt: skip

    def return_run(self, authorised: AuthorisedReturn) -> WorkflowHandle:
        return self.stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)

    async def awaited_parcel(self, rma: str) -> dict:
        (parcel,) = await until(lambda: self.floor.returns_of(rma), bool, f"the 3PL expecting {rma}")
        return parcel

    async def receive(self, authorised: AuthorisedReturn, sku: str, units: int) -> ReturnOutcome:
        """The parcel arrives, is restocked and the return closed at the 3PL; the return run's outcome."""
        parcel = await self.awaited_parcel(authorised.rma)
        await self.floor.receive_return(parcel["id"], [(sku, units, "Restock")])
        return await asyncio.wait_for(self.return_run(authorised).result(), SETTLE_S)

    async def refunds_path_fault(self, order_id, **fault) -> None:
        added = await self.stack.store_control.post("faults", json={
            "path_prefix": f"/wp-json/wc/v3/orders/{order_id}/refunds", "method": "POST", "count": 1, **fault})
        expect(added.is_success, f"the sandbox refused the fault {fault}: {added.text}")

    async def gateway_refunds(self, order_id) -> list[dict]:
        calls = (await self.stack.store_control.get("gateway-refunds")).json()
        return [call for call in calls if call["order_id"] == int(order_id)]

    # -- what Tryton holds ------------------------------------------------------------

    async def sales_of(self, order_id) -> list[dict]:
        return await self.stack.erp.call(
            "sale.sale", "search_read", [("web_id", "=", sales_order_key(STORE, str(order_id)))], 0, None, None,
            ["state", "untaxed_amount", "tax_amount", "total_amount", "shipments"])  # fmt: skip

    async def credit_notes_of(self, order_id) -> list[dict]:
        return await self.stack.erp.call(
            "account.invoice", "search_read",
            [("reference", "like", f"{STORE}:{order_id}:refund:%"), ("state", "in", ["posted", "paid"])],
            0, None, None, ["state", "total_amount", "reference"])  # fmt: skip

    async def erp_shipped(self, order_id) -> dict[str, Decimal]:
        return await done_units(self.stack.erp, await self.sales_of(order_id))

    async def parties_coded(self, code: str) -> list[int]:
        return await self.stack.erp.call("party.party", "search", [("code", "=", code)], 0, None, None)


async def done_units(erp: TrytonRpc, sales: list[dict]) -> dict[str, Decimal]:
    """SKU → units on the done outgoing moves of these ERP sales (`shipments` read): what left for the customer."""
    shipments = await erp.call("stock.shipment.out", "read", [s for sale in sales for s in sale["shipments"]],
                               ["outgoing_moves"])  # fmt: skip
    moves = await erp.call("stock.move", "read", [m for shipment in shipments for m in shipment["outgoing_moves"]],
                           ["product.code", "quantity", "state"])  # fmt: skip
    units: dict[str, Decimal] = {}
    for move in moves:
        if move["state"] == "done":
            code = move["product."]["code"]
            units[code] = units.get(code, Decimal(0)) + Decimal(str(move["quantity"]))
    return units


def shown(units: dict[str, Decimal]) -> str:
    return ", ".join(f"{quantity:g} × {sku}" for sku, quantity in sorted(units.items())) or "nothing"


def line_of(order: dict, sku: str) -> dict[str, Any]:
    return next(line for line in order["line_items"] if line["sku"] == sku)


def paid_for(line: dict[str, Any]) -> Decimal:
    return Decimal(line["total"]) + Decimal(line["total_tax"])
