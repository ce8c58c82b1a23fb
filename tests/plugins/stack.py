"""The whole order-to-cash stack for end-to-end tests: its own sandbox store and 3PL, the starter on a real
port, a worker with the real activities, the session's dev server and Tryton."""
import asyncio
import base64
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc
from adapters.woocommerce import WooCommerceClient
from config import (
    ErpSettings,
    OrderPolicy,
    ReturnPolicy,
    Settings,
    StarterSettings,
    StoreSettings,
    TemporalSettings,
    ThreePLSettings,
)
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN, ApiToken, ShipBobConfig
from sandbox.shipbob.server import run_shipbob_sandbox
from sandbox.shipbob.warehouse import ORDER_TOPICS, RETURN_TOPICS, Warehouse
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
from embedded.asgi import serve
from canonical.keys import sales_order_key
from starter import operator
from starter.schedules import ensure_intake_schedule, intake_schedule_id
from tests.plugins.temporal import eventually
from worker import build_worker
from workflows.order_messages import OrderProgress, OrderStage
from workflows.store_intake import IntakeResult, StoreIntakeWorkflow

STORE_ID = "e2e"
WEBHOOK_SECRET = "e2e-webhook-secret"
RETURNS_PORTAL_TOKEN = "e2e-returns-portal-token"
THREEPL_SECRET = "whsec_" + base64.b64encode(b"e2e-shipbob-webhook-secret-0123").decode()
POLL_INTERVAL = timedelta(seconds=3)
WAREHOUSE_TOKEN = ApiToken(token="pat_sandbox_e2e_warehouse_floor_0001")
STORE_REQUEST_LIFETIME_S = 5.0  # how long a refund whose answer was lost is looked for before a person decides


@dataclass
class OrderStack:
    settings: Settings
    client: Client
    starter_url: str
    store: WooCommerceClient
    shopper: Shopper
    warehouse: Warehouse
    threepl: ShipBobClient
    erp: TrytonRpc  # to read what really happened in Tryton
    erp_catalogue: TrytonRpc  # the merchant's catalogue manager, who adds products
    store_control: httpx.AsyncClient | None  # the sandbox store's /__sandbox/ controls (faults, gateways)


@pytest_asyncio.fixture(scope="session")
async def order_stack(dev_server, tryton_server):
    async with run_woocommerce_sandbox(SandboxConfig(webhook_delay_s=0.05)) as sandbox:
        store = StoreSettings(id=STORE_ID, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                              consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                              webhook_secret=SecretStr(WEBHOOK_SECRET), requests_per_second=50, burst=20,
                              request_lifetime_s=STORE_REQUEST_LIFETIME_S)  # fmt: skip
        async with (httpx.AsyncClient(base_url=f"{sandbox.url}/__sandbox/") as store_control,
                    order_stack_for(dev_server, tryton_server, store, "e2e-orders", store_control) as stack):
            await ensure_intake_schedule(dev_server.client, stack.settings, store)  # connected before its first order
            await dev_server.client.get_schedule_handle(intake_schedule_id(STORE_ID)).pause(note="the tests trigger it")
            yield stack


@asynccontextmanager
async def order_stack_for(dev_server, tryton_server, store: StoreSettings, task_queue: str,
                          store_control: httpx.AsyncClient | None = None):
    """A worker and a starter for one store (its webhooks pointed at the starter), a 3PL sandbox of its own."""
    # The suite's many short-polling runs share one account: a higher limit keeps the tests quick (the 150/min
    # limit itself is tested on its own sandbox), and the warehouse floor uses a token of its own.
    shipbob_config = ShipBobConfig(webhook_retry_factor=0.001, simulation_minute_s=0.01, out_of_order_hold_s=0.3,
                                   tokens=[DEMO_TOKEN, WAREHOUSE_TOKEN], rate_limit=600)  # fmt: skip
    async with run_shipbob_sandbox(shipbob_config) as shipbob:
        settings = Settings(
            temporal=TemporalSettings(task_queue=task_queue),
            stores=[store],
            erp=tryton_server.settings,
            threepl=ThreePLSettings(url=shipbob.url, token=SecretStr(DEMO_TOKEN.token),
                                    channel_id=str(DEMO_CHANNEL_ID), webhook_secret=SecretStr(THREEPL_SECRET),
                                    requests_per_minute=600),
            orders=OrderPolicy(payment_window=timedelta(hours=1), shipment_poll_interval=POLL_INTERVAL,
                               route_by_stock=True),
            returns=ReturnPolicy(poll_interval=POLL_INTERVAL, credit_note_retry_every=POLL_INTERVAL),
            starter=StarterSettings(returns_api_token=SecretStr(RETURNS_PORTAL_TOKEN)),
        )  # fmt: skip
        stores = StoreDirectory(settings.stores)
        erp = TrytonErp(settings.erp)
        threepl = ShipBobClient(settings.threepl)
        reader = _rpc(settings.erp)
        catalogue = _rpc(tryton_server.catalogue_manager)
        shopper = Shopper(store.url, store.consumer_key.get_secret_value(), store.consumer_secret.get_secret_value())
        warehouse = Warehouse(shipbob.url, WAREHOUSE_TOKEN.token, DEMO_CHANNEL_ID)
        worker = build_worker(dev_server.client, settings, stores, erp, threepl)
        try:
            async with worker, serve(create_app(settings, dev_server.client)) as starter_url:
                woo = stores.client(store.id)
                hooks = [await woo.create_webhook(f"retail-sync {topic}", topic,
                                                  f"{starter_url}/webhooks/woocommerce/{store.id}",
                                                  store.webhook_secret.get_secret_value())
                         for topic in ("order.created", "order.updated")]  # fmt: skip
                await warehouse.subscribe(f"{starter_url}/webhooks/shipbob", THREEPL_SECRET,
                                          ORDER_TOPICS + RETURN_TOPICS)  # fmt: skip
                try:
                    yield OrderStack(settings, dev_server.client, starter_url, woo, shopper, warehouse, threepl,
                                     reader, catalogue, store_control)  # fmt: skip
                finally:
                    for hook in hooks:  # a store outliving the session must not deliver to a starter long gone
                        await woo.update_webhook(hook.webhook_id, status="paused")
        finally:
            for resource in (shopper, warehouse, reader, catalogue, erp, threepl, stores):
                await resource.aclose()


def _rpc(erp: ErpSettings) -> TrytonRpc:
    return TrytonRpc(erp.url, erp.database, erp.user, erp.password)


def write_cli_config(stack: OrderStack, path: Path, temporal_address: str | None = None) -> Path:
    """The stack's settings as the config file an engineer's CLI reads."""
    settings, store = stack.settings, stack.settings.stores[0]
    path.write_text(
        f'[temporal]\naddress = "{temporal_address or stack.client.service_client.config.target_host}"\n'
        f'task_queue = "{settings.temporal.task_queue}"\n\n'
        f'[erp]\nurl = "{settings.erp.url}"\ndatabase = "{settings.erp.database}"\nuser = "{settings.erp.user}"\n'
        f'password = "{settings.erp.password.get_secret_value()}"\n\n'
        f'[threepl]\nurl = "{settings.threepl.url}"\ntoken = "{settings.threepl.token.get_secret_value()}"\n'
        f'channel_id = "{settings.threepl.channel_id}"\n\n'
        f'[[stores]]\nid = "{store.id}"\nurl = "{store.url}"\n'
        f'consumer_key = "{store.consumer_key.get_secret_value()}"\n'
        f'consumer_secret = "{store.consumer_secret.get_secret_value()}"\n'
        f'webhook_secret = "{store.webhook_secret.get_secret_value()}"\n'
    )
    return path


SETTLE_S = 120  # Tryton's confirm takes ~1 s alone, more while the suite loads both cores


async def progress(stack: OrderStack, order_id, store_id: str = STORE_ID) -> OrderProgress | None:
    try:
        return await operator.show_order(stack.client, store_id, str(order_id))
    except Exception:  # the run may not exist yet: the webhook is asynchronous
        return None


async def reach(stack: OrderStack, order_id, stage: OrderStage, store_id: str = STORE_ID) -> OrderProgress:
    return await eventually(lambda: progress(stack, order_id, store_id), lambda p: p is not None and p.stage == stage,
                            SETTLE_S)  # fmt: skip


async def sales_for(stack: OrderStack, order_id, store_id: str = STORE_ID) -> list[dict]:
    return await stack.erp.call(
        "sale.sale", "search_read", [("web_id", "=", sales_order_key(store_id, str(order_id)))], 0, None, None,
        ["number", "state", "reference", "party.name", "shipment_address.street", "shipment_address.city",
         "shipment_address.country.code", "untaxed_amount", "tax_amount", "total_amount", "lines", "shipments"],
    )  # fmt: skip


async def sale_lines(stack: OrderStack, line_ids: list[int]) -> list[tuple[str, Decimal, Decimal, list[Decimal]]]:
    lines = await stack.erp.call("sale.line", "read", line_ids, ["product.code", "quantity", "unit_price", "taxes"])
    taxes = {t["id"]: t["rate"] for t in await stack.erp.call("account.tax", "search_read", [], 0, None, None, ["rate"])}
    return sorted(
        (line["product."]["code"], Decimal(str(line["quantity"])), line["unit_price"].normalize(),
         sorted(taxes[t] * 100 for t in line["taxes"]))
        for line in lines
    )  # fmt: skip


async def add_erp_product(stack: OrderStack, sku: str, name: str, price: Decimal) -> None:
    """What the merchant's ERP admin does when the parked reason says the SKU is missing."""
    (model,) = await stack.erp_catalogue.call("product.product", "search_read", [("code", "=", "TEE-CLASSIC")], 0, 1,
                                              None, ["template.account_category", "template.default_uom"])  # fmt: skip
    await stack.erp_catalogue.call("product.template", "create", [{
        "name": name, "type": "goods", "salable": True, "list_price": price,
        "default_uom": model["template."]["default_uom"], "sale_uom": model["template."]["default_uom"],
        "account_category": model["template."]["account_category"],
        "products": [["create", [{"suffix_code": sku}]]],
    }])  # fmt: skip


@asynccontextmanager
async def webhooks_paused(stack: OrderStack):
    """The store's webhooks are lost: only the intake backstop brings what changes meanwhile."""
    hooks = await stack.store.list_webhooks()
    for hook in hooks:
        await stack.store.update_webhook(hook.webhook_id, status="paused")
    try:
        yield
    finally:
        for hook in hooks:
            await stack.store.update_webhook(hook.webhook_id, status="active")


async def run_intake_now(stack: OrderStack, store_id: str = STORE_ID) -> IntakeResult:
    """Trigger the store's intake Schedule (as its interval would) and wait for that run's result.

    The Schedule is paused, so its interval never starts a run of its own in the session's shared dev server:
    one would hand over orders a test expects to be handed over by nobody yet, or make the overlap policy skip
    the test's trigger. A trigger runs a paused Schedule's action all the same.
    """
    schedule = stack.client.get_schedule_handle(intake_schedule_id(store_id))
    description = await schedule.describe()
    if not description.schedule.state.paused:
        await schedule.pause(note="the tests trigger it")
    before = len(description.info.recent_actions)
    await schedule.trigger()
    description = await eventually(schedule.describe, lambda d: len(d.info.recent_actions) > before, 30)
    started = description.info.recent_actions[-1].action
    handle = stack.client.get_workflow_handle_for(StoreIntakeWorkflow.run, started.workflow_id,
                                                  run_id=started.first_execution_run_id)  # fmt: skip
    return await asyncio.wait_for(handle.result(), 120)
