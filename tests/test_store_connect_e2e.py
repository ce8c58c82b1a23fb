"""Connecting a store that already has history: its intake starts from a watermark, so yesterday's paid orders
never become ERP sales again. The store is a sandbox of its own without webhooks: only the intake brings orders."""
import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from temporalio.service import RPCError, RPCStatusCode

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from canonical.keys import order_workflow_id
from config import Settings, StoreSettings
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter import cli_stores
from starter.cli import main as cli
from starter.schedules import ensure_intake_schedule, intake_schedule_id
from tests.plugins.stack import OrderStack, reach, run_intake_now, sales_for
from worker import build_worker
from workflows.order_messages import OrderStage

WHOLE_SECOND_S = 1.1  # WooCommerce compares modification times in whole seconds, strictly after


@dataclass
class StoreWithHistory:
    stack: OrderStack  # the session's Temporal, Tryton and 3PL
    settings: Settings
    store: StoreSettings
    shopper: Shopper


@pytest_asyncio.fixture
async def store_with_history(order_stack: OrderStack):
    async with run_woocommerce_sandbox(SandboxConfig()) as sandbox:
        store_id = f"history-{uuid.uuid4().hex[:6]}"
        store = order_stack.settings.stores[0].model_copy(update={"id": store_id, "url": sandbox.url})
        temporal = order_stack.settings.temporal.model_copy(update={
            "task_queue": f"{store_id}-orders", "address": order_stack.client.service_client.config.target_host})
        settings = order_stack.settings.model_copy(update={"stores": [store], "temporal": temporal})
        stores, erp, threepl = StoreDirectory(settings.stores), TrytonErp(settings.erp), ShipBobClient(settings.threepl)
        shopper = Shopper(sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        try:
            async with build_worker(order_stack.client, settings, stores, erp, threepl):
                yield StoreWithHistory(order_stack, settings, store, shopper)
        finally:
            try:
                await order_stack.client.get_schedule_handle(intake_schedule_id(store_id)).delete()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            for resource in (shopper, stores, erp, threepl):
                await resource.aclose()


async def has_run(history: StoreWithHistory, order_id) -> bool:
    try:
        await history.stack.client.get_workflow_handle(order_workflow_id(history.store.id, str(order_id))).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_connecting_a_store_leaves_alone_the_paid_orders_it_already_had(store_with_history):
    history = store_with_history
    yesterdays = await history.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    await asyncio.sleep(WHOLE_SECOND_S)
    await ensure_intake_schedule(history.stack.client, history.settings, history.store)  # a worker meets the store
    await history.stack.client.get_schedule_handle(intake_schedule_id(history.store.id)).pause(note="tests trigger")
    await asyncio.sleep(WHOLE_SECOND_S)
    todays = await history.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    first = await run_intake_now(history.stack, history.store.id)
    second = await run_intake_now(history.stack, history.store.id)  # its overlap reaches behind the connect moment

    assert (first.orders_seen, first.runs_started) == (1, 1)
    assert second.runs_started == 0
    done = await reach(history.stack, todays["id"], OrderStage.AWAITING_SHIPMENT, history.store.id)
    assert [sale["number"] for sale in await sales_for(history.stack, todays["id"], history.store.id)] == [
        done.erp_sale_number
    ]
    assert not await has_run(history, yesterdays["id"])
    assert await sales_for(history.stack, yesterdays["id"], history.store.id) == []


async def test_the_operator_sees_what_a_watermark_hands_over_and_moves_it_back_to_sell_missed_orders(
    store_with_history, monkeypatch, capsys
):
    history = store_with_history
    monkeypatch.setattr(cli_stores, "load_settings", lambda: history.settings)
    before_it = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=2)
    missed = await history.shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
    await history.shopper.place_order([("MUG-CERAMIC", 1)], paid=False)
    await asyncio.sleep(WHOLE_SECOND_S)

    assert await asyncio.to_thread(cli, ["stores", "connect", history.store.id, "--since", "now"]) == 0
    connected = capsys.readouterr().out
    assert "0 order(s) changed since, 0 paid to hand to runs" in connected and "connected" in connected
    await history.stack.client.get_schedule_handle(intake_schedule_id(history.store.id)).pause(note="tests trigger")
    assert (await run_intake_now(history.stack, history.store.id)).runs_started == 0

    since = before_it.isoformat()
    assert await asyncio.to_thread(cli, ["stores", "connect", history.store.id, "--since", since, "--dry-run"]) == 0
    assert "2 order(s) changed since, 1 paid to hand to runs" in capsys.readouterr().out
    assert (await run_intake_now(history.stack, history.store.id)).runs_started == 0  # a dry run moves nothing

    assert await asyncio.to_thread(cli, ["stores", "connect", history.store.id, "--since", since]) == 0
    assert "watermark moved" in capsys.readouterr().out
    moved = await run_intake_now(history.stack, history.store.id)

    assert (moved.orders_seen, moved.runs_started) == (2, 1)
    done = await reach(history.stack, missed["id"], OrderStage.AWAITING_SHIPMENT, history.store.id)
    assert [sale["number"] for sale in await sales_for(history.stack, missed["id"], history.store.id)] == [
        done.erp_sale_number
    ]

    # the operator's answer was lost and they connect again with the same watermark: nothing moves twice
    assert await asyncio.to_thread(cli, ["stores", "connect", history.store.id, "--since", since]) == 0
    assert (await run_intake_now(history.stack, history.store.id)).runs_started == 0
    assert len(await sales_for(history.stack, missed["id"], history.store.id)) == 1


def test_a_watermark_in_the_future_or_unreadable_is_refused_before_anything_is_asked(capsys):
    assert cli_stores.watermark("2026-01-02") == datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert cli_stores.watermark("2026-01-02T10:00:00+02:00") == datetime(2026, 1, 2, 8, tzinfo=timezone.utc)
    for text in ("yesterday", (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()):
        with pytest.raises(SystemExit) as refused:
            cli(["stores", "connect", "north", "--since", text])
        assert refused.value.code == 2 and "--since" in capsys.readouterr().err
