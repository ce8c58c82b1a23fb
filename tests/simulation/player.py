"""Plays one scenario against a world, the way the store, its customer, its merchant and the warehouse would,
and keeps what happened (`Played`) for the invariants to judge against what the systems hold."""
import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from adapters.tryton_rpc import Fault, FaultPoint
from bench.store_rest import refunded_item
from canonical.keys import merchant_refund_of, order_workflow_id, refund_workflow_id
from sandbox.erp import ErpFault, InMemoryErp
from sandbox.shipbob.views import order_view
from starter.signatures import woocommerce_signature
from tests.simulation.scenarios import Event, Scenario
from workflows import search_attributes as sa
from tests.simulation.world import POLICY, RETURNS, STORE, STORE_SECRET, World
from workflows.store_intake import IntakeInput, StoreIntakeWorkflow

CENT = Decimal("0.01")
QUIRKS = {"without tracking": "shipped_without_tracking", "duplicated": "duplicate_deliveries",
          "reordered": "out_of_order", "dropped": "drop_webhooks"}  # fmt: skip
TRYTON_STEPS = {"ensure_customer": "retail_sync.customer.ensure", "create_sales_order": "retail_sync.sale.place",
                "ship_sales_order": "retail_sync.shipment.ship", "invoice_sales_order": "retail_sync.invoice.pay",
                "post_credit_note": "retail_sync.credit_note.post", "cancel_sales_order": "retail_sync.sale.cancel",
                "release_unshipped": "retail_sync.shipment.release"}  # fmt: skip


@dataclass
class Played:
    scenario: Scenario
    order_id: str = ""
    log: list[str] = field(default_factory=list)  # each event as played, with what it found
    snapshots: list[dict] = field(default_factory=list)  # the store order after each change, oldest first
    cancelled_before_shipping: bool = False  # the store order was cancelled while nothing had shipped
    refund_reasons: set[str] = field(default_factory=set)  # ours are unique, to find them at the gateway
    events: int = 0
    end_state: list[str] = field(default_factory=list)  # each run at the end, as the invariants found it


class Player:
    def __init__(self, world: World, scenario: Scenario, fault_point: FaultPoint | None = None) -> None:
        self.world, self.scenario, self.fault_point = world, scenario, fault_point
        self.played = Played(scenario)

    # -- what the invariants and the runner read ------------------------------------------

    def order_run(self):
        return self.world.client.get_workflow_handle(order_workflow_id(STORE, self.played.order_id))

    def refund_ids(self) -> list[int]:
        store = self.world.woo.store
        with store.lock:
            return sorted(r.id for r in store.refunds.values() if str(r.order_id) == self.played.order_id)

    def refund_run(self, refund_id: int):
        return self.world.client.get_workflow_handle(
            refund_workflow_id(STORE, self.played.order_id, merchant_refund_of(str(refund_id))))

    async def handles(self) -> list:
        if not self.played.order_id:
            return []
        return [self.order_run(), *(self.refund_run(r) for r in self.refund_ids())]

    def threepl_orders(self) -> list[dict]:
        """The order's 3PL orders as ShipBob's API shows them, read from the sandbox's state (no rate limit)."""
        store = self.world.shipbob.store
        prefix = f"{STORE}:{self.played.order_id}:"
        return [order_view(store, o) for o in sorted(store.orders.values(), key=lambda o: o.id)
                if o.reference_id.startswith(prefix)]  # fmt: skip

    async def store_get(self, path: str):
        """What the merchant's admin reads; a 5xx (a fault the scenario set for the run's own reads) is read again."""
        for _ in range(5):
            answer = await self.world.store_api.get(path)
            if answer.status_code < 500:
                answer.raise_for_status()
                return answer.json()
        answer.raise_for_status()

    # -- playing ---------------------------------------------------------------------------

    async def play(self) -> Played:
        await self.world.use_cache(not any(event.kind == "restart_worker" for event in self.scenario.events))
        for event in self.scenario.events:
            outcome = await getattr(self, f"_{event.kind}")(event)
            self.played.log.append(f"{event}" + (f"  [{outcome}]" if outcome else ""))
            self.played.events += 1
        return self.played

    async def settle(self) -> None:
        await self.world.settle(self.handles)

    async def _store_change(self, event: Event, change) -> str:
        """A change in the store; its webhooks lost if the event says so, and then found by the intake backstop."""
        lost = event.args.get("lost")
        hooks = await self.world.store_api.get("webhooks")
        if lost:
            for hook in hooks.json():
                (await self.world.store_api.put(f"webhooks/{hook['id']}", json={"status": "paused"})).raise_for_status()
        try:
            outcome = await change()
            await self._snapshot()
            await self.settle()
        finally:
            if lost:
                for hook in hooks.json():
                    (await self.world.store_api.put(f"webhooks/{hook['id']}",
                                                    json={"status": "active"})).raise_for_status()  # fmt: skip
        if lost:
            await self._intake()
        return outcome

    async def _intake(self) -> None:
        """What the intake Schedule starts every few minutes (the test server has no Schedules): one run."""
        created = datetime.fromisoformat(self.played.snapshots[0]["date_created_gmt"]).replace(tzinfo=timezone.utc)
        since = created - timedelta(minutes=1)  # the store was connected before this order (WooCommerce: "after")
        handle = await self.world.client.start_workflow(
            StoreIntakeWorkflow.run, IntakeInput(store_id=STORE, since=since),
            id=f"intake-{STORE}-{self.scenario.seed}-{len(self.played.log)}",
            task_queue=self.world.settings.temporal.task_queue)
        await self.world.settle(lambda: _async([handle, *self._sync_handles()]))
        await self.settle()

    def _sync_handles(self) -> list:
        return [self.order_run(), *(self.refund_run(r) for r in self.refund_ids())] if self.played.order_id else []

    async def _snapshot(self) -> dict:
        order = await self.store_get(f"orders/{self.played.order_id}")
        self.played.snapshots.append(order)
        return order

    async def _checkout(self, event: Event) -> str:
        order = await self.world.shopper.place_order([tuple(line) for line in event.args["lines"]],
                                                     paid=event.args["paid"])  # fmt: skip
        self.played.order_id = str(order["id"])
        await self._snapshot()
        await self.settle()
        return f"store order {order['id']}"

    async def _pay(self, event: Event) -> str:
        await self._store_change(event, lambda: self.world.shopper.pay(int(self.played.order_id)))
        return ""

    async def _deliver_again(self, event: Event) -> str:
        snapshots = self.played.snapshots
        chosen = {"current": lambda: None, "oldest": lambda: snapshots[0],
                  "previous": lambda: snapshots[-2] if len(snapshots) > 1 else snapshots[0]}[event.args["which"]]()
        body = chosen or await self.store_get(f"orders/{self.played.order_id}")
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": event.args["topic"],
                   "X-WC-Webhook-Signature": woocommerce_signature(raw, STORE_SECRET)}  # fmt: skip
        url = f"{self.world.starter_url}/webhooks/woocommerce/{STORE}"
        answers = await asyncio.gather(*(self.world.http.post(url, content=raw, headers=headers)
                                         for _ in range(event.args["times"])))  # fmt: skip
        await self.settle()
        return "answered " + " ".join(str(a.status_code) for a in answers)

    async def _cancel_in_store(self, event: Event) -> str:
        order = await self.store_get(f"orders/{self.played.order_id}")
        if order["status"] in ("completed", "refunded", "cancelled"):
            return f"skipped: the store order is {order['status']}"
        if not any(s["shipments"] and any(sh["status"] == "Completed" for sh in s["shipments"])
                   for s in self.threepl_orders()):  # fmt: skip
            self.played.cancelled_before_shipping = True
        await self._store_change(event, lambda: self.world.shopper.cancel(int(self.played.order_id)))
        return ""

    async def _refund_lines(self, event: Event) -> str:
        order, left = await self._refundable()
        lines = []
        for sku, units in event.args["lines"]:
            line = next((line for line in order["line_items"] if line["sku"] == sku), None)
            units = min(units, left[line["id"]][0]) if line else 0
            if units:
                lines.append(self._refund_item(line, units, left[line["id"]]))
        if not lines:
            return "skipped: nothing of it left to refund"
        return await self._refund(event, lines)

    async def _refund_rest(self, event: Event) -> str:
        order, left = await self._refundable()
        lines = [self._refund_item(line, left[line["id"]][0], left[line["id"]])
                 for line in order["line_items"] if left[line["id"]][1] > 0]  # fmt: skip
        lines += [self._refund_item(line, 0, left[line["id"]]) for line in order["shipping_lines"]
                  if left[line["id"]][1] > 0]  # fmt: skip
        if not lines:
            return "skipped: nothing left to refund"
        return await self._refund(event, lines)

    async def _refund(self, event: Event, lines: list[dict]) -> str:
        reason = f"simulation seed {self.scenario.seed}, refund {len(self.played.refund_reasons) + 1}"
        self.played.refund_reasons.add(reason)
        body = {"reason": reason, "api_refund": event.args["gateway"], "api_restock": False, "line_items": lines}

        async def refund() -> str:
            answer = await self.world.store_api.post(f"orders/{self.played.order_id}/refunds", json=body)
            return f"store refund {answer.json().get('id')} of {answer.json().get('amount')}" if answer.is_success \
                else f"refused by the store: {answer.status_code} {answer.text[:200]}"

        return await self._store_change(event, refund)

    async def _refundable(self) -> tuple[dict, dict[int, tuple[int, Decimal, dict[int, Decimal]]]]:
        """The order, and per item id what is left to refund: units, amount, tax per rate id."""
        order = await self.store_get(f"orders/{self.played.order_id}")
        refunds = await self.store_get(f"orders/{self.played.order_id}/refunds")
        left = {}
        for item in [*order["line_items"], *order["shipping_lines"]]:
            taxes = {tax["id"]: Decimal(tax["total"]) for tax in item["taxes"] if tax.get("total")}
            left[item["id"]] = [int(item.get("quantity", 0)), Decimal(item["total"]), taxes]
        for refund in refunds:
            for item in [*refund["line_items"], *refund.get("shipping_lines", [])]:
                entry = left.get(refunded_item(item))
                if entry is not None:
                    entry[0] += int(item.get("quantity", 0))  # negative in a refund
                    entry[1] += Decimal(item["total"])
                    for tax in item["taxes"]:
                        entry[2][tax["id"]] = entry[2].get(tax["id"], Decimal(0)) + Decimal(tax["total"])
        return order, {item_id: tuple(entry) for item_id, entry in left.items()}

    @staticmethod
    def _refund_item(item: dict, units: int, left: tuple[int, Decimal, dict[int, Decimal]]) -> dict:
        """`units` of the item (0: an amount-only line, its whole rest), the last ones getting the remainder."""
        units_left, amount_left, taxes_left = left
        share = Decimal(1) if not units or units >= units_left else Decimal(units) / Decimal(units_left)
        refund = {"id": item["id"], "refund_total": str((amount_left * share).quantize(CENT)),
                  "refund_tax": [{"id": rate, "refund_total": str((amount * share).quantize(CENT))}
                                 for rate, amount in taxes_left.items() if amount]}  # fmt: skip
        return {**refund, "quantity": units} if units else refund

    async def _ship_next(self, event: Event) -> str:
        waiting = [s for order in self.threepl_orders() for s in order["shipments"] if s["status"] == "Processing"]
        if not waiting:
            return "skipped: no shipment waits"
        quirks = {QUIRKS[name]: True for name in QUIRKS if event.args.get(name)}
        await self._quirks(**quirks)
        try:
            await self._ship(waiting[0]["id"])
            await self.settle()
        finally:
            await self._quirks(**{name: False for name in quirks})
        return f"3PL shipment {waiting[0]['id']}"

    async def _ship(self, shipment_id: int) -> None:
        await self.world.warehouse.ship(shipment_id)
        shipments = self.world.shipbob.store.shipments
        for _ in range(500):
            if shipments[shipment_id].status != "Processing":
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"3PL shipment {shipment_id} did not ship")

    async def _quirks(self, **switches: bool) -> None:
        if switches:
            (await self.world.threepl_control.post("quirks", json=switches)).raise_for_status()

    async def _wait(self, event: Event) -> str:
        await self.world.advance(timedelta(minutes=event.args["minutes"]))
        await self.settle()
        return ""

    async def _erp_fault(self, event: Event) -> str:
        method, when = event.args["method"], event.args["when"]
        if isinstance(self.world.erp, InMemoryErp):
            self.world.erp.faults.append(ErpFault(method, when))
        elif self.fault_point is not None:
            self.fault_point.faults.append(Fault(when=when, method=f"model.{TRYTON_STEPS[method]}"))
        return ""

    async def _store_fault(self, event: Event) -> str:
        path = f"/wp-json/wc/v3/orders/{self.played.order_id}"
        fault = {"note_503": {"path_prefix": f"{path}/notes", "method": "POST", "status": 503},
                 "note_lost": {"path_prefix": f"{path}/notes", "method": "POST", "drop_response_after_commit": True},
                 "refunds_503": {"path_prefix": f"{path}/refunds", "method": "GET", "status": 503},
                 }[event.args["fault"]]  # fmt: skip
        (await self.world.store_control.post("faults", json={**fault, "count": 1})).raise_for_status()
        return ""

    async def _threepl_fault(self, event: Event) -> str:
        fault = {"count": event.args["count"], "retry_after": 0, "path_prefix": "/2026-01/order"}
        (await self.world.threepl_control.post("faults", json=fault)).raise_for_status()
        return ""

    async def _restart_worker(self, event: Event) -> str:
        await self.world.restart_worker()
        await self.settle()
        return ""

    async def _wrap_up(self, event: Event) -> str:
        """Faults cleared; the warehouse ships what waits; polls, the payment window and credit-note retries pass."""
        await self.clear_faults()
        shipped = 0
        for _ in range(4):
            waiting = [s["id"] for o in self.threepl_orders() for s in o["shipments"] if s["status"] == "Processing"]
            for shipment_id in waiting:
                await self._ship(shipment_id)
                shipped += 1
            await self.settle()
            if await self._order_run_ended():
                break
            await self.world.advance(POLICY.shipment_poll_interval + timedelta(minutes=1))
            await self.settle()
        if not await self._order_run_ended():
            await self.world.advance(POLICY.payment_window + timedelta(minutes=1))
            await self.settle()
        if await self._refund_runs_open():
            await self.world.advance(RETURNS.credit_note_retry_every + timedelta(minutes=1))
            await self.settle()
        return f"shipped {shipped} more" if shipped else ""

    async def _order_run_ended(self) -> bool:
        """Closed, or parked (a person's turn): nothing more comes of waiting."""
        description = await self.order_run().describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return True
        return description.typed_search_attributes.get(sa.ORDER_STAGE) == "parked"

    async def _refund_runs_open(self) -> bool:
        for refund_id in self.refund_ids():
            try:
                if (await self.refund_run(refund_id).describe()).status == WorkflowExecutionStatus.RUNNING:
                    return True
            except RPCError:
                return True  # not started yet
        return False

    async def clear_faults(self) -> None:
        if isinstance(self.world.erp, InMemoryErp):
            self.world.erp.faults.clear()
        elif self.fault_point is not None:
            self.fault_point.faults.clear()
        (await self.world.store_control.delete("faults")).raise_for_status()
        (await self.world.threepl_control.delete("faults")).raise_for_status()
        await self._quirks(**{name: False for name in QUIRKS.values()})


async def _async(value):
    return value

