"""Inventory: N SKUs listed in S stores, C of them restocked in the ERP, until every store shows the new stock.

Real Tryton (products and goods receipts over JSON-RPC), the dev server with WAL, one WooCommerce
sandbox per store and one worker running a `StockSyncWorkflow` per store and the one ERP
`StockWatchWorkflow` that polls Tryton every `--poll` seconds from the present and signals them.
After one warm-up publish per store, C SKUs receive stock in receipts of `--per-receipt` SKUs, one
every `--spacing` poll intervals. Each SKU×store sample runs from the commit of its receipt's stock
moves in Tryton to the moment the store holds the new quantity (read in-process from the sandbox's
state every 20 ms, so the benchmark adds no request to any store). Our worker's store requests go through a counting
transport: batch calls, listing pages and the busiest 1-second window per store. Finally `--drift`
untouched SKUs are hand-edited in the first store and one `StockReconciliationWorkflow` re-reads that
store in full, finds them and puts them back; it is timed.

    .venv/bin/python -m bench.inventory [--skus 10000] [--changed 1000] [--stores 2]
"""
import argparse
import asyncio
import gc
import math
import os
import tempfile
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.stock import StockReport
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc
from adapters.woocommerce import WooCommerceClient
from bench.stack import CountingStoreDirectory, embedded_servers
from bench.stats import percentile, write_result
from canonical.inventory import ListingDraft, StockPush
from canonical.keys import STOCK_WATCH_WORKFLOW_ID, stock_sync_workflow_id
from config import InventoryPolicy, Settings, StoreSettings, TemporalSettings, ThreePLSettings
from embedded.erp_catalogue import ErpCatalogue
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import RunningSandbox, run_woocommerce_sandbox
from worker import build_worker
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchInput, StockWatchWorkflow

NAMES = ("north", "south", "east", "west")
TASK_QUEUE = "bench-inventory"
PREFIX = "INV-"
QUANTITY = 7
"""Every changed SKU goes from 0 to this in the ERP, and so in every store."""
HAND_EDITED = 3
BATCH = 100
KINDS = ("batch", "listing_pages", "other")
WATCH_EVERY_S = 0.02
SETTLE_TIMEOUT_S = 600


def store_names(count: int) -> list[str]:
    return [NAMES[n] if n < len(NAMES) else f"store{n}" for n in range(count)]


async def main(skus: int, changed: int, stores: int, per_receipt: int, poll_s: float, spacing: float,
               budget: float, burst: int, drift: int) -> dict:  # fmt: skip
    names = store_names(stores)
    phases: dict[str, float] = {}
    load = {"start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        started = time.monotonic()
        async with embedded_servers(Path(tmp)) as (server, tryton), AsyncExitStack() as exits:
            phases["servers_s"] = time.monotonic() - started
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            sandboxes = {name: await exits.enter_async_context(run_woocommerce_sandbox(SandboxConfig(
                seed_catalogue=False, webhook_delay_s=0.05))) for name in names}  # fmt: skip
            settings = Settings(
                temporal=TemporalSettings(address=server.address, task_queue=TASK_QUEUE),
                stores=[StoreSettings(id=name, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                                      consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                                      webhook_secret=SecretStr(f"{name}-secret"), requests_per_second=budget,
                                      burst=burst, batch_limit=BATCH)
                        for name, sandbox in sandboxes.items()],
                erp=tryton.settings,
                threepl=ThreePLSettings(url="http://127.0.0.1:9", token=SecretStr("unused")),
                inventory=InventoryPolicy(poll_interval=timedelta(seconds=poll_s)),
            )  # fmt: skip
            directory = CountingStoreDirectory(settings.stores)
            erp, threepl = TimedErp(settings.erp), ShipBobClient(settings.threepl)
            rpc = StampedRpc(tryton.catalogue_manager)
            catalogue = ErpCatalogue(rpc)
            for resource in (directory, erp, threepl, catalogue):
                exits.push_async_callback(resource.aclose)

            started = time.monotonic()
            all_skus, listing_ids = await asyncio.gather(
                timed(catalogue.add_products_bulk(skus, PREFIX), phases, "erp_products_s"),
                timed(list_everywhere(settings.stores, [f"{PREFIX}{n:05d}" for n in range(1, skus + 1)]), phases,
                      "store_listings_s"),
            )  # fmt: skip
            phases["setup_s"] = time.monotonic() - started
            moving, quiet = all_skus[:changed], all_skus[-1]

            worker = build_worker(client, settings, directory, erp, threepl)
            await exits.enter_async_context(worker)
            handles = {}
            for name in names:
                handles[name] = await client.start_workflow(
                    StockSyncWorkflow.run, StockSyncInput(store_id=name), id=stock_sync_workflow_id(name),
                    task_queue=TASK_QUEUE,
                )  # fmt: skip
                exits.push_async_callback(handles[name].terminate, "benchmark done")

            # One warm-up publish per store (a SKU that never moves): connections and the worker are warm after.
            for name, handle in handles.items():
                started = time.monotonic()
                await handle.signal(StockSyncWorkflow.stock_changed, [quiet])
                await first_publish(handle)
                phases[f"warm_up_{name}_s"] = time.monotonic() - started

            stock_watch = await client.start_workflow(
                StockWatchWorkflow.run,
                StockWatchInput(store_ids=names, poll_interval=settings.inventory.poll_interval,
                                polls_per_run=settings.inventory.cycles_per_run,
                                cursor=(await erp.stock_changes(None)).cursor),
                id=STOCK_WATCH_WORKFLOW_ID, task_queue=TASK_QUEUE,
            )  # fmt: skip
            exits.push_async_callback(stock_watch.terminate, "benchmark done")
            await asyncio.sleep(2 * poll_s)  # its first polls, from the present

            reset_at, reset_wall = time.monotonic(), datetime.now(UTC)
            erp.reset()
            shelves = Shelves(sandboxes, listing_ids, moving)
            watching = asyncio.create_task(shelves.run(SETTLE_TIMEOUT_S))
            receipts = await receive(catalogue, rpc, moving, per_receipt, spacing * poll_s)
            await watching
            await asyncio.sleep(3 * poll_s)  # a late re-publish would show up here
            changes_end = time.monotonic()

            publishes = {name: await completed_activities(client, stock_sync_workflow_id(name), reset_wall)
                         for name in names}  # fmt: skip
            polls = await completed_activities(client, STOCK_WATCH_WORKFLOW_ID, reset_wall)
            erp_ms = {call: spread([value * 1000 for value in values]) for call, values in erp.timings.items()}
            calls = {name: classify(directory.transports[name].requests, reset_at, changes_end) for name in names}

            reconcile_store = names[0]
            edited = all_skus[changed : changed + drift]
            await hand_edit(settings.store(reconcile_store), listing_ids[reconcile_store], edited)
            load["changes"] = os.getloadavg()[0]
            reconcile_from = time.monotonic()
            reconciliation = await client.start_workflow(
                StockReconciliationWorkflow.run, ReconcileInput(store_id=reconcile_store),
                id=f"bench-reconcile-{uuid.uuid4().hex[:8]}", task_queue=TASK_QUEUE,
            )  # fmt: skip
            report = await reconciliation.result()
            full_reconcile_s = time.monotonic() - reconcile_from
            load["reconcile"] = os.getloadavg()[0]
            attempts = await activity_attempts(reconciliation)
            reconcile_calls = classify(directory.transports[reconcile_store].requests, reconcile_from)
            busiest = {name: directory.transports[name].busiest_window(1.0, since=reset_at) for name in names}
            busiest_ever = {name: directory.transports[name].busiest_window(1.0) for name in names}
            busiest_warm_up = {name: directory.transports[name].busiest_window(1.0, until=reset_at) for name in names}

    return summarise(
        skus=skus, changed=changed, names=names, poll_s=poll_s, budget=budget, burst=burst, phases=phases,
        receipts=receipts, shelves=shelves, publishes=publishes, calls=calls,
        reconcile=(reconcile_store, full_reconcile_s, report, reconcile_calls, len(edited), attempts), busiest=busiest,
        busiest_ever=busiest_ever, busiest_warm_up=busiest_warm_up, erp_ms=erp_ms, load=load, polls=polls,
    )  # fmt: skip


async def timed(work, phases: dict[str, float], key: str):
    started = time.monotonic()
    result = await work
    phases[key] = time.monotonic() - started
    return result


def own_client(store: StoreSettings) -> WooCommerceClient:
    """The benchmark's own client for a store: not counted, not held to the store's budget."""
    return WooCommerceClient(store.model_copy(update={"requests_per_second": 1000.0, "burst": 100}))


async def list_everywhere(stores: list[StoreSettings], skus: list[str]) -> dict[str, dict[str, int]]:
    """Every SKU listed in every store, stock managed at 0 units (a created listing has none until set)."""
    ids: dict[str, dict[str, int]] = {}
    for store in stores:
        async with own_client(store) as woo:
            ids[store.id] = {}
            for start in range(0, len(skus), BATCH):
                drafts = [ListingDraft(sku=sku, name=f"Product {sku}", regular_price=Decimal("10.00"))
                          for sku in skus[start : start + BATCH]]  # fmt: skip
                for result in await woo.write_catalog(None, drafts, []):
                    if not result.ok:
                        raise RuntimeError(f"{store.id}: could not list {result.sku}: {result.message}")
                    ids[store.id][result.sku] = int(result.listing_id)
            await set_stock(woo, ids[store.id], skus, 0)
    return ids


async def set_stock(woo: WooCommerceClient, ids: dict[str, int], skus: list[str], quantity: int) -> None:
    for start in range(0, len(skus), BATCH):
        chunk = skus[start : start + BATCH]
        pushes = [StockPush(sku=sku, listing_id=str(ids[sku]), quantity=quantity) for sku in chunk]
        if failed := [result for result in await woo.push_stock(pushes) if not result.ok]:
            raise RuntimeError(f"{woo.store_id}: could not set stock of {failed[0].sku}: {failed[0].message}")


async def hand_edit(store: StoreSettings, ids: dict[str, int], skus: list[str]) -> None:
    """What a merchant's hand edits look like to the store: stock no ERP event will ever mention."""
    async with own_client(store) as woo:
        await set_stock(woo, ids, skus, HAND_EDITED)


class TimedErp(TrytonErp):
    """The worker's ERP port, timing the two stock reads the sync makes (from `reset` on)."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.timings: dict[str, list[float]] = {"stock_changes": [], "available_stock": []}

    def reset(self) -> None:
        for values in self.timings.values():
            values.clear()

    async def stock_changes(self, cursor):
        started = time.monotonic()
        try:
            return await super().stock_changes(cursor)
        finally:
            self.timings["stock_changes"].append(time.monotonic() - started)

    async def available_stock(self, skus, warehouses):
        started = time.monotonic()
        try:
            return await super().available_stock(skus, warehouses)
        finally:
            if skus is not None:  # a reconciliation's full read is timed with it
                self.timings["available_stock"].append(time.monotonic() - started)


class StampedRpc:
    """The catalogue manager's JSON-RPC, noting when each call's transaction has committed (its answer came)."""

    def __init__(self, settings) -> None:
        self._rpc = TrytonRpc(settings.url, settings.database, settings.user, settings.password,
                              timeout=settings.timeout_s)  # fmt: skip
        self.answered: list[tuple[str, str, float]] = []

    async def call(self, model: str, method: str, *args, **kwargs):
        answer = await self._rpc.call(model, method, *args, **kwargs)
        self.answered.append((model, method, time.monotonic()))
        return answer

    async def aclose(self) -> None:
        await self._rpc.aclose()


async def first_publish(handle) -> StockReport:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        report = await handle.query(StockSyncWorkflow.last_publish)
        if report is not None:
            return report
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{handle.id}: no publish within {SETTLE_TIMEOUT_S}s")


class Shelves:
    """When each (store, SKU) first holds QUANTITY, read from the sandboxes' own state (no HTTP)."""

    def __init__(self, sandboxes: dict[str, RunningSandbox], ids: dict[str, dict[str, int]], skus: list[str]) -> None:
        self._sandboxes = sandboxes
        self.pending = {(store, sku): ids[store][sku] for store in sandboxes for sku in skus}
        self.seen: dict[tuple[str, str], float] = {}

    async def run(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            now = time.monotonic()
            for key, product_id in list(self.pending.items()):
                if self._sandboxes[key[0]].store.products[product_id].stock_quantity == QUANTITY:
                    self.seen[key] = now
                    del self.pending[key]
            await asyncio.sleep(WATCH_EVERY_S)


async def receive(catalogue: ErpCatalogue, rpc: StampedRpc, skus: list[str], per_receipt: int,
                  spacing_s: float) -> list[dict]:  # fmt: skip
    """One goods receipt per `per_receipt` SKUs, each started `spacing_s` after the previous one started.

    A receipt is two Tryton transactions: `stock.move create` (draft moves, already in the forecast
    quantity that available-to-sell reads) and `stock.move do`. `committed` is when the first returned.
    """
    receipts = []
    for number, start in enumerate(range(0, len(skus), per_receipt)):
        chunk = skus[start : start + per_receipt]
        began = time.monotonic()
        await catalogue.receive_stock({sku: QUANTITY for sku in chunk})
        done = time.monotonic()
        created = [at for model, method, at in rpc.answered
                   if (model, method) == ("stock.move", "create") and at >= began]  # fmt: skip
        receipts.append({"number": number, "skus": chunk, "began": began, "committed": max(created), "done": done})
        await asyncio.sleep(max(0.0, began + spacing_s - time.monotonic()))
    return receipts


async def completed_activities(client: Client, workflow_id: str, after: datetime) -> list[dict]:
    """Every activity the workflow's runs completed after `after`, read from their histories; publishes with
    their StockReport."""
    runs = [execution.run_id async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    found = []
    for run_id in runs:
        scheduled: dict[int, tuple[str, datetime]] = {}
        started: dict[int, tuple[datetime, int]] = {}
        async for event in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events():
            at = event.event_time.ToDatetime(tzinfo=UTC)
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = (event.activity_task_scheduled_event_attributes.activity_type.name, at)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attributes = event.activity_task_started_event_attributes
                started[attributes.scheduled_event_id] = (at, attributes.attempt)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                attributes = event.activity_task_completed_event_attributes
                name, scheduled_at = scheduled[attributes.scheduled_event_id]
                if at < after:
                    continue
                began, attempt = started.get(attributes.scheduled_event_id, (scheduled_at, 1))
                entry = {"activity": name, "scheduled": scheduled_at, "completed": at, "attempt": attempt,
                         "ran_s": (at - began).total_seconds()}
                if name == "publish_available_to_sell":
                    (entry["report"],) = client.data_converter.payload_converter.from_payloads(
                        list(attributes.result.payloads), [StockReport])
                found.append(entry)
    return sorted(found, key=lambda entry: entry["completed"])


async def activity_attempts(handle) -> list[dict]:
    """Each activity the run completed: its attempt number and why the previous attempt failed."""
    found = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            found.append({"attempt": attributes.attempt,
                          "last_failure": attributes.last_failure.message if attributes.HasField("last_failure")
                          else None})  # fmt: skip
    return found


def classify(requests: list[tuple[float, str, str, float]], since: float = 0.0, until: float = math.inf) -> dict:
    """Requests sent in [since, until) by kind, and the seconds the store took to answer each kind."""
    kinds: Counter[str] = Counter()
    waited: Counter[str] = Counter()
    for sent_at, method, path, elapsed in requests:
        if since <= sent_at < until:
            if method == "POST" and path.endswith("/batch"):
                kind = "batch"
            elif method == "GET" and (path.endswith("/products") or path.endswith("/variations")):
                kind = "listing_pages"
            else:
                kind = "other"
            kinds[kind] += 1
            waited[kind] += elapsed
    return {**{kind: kinds[kind] for kind in KINDS}, "store_s": {kind: round(waited[kind], 2) for kind in KINDS}}


def spread(values_ms: list[float]) -> dict:
    return {"count": len(values_ms), "p50_ms": round(percentile(values_ms, 50)),
            "p95_ms": round(percentile(values_ms, 95)), "max_ms": round(max(values_ms, default=0))}  # fmt: skip


def summarise(*, skus, changed, names, poll_s, budget, burst, phases, receipts, shelves, publishes,
              calls, reconcile, busiest, busiest_ever, busiest_warm_up, erp_ms, load, polls) -> dict:  # fmt: skip
    receipt_of = {sku: receipt for receipt in receipts for sku in receipt["skus"]}
    samples_ms = [(seen - receipt_of[sku]["committed"]) * 1000 for (_, sku), seen in shelves.seen.items()]
    from_done_ms = [(seen - receipt_of[sku]["done"]) * 1000 for (_, sku), seen in shelves.seen.items()]
    per_receipt = []
    for receipt in receipts:
        latencies = [(shelves.seen[(name, sku)] - receipt["committed"]) * 1000 for name in names
                     for sku in receipt["skus"] if (name, sku) in shelves.seen]  # fmt: skip
        per_receipt.append({
            "receipt": receipt["number"],
            "moves_created_ms": round((receipt["committed"] - receipt["began"]) * 1000),
            "moves_done_ms": round((receipt["done"] - receipt["committed"]) * 1000),
            "p50_ms": round(percentile(latencies, 50)),
            "max_ms": round(max(latencies, default=0)),
        })  # fmt: skip
    store_calls, total = {}, 0
    for name in names:
        reports = [entry["report"] for entry in publishes[name] if entry["activity"] == "publish_available_to_sell"]
        pushing = [report for report in reports if report.fixed or report.batch_calls]
        expected = sum(math.ceil(report.fixed / BATCH) for report in reports)
        store_calls[name] = {
            "batch": calls[name]["batch"],
            "listing_pages": calls[name]["listing_pages"],
            "other": calls[name]["other"],
            "expected_batch": expected,
            "expected_batch_per_receipt": sum(math.ceil(len(r["skus"]) / BATCH) for r in receipts),
            "publishes": len(reports),
            "publishes_that_pushed": len(pushing),
            "skus_per_pushing_publish": [report.fixed for report in pushing],
            "activity_reported": {"batch_calls": sum(r.batch_calls for r in reports),
                                  "listing_calls": sum(r.listing_calls for r in reports),
                                  "fixed": sum(r.fixed for r in reports),
                                  "failed": sum(len(r.failed) for r in reports)},
        }  # fmt: skip
        total += calls[name]["batch"] + calls[name]["listing_pages"] + calls[name]["other"]
    activity_ms = {
        "stock_moved_in_erp": spread([entry["ran_s"] * 1000 for entry in polls]),
        "publish_available_to_sell": spread([entry["ran_s"] * 1000 for name in names for entry in publishes[name]]),
    }
    poll_starts = [entry["scheduled"] for entry in polls]
    poll_period_ms = spread([(b - a).total_seconds() * 1000 for a, b in zip(poll_starts, poll_starts[1:])])
    moved = [entry["completed"] for entry in polls]
    signal_to_publish_ms = spread([
        (entry["scheduled"] - max(at for at in moved if at <= entry["scheduled"])).total_seconds() * 1000
        for name in names for entry in publishes[name] if any(at <= entry["scheduled"] for at in moved)
    ])  # fmt: skip
    store, reconcile_s, report, reconcile_calls, edited, attempts = reconcile
    retried = sum(1 for entry in [*polls, *(e for name in names for e in publishes[name])] if entry["attempt"] > 1)
    p95 = percentile(samples_ms, 95)
    return {
        "skus": skus,
        "stores": len(names),
        "changed": changed,
        "receipts": len(receipts),
        "store_calls": store_calls,
        "store_calls_total": total,
        "store_calls_note": (
            "Our worker's requests per store, counted by its HTTP transport, from the warm-up to the end of "
            "the changes (reconciliation excluded): 'batch' = POST products/batch, 'listing_pages' = GET "
            f"products pages. expected_batch = sum over that store's publishes of ceil(fixed/{BATCH}) (from "
            "the publish results in the sync run's history); expected_batch_per_receipt = the same if each "
            "receipt lands in a poll of its own. listing_pages: each publish reads what the store shows now for "
            "its SKUs (GET products?sku=..., one per 100); a receipt's second ERP transaction reports its SKUs "
            "again, which costs a read and no batch."
        ),
        "change_to_store_p50_ms": round(percentile(samples_ms, 50)),
        "change_to_store_p95_ms": round(p95),
        "change_to_store_max_ms": round(max(samples_ms, default=0)),
        "change_to_store_samples": len(samples_ms),
        "change_to_store_not_seen": len(shelves.pending),
        "change_to_store_note": (
            "Per SKU x store: from the moment the receipt's stock moves were committed in the ERP (the "
            "`stock.move create` call answered: available-to-sell is Tryton's forecast quantity, which counts "
            "them from then on) to the first 20-ms look at the sandbox's state showing the new quantity. "
            "The receipt's second transaction (`do`, moves_done_ms) changes no available-to-sell, and the "
            "store usually shows the stock before it ends: see change_to_store_from_receipt_done_*."
        ),
        "change_to_store_from_receipt_done_p50_ms": round(percentile(from_done_ms, 50)),
        "change_to_store_from_receipt_done_p95_ms": round(percentile(from_done_ms, 95)),
        "change_to_store_seen_before_receipt_done": sum(1 for value in from_done_ms if value < 0),
        "poll_interval_ms": round(poll_s * 1000),
        "p95_over_poll_interval": round(p95 / (poll_s * 1000), 2),
        "per_receipt": per_receipt,
        "activity_ms": activity_ms,
        "erp_watch_poll_period_ms": poll_period_ms,
        "erp_poll_to_publish_start_ms": signal_to_publish_ms,
        "sync_activities_retried": retried,
        "erp_read_ms": erp_ms,
        "max_store_requests_per_s": max(busiest.values()),
        "max_store_requests_per_s_by_store": busiest,
        "max_store_requests_per_s_warm_up": max(busiest_warm_up.values()),
        "max_store_requests_per_s_whole_run": max(busiest_ever.values()),
        "store_budget_per_s": budget,
        "store_burst": burst,
        "budget_note": (
            "Token bucket of `burst` tokens refilled at store_budget_per_s: any 1-s window may hold up to "
            "burst + budget - 1 requests. max_store_requests_per_s: busiest 1-s window of our requests "
            "from the warm-up through the reconciliation; _whole_run includes the warm-up."
        ),
        "full_reconcile_s": round(reconcile_s, 2),
        "reconcile": {"store": store, "hand_edited_before": edited,
                      "listing_pages": reconcile_calls["listing_pages"],
                      "batch": reconcile_calls["batch"], "store_answer_s": reconcile_calls["store_s"],
                      "compared": report.compared, "drifted": report.drifted, "fixed": report.fixed,
                      "missing_in_store": len(report.missing_in_store),
                      "missing_in_source": len(report.missing_in_source), "failed": len(report.failed),
                      "activity_attempts": attempts},
        "phases_s": {key: round(value, 1) for key, value in phases.items()},
        "persistence": "dev server sqlite file with WAL; Tryton on SQLite (WAL); sandboxes in memory, in-process",
        "load_average_1min": {key: round(value, 2) for key, value in load.items()},
        "cpus": os.cpu_count(),
    }  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=1_000)
    parser.add_argument("--stores", type=int, default=2)
    parser.add_argument("--per-receipt", type=int, default=100, help="SKUs per goods receipt")
    parser.add_argument("--poll", type=float, default=InventoryPolicy().poll_interval.total_seconds(),
                        help="ERP stock watch poll interval, seconds (default: the configured default)")
    parser.add_argument("--spacing", type=float, default=1.5, help="poll intervals between receipt starts")
    parser.add_argument("--budget", type=float, default=20.0, help="requests per second each store allows")
    parser.add_argument("--burst", type=int, default=1, help="token bucket size of each store's budget")
    parser.add_argument("--drift", type=int, default=1_000, help="unchanged SKUs hand-edited before reconciling")
    args = parser.parse_args()
    if not 0 < args.changed <= args.skus or args.changed + args.drift >= args.skus:
        parser.error("need 0 < --changed and --changed + --drift < --skus (one SKU stays untouched)")
    result = asyncio.run(main(args.skus, args.changed, args.stores, args.per_receipt, args.poll, args.spacing,
                              args.budget, args.burst, args.drift))  # fmt: skip
    write_result("inventory.json", result)
    gc.collect()
