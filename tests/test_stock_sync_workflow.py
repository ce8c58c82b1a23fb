"""Stock watch and stock sync decisions on the time-skipping server: one ERP poll for every store,
coalesced publishes, a down store catching up, continue-as-new.

Stand-in activities under the real names; the real ones run end to end in test_inventory_e2e.py.
"""
import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.stock import PublishRequest, StockReport
from canonical.inventory import StockChanges
from canonical.keys import STOCK_WATCH_WORKFLOW_ID, stock_sync_workflow_id
from tests.plugins.temporal import eventually
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchInput, StockWatchWorkflow

STORES = ["north", "south"]


class FakeStock:
    """The ERP reports `moves[n]` at its n-th poll; a store in `down` refuses its first `outages` publishes."""

    def __init__(self, moves: list[list[str]], down: str = "", outages: int = 0) -> None:
        self.moves = moves
        self.down, self.outages = down, outages
        self.cursors: list[str | None] = []
        self.published: dict[str, list[list[str]]] = {store: [] for store in STORES}

    def activities(self):
        @activity.defn(name="stock_moved_in_erp")
        async def stock_moved_in_erp(cursor: str | None) -> StockChanges:
            self.cursors.append(cursor)
            n = len(self.cursors)
            return StockChanges(skus=tuple(self.moves[n - 1] if n <= len(self.moves) else ()), cursor=f"c{n}")

        @activity.defn(name="skus_held_by_3pl")
        async def skus_held_by_3pl() -> list[str]:
            return ["HELD"]

        @activity.defn(name="publish_available_to_sell")
        async def publish_available_to_sell(request: PublishRequest) -> StockReport:
            if request.store_id == self.down and self.outages:
                self.outages -= 1
                raise ApplicationError("woocommerce: store down: HTTP 503", type="RetryableError")
            self.published.setdefault(request.store_id, []).append(request.skus or [])
            return StockReport(store_id=request.store_id, fixed=len(request.skus or []))

        return [stock_moved_in_erp, skus_held_by_3pl, publish_available_to_sell]


async def start_stock(env, polls_per_run: int):
    """Both stores' sync runs and the ERP watch from watermark c0, polling every 2 s; returns the watch."""
    for store in STORES:
        await env.client.start_workflow(StockSyncWorkflow.run, StockSyncInput(store_id=store),
                                        id=stock_sync_workflow_id(store), task_queue="stock")  # fmt: skip
    return await env.client.start_workflow(
        StockWatchWorkflow.run, StockWatchInput(store_ids=STORES, poll_interval=timedelta(seconds=2),
                                                polls_per_run=polls_per_run, cursor="c0"),
        id=STOCK_WATCH_WORKFLOW_ID, task_queue="stock",
    )  # fmt: skip


async def run_stock(env, fake: FakeStock, until, polls_per_run: int = 100) -> WorkflowExecutionStatus:
    """The watch and both stores' runs until `until()` holds; returns how the watch's first run ended."""
    async with Worker(env.client, task_queue="stock", workflows=[StockWatchWorkflow, StockSyncWorkflow],
                      activities=fake.activities()):  # fmt: skip
        watch = await start_stock(env, polls_per_run)
        for _ in range(100):  # skip ahead through polls and retry backoffs until the condition holds
            if until():
                break
            await env.sleep(timedelta(seconds=1))
        assert until()
        first = await env.client.get_workflow_handle(watch.id, run_id=watch.result_run_id).describe()
        for workflow_id in (watch.id, *map(stock_sync_workflow_id, STORES)):
            await env.client.get_workflow_handle(workflow_id).terminate("test done")
    return first.status


async def test_one_erp_poll_serves_every_store_and_the_watermark_moves_on(time_skipping):
    fake = FakeStock([["A", "B"], [], ["B", "C"]])

    await run_stock(time_skipping, fake, until=lambda: len(fake.cursors) >= 4 and len(fake.published["south"]) >= 2)

    assert fake.cursors[:4] == ["c0", "c1", "c2", "c3"]
    assert fake.published == {"north": [["A", "B"], ["B", "C"]], "south": [["A", "B"], ["B", "C"]]}


async def test_a_store_that_is_down_delays_only_itself_and_catches_up_with_everything(time_skipping):
    fake = FakeStock([["A"], ["B"], ["C"]], down="south", outages=4)

    await run_stock(time_skipping, fake, until=lambda: sum(map(len, fake.published["south"])) >= 3)

    assert fake.published["north"] == [["A"], ["B"], ["C"]]  # north never waited for south
    assert sorted(sku for skus in fake.published["south"] for sku in skus) == ["A", "B", "C"]
    assert len(fake.published["south"]) < 3  # what piled up while it was down went in one publish


async def test_the_watch_continues_as_new_with_its_watermark(time_skipping):
    fake = FakeStock([["A"], ["B"], ["C"], ["D"], ["E"]])

    first_run = await run_stock(time_skipping, fake, polls_per_run=2,
                                until=lambda: len(fake.published["north"]) >= 5)  # fmt: skip

    assert first_run == WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert fake.cursors[:5] == ["c0", "c1", "c2", "c3", "c4"]  # one watermark chain across runs
    assert fake.published["north"] == [["A"], ["B"], ["C"], ["D"], ["E"]]


async def test_a_store_selling_the_3pls_stock_reads_it_itself(time_skipping):
    fake = FakeStock([])
    async with Worker(time_skipping.client, task_queue="stock", workflows=[StockSyncWorkflow],
                      activities=fake.activities()):  # fmt: skip
        handle = await time_skipping.client.start_workflow(
            StockSyncWorkflow.run, StockSyncInput(store_id="east", threepl_poll=timedelta(minutes=1)),
            id=stock_sync_workflow_id("east"), task_queue="stock",
        )  # fmt: skip
        await time_skipping.sleep(timedelta(minutes=3))
        await handle.terminate("test done")

    assert fake.published["east"][:2] == [["HELD"], ["HELD"]]


async def test_a_stock_change_signalled_while_a_publish_is_under_way_is_published_too(time_skipping):
    published: list[list[str]] = []
    first_publish_held = asyncio.Event()
    first_publish_started = asyncio.Event()

    @activity.defn(name="publish_available_to_sell")
    async def publish_available_to_sell(request: PublishRequest) -> StockReport:
        published.append(request.skus or [])
        if len(published) == 1:
            first_publish_started.set()
            await first_publish_held.wait()
        return StockReport(store_id=request.store_id)

    async with Worker(time_skipping.client, task_queue="stock", workflows=[StockSyncWorkflow],
                      activities=[publish_available_to_sell]):  # fmt: skip
        run = await time_skipping.client.start_workflow(StockSyncWorkflow.run, StockSyncInput(store_id="north"),
                                                        id=stock_sync_workflow_id("north"), task_queue="stock")
        await run.signal(StockSyncWorkflow.stock_changed, ["TEE"])
        await asyncio.wait_for(first_publish_started.wait(), 10)
        await run.signal(StockSyncWorkflow.stock_changed, ["TEE", "MUG"])  # a receipt moved both meanwhile
        first_publish_held.set()
        await eventually(lambda: asyncio.sleep(0, published), lambda calls: len(calls) == 2)
        await run.terminate("test done")
    assert published == [["TEE"], ["MUG", "TEE"]]
