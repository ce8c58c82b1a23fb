"""Intake backstop activities: find store orders no webhook brought, and revive disabled webhooks."""
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import as_temporal_errors
from canonical import Order
from canonical.intake import is_handed_to_a_run
from canonical.keys import order_workflow_id
from config import OrderPolicy, ReturnPolicy
from starter.order_runs import TooLargeForTemporal, hand_order_to_run, hand_refunds_to_runs, tell_open_run

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory

PAGE_SIZE = 100


class OrdersPageRequest(BaseModel):
    store_id: str
    modified_after: datetime
    page: int


class OrdersPageHanded(BaseModel):
    orders_seen: int
    runs_started: int
    has_next: bool
    skipped: dict[str, str] = {}
    """Order id → why it was not handed to a run (unreadable, or too large for Temporal): for an operator."""


class IntakeActivities:
    def __init__(self, stores: "StoreDirectory", client: Client, task_queue: str, policy: OrderPolicy,
                 returns: ReturnPolicy) -> None:  # fmt: skip
        self._stores = stores
        self._client = client
        self._task_queue = task_queue
        self._policy = policy
        self._returns = returns

    @activity.defn
    async def hand_changed_orders_to_runs(self, request: OrdersPageRequest) -> OrdersPageHanded:
        """Every paid order on the page goes to its run (signal-with-start: new or existing, never twice).

        An order that cannot go (unreadable, too large for Temporal) is skipped and reported, never
        failing the page: retrying would fail the same way, and the other orders would wait forever.
        """
        with as_temporal_errors():
            page = await self._stores.client(request.store_id).list_orders(
                request.modified_after, page=request.page, per_page=PAGE_SIZE
            )
        started, skipped = 0, dict(page.unreadable)
        for order in page.items:
            try:
                started += await self._hand_over(order)
            except TooLargeForTemporal as err:
                skipped[order.order_id] = str(err)
        for order_id, reason in skipped.items():
            activity.logger.warning("intake: store %s order %s skipped: %s", request.store_id, order_id, reason)
        return OrdersPageHanded(orders_seen=len(page.items) + len(page.unreadable), runs_started=started,
                                has_next=page.has_next, skipped=skipped)  # fmt: skip

    async def _hand_over(self, order: Order) -> int:
        """1 when the order had no open run and now has one. A cancelled (or refunded) order starts no run, but
        the run it has must hear of it: its lost webhook would otherwise leave the goods shipping."""
        await hand_refunds_to_runs(self._client, self._task_queue, self._returns, order)
        if order.is_cancelled:
            await tell_open_run(self._client, order)
            return 0
        if not is_handed_to_a_run(order):
            return 0
        before = await self._open_run(order_workflow_id(order.store_id, order.order_id))
        run = await hand_order_to_run(self._client, self._task_queue, self._policy, order)
        if run is not None and run.result_run_id != before:
            activity.logger.info("intake: order %s/%s had no open run; started one", order.store_id, order.order_id)
            return 1
        return 0

    @activity.defn
    async def reenable_disabled_webhooks(self, store_id: str) -> list[str]:
        """Names of the webhooks found disabled (WooCommerce does that after 7 failed deliveries) and re-enabled."""
        with as_temporal_errors():
            store = self._stores.client(store_id)
            disabled = [hook for hook in await store.list_webhooks() if hook.status == "disabled"]
            for hook in disabled:
                await store.update_webhook(hook.webhook_id, status="active")
        return [f"{hook.name} ({hook.topic})" for hook in disabled]

    async def _open_run(self, workflow_id: str) -> str | None:
        """The id of the order's running run, if it has one."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return description.run_id if description.status == WorkflowExecutionStatus.RUNNING else None

    def all(self) -> list:
        return [self.hand_changed_orders_to_runs, self.reenable_disabled_webhooks]
