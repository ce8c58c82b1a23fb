"""One simulation world: the real worker (every workflow and activity), the real starter over HTTP, the
WooCommerce and ShipBob sandboxes, on the time-skipping test server, with the in-memory ERP or a real Tryton.

Scenarios share a world one after the other (each has its own store order, so its own runs and keys); time
skipping is global to the test server, so two scenarios never play at once in one world. Time only moves
when the player says so (`advance`): the SDK skips time only while a client awaits a workflow's result, and
the player never does, so a run waits in real time for the sandboxes and the starter, and in skipped time
for its timers (payment window, 3PL polls, credit-note retries, retry backoff).
"""
import asyncio
import base64
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from unittest.mock import patch

import httpx
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import config
from activities.stores import StoreDirectory
from adapters.erp import Erp
from adapters.oauth1 import OAuth1QueryAuth
from adapters.shipbob import ShipBobClient
from embedded.asgi import serve
from embedded.processes import venv_binary
from sandbox.erp import InMemoryErp
from sandbox.shipbob import DEMO_CHANNEL_ID, DEMO_TOKEN, ApiToken, ShipBobConfig, run_shipbob_sandbox
from sandbox.shipbob.warehouse import ORDER_TOPICS, Warehouse
from sandbox.woocommerce import DEMO_KEY, SandboxConfig, run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
import worker as worker_module
from tests.plugins.temporal import register_search_attributes
from worker import build_worker

STORE = "sim"
STORE_SECRET = "sim-webhook-secret"
THREEPL_SECRET = "whsec_" + base64.b64encode(b"sim-shipbob-webhook-secret-01234").decode()
WAREHOUSE_TOKEN = ApiToken(token="pat_sandbox_sim_warehouse_floor_0001")
TASK_QUEUE = "simulation"
POLICY = config.OrderPolicy(payment_window=timedelta(hours=2), fulfilment_sla=timedelta(days=3),
                     shipment_poll_interval=timedelta(minutes=30), route_by_stock=True)  # fmt: skip
RETURNS = config.ReturnPolicy(credit_note_retry_every=timedelta(minutes=10))
SETTLE_TIMEOUT_S = 60.0


@dataclass
class World:
    env: WorkflowEnvironment
    settings: config.Settings
    erp: Erp
    store_url: str
    store_control: httpx.AsyncClient
    store_api: httpx.AsyncClient  # the merchant's admin, through the REST API
    shopper: Shopper
    warehouse: Warehouse
    threepl_control: httpx.AsyncClient
    starter_url: str
    http: httpx.AsyncClient
    woo: object  # RunningSandbox
    shipbob: object  # RunningShipBob
    _new_worker: object = None
    _worker_task: asyncio.Task | None = None
    _worker: object = None
    restarts: int = 0
    cached: bool = True
    tracked: dict[str, list[str]] = field(default_factory=dict)

    @property
    def client(self):
        return self.env.client

    async def start_worker(self, cached: bool = True) -> None:
        if cached:
            self._worker = self._new_worker()
        else:
            with patch.object(worker_module, "Worker", partial(Worker, max_cached_workflows=0)):
                self._worker = self._new_worker()
        self.cached = cached
        self._worker_task = asyncio.create_task(self._worker.run())

    async def stop_worker(self) -> None:
        if self._worker is not None:
            await self._worker.shutdown()
            await self._worker_task
            self._worker = None

    async def use_cache(self, cached: bool) -> None:
        """Between scenarios (no run open): a worker that keeps runs cached (fast), or one that does not.

        A scenario that restarts the worker plays on one without: the test server gives a run's next task only
        to the worker that cached it, even once that one is gone (a real server gives it to any worker after 5 s,
        and the test server implements neither that nor ResetStickyTaskQueue)."""
        if cached != self.cached:
            await self.stop_worker()
            await self.start_worker(cached)

    async def restart_worker(self) -> None:
        """A worker process going away between two steps and another taking over: runs replay on it."""
        await self.stop_worker()
        await self.start_worker(self.cached)
        self.restarts += 1

    async def advance(self, duration: timedelta) -> None:
        """Let `duration` of workflow time pass (timers fire), then let what it woke settle."""
        await self.env.sleep(duration)
        await asyncio.sleep(0)

    # -- settling: nothing in flight anywhere -------------------------------------------

    def sandboxes_busy(self) -> bool:
        woo_deliveries = self.woo.store.on_event.__self__  # the store's WebhookDeliveries
        shipbob_deliveries = self.shipbob.deliveries
        return bool(woo_deliveries.pending or woo_deliveries._background._tasks
                    or shipbob_deliveries._background._tasks or shipbob_deliveries._held)  # fmt: skip

    async def runs_state(self, handles: list[WorkflowHandle]) -> str:
        """"busy" (a task or activity in flight), "backoff" (only retries waiting on their backoff) or "quiet"."""
        backoff = False
        for handle in handles:
            try:
                description = await handle.describe()
            except Exception:  # not started yet (a webhook on its way)
                continue
            if description.status != WorkflowExecutionStatus.RUNNING:
                continue
            raw = description.raw_description
            if raw.HasField("pending_workflow_task") or await _task_outstanding(handle):
                return "busy"
            for activity in raw.pending_activities:
                if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and activity.attempt > 1:
                    backoff = True
                else:
                    return "busy"
        return "backoff" if backoff else "quiet"

    async def settle(self, handles) -> None:
        """Until nothing is in flight: no webhook on its way, no workflow task or activity running; a retry
        waiting on its backoff is skipped to (time skipping)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        quiet = 0
        while quiet < 2:
            if loop.time() > deadline:
                raise TimeoutError(f"the world did not settle within {SETTLE_TIMEOUT_S:.0f} s")
            state = "busy" if self.sandboxes_busy() else await self.runs_state(await handles())
            if state == "backoff":
                await self.env.sleep(timedelta(seconds=30))
                quiet = 0
            elif state == "busy":
                quiet = 0
                await asyncio.sleep(0.005)
            else:
                quiet += 1
                await asyncio.sleep(0.005)


async def _task_outstanding(handle: WorkflowHandle) -> bool:
    """A workflow task scheduled or started and not yet completed (the test server's describe does not say)."""
    outstanding = False
    async for event in handle.fetch_history_events():
        if event.event_type in TASK_OPEN:
            outstanding = True
        elif event.event_type in TASK_CLOSED:
            outstanding = event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    return outstanding


TASK_OPEN = (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
TASK_CLOSED = (EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
               EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)  # fmt: skip


@asynccontextmanager
async def simulation_world(erp: Erp | None = None, erp_settings: config.ErpSettings | None = None):
    """A world on its own time-skipping server; `erp` defaults to a fresh in-memory one."""
    erp = erp or InMemoryErp()
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter))
        await register_search_attributes(env.client)
        woo = await stack.enter_async_context(run_woocommerce_sandbox(SandboxConfig(webhook_delay_s=0.01)))
        shipbob = await stack.enter_async_context(run_shipbob_sandbox(ShipBobConfig(
            webhook_retry_factor=0.0001, simulation_minute_s=0.0, out_of_order_hold_s=0.05,
            tokens=[DEMO_TOKEN, WAREHOUSE_TOKEN], rate_limit=100_000,
            stock={"TEE-CLASSIC": {1: 10**6, 2: 10**6}, "MUG-CERAMIC": {1: 10**6}, "BOOK-COFFEE": {2: 10**6},
                   "HOODIE-S": {1: 10**6, 2: 10**6}, "HOODIE-M": {1: 10**6, 2: 10**6}})))  # fmt: skip
        store = config.StoreSettings(id=STORE, url=woo.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                              consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                              webhook_secret=SecretStr(STORE_SECRET), requests_per_second=1000, burst=100,
                              request_lifetime_s=2.0)  # fmt: skip
        settings = config.Settings(
            temporal=config.TemporalSettings(task_queue=TASK_QUEUE), stores=[store],
            erp=erp_settings or config.ErpSettings(),
            threepl=config.ThreePLSettings(url=shipbob.url, token=SecretStr(DEMO_TOKEN.token),
                                    channel_id=str(DEMO_CHANNEL_ID), webhook_secret=SecretStr(THREEPL_SECRET),
                                    requests_per_minute=100_000),
            orders=POLICY, returns=RETURNS,
            starter=config.StarterSettings(returns_api_token=SecretStr("sim-returns")),
        )  # fmt: skip
        stores = StoreDirectory(settings.stores)
        stack.push_async_callback(stores.aclose)
        threepl = ShipBobClient(settings.threepl)
        stack.push_async_callback(threepl.aclose)
        stack.push_async_callback(erp.aclose)
        starter_url = await stack.enter_async_context(serve(create_app(settings, env.client)))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        store_control = await stack.enter_async_context(httpx.AsyncClient(base_url=f"{woo.url}/__sandbox/", timeout=30))
        store_api = await stack.enter_async_context(httpx.AsyncClient(
            base_url=f"{woo.url}/wp-json/wc/v3/", timeout=30,
            auth=OAuth1QueryAuth(woo.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)))
        threepl_control = await stack.enter_async_context(httpx.AsyncClient(base_url=f"{shipbob.url}/__sandbox/",
                                                                             timeout=30))  # fmt: skip
        shopper = Shopper(woo.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        stack.push_async_callback(shopper.aclose)
        warehouse = Warehouse(shipbob.url, WAREHOUSE_TOKEN.token, DEMO_CHANNEL_ID)
        stack.push_async_callback(warehouse.aclose)
        woo_client = stores.client(STORE)
        for topic in ("order.created", "order.updated"):
            await woo_client.create_webhook(f"retail-sync {topic}", topic,
                                            f"{starter_url}/webhooks/woocommerce/{STORE}", STORE_SECRET)
        await warehouse.subscribe(f"{starter_url}/webhooks/shipbob", THREEPL_SECRET, ORDER_TOPICS)
        world = World(env=env, settings=settings, erp=erp, store_url=woo.url, store_control=store_control,
                      store_api=store_api, shopper=shopper, warehouse=warehouse, threepl_control=threepl_control,
                      starter_url=starter_url, http=http, woo=woo, shipbob=shipbob)  # fmt: skip
        world._new_worker = lambda: build_worker(env.client, settings, stores, erp, threepl)
        await world.start_worker()
        stack.push_async_callback(world.stop_worker)
        yield world
