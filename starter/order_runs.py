"""Hand a store order to its order-to-cash run: start it, or signal the run that exists.

Signal-with-start on a workflow id derived from store + order id makes duplicate and
out-of-order webhooks (and the intake backstop) collapse onto one run.
"""
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from canonical import Order
from canonical.keys import merchant_refund_of, order_workflow_id, refund_workflow_id
from config import OrderPolicy
from workflows.order_messages import OrderRunInput
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundRunInput, RefundWorkflow

log = logging.getLogger(__name__)


async def hand_order_to_run(client: Client, task_queue: str, policy: OrderPolicy, order: Order) -> str | None:
    """Returns the workflow id, or None when that order's run has already finished (the event is logged)."""
    workflow_id = order_workflow_id(order.store_id, order.order_id)
    try:
        await client.start_workflow(
            OrderToCashWorkflow.run,
            OrderRunInput(
                store_id=order.store_id,
                order_id=order.order_id,
                payment_window=policy.payment_window,
                fulfilment_sla=policy.fulfilment_sla,
                shipment_poll_interval=policy.shipment_poll_interval,
            ),
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="store_order_changed",
            start_signal_args=[order],
            static_summary=f"Order #{order.number} from store {order.store_id}",
            static_details=(
                f"Order-to-cash for WooCommerce order **#{order.number}** (id {order.order_id}) "
                f"of store `{order.store_id}`: {len(order.lines)} line(s), "
                f"total {order.total.amount} {order.total.currency}."
            ),
        )
    except WorkflowAlreadyStartedError:
        log.info("order %s: run already finished; %s event not applied", workflow_id, order.store_status)
        return None
    return workflow_id


async def hand_refunds_to_runs(client: Client, task_queue: str, order: Order) -> int:
    """One refund run per entry of the order's refunds list; returns how many were new.

    The merchant's refunds get their credit notes; our own refunds echo back here too and
    their run simply notes that the run which made them books them.
    """
    started = 0
    for refund in order.refunds:
        try:
            await client.start_workflow(
                RefundWorkflow.run,
                RefundRunInput(store_id=order.store_id, order_id=order.order_id, store_refund_id=refund.refund_id),
                id=refund_workflow_id(order.store_id, order.order_id, merchant_refund_of(refund.refund_id)),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Refund {refund.refund_id} of order #{order.number} ({order.store_id})",
            )
            started += 1
        except WorkflowAlreadyStartedError:
            pass
    return started
