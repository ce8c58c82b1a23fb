"""The starter under real WooCommerce deliveries: the creation ping, signed order webhooks delivered in the
triggering request and through Action Scheduler (WooCommerce's own asynchronous path), each starting the
order's run."""
import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from adapters.woocommerce import WooCommerceClient
from canonical.keys import order_workflow_id
from config import Settings, StoreSettings, TemporalSettings
from embedded.asgi import serve
from sandbox.real_woocommerce import RELEASES, RealStore, sql
from sandbox.woocommerce import SandboxConfig, run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
from tests.plugins.real_woocommerce import rest
from tests.plugins.temporal import eventually
from tests.plugins.woocommerce import WooSandbox

SECRET = "real-store-webhook-secret"


@dataclass
class Connected:
    store_id: str
    client: WooCommerceClient
    shopper: Shopper
    hooks: list
    temporal: Client
    runs: list = field(default_factory=list)

    def run_of(self, order: dict):
        run = self.temporal.get_workflow_handle(order_workflow_id(self.store_id, str(order["id"])))
        self.runs.append(run)
        return run


@pytest.fixture
async def connected(real_store: RealStore, dev_server):
    """The store, its webhooks pointing at a starter of its own, and the shopper; webhooks removed after."""
    store = StoreSettings(id=f"real-{real_store.name.replace('_', '-')}-{uuid.uuid4().hex[:6]}", url=real_store.url,
                          consumer_key=SecretStr(real_store.consumer_key),
                          consumer_secret=SecretStr(real_store.consumer_secret), webhook_secret=SecretStr(SECRET),
                          timeout_s=60)  # fmt: skip
    settings = Settings(stores=[store], temporal=TemporalSettings(task_queue=f"{store.id}-no-worker"))
    shopper = Shopper(real_store.url, real_store.consumer_key, real_store.consumer_secret)
    async with WooCommerceClient(store) as client, serve(create_app(settings, dev_server.client)) as starter_url:
        hooks = [await client.create_webhook(f"retail-sync {topic}", topic,
                                             f"{starter_url}/webhooks/woocommerce/{store.id}", SECRET)
                 for topic in ("order.created", "order.updated")]  # fmt: skip
        connected = Connected(store.id, client, shopper, hooks, dev_server.client)
        try:
            yield connected
        finally:
            for run in connected.runs:  # they have no worker here: end them, not to linger in the dev server
                await run.terminate("contract test over")
            for hook in hooks:
                await client.update_webhook(hook.webhook_id, status="paused")
            await shopper.aclose()
            sql(real_store, "DELETE FROM wp_options WHERE option_name = 'retail_sync_lab_async_webhooks'")


async def test_the_creation_ping_is_answered_so_the_store_keeps_the_webhooks_active(connected, real_store):
    rows = sql(real_store, "SELECT status, pending_delivery, failure_count FROM wp_wc_webhooks WHERE webhook_id IN "
                           f"({', '.join(hook.webhook_id for hook in connected.hooks)})")  # fmt: skip

    assert rows.splitlines() == ["active\t0\t0", "active\t0\t0"]


async def test_a_paid_order_delivered_in_the_request_starts_its_run(connected):
    order = await connected.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    run = connected.run_of(order)
    assert (await run.describe()).status == WorkflowExecutionStatus.RUNNING  # delivered before the POST returned


async def test_a_delivery_through_action_scheduler_starts_the_run(connected, real_store):
    sql(real_store, "INSERT INTO wp_options (option_name, option_value) VALUES ('retail_sync_lab_async_webhooks', "
                    "'yes') ON DUPLICATE KEY UPDATE option_value = 'yes'")  # fmt: skip

    order = await connected.shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
    run = connected.run_of(order)
    async with httpx.AsyncClient(base_url=real_store.url, timeout=120) as http:
        await eventually(lambda: _queue_ran_and_run_exists(http, run), bool, 60)

    assert (await run.describe()).status == WorkflowExecutionStatus.RUNNING
    delivered = sql(real_store, "SELECT status FROM wp_actionscheduler_actions WHERE hook = "
                                f"'woocommerce_deliver_webhook_async' AND args LIKE '%\"arg\":{order['id']}}}'")  # fmt: skip
    assert "complete" in delivered.splitlines()  # by Action Scheduler, not in the checkout's request


async def _queue_ran_and_run_exists(http: httpx.AsyncClient, run) -> bool:
    (await http.get("/", params={"retail_sync_lab_run_queue": "1"})).raise_for_status()
    try:
        await run.describe()
    except RPCError:
        return False
    return True


async def _deliveries_per_step(http: httpx.AsyncClient, receiver) -> list[list[str]]:
    """What the store delivers (topic, or "ping") after each step of a webhook's and an order's life."""
    steps = []

    async def step(action) -> None:
        seen = len(receiver.received)
        await action()
        await asyncio.sleep(0.5)  # a delivery the step made has arrived by now
        steps.append([d["headers"].get("x-wc-webhook-topic", "ping") for d in receiver.received[seen:]])

    hook, order = {}, {}

    async def create_hook():
        hook.update((await http.post("webhooks", json={"name": "lifecycle", "topic": "order.deleted",
                                                       "delivery_url": receiver.url, "secret": "s"})).json())

    async def create_order():
        order.update((await http.post("orders", json={"status": "pending"})).json())

    await step(create_hook)
    await step(create_order)
    await step(lambda: http.delete(f"orders/{order['id']}"))
    await step(lambda: http.delete(f"orders/{order['id']}", params={"force": "true"}))
    await step(lambda: http.put(f"webhooks/{hook['id']}", json={"status": "paused"}))
    await step(lambda: http.put(f"webhooks/{hook['id']}", json={"status": "active"}))
    await step(lambda: http.put(f"webhooks/{hook['id']}", json={"delivery_url": receiver.url + "/moved"}))
    await http.delete(f"webhooks/{hook['id']}", params={"force": "true"})
    return steps


async def test_the_sandbox_delivers_as_the_real_store_when_orders_are_deleted_and_webhooks_saved(
        real_store, webhook_receiver):  # fmt: skip
    async with rest(real_store) as http:
        real = await _deliveries_per_step(http, webhook_receiver)
    generation = RELEASES[real_store.name].generation
    async with run_woocommerce_sandbox(SandboxConfig(generation=generation)) as running:
        async with WooSandbox(running).client() as http:
            ours = await _deliveries_per_step(http, webhook_receiver)

    # create → ping; trash → order.deleted; force-delete, pause, re-activate → nothing; a new URL → ping
    assert real == [["ping"], [], ["order.deleted"], [], [], [], ["ping"]]
    assert ours == real
