"""Authorising a return (RMA) for the CLI and the returns portal: every rule checked before anything exists.

Whole units only; per SKU, the lines together may not exceed what shipped less what the order's RMAs
take back; within the return window. Then one return run starts, with the next RMA number.

Every fact comes from the store order's records (`activities/order_records.py`), never from a closed
run, which Temporal forgets: what shipped, and each RMA's lines (its outcome once its run ended).
The next number is one past the highest recorded, claimed by starting its return run: Temporal starts a
workflow id only once while it runs, so of two authorisations racing for a number exactly one wins.
The winner records its RMA on the store order right after. The loser reads the records again and checks
its own lines against the winner's too, from the record or, not written yet, from the winner's run (it
is running, and Temporal answers a running run's query whatever the retention), then tries the next
number. So an RMA that starts has counted every RMA below its number, and the last unit cannot be
authorised twice. A number below the highest without a record is such a just-started RMA too, asked
the same way. A return run records its outcome before it closes, so no closed run is ever needed.
"""
import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.order_records import OrderRecords, read_order_records, record_return
from adapters.errors import AdapterError
from adapters.woocommerce import WooCommerceClient
from canonical.keys import return_reference, return_workflow_id
from canonical.returns import ReturnLine
from config import Settings
from workflows.returns import ReturnRunInput, ReturnWorkflow

log = logging.getLogger(__name__)

START_ATTEMPTS = 5
RACE_PAUSE_S = 0.05


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
    asked = _asked(lines)
    policy = settings.returns
    async with WooCommerceClient(store) as woo:
        order = await woo.get_order(order_id)
        paid_at = order.payment.paid_at or order.created_at
        if datetime.now(timezone.utc) - paid_at > policy.window:
            raise ReturnRefused(f"order {order.number} is outside the {policy.window.days}-day return window")
        value = sum((_unit_price_with_tax(order, sku) * quantity for sku, quantity in asked.items()), Decimal(0))
        taken: set[int] = set()  # numbers another authorisation started first
        for attempt in range(START_ATTEMPTS):
            records = await read_order_records(woo, order_id)
            returns = records.returns()
            for number in sorted(set(range(1, max({*returns, *taken}, default=0) + 1)) - set(returns)):
                returns[number] = await _running_return(client, store_id, order_id, number)
            _check_returnable(order.number, asked, records, returns)
            number = max(returns, default=0) + 1
            rma = return_reference(store_id, order_id, number)
            center_id, shipment_id = records.shipped_from(lines[0].sku)
            try:
                await client.start_workflow(
                    ReturnWorkflow.run,
                    ReturnRunInput(order=order, rma=rma, lines=lines, center_id=center_id,
                                   original_shipment_id=shipment_id, needs_approval=value > policy.approval_above,
                                   refund_payment=policy.refund_payment, receive_window=policy.receive_window,
                                   poll_interval=policy.poll_interval),
                    id=return_workflow_id(rma),
                    task_queue=settings.temporal.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"Return {rma} of order #{order.number} ({store_id})",
                )  # fmt: skip
            except WorkflowAlreadyStartedError:
                taken.add(number)
                await asyncio.sleep(RACE_PAUSE_S * 2**attempt)  # its record is written right after its start
                continue
            await _record(woo, order_id, number, lines)
            return AuthorisedReturn(rma=rma, workflow_id=return_workflow_id(rma),
                                    needs_approval=value > policy.approval_above)  # fmt: skip
    raise ReturnRefused(f"order {order.number} is getting several returns at once; try again")


def _asked(lines: list[ReturnLine]) -> dict[str, Decimal]:
    """SKU → units asked, all lines of a SKU together; whole units only (a store sells no half mug)."""
    if not lines:
        raise ReturnRefused("name at least one SKU with a quantity above 0")
    asked: dict[str, Decimal] = {}
    for line in lines:
        if line.quantity <= 0 or line.quantity != line.quantity.to_integral_value():
            raise ReturnRefused(f"{line.sku}: {line.quantity:g} is not a whole number of units above 0")
        asked[line.sku] = asked.get(line.sku, Decimal(0)) + line.quantity
    return asked


def _check_returnable(number: str, asked: dict[str, Decimal], records: OrderRecords,
                      returns: dict[int, list[ReturnLine]]) -> None:
    shipped = records.shipped()
    if not shipped:
        raise ReturnRefused(f"order {number} has not shipped yet: cancel it instead")
    returned: dict[str, Decimal] = {}
    for line in (line for lines in returns.values() for line in lines):
        returned[line.sku] = returned.get(line.sku, Decimal(0)) + line.quantity
    for sku, quantity in asked.items():
        left = shipped.get(sku, Decimal(0)) - returned.get(sku, Decimal(0))
        if quantity > left:
            raise ReturnRefused(f"{sku}: {quantity:g} asked, {max(left, Decimal(0)):g} shipped and not yet returned")


async def _running_return(client: Client, store_id: str, order_id: str, number: int) -> list[ReturnLine]:
    """What an RMA whose record is not written yet takes back, from its run, which is still running."""
    rma = return_reference(store_id, order_id, number)
    try:
        return await client.get_workflow_handle_for(ReturnWorkflow.run, return_workflow_id(rma)).query(
            ReturnWorkflow.returned_lines)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    raise ReturnRefused(f"{rma} has no record on the store order and no run: an operator must record what it "
                        "took back before this order takes another return")


async def _record(woo: WooCommerceClient, order_id: str, number: int, lines: list[ReturnLine]) -> None:
    """The RMA exists once its run started; until its record is written, authorisations ask its run."""
    try:
        await record_return(woo, order_id, number, lines)
    except AdapterError as err:
        log.warning("order %s: RMA %s started but not recorded on the store order yet: %s", order_id, number, err)


def _unit_price_with_tax(order, sku: str) -> Decimal:
    line = next((line for line in order.lines if line.sku == sku), None)
    if line is None:
        raise ReturnRefused(f"{sku} is not on order {order.number}")
    tax = sum((t.amount.amount for t in line.taxes), Decimal(0))
    return (line.total.amount + tax) / line.quantity
