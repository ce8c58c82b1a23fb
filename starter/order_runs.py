"""Hand a store order to its order-to-cash run: start it, or signal the run that exists.

Signal-with-start on a workflow id derived from store + order id makes duplicate and
out-of-order webhooks (and the intake backstop) collapse onto one run.
"""
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from canonical import Order
from canonical.keys import merchant_refund_of, order_workflow_id, refund_workflow_id
from config import OrderPolicy, ReturnPolicy
from workflows import search_attributes as sa
from workflows.order_messages import OrderRunInput
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundRunInput, RefundWorkflow

log = logging.getLogger(__name__)


class TooLargeForTemporal(Exception):
    """Temporal refuses the event as larger than a run's input may be: sending it again can never help."""


@contextmanager
def refusing_what_never_fits() -> Iterator[None]:
    """Temporal's size refusals as `TooLargeForTemporal`; every other refusal stays an `RPCError` (try again).

    The history service refuses a payload over its blob limit (2 MB by default) as an invalid argument,
    gRPC refuses a message over 4 MB as resource exhausted; neither depends on when it is sent.
    """
    try:
        yield
    except RPCError as err:
        blob = err.status == RPCStatusCode.INVALID_ARGUMENT and "size exceeds limit" in err.message
        message = err.status == RPCStatusCode.RESOURCE_EXHAUSTED and "larger than max" in err.message
        if blob or message:
            raise TooLargeForTemporal(f"too large for Temporal to take as a run's input: {err.message}") from err
        raise


async def hand_order_to_run(
    client: Client, task_queue: str, policy: OrderPolicy, order: Order
) -> WorkflowHandle | None:
    """The run that has the order now (started, or signalled), or None when that order's run has already
    finished (the event is logged).

    A paid order whose run closed without an ERP sale (its payment window ended, or it was cancelled before
    the ERP had a sale) gets a new run under the same id, flagged for a person: paid in the store must mean
    sold in the ERP, and the stock may have been promised elsewhere meanwhile."""
    workflow_id = order_workflow_id(order.store_id, order.order_id)
    try:
        return await _start(client, task_queue, policy, order, WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        closed_as = await _closed_without_a_sale(client, workflow_id) if order.is_paid else None
        if closed_as is None:
            log.info("order %s: run already finished; %s event not applied", workflow_id, order.store_status)
            return None
        log.warning("order %s: paid after its run closed (%s); starting a new run", workflow_id, closed_as)
        return await _start(client, task_queue, policy, order, WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                            f"paid after its run closed ({closed_as}): check the stock and the customer")  # fmt: skip


async def tell_open_run(client: Client, order: Order) -> None:
    """Give the order's run, if one is open, the newer snapshot; start none (a cancelled order needs no run,
    but the run it has must hear of the cancellation its lost webhook never brought)."""
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(order.store_id,
                                                                                      order.order_id))  # fmt: skip
    try:
        with refusing_what_never_fits():
            await handle.signal(OrderToCashWorkflow.store_order_changed, order)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # no run, or it has closed: nothing to tell
            raise


async def _start(client: Client, task_queue: str, policy: OrderPolicy, order: Order,
                 reuse: WorkflowIDReusePolicy, attention: str = "") -> WorkflowHandle:  # fmt: skip
    """Signal-with-start: a running run gets the snapshot, otherwise (as `reuse` allows) a new run starts."""
    with refusing_what_never_fits():
        return await client.start_workflow(
            OrderToCashWorkflow.run,
            OrderRunInput(
                store_id=order.store_id,
                order_id=order.order_id,
                payment_window=policy.payment_window,
                fulfilment_sla=policy.fulfilment_sla,
                shipment_poll_interval=policy.shipment_poll_interval,
                needs_attention_because=attention,
            ),
            id=order_workflow_id(order.store_id, order.order_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            start_signal="store_order_changed",
            start_signal_args=[order],
            static_summary=f"Order #{_shown(order.number)} from store {order.store_id}",
            static_details=(
                f"Order-to-cash for WooCommerce order **#{_shown(order.number)}** (id {order.order_id}) "
                f"of store `{order.store_id}`: {len(order.lines)} line(s), "
                f"total {order.total.amount} {order.total.currency}."
                + (f"\n\n**Needs attention**: {attention}." if attention else "")
            ),
        )


async def _closed_without_a_sale(client: Client, workflow_id: str) -> str | None:
    """How the closed run ended (its stage) when it never made an ERP sale; None when it did."""
    description = await client.get_workflow_handle(workflow_id).describe()
    attributes = description.typed_search_attributes
    if attributes.get(sa.ERP_SALE_NUMBER):
        return None
    return attributes.get(sa.ORDER_STAGE) or (description.status.name.lower() if description.status else "closed")


async def hand_refunds_to_runs(client: Client, task_queue: str, policy: ReturnPolicy, order: Order) -> int:
    """One refund run per entry of the order's refunds list; returns how many were new.

    The merchant's refunds get their credit notes; our own refunds echo back here too and
    their run simply notes that the run which made them books them.
    """
    started = 0
    for refund in order.refunds:
        try:
            await client.start_workflow(
                RefundWorkflow.run,
                RefundRunInput(store_id=order.store_id, order_id=order.order_id, store_refund_id=refund.refund_id,
                               credit_note_retry_every=policy.credit_note_retry_every),
                id=refund_workflow_id(order.store_id, order.order_id, merchant_refund_of(refund.refund_id)),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Refund {refund.refund_id} of order #{_shown(order.number)} ({order.store_id})",
            )
            started += 1
        except WorkflowAlreadyStartedError:
            pass
    return started


def _shown(number: str, most: int = 60) -> str:
    """An order number as a list row shows it: a store may send any text as the number."""
    return number if len(number) <= most else number[: most - 1] + "…"
