"""Authorising a return (RMA) for the CLI and the returns portal: every rule checked before anything exists.

The order must have shipped what is returned, not already be returned (across all its RMAs),
and be within the return window. Then one return run starts, with the next RMA number.

The order's RMAs are numbered 1, 2, 3… and each is a return run whose workflow id carries the number.
Workflow ids are the durable per-order counter: reading them one by one is strongly consistent (unlike
a visibility search), and two authorisations racing for the same number cannot both start it, so the
loser re-reads what is already returned and checks its lines again.
"""
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.woocommerce import WooCommerceClient
from canonical.keys import order_workflow_id, return_reference, return_workflow_id
from canonical.returns import ReturnLine
from config import Settings
from workflows.fulfilment_progress import LEFT_WAREHOUSE
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.returns import ReturnRunInput, ReturnWorkflow


START_ATTEMPTS = 5


class ReturnRefused(Exception):
    """The return breaks a rule; the message says which, for the customer or the operator."""


@dataclass
class AuthorisedReturn:
    rma: str
    workflow_id: str
    needs_approval: bool


async def authorise_return(
    client: Client, settings: Settings, store_id: str, order_id: str, lines: list[ReturnLine]
) -> AuthorisedReturn:
    store = settings.store(store_id)
    if store is None:
        raise ReturnRefused(f"unknown store {store_id!r}")
    if not lines or any(line.quantity <= 0 for line in lines):
        raise ReturnRefused("name at least one SKU with a quantity above 0")
    async with WooCommerceClient(store) as woo:
        order = await woo.get_order(order_id)
    shipped = await _shipped(client, store_id, order_id)
    paid_at = order.payment.paid_at or order.created_at
    if datetime.now(timezone.utc) - paid_at > settings.returns.window:
        raise ReturnRefused(f"order {order.number} is outside the {settings.returns.window.days}-day return window")
    value = sum((_unit_price_with_tax(order, line.sku) * line.quantity for line in lines), Decimal(0))
    policy = settings.returns
    for _ in range(START_ATTEMPTS):
        previous, returned = await _existing_returns(client, store_id, order_id)
        _check_returnable(lines, shipped, returned)
        rma = return_reference(store_id, order_id, previous + 1)
        first = shipped[lines[0].sku]
        try:
            await client.start_workflow(
                ReturnWorkflow.run,
                ReturnRunInput(order=order, rma=rma, lines=lines, center_id=first["center_id"],
                               original_shipment_id=first["shipment_id"],
                               needs_approval=value > policy.approval_above, refund_payment=policy.refund_payment,
                               receive_window=policy.receive_window, poll_interval=policy.poll_interval),
                id=return_workflow_id(rma),
                task_queue=settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Return {rma} of order #{order.number} ({store_id})",
            )  # fmt: skip
        except WorkflowAlreadyStartedError:
            continue
        return AuthorisedReturn(rma=rma, workflow_id=return_workflow_id(rma),
                                needs_approval=value > policy.approval_above)  # fmt: skip
    raise ReturnRefused(f"order {order.number} is getting several returns at once; try again")


def _check_returnable(lines: list[ReturnLine], shipped: dict[str, dict], returned: dict[str, Decimal]) -> None:
    for line in lines:
        left = shipped.get(line.sku, {}).get("quantity", Decimal(0)) - returned.get(line.sku, Decimal(0))
        if line.quantity > left:
            raise ReturnRefused(f"{line.sku}: {line.quantity:g} asked, {max(left, Decimal(0)):g} shipped and not "
                                "yet returned")  # fmt: skip


async def _shipped(client: Client, store_id: str, order_id: str) -> dict[str, dict]:
    """SKU → shipped quantity, and the centre and shipment it left from (the parcel goes back there)."""
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store_id, order_id))
    try:
        progress = await handle.query(OrderToCashWorkflow.progress)
    except RPCError:
        raise ReturnRefused(f"order {order_id} of store {store_id} has no order run") from None
    shipped: dict[str, dict] = {}
    for shipment in (progress.fulfilment.shipments.values() if progress.fulfilment else ()):
        if shipment.status in LEFT_WAREHOUSE:
            for line in shipment.lines:
                entry = shipped.setdefault(line.sku, {"quantity": Decimal(0), "center_id": shipment.center_id,
                                                      "shipment_id": shipment.shipment_id})  # fmt: skip
                entry["quantity"] += line.quantity
    if not shipped:
        raise ReturnRefused(f"order {order_id} has not shipped yet: cancel it instead")
    return shipped


async def _existing_returns(client: Client, store_id: str, order_id: str) -> tuple[int, dict[str, Decimal]]:
    """How many RMAs the order has, and SKU → units they take back (rejected, cancelled, expired: none)."""
    count, returned = 0, {}
    while True:
        rma = return_reference(store_id, order_id, count + 1)
        handle = client.get_workflow_handle_for(ReturnWorkflow.run, return_workflow_id(rma))
        try:
            lines = await handle.query(ReturnWorkflow.returned_lines)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return count, returned
            raise
        count += 1
        for line in lines:
            returned[line.sku] = returned.get(line.sku, Decimal(0)) + line.quantity


def _unit_price_with_tax(order, sku: str) -> Decimal:
    line = next((line for line in order.lines if line.sku == sku), None)
    if line is None:
        raise ReturnRefused(f"{sku} is not on order {order.number}")
    tax = sum((t.amount.amount for t in line.taxes), Decimal(0))
    return (line.total.amount + tax) / line.quantity
