"""`retail-sync returns ...` and `retail-sync refunds ...`: create RMAs, follow returns and refunds."""
import argparse
import asyncio
from decimal import Decimal, InvalidOperation

from canonical.keys import return_workflow_id
from canonical.returns import ReturnLine
from config import load_settings
from starter.cli_errors import configured_stores
from starter.temporal_client import connect
from workflows import search_attributes as sa
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnWorkflow


def add_commands(commands) -> None:
    returns = commands.add_parser("returns", help="return authorisations (RMA)").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = returns.add_parser("create", help="authorise a return of shipped lines")
    create.add_argument("store")
    create.add_argument("order")
    create.add_argument("--line", action="append", required=True, type=_line, metavar="SKU:QTY[:reason]")
    create.set_defaults(handler=_create)
    returns.add_parser("list", help="return runs, newest first").set_defaults(handler=_list, kind="return")
    show = returns.add_parser("show", help="stage and parked reason of one RMA")
    show.add_argument("rma")
    show.set_defaults(handler=_show, kind="return")
    for action in ("approve", "reject", "retry", "cancel"):
        sub = returns.add_parser(action, help=f"{action} an RMA waiting for an operator")
        sub.add_argument("rma")
        if action in ("reject", "cancel"):
            sub.add_argument("--reason", default="", help="recorded on the run")
        sub.set_defaults(handler=_decide, action=action)

    refunds = commands.add_parser("refunds", help="refund runs").add_subparsers(required=True, metavar="ACTION")
    refunds.add_parser("list", help="refund runs, newest first").set_defaults(handler=_list, kind="refund")
    show = refunds.add_parser("show", help="stage and parked reason of one refund run")
    show.add_argument("workflow_id")
    show.set_defaults(handler=_show, kind="refund")


def _line(text: str) -> ReturnLine:
    sku, _, rest = text.partition(":")
    quantity, _, reason = rest.partition(":")
    try:
        return ReturnLine(sku=sku, quantity=Decimal(quantity), reason=reason)
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(f"expected SKU:QTY[:reason], got {text!r}") from None


def _create(args) -> int:
    from starter.returns import authorise_return

    settings = load_settings()
    configured_stores(settings, args.store)

    async def run():
        return await authorise_return(await connect(settings.temporal, wait_s=5), settings, args.store, args.order,
                                      args.line)  # fmt: skip

    authorised = asyncio.run(run())
    waiting = " (waits for approval: retail-sync returns approve " + authorised.rma + ")" if authorised.needs_approval else ""
    print(f"{authorised.rma} authorised{waiting}")
    return 0


def _list(args) -> int:
    workflow = ReturnWorkflow if args.kind == "return" else RefundWorkflow

    async def run() -> list[tuple[str, ...]]:
        client = await connect(load_settings().temporal, wait_s=5)
        rows = []
        async for execution in client.list_workflows(f"WorkflowType = '{workflow.__name__}'"):
            attrs = execution.typed_search_attributes
            rows.append((execution.id, attrs.get(sa.STORE_ID) or "", attrs.get(sa.ORDER_ID) or "",
                         attrs.get(sa.ORDER_STAGE) or "", str(attrs.get(sa.REFUND_AMOUNT) or ""),
                         attrs.get(sa.PARKED_REASON) or ""))  # fmt: skip
        return rows

    for row in asyncio.run(run()):
        print("  ".join(row).rstrip())
    return 0


def _show(args) -> int:
    workflow_id = return_workflow_id(args.rma) if args.kind == "return" else args.workflow_id
    workflow = ReturnWorkflow if args.kind == "return" else RefundWorkflow

    async def run() -> tuple[str, str]:
        client = await connect(load_settings().temporal, wait_s=5)
        handle = client.get_workflow_handle_for(workflow.run, workflow_id)
        return await handle.query(workflow.stage), await handle.query(workflow.parked_reason)

    stage, reason = asyncio.run(run())
    print(f"{workflow_id}  stage {stage}" + (f"  parked: {reason}" if reason else ""))
    return 0


def _decide(args) -> int:
    async def run() -> str:
        client = await connect(load_settings().temporal, wait_s=5)
        handle = client.get_workflow_handle_for(ReturnWorkflow.run, return_workflow_id(args.rma))
        update = getattr(ReturnWorkflow, args.action)
        if args.action in ("reject", "cancel"):
            return await handle.execute_update(update, args.reason)
        return await handle.execute_update(update)

    print(asyncio.run(run()))
    return 0
