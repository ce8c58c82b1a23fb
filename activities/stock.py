"""Stock activities: which SKUs moved, and publishing available-to-sell to one store in batches.

One activity does a whole publish (read, compare, push every batch) and heartbeats per batch:
ten thousand SKUs would not fit in workflow history, and a batch is an absolute, idempotent
write, so a retried activity simply pushes again whatever still differs.
"""
import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from activities.errors import as_temporal_errors
from activities.store_listings import StoreListings
from adapters.errors import BatchTooLarge
from adapters.retrying import inline_retries
from canonical.available_to_sell import (
    Allocation,
    StockPlan,
    available_to_sell,
    batches,
    fulfillable_at,
    in_flight_units,
    plan_stock,
    units_taken_from_store,
)
from canonical.inventory import PushResult, SourceStock, StockChanges, StockPush
from canonical.order import Order
from config import StockSource, StoreSettings
from workflows import search_attributes as sa
from workflows.order_to_cash import OrderToCashWorkflow

if TYPE_CHECKING:  # workflows import this module for its models; keep HTTP clients out of their sandbox
    from activities.stores import StoreDirectory
    from adapters.erp import Erp
    from adapters.shipbob import ShipBobClient

ITEM_ATTEMPTS = 3
LARGEST = 10
IN_FLIGHT_QUERY = (
    f"WorkflowType = 'OrderToCashWorkflow' AND ExecutionStatus = 'Running' AND {sa.ERP_SALE_NUMBER.name} IS NULL"
)
QUERY_TIMEOUT = timedelta(seconds=5)
"""A run answers in milliseconds; one whose worker is gone would otherwise hold the publish for 30 s."""
QUERIES_AT_ONCE = 20
STORE_SNAPSHOT = OrderToCashWorkflow.store_order_changed.__name__


class PublishRequest(BaseModel):
    store_id: str
    skus: list[str] | None = None
    """None: every SKU the store or the source knows (a reconciliation)."""
    dry_run: bool = False


class Difference(BaseModel):
    sku: str
    store: int | None
    available: int


class StockReport(BaseModel):
    """What a publish or reconciliation found and did; the drift report operators read."""

    store_id: str
    dry_run: bool = False
    compared: int = 0
    unchanged: int = 0
    drifted: int = 0
    fixed: int = 0
    largest: list[Difference] = []
    missing_in_store: list[str] = []
    missing_in_source: list[str] = []
    left_alone: dict[str, str] = {}
    failed: list[PushResult] = []
    unanswered_runs: list[str] = []
    """Order runs that could not answer; their lines were counted from their latest store snapshot."""
    listing_calls: int = 0
    batch_calls: int = 0


class StockActivities:
    def __init__(
        self, stores: "StoreDirectory", erp: "Erp", threepl: "ShipBobClient", client: Client
    ) -> None:
        self._stores = stores
        self._erp = erp
        self._threepl = threepl
        self._client = client

    @activity.defn
    async def stock_moved_in_erp(self, cursor: str | None) -> StockChanges:
        """SKUs whose ERP stock moved since the cursor, for every store selling the ERP's stock."""
        with as_temporal_errors():
            return await self._erp.stock_changes(cursor)

    @activity.defn
    async def skus_held_by_3pl(self) -> list[str]:
        """The 3PL has no change feed for stock: every SKU it holds; publishing pushes only what differs."""
        with as_temporal_errors():
            return sorted({stock.sku for stock in await self._threepl.stock_by_center(None)})

    @activity.defn
    async def publish_available_to_sell(self, request: PublishRequest) -> StockReport:
        with as_temporal_errors():
            store = self._stores.settings(request.store_id)
            reader = StoreListings(self._stores.client(store.id))
            if request.skus is None:
                listings = await reader.everything()
            else:
                listings = await reader.current(request.skus)
            source = {stock.sku: stock.quantity for stock in await self._source_stock(store, request.skus)}
            in_flight, unanswered = await units_in_flight(self._client)
            allocation = Allocation(Decimal(store.stock.safety_stock), store.stock.allocation_share)
            available = {sku: available_to_sell(quantity, in_flight.get(sku, Decimal(0)), allocation)
                         for sku, quantity in source.items()}  # fmt: skip
            plan = plan_stock(listings, available)
            report = _report(store.id, request, plan, listings, source)
            report.unanswered_runs = unanswered
            for workflow_id in unanswered:
                activity.logger.warning("stock: order run %s did not answer; counted its lines as unacknowledged",
                                        workflow_id)  # fmt: skip
            if not request.dry_run:
                await self._push(store, plan.pushes, report)
        report.listing_calls = reader.calls
        return report

    async def _source_stock(self, store: StoreSettings, skus: list[str] | None) -> list[SourceStock]:
        """Units the source can promise; `skus=None`: every SKU it holds."""
        if store.stock.source == StockSource.ERP:
            return await self._erp.available_stock(skus, store.stock.warehouses)
        held = fulfillable_at(await self._threepl.stock_by_center(skus), store.stock.fulfilment_centers)
        return [SourceStock(sku=sku, quantity=quantity) for sku, quantity in held.items()]

    async def _push(self, store: StoreSettings, pushes: list[StockPush], report: StockReport):
        """Every batch, splitting one the store finds too large; retryable item failures go again."""
        pending, limit = pushes, store.batch_limit
        for _ in range(ITEM_ATTEMPTS):
            queue, retry = batches(pending, limit), []
            while queue:
                batch = queue.pop(0)
                try:
                    results = await self._push_batch(store.id, batch, report)
                except BatchTooLarge as too_large:
                    if len(batch) == 1:
                        raise
                    limit = min(limit, too_large.limit or len(batch) // 2, len(batch) - 1)
                    queue = batches(batch, limit) + queue
                    continue
                report.fixed += sum(result.ok for result in results)
                retry += [push for push, result in zip(batch, results) if not result.ok and result.retryable]
                report.failed += [result for result in results if not result.ok and not result.retryable]
                activity.heartbeat(report.fixed)
            pending = retry
            if not pending:
                return
        report.failed += [PushResult(sku=push.sku, ok=False, code="gave_up", message="kept failing", retryable=True)
                          for push in pending]  # fmt: skip

    async def _push_batch(self, store_id: str, batch: list[StockPush], report: StockReport) -> list[PushResult]:
        async for attempt in inline_retries(idempotent=True):
            with attempt:
                report.batch_calls += 1
                return await self._stores.client(store_id).push_stock(batch)
        raise AssertionError("unreachable: inline_retries re-raises the last error")

    def all(self) -> list:
        return [self.stock_moved_in_erp, self.skus_held_by_3pl, self.publish_available_to_sell]


async def units_in_flight(client: Client) -> tuple[dict[str, Decimal], list[str]]:
    """SKU → units running orders took off their stores' stock that the ERP has no sale for yet (all stores),
    and the runs that could not answer.

    One run that cannot answer (its workflow task failing, its worker gone) must not stop every store's
    publish. Its lines are counted from the latest store snapshot in its history, as if the ERP had no
    sale for it yet: the search above already left out runs known to have one, so at worst a few units
    are held back until the run answers again, and no store is ever shown units that were sold.
    """
    ids = [execution.id async for execution in client.list_workflows(IN_FLIGHT_QUERY)]
    gate = asyncio.Semaphore(QUERIES_AT_ONCE)
    unanswered: list[str] = []

    async def units_of(workflow_id: str) -> dict[str, Decimal]:
        async with gate:
            handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, workflow_id)
            try:
                async with asyncio.timeout(QUERY_TIMEOUT.total_seconds()):  # the client retries a busy run inside
                    return await handle.query(OrderToCashWorkflow.unacknowledged_units, rpc_timeout=QUERY_TIMEOUT)
            except (TimeoutError, RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
                unanswered.append(workflow_id)
                return await _units_from_history(client, workflow_id)

    orders = await asyncio.gather(*map(units_of, ids))
    return in_flight_units(orders), sorted(unanswered)


async def _units_from_history(client: Client, workflow_id: str) -> dict[str, Decimal]:
    """The units of the newest store snapshot the run was sent (as the run keeps it)."""
    latest: Order | None = None
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        signalled = event.workflow_execution_signaled_event_attributes
        if event.HasField("workflow_execution_signaled_event_attributes") and signalled.signal_name == STORE_SNAPSHOT:
            (order,) = await client.data_converter.decode(signalled.input.payloads, [Order])
            if latest is None or not order.is_older_than(latest):
                latest = order
    return units_taken_from_store(latest) if latest else {}


def _report(store_id: str, request: PublishRequest, plan: StockPlan, listings, source) -> StockReport:
    largest = sorted(plan.drift.items(), key=lambda item: -abs((item[1][0] or 0) - item[1][1]))[:LARGEST]
    stocked = {sku for sku, listing in listings.items() if listing.manages_stock and not listing.variable}
    return StockReport(
        store_id=store_id,
        dry_run=request.dry_run,
        compared=len(source),
        unchanged=plan.unchanged,
        drifted=len(plan.drift),
        largest=[Difference(sku=sku, store=shown, available=available) for sku, (shown, available) in largest],
        missing_in_store=plan.missing_in_store,
        missing_in_source=sorted(stocked - source.keys()) if request.skus is None else [],
        left_alone=plan.left_alone,
    )
