"""The stock sync run's decisions on the time-skipping server: coalescing, watermark, retries, continue-as-new.

Stand-in activities under the real names; the real ones run end to end in test_inventory_e2e.py.
"""
import uuid
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.stock import PublishRequest, StockChangesRequest, StockReport
from canonical.inventory import StockChanges
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow


class FakeStock:
    """The ERP reports `moves[n]` at its n-th poll; the store is down for the first `outages` publishes."""

    def __init__(self, moves: list[list[str]], outages: int = 0) -> None:
        self.moves = moves
        self.outages = outages
        self.cursors: list[str | None] = []
        self.published: list[list[str]] = []

    def activities(self):
        @activity.defn(name="stock_changes")
        async def stock_changes(request: StockChangesRequest) -> StockChanges:
            self.cursors.append(request.cursor)
            n = len(self.cursors)
            skus = self.moves[n - 1] if n <= len(self.moves) else []
            return StockChanges(skus=tuple(skus), cursor=f"c{n}")

        @activity.defn(name="publish_available_to_sell")
        async def publish_available_to_sell(request: PublishRequest) -> StockReport:
            if self.outages:
                self.outages -= 1
                raise ApplicationError("woocommerce: store down: HTTP 503", type="RetryableError")
            self.published.append(request.skus or [])
            return StockReport(store_id=request.store_id, fixed=len(request.skus or []))

        return [stock_changes, publish_available_to_sell]


async def run_sync(env, fake: FakeStock, cycles: int, until) -> WorkflowExecutionStatus | None:
    """Runs until `until()` holds; returns how the first run ended (None: still running)."""
    workflow_id = f"stock-sync-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue="stock", workflows=[StockSyncWorkflow], activities=fake.activities()):
        handle = await env.client.start_workflow(
            StockSyncWorkflow.run, StockSyncInput(store_id="north", poll_interval=timedelta(seconds=2),
                                                  cycles_per_run=cycles, cursor="c0"),
            id=workflow_id, task_queue="stock",
        )  # fmt: skip
        for _ in range(100):  # skip ahead through polls and retry backoffs until the condition holds
            if until():
                break
            await env.sleep(timedelta(seconds=1))
        assert until()
        first = await env.client.get_workflow_handle(workflow_id, run_id=handle.result_run_id).describe()
        await env.client.get_workflow_handle(workflow_id).terminate("test done")
    return first.status


async def test_changes_are_published_once_and_the_watermark_moves_on(time_skipping):
    fake = FakeStock([["A", "B"], [], ["B", "C"]])

    await run_sync(time_skipping, fake, cycles=100, until=lambda: len(fake.cursors) >= 4)

    assert fake.cursors[:4] == ["c0", "c1", "c2", "c3"]
    assert fake.published[:2] == [["A", "B"], ["B", "C"]]


async def test_a_store_that_is_down_keeps_its_watermark_and_catches_up(time_skipping):
    fake = FakeStock([["A"], ["B"]], outages=3)

    await run_sync(time_skipping, fake, cycles=100, until=lambda: len(fake.published) >= 2)

    assert fake.published[:2] == [["A"], ["B"]]
    assert fake.cursors[:2] == ["c0", "c1"]  # the second poll only after the first publish went through


async def test_a_long_run_continues_as_new_with_its_watermark_and_what_is_unpublished(time_skipping):
    fake = FakeStock([["A"], ["B"], ["C"], ["D"], ["E"]])

    first_run = await run_sync(time_skipping, fake, cycles=2, until=lambda: len(fake.published) >= 5)

    assert first_run == WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert fake.cursors[:5] == ["c0", "c1", "c2", "c3", "c4"]  # one watermark chain across runs
    assert fake.published[:5] == [["A"], ["B"], ["C"], ["D"], ["E"]]
