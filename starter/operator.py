"""What engineers do to order runs from the CLI: list, show, retry, cancel."""
from temporalio.client import Client, WorkflowUpdateFailedError

from canonical.keys import order_workflow_id
from workflows import search_attributes as sa
from workflows.order_messages import OrderProgress
from workflows.order_to_cash import OrderToCashWorkflow


def list_query(*, parked: bool, store: str | None) -> str:
    clauses = [f"WorkflowType = '{OrderToCashWorkflow.__name__}'"]
    if parked:
        clauses.append(f"{sa.NEEDS_ATTENTION.name} = true")
    if store:
        clauses.append(f"{sa.STORE_ID.name} = '{store}'")
    return " AND ".join(clauses)


def order_query(store: str, order: str, *, everything: bool = False) -> str:
    """Support's two queries for one order (README): its own run, or every run about it, its returns and
    refunds too (newest first, so a return comes before the order run)."""
    about = f'{sa.STORE_ID.name} = "{store}" AND {sa.ORDER_ID.name} = "{order}"'
    return about if everything else f'WorkflowType = "{OrderToCashWorkflow.__name__}" AND {about}'


async def list_orders(client: Client, *, parked: bool, store: str | None) -> list[dict[str, str]]:
    rows = []
    async for execution in client.list_workflows(list_query(parked=parked, store=store)):
        attrs = execution.typed_search_attributes
        rows.append(
            {
                "store": attrs.get(sa.STORE_ID) or "",
                "order": attrs.get(sa.ORDER_ID) or "",
                "number": attrs.get(sa.ORDER_NUMBER) or "",
                "stage": attrs.get(sa.ORDER_STAGE) or "",
                "erp_sale": attrs.get(sa.ERP_SALE_NUMBER) or "",
                "parked_reason": attrs.get(sa.PARKED_REASON) or "",
                "status": execution.status.name if execution.status else "",
            }
        )
    return rows


async def show_order(client: Client, store: str, order: str) -> OrderProgress:
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store, order))
    return await handle.query(OrderToCashWorkflow.progress)


async def retry_order(client: Client, store: str, order: str) -> str:
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store, order))
    return await _explain_refusal(handle.execute_update(OrderToCashWorkflow.retry))


async def reroute_order(client: Client, store: str, order: str, centre: str) -> str:
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store, order))
    return await _explain_refusal(handle.execute_update(OrderToCashWorkflow.reroute, centre))


async def cancel_order(client: Client, store: str, order: str, reason: str) -> str:
    handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(store, order))
    return await _explain_refusal(handle.execute_update(OrderToCashWorkflow.cancel, reason))


class OperatorRefused(Exception):
    """The run refused the action, with its reason (e.g. "order is not parked")."""


async def _explain_refusal(update) -> str:
    try:
        return await update
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise OperatorRefused(getattr(cause, "message", None) or str(cause or err)) from None
