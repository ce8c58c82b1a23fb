"""Orders paid late: a declined card paid later from the "pay for order" link, a bank transfer paid after the
payment window. Paid in the store means sold in the ERP, exactly once, through the webhook or the intake."""
import asyncio
from datetime import timedelta

from canonical.keys import order_workflow_id
from starter.order_runs import hand_order_to_run
from tests.plugins.stack import STORE_ID, OrderStack, progress, reach, run_intake_now, sales_for, webhooks_paused
from tests.plugins.temporal import eventually
from workflows import search_attributes as sa
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow


async def a_run_that_expired(stack: OrderStack) -> dict:
    """A bank-transfer order whose run closed unpaid at the end of its (here: two-second) payment window."""
    async with webhooks_paused(stack):
        order = await stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
        short = stack.settings.orders.model_copy(update={"payment_window": timedelta(seconds=2)})
        await hand_order_to_run(stack.client, stack.settings.temporal.task_queue, short,
                                await stack.store.get_order(order["id"]))  # fmt: skip
        handle = stack.client.get_workflow_handle_for(OrderToCashWorkflow.run,
                                                      order_workflow_id(STORE_ID, str(order["id"])))  # fmt: skip
        assert (await asyncio.wait_for(handle.result(), 60)).stage == OrderStage.PAYMENT_EXPIRED
    return order


async def flagged(stack: OrderStack, order_id) -> str:
    run = await reach(stack, order_id, OrderStage.AWAITING_SHIPMENT)
    handle = stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order_id)))
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.NEEDS_ATTENTION) is True
    return run.attention


async def test_a_declined_card_paid_later_reaches_the_erp_through_the_same_run(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
    await order_stack.store.update_order_status(order["id"], "failed")
    await eventually(lambda: progress(order_stack, order["id"]), lambda p: p is not None and p.store_status == "failed")
    await asyncio.sleep(1)
    assert (await progress(order_stack, order["id"])).stage == OrderStage.AWAITING_PAYMENT

    await order_stack.shopper.pay(order["id"])

    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    assert len(await sales_for(order_stack, order["id"])) == 1


async def test_a_payment_after_the_window_closed_the_run_starts_a_flagged_run_through_the_webhook(
    order_stack: OrderStack,
):
    order = await a_run_that_expired(order_stack)

    await order_stack.shopper.pay(order["id"])

    assert "paid after its run closed" in await flagged(order_stack, order["id"])
    assert len(await sales_for(order_stack, order["id"])) == 1


async def test_a_payment_after_the_window_closed_the_run_starts_a_flagged_run_through_the_intake(
    order_stack: OrderStack,
):
    order = await a_run_that_expired(order_stack)
    async with webhooks_paused(order_stack):
        await order_stack.shopper.pay(order["id"])
        result = await run_intake_now(order_stack)

    assert result.runs_started >= 1
    assert "paid after its run closed" in await flagged(order_stack, order["id"])
    assert len(await sales_for(order_stack, order["id"])) == 1


async def test_a_declined_card_paid_later_reaches_the_waiting_run_through_the_intake(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
    await order_stack.store.update_order_status(order["id"], "failed")
    await eventually(lambda: progress(order_stack, order["id"]), lambda p: p is not None and p.store_status == "failed")
    async with webhooks_paused(order_stack):
        await order_stack.shopper.pay(order["id"])
        await run_intake_now(order_stack)

    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    assert len(await sales_for(order_stack, order["id"])) == 1
