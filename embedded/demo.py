"""`retail-sync demo`: the embedded stack, sample orders from checkout to invoice, a return, a refund, and where to look."""
import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from adapters.woocommerce import WooCommerceClient
from canonical.keys import merchant_refund_of, refund_workflow_id
from canonical.returns import ReturnLine
from config import Settings, load_settings
from embedded.demo_stock import receipt_reaches_the_store
from embedded.stack import STORE_ID, THREEPL_WEBHOOK_SECRET, WEBHOOK_SECRET, EmbeddedStack
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN
from sandbox.shipbob.warehouse import ORDER_TOPICS, RETURN_TOPICS, Warehouse
from sandbox.woocommerce.config import DEMO_KEY
from sandbox.woocommerce.shopper import Shopper
from starter import operator
from starter.returns import authorise_return
from starter.temporal_client import connect
from workflows.order_messages import OrderStage
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnWorkflow

STORE_ONLY_SKU = "POSTER-LTD"  # listed in the store, unknown to the ERP: that order parks
DONE_TIMEOUT_S = 300


@dataclass
class Sample:
    title: str
    order_id: str
    expected: OrderStage
    stage: str = "(not started yet)"
    ship_it: bool = True  # the warehouse ships it once it reaches the 3PL
    shipped: bool = False


def run_demo(data_dir: str, exit_when_done: bool) -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)
    stack = EmbeddedStack(Path(data_dir))
    os.environ["RETAIL_SYNC_CONFIG"] = str(stack.config_path)
    try:
        stack.start()
        return asyncio.run(_drive(stack, exit_when_done))
    except KeyboardInterrupt:
        print("\nstopping…", file=sys.stderr)
        return 0
    finally:
        stack.stop()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


async def _drive(stack: EmbeddedStack, exit_when_done: bool) -> int:
    settings = load_settings()
    client = await connect(settings.temporal)
    await _point_store_webhooks_at_starter(settings, stack)
    shopper = Shopper(stack.store_url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
    warehouse = Warehouse(stack.threepl_url, DEMO_TOKEN.token, DEMO_CHANNEL_ID)
    try:
        await _point_3pl_webhooks_at_starter(warehouse, stack)
        samples = await _place_samples(shopper)
        reached = await _follow(client, shopper, warehouse, samples)
        reached = reached and await _return_and_refund(client, settings, shopper, warehouse, samples)
        reached = reached and await receipt_reaches_the_store(stack, settings, shopper)
    finally:
        await shopper.aclose()
        await warehouse.aclose()
    _print_next_steps(stack, samples)
    if exit_when_done:
        return 0 if reached else 1
    print("\nThe stack keeps running; Ctrl-C stops every process.", flush=True)
    await asyncio.Event().wait()
    return 0


async def _point_store_webhooks_at_starter(settings: Settings, stack: EmbeddedStack) -> None:
    """What a merchant does once in WooCommerce → Settings → Advanced → Webhooks."""
    delivery_url = f"{stack.starter_url}/webhooks/woocommerce/{STORE_ID}"
    async with WooCommerceClient(settings.store(STORE_ID)) as store:
        existing = {(hook.topic, hook.delivery_url) for hook in await store.list_webhooks()}
        for topic in ("order.created", "order.updated"):
            if (topic, delivery_url) not in existing:
                await store.create_webhook(f"retail-sync {topic}", topic, delivery_url, WEBHOOK_SECRET)


async def _point_3pl_webhooks_at_starter(warehouse: Warehouse, stack: EmbeddedStack) -> None:
    delivery_url = f"{stack.starter_url}/webhooks/shipbob"
    topics = ORDER_TOPICS + RETURN_TOPICS
    existing = [hook for hook in await warehouse.subscriptions() if hook["url"] == delivery_url]
    if not any(set(topics) <= set(hook["topics"]) for hook in existing):
        await warehouse.subscribe(delivery_url, THREEPL_WEBHOOK_SECRET, topics)


async def _place_samples(shopper: Shopper) -> list[Sample]:
    await shopper.add_product(STORE_ONLY_SKU, "Limited Edition Poster", Decimal("15.00"))
    split = await shopper.place_order([("MUG-CERAMIC", 2), ("BOOK-COFFEE", 1)], paid=True, customer="zoe")
    later = await shopper.place_order([("TEE-CLASSIC", 2), ("HOODIE-M", 1)], paid=False, customer="lukasz")
    unknown = await shopper.place_order([(STORE_ONLY_SKU, 1), ("TEE-CLASSIC", 1)], paid=True, customer="lukasz")
    cancelled = await shopper.place_order([("HOODIE-S", 1)], paid=True, customer="zoe")
    return [
        Sample("paid; ships from two centres", str(split["id"]), OrderStage.COMPLETED),
        Sample("paid a few seconds later", str(later["id"]), OrderStage.COMPLETED),
        Sample(f"unknown SKU {STORE_ONLY_SKU}", str(unknown["id"]), OrderStage.PARKED),
        Sample("cancelled in the store", str(cancelled["id"]), OrderStage.CANCELLED, ship_it=False),
    ]


async def _follow(client: Client, shopper: Shopper, warehouse: Warehouse, samples: list[Sample]) -> bool:
    """Print each run's stage as it changes; pay, cancel and ship when the story needs it."""
    paid_later, cancelled = samples[1], samples[3]
    deadline = time.monotonic() + DONE_TIMEOUT_S
    waiting_since: float | None = None
    print("\nSample orders (store → Temporal → Tryton):", flush=True)
    while time.monotonic() < deadline:
        for sample in samples:
            stage, reason = await _stage(client, sample.order_id)
            if stage != sample.stage:
                sample.stage = stage
                why = f"  ({reason})" if reason else ""
                print(f"  order {sample.order_id:>5}  {sample.title:<28} → {stage}{why}", flush=True)
        if paid_later.stage == OrderStage.AWAITING_PAYMENT:
            waiting_since = waiting_since or time.monotonic()
            if time.monotonic() - waiting_since > 3:
                await shopper.pay(int(paid_later.order_id))
                paid_later.stage = "payment sent by the shopper"
        if cancelled.stage == OrderStage.AWAITING_SHIPMENT:
            await shopper.cancel(int(cancelled.order_id))
            cancelled.stage = "cancelled by the merchant in the store"
        for sample in samples:
            if sample.ship_it and not sample.shipped and sample.stage == OrderStage.AWAITING_SHIPMENT:
                await _ship(warehouse, sample)
        if all(s.stage == s.expected for s in samples):
            print("\nAll sample orders reached their expected stage.", flush=True)
            return True
        await asyncio.sleep(0.5)
    late = ", ".join(f"{s.order_id} ({s.stage}, expected {s.expected})" for s in samples if s.stage != s.expected)
    print(f"\nNot all sample orders got there within {DONE_TIMEOUT_S} s: {late}", flush=True)
    return False


async def _return_and_refund(client: Client, settings: Settings, shopper: Shopper, warehouse: Warehouse,
                             samples: list[Sample]) -> bool:  # fmt: skip
    """After delivery: the customer returns a mug (restocked, refunded, credited) and the merchant refunds a tee."""
    split, later = samples[0], samples[1]
    print("\nReturns and refunds (store → Temporal → ShipBob → Tryton):", flush=True)
    authorised = await authorise_return(client, settings, STORE_ID, split.order_id,
                                        [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1), reason="chipped")])
    print(f"  order {split.order_id:>5}  {authorised.rma} authorised for 1 × MUG-CERAMIC", flush=True)
    tee = next(line for line in (await shopper.get_order(later.order_id))["line_items"] if line["sku"] == "TEE-CLASSIC")
    refund = await shopper.refund_line(later.order_id, tee, 1)
    print(f"  order {later.order_id:>5}  the merchant refunds 1 × TEE-CLASSIC in WooCommerce (refund {refund['id']})",
          flush=True)  # fmt: skip
    returned = client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
    merchant_refund = client.get_workflow_handle_for(
        RefundWorkflow.run, refund_workflow_id(STORE_ID, later.order_id, merchant_refund_of(str(refund['id']))))
    deadline = time.monotonic() + DONE_TIMEOUT_S
    while time.monotonic() < deadline:
        for parcel in await warehouse.returns(authorised.rma):
            if parcel["status"] == "AwaitingArrival":
                await warehouse.receive_return(parcel["id"], [("MUG-CERAMIC", 1, "Restock")])
                print(f"  order {split.order_id:>5}  the warehouse receives {authorised.rma} and restocks the mug",
                      flush=True)  # fmt: skip
        if await _finished(returned) and await _finished(merchant_refund):
            outcome, credited = await returned.result(), await merchant_refund.result()
            print(f"  order {split.order_id:>5}  {authorised.rma} {outcome.stage}: refund {outcome.refund.refund_id}, "
                  f"credit note {outcome.refund.credit_note}", flush=True)
            print(f"  order {later.order_id:>5}  merchant's refund {credited.refund_id} → credit note "
                  f"{credited.credit_note}", flush=True)
            return outcome.stage == "completed" and bool(credited.credit_note)
        await asyncio.sleep(1)
    print("  returns and refunds did not finish in time", flush=True)
    return False


async def _finished(handle) -> bool:
    try:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    except RPCError:
        return False


async def _ship(warehouse: Warehouse, sample: Sample) -> None:
    """The warehouse picks, packs and hands every shipment of the order to the carrier (then it is delivered)."""
    shipments = await warehouse.shipments(f"{STORE_ID}:{sample.order_id}:")
    for shipment in shipments:
        await warehouse.ship(shipment["id"], deliver=True)
        print(f"  order {sample.order_id:>5}  warehouse ships shipment {shipment['id']} from "
              f"{shipment['location']['name']}", flush=True)  # fmt: skip
    sample.shipped = bool(shipments)


async def _stage(client: Client, order_id: str) -> tuple[str, str]:
    try:
        progress = await operator.show_order(client, STORE_ID, order_id)
    except RPCError:
        return "(not started yet)", ""
    return progress.stage.value, progress.parked.reason if progress.parked else ""


def _print_next_steps(stack: EmbeddedStack, samples: list[Sample]) -> None:
    parked = next(s for s in samples if s.expected == OrderStage.PARKED)
    ui = stack.temporal.ui_url
    print(
        f"""
Temporal Web UI        {ui}/namespaces/default/workflows
  parked orders        {ui}/namespaces/default/workflows?query={quote("NeedsAttention = true")}
WooCommerce sandbox    {stack.store_url}/wp-json/wc/v3/orders  (OAuth 1.0a; key in sandbox/woocommerce/config.py)
ShipBob sandbox        {stack.threepl_url}/2026-01/order  (bearer token in sandbox/shipbob/config.py)
Tryton ERP             {stack.tryton.url}  (database {stack.tryton.database}, user integration)

Try the operator CLI:
  export RETAIL_SYNC_CONFIG={stack.config_path}
  .venv/bin/retail-sync orders list
  .venv/bin/retail-sync orders list --parked
  .venv/bin/retail-sync orders show {STORE_ID} {samples[0].order_id}     (shipments and tracking)
  .venv/bin/retail-sync orders show {STORE_ID} {parked.order_id}
  .venv/bin/retail-sync orders cancel {STORE_ID} {parked.order_id} --reason "poster sold out"
  .venv/bin/retail-sync returns list
  .venv/bin/retail-sync refunds list
  .venv/bin/retail-sync stock show BOOK-COFFEE
  .venv/bin/retail-sync stock reconcile --dry-run
  .venv/bin/retail-sync catalog sync
""",
        flush=True,
    )
