"""What must hold at the end of every scenario, read from the systems themselves (as `bench/adversity_ledger.py`
reads them): the store's order, refunds, notes and payment gateway, the ERP, the 3PL, and Temporal's runs.
Each violation is one readable line; the runner adds the seed and the rerun command."""
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import WorkflowExecutionStatus

from adapters.tryton_rpc import TrytonRpc
from bench.adversity_driver import done_units
from bench.store_rest import refunded_item
from canonical.keys import merchant_refund_of, refund_key, sales_order_key
from sandbox.erp import InMemoryErp
from tests.simulation.player import Player
from tests.simulation.world import STORE
from workflows import search_attributes as sa
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundWorkflow

SHIPPED = ("Completed", "LabeledCreated")
SERVER_REJECTIONS = (WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,)
"""A task the server refused to complete because news (a signal) came in meanwhile: the worker runs it again with
the news, as designed. Every other cause (non-determinism, an exception in the workflow) is a finding."""
ENDS = {OrderStage.COMPLETED, OrderStage.CANCELLED, OrderStage.PAYMENT_EXPIRED}


@dataclass
class ErpRecord:
    """What the ERP holds for one store order, whichever ERP it is."""

    sales: list[str]  # each sale's state
    number: str
    shipped: dict[str, Decimal]  # SKU → units recorded as shipped
    shipment_refs: list[str] | None  # the 3PL shipments recorded, each once (None: not kept by this ERP's reader)
    credit_notes: dict[str, Decimal]  # refund key → total credited


async def erp_record(erp, order_id: str, reader: TrytonRpc | None = None) -> ErpRecord:
    key = sales_order_key(STORE, order_id)
    if isinstance(erp, InMemoryErp):
        sale = erp.sales.get(key)
        notes = {n.refund_key: n.untaxed + n.tax for n in erp.credit_notes.values() if n.sale_key == key}
        if sale is None:
            return ErpRecord([], "", {}, [], notes)
        return ErpRecord([sale.state.value], sale.number, sale.shipped(), list(sale.shipments), notes)
    sales = await reader.call("sale.sale", "search_read", [("web_id", "=", key)], 0, None, None,
                              ["state", "number", "shipments"])  # fmt: skip
    credited = [("reference", "like", f"{STORE}:{order_id}:refund:%"), ("state", "in", ["posted", "paid"])]
    notes = await reader.call("account.invoice", "search_read", credited, 0, None, None, ["reference", "total_amount"])
    shipped = await done_units(reader, sales) if sales else {}
    return ErpRecord([s["state"] for s in sales], sales[0]["number"] if sales else "", shipped, None,
                     {n["reference"]: -n["total_amount"] for n in notes})  # fmt: skip


async def violations(player: Player, reader: TrytonRpc | None = None) -> list[str]:
    world, played = player.world, player.played
    order_id = played.order_id
    found: list[str] = []
    api = world.store_api
    order = (await api.get(f"orders/{order_id}")).json()
    refunds = (await api.get(f"orders/{order_id}/refunds")).json()
    notes = (await api.get(f"orders/{order_id}/notes")).json()
    gateway = [c for c in (await world.store_control.get("gateway-refunds")).json() if str(c["order_id"]) == order_id]
    threepl = player.threepl_orders()
    erp = await erp_record(world.erp, order_id, reader)
    run = await _order_run(player)
    refund_runs = {r["id"]: await _refund_run(player, r["id"]) for r in refunds}

    # Runs: every one ends completed, cancelled, expired or parked; never failed, terminated or a failed task.
    for name, state in [("order run", run), *((f"refund run of store refund {i}", s) for i, s in refund_runs.items())]:
        if state is None:
            if name == "order run" and (order["date_paid_gmt"] or len(played.snapshots) > 1):
                found.append(f"{name}: none exists for a store order that was paid or changed")
            continue
        if state.status not in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.RUNNING):
            found.append(f"{name} ended {state.status.name}")
        if state.task_failures:
            found.append(f"{name}: {state.task_failures} workflow task failure(s): {state.first_failure}")
    parked = run is not None and run.parked
    for name, state in [("order run", run), *((f"refund run of store refund {i}", s) for i, s in refund_runs.items())]:
        # A credit note waits for the sale's invoice; while the order run is parked, the person deciding on the
        # order decides on it too.
        waits_on_parked = name != "order run" and parked and state.stage == "posting_credit_note"
        if state and state.status == WorkflowExecutionStatus.RUNNING and not state.parked and not waits_on_parked:
            found.append(f"{name} still running at {state.stage}, neither finished nor parked")
    played.end_state = [f"{name}: {state.status.name.lower()} at {state.stage}" + (f", parked: {state.parked}"
                                                                                 if state.parked else "")
                        for name, state in [("order run", run), *((f"refund run of store refund {i}", s)
                                                                  for i, s in refund_runs.items())] if state]

    # Search attributes agree with the run.
    if run is not None and run.progress is not None:
        p = run.progress
        attributes = run.attributes
        if attributes.get(sa.ORDER_STAGE) != p.stage.value:
            found.append(f"search attribute OrderStage {attributes.get(sa.ORDER_STAGE)!r}, run at {p.stage.value}")
        flagged = bool(p.parked) or ((p.fulfilment_late or bool(p.attention)) and p.stage != OrderStage.COMPLETED)
        if attributes.get(sa.NEEDS_ATTENTION) != flagged:
            found.append(f"search attribute NeedsAttention {attributes.get(sa.NEEDS_ATTENTION)}, run "
                         f"{'parked' if p.parked else p.stage.value} (attention {p.attention!r})")
        if bool(attributes.get(sa.PARKED_REASON)) != bool(p.parked):
            found.append(f"search attribute ParkedReason {attributes.get(sa.PARKED_REASON)!r} while the run is "
                         f"{'parked: ' + p.parked.reason if p.parked else 'not parked'}")
        if p.erp_sale_number and attributes.get(sa.ERP_SALE_NUMBER) != p.erp_sale_number:
            found.append(f"search attribute ErpSaleNumber {attributes.get(sa.ERP_SALE_NUMBER)!r}, sale "
                         f"{p.erp_sale_number}")
        if run.status == WorkflowExecutionStatus.COMPLETED and p.stage not in ENDS:
            found.append(f"order run closed at {p.stage.value}")

    # At most one ERP sale; a paid order is sold (or parked with a reason).
    if len(erp.sales) > 1:
        found.append(f"{len(erp.sales)} ERP sales for one store order: {erp.sales}")
    in_store_cancelled = order["status"] in ("cancelled", "refunded")
    live_sales = [s for s in erp.sales if s != "cancelled"]
    if order["date_paid_gmt"] and not in_store_cancelled and not live_sales and not parked:
        found.append(f"lost: the store order is paid ({order['status']}) but has no live ERP sale "
                     f"({erp.sales or 'none'}) and its run is not parked")

    # Goods: sent ≤ ordered − refunded before shipping; shipped recorded in the ERP exactly once.
    ordered: Counter = Counter()
    for line in order["line_items"]:
        ordered[line["sku"]] += Decimal(line["quantity"])
    line_sku = {line["id"]: line["sku"] for line in order["line_items"]}
    first_shipped = min((s["actual_fulfillment_date"] for o in threepl for s in o["shipments"]
                         if s["status"] in SHIPPED and s["actual_fulfillment_date"]), default=None)  # fmt: skip
    refunded_before: Counter = Counter()
    for refund in refunds:
        if first_shipped is None or refund["date_created_gmt"] < first_shipped.replace("Z", "")[:19]:
            for item in refund["line_items"]:
                refunded_before[line_sku.get(refunded_item(item), "?")] += -Decimal(item["quantity"])
    shipped_3pl: Counter = Counter()
    shipped_ids = []
    for threepl_order in threepl:
        for shipment in threepl_order["shipments"]:
            if shipment["status"] in SHIPPED:
                shipped_ids.append(str(shipment["id"]))
                for product in shipment["products"]:
                    shipped_3pl[product["sku"]] += sum(Decimal(i["quantity"]) for i in product["inventory_items"])
    live_3pl: Counter = Counter()
    for threepl_order in threepl:
        if threepl_order["status"] != "Cancelled":
            for shipment in threepl_order["shipments"]:
                if shipment["status"] != "Cancelled":
                    for product in shipment["products"]:
                        live_3pl[product["sku"]] += sum(Decimal(i["quantity"]) for i in product["inventory_items"])
    for sku in set(ordered) | set(live_3pl):
        owed = ordered[sku] - refunded_before[sku]
        if live_3pl[sku] > owed:
            found.append(f"{live_3pl[sku]:g} × {sku} sent to the 3PL, but {ordered[sku]:g} ordered less "
                         f"{refunded_before[sku]:g} refunded before shipping")
    if played.cancelled_before_shipping and in_store_cancelled and sum(shipped_3pl.values()):
        found.append(f"the store order was cancelled before anything shipped, yet the 3PL shipped "
                     f"{dict(shipped_3pl)}")
    erp_shipped = {sku: q for sku, q in erp.shipped.items() if q}
    if not parked and erp_shipped != {sku: q for sku, q in shipped_3pl.items() if q}:
        found.append(f"the 3PL shipped {dict(shipped_3pl)}, the ERP recorded {erp_shipped}")
    if erp.shipment_refs is not None and not parked and sorted(erp.shipment_refs) != sorted(shipped_ids):
        found.append(f"3PL shipments {sorted(shipped_ids)} shipped, ERP shipments recorded for {erp.shipment_refs}")

    # Money: refunded ≤ paid (per line and in all); each gateway refund once; credit notes = store refunds.
    paid_line = {line["id"]: Decimal(line["total"]) + Decimal(line["total_tax"]) for line in order["line_items"]}
    given: Counter = Counter()
    for refund in refunds:
        for item in refund["line_items"]:
            given[refunded_item(item)] += -Decimal(item["total"]) - Decimal(item["total_tax"])
    if over := {line: amount for line, amount in given.items() if amount > paid_line.get(line, Decimal(0))}:
        found.append(f"refunded more than paid on lines {over} (paid {paid_line})")
    refunded_total = sum((Decimal(r["amount"]) for r in refunds), Decimal(0))
    if refunded_total > Decimal(order["total"]):
        found.append(f"refunded {refunded_total} of an order of {order['total']}")
    calls = Counter(c["reason"] for c in gateway if not c.get("refused"))
    for refund in refunds:
        expected = 1 if refund["refunded_payment"] else 0
        if calls[refund["reason"]] != expected:
            found.append(f"store refund {refund['id']} ({refund['reason']!r}, gateway {refund['refunded_payment']}): "
                         f"{calls[refund['reason']]} gateway refunds")
    if stray := [c for c in gateway if c["reason"] not in {r["reason"] for r in refunds}]:
        found.append(f"gateway refunds no store refund names: {stray}")
    for refund in refunds:
        key = refund_key(STORE, order_id, merchant_refund_of(str(refund["id"])))
        credited = erp.credit_notes.get(key)
        refund_state = refund_runs.get(refund["id"])
        if credited is None:
            if not (refund_state and (refund_state.parked or parked)):
                found.append(f"store refund {refund['id']} of {refund['amount']}: no ERP credit note, and its run is "
                             f"{refund_state.stage if refund_state else 'missing'}")
        elif credited != Decimal(refund["amount"]):
            found.append(f"store refund {refund['id']} of {refund['amount']}: ERP credit note of {credited}")
    ours = {refund_key(STORE, order_id, merchant_refund_of(str(r["id"]))) for r in refunds}
    if extra := sorted(set(erp.credit_notes) - ours):
        found.append(f"ERP credit notes for refunds the store does not have: {extra}")

    # The store order agrees: tracking noted once per shipment; completed when the run completed.
    for threepl_order in threepl:
        for shipment in threepl_order["shipments"]:
            tracking = shipment["tracking"]
            if shipment["status"] not in SHIPPED or not tracking:
                continue
            noted = sum(1 for note in notes if f"tracking number {tracking['tracking_number']}" in note["note"])
            if noted > 1 or (noted == 0 and run is not None and run.stage == OrderStage.COMPLETED.value):
                found.append(f"3PL shipment {shipment['id']}: tracking {tracking['tracking_number']} noted {noted}× on "
                             "the store order")
    if run is not None and run.stage == OrderStage.COMPLETED.value and order["status"] not in ("completed", "refunded"):
        found.append(f"the run completed, the store order is {order['status']}")
    return found


@dataclass
class RunState:
    status: WorkflowExecutionStatus
    stage: str
    parked: str  # the parked reason, "" if not parked
    attributes: object
    progress: object
    task_failures: int
    first_failure: str


async def _order_run(player: Player) -> RunState | None:
    return await _run_state(player.order_run(), OrderToCashWorkflow.progress)


async def _refund_run(player: Player, refund_id: int) -> RunState | None:
    return await _run_state(player.refund_run(refund_id), None)


async def _run_state(handle, progress_query) -> RunState | None:
    try:
        description = await handle.describe()
    except Exception:
        return None
    history = await handle.fetch_history()
    failures = [e.workflow_task_failed_event_attributes for e in history.events
                if e.HasField("workflow_task_failed_event_attributes")
                and e.workflow_task_failed_event_attributes.cause not in SERVER_REJECTIONS]  # fmt: skip
    first = (f"{WorkflowTaskFailedCause.Name(failures[0].cause)}: {failures[0].failure.message[:300]}"
             if failures else "")
    progress, stage, parked = None, "", ""
    if progress_query is not None:
        try:
            progress = await handle.query(progress_query)
            stage, parked = progress.stage.value, progress.parked.reason if progress.parked else ""
        except Exception as error:  # a run that cannot answer its query is itself a finding
            stage = f"unqueryable ({error})"
    else:
        stage = await handle.query(RefundWorkflow.stage)
        parked = await handle.query(RefundWorkflow.parked_reason) if stage == "parked" else ""
    return RunState(description.status, stage, parked, description.typed_search_attributes, progress,
                    len(failures), first)  # fmt: skip
