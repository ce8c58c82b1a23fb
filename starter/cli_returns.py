"""`retail-sync returns ...` and `retail-sync refunds ...`: create RMAs, follow returns and refunds."""
import argparse
import asyncio
from decimal import Decimal, InvalidOperation

from canonical.keys import return_workflow_id
from canonical.returns import ReturnLine
from config import load_settings
from starter.cli_errors import configured_stores
from starter.cli_output import add_json_flag, print_json, print_table
from starter.temporal_client import connect
from workflows import search_attributes as sa
from workflows.records import MEMO_KEY, RefundRecord, ReturnRecord, money, units
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
    listing = returns.add_parser("list", help="return runs, newest first")
    add_json_flag(listing)
    listing.set_defaults(handler=_list, kind="return")
    show = returns.add_parser("show", help="lines, state, refund and parked reason of one RMA")
    show.add_argument("rma")
    add_json_flag(show)
    show.set_defaults(handler=_show, kind="return")
    for action in ("approve", "reject", "retry", "cancel"):
        sub = returns.add_parser(action, help=f"{action} an RMA waiting for an operator")
        sub.add_argument("rma")
        if action in ("reject", "cancel"):
            sub.add_argument("--reason", default="", help="recorded on the run")
        sub.set_defaults(handler=_decide, action=action)

    refunds = commands.add_parser("refunds", help="refund runs").add_subparsers(required=True, metavar="ACTION")
    listing = refunds.add_parser("list", help="refunds with their amount, newest first")
    add_json_flag(listing)
    listing.set_defaults(handler=_list, kind="refund")
    show = refunds.add_parser("show", help="amount, lines, credit note, state and parked reason of one refund run")
    show.add_argument("workflow_id")
    add_json_flag(show)
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
    async def run() -> list[dict[str, str]]:
        client = await connect(load_settings().temporal, wait_s=5)
        workflow = ReturnWorkflow if args.kind == "return" else RefundWorkflow
        return [(await _read(args.kind, execution))[0]
                async for execution in client.list_workflows(f"WorkflowType = '{workflow.__name__}'")]  # fmt: skip

    rows = asyncio.run(run())
    if args.kind == "return":
        print_table(rows, ["rma", "store", "order", "lines", "state", "refund", "parked_reason"], "return", args.json)
    else:
        print_table(one_row_per_refund(rows), ["refund", "store", "order", "amount", "credit_note", "state",
                                               "parked_reason"], "refund", args.json)  # fmt: skip
    return 0


async def _read(kind: str, execution) -> tuple[dict[str, str], ReturnRecord | RefundRecord | None]:
    """The run's row and record, from its memo and search attributes (no worker needed); runs from before
    the memo held a record show what their search attributes do."""
    attrs = execution.typed_search_attributes
    row = {"workflow_id": execution.id, "store": attrs.get(sa.STORE_ID) or "", "order": attrs.get(sa.ORDER_ID) or "",
           "state": (attrs.get(sa.ORDER_STAGE) or "").removeprefix(f"{kind}_").replace("_", " "),
           "parked_reason": attrs.get(sa.PARKED_REASON) or "",
           "status": execution.status.name.lower() if execution.status else ""}  # fmt: skip
    if kind == "return":
        record = await execution.memo_value(MEMO_KEY, None, type_hint=ReturnRecord)
        refund = record.refund if record else None
        return row | {"rma": attrs.get(sa.RMA_ID) or "", "lines": units(record.lines) if record else "",
                      "refund": f"{refund.refund_id} {money(refund.amount)}".strip() if refund else ""}, record
    record = await execution.memo_value(MEMO_KEY, None, type_hint=RefundRecord)
    amount = money(record.amount) if record else f"{attrs.get(sa.REFUND_AMOUNT) or ''}"
    return row | {"refund": record.refund_id if record else "", "amount": amount,
                  "credit_note": record.credit_note if record else ""}, record


def one_row_per_refund(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A refund retail-sync made is read back from the store by a run of its own, which only notes that the
    run that made it books it: the row of the run that booked (or is booking) it stands for the refund."""
    kept: dict[tuple[str, ...], dict[str, str]] = {}
    for row in rows:
        key = (row["store"], row["order"], row["refund"] or row["workflow_id"])
        if key not in kept or (row["credit_note"] and not kept[key]["credit_note"]):
            kept[key] = row
    return list(kept.values())


def _show(args) -> int:
    workflow_id = return_workflow_id(args.rma) if args.kind == "return" else args.workflow_id

    async def run():
        client = await connect(load_settings().temporal, wait_s=5)
        return await _read(args.kind, await client.get_workflow_handle(workflow_id).describe())

    row, record = asyncio.run(run())
    if args.json:
        print_json({**row, "record": record.model_dump(mode="json") if record else None})
        return 0
    print(record.markdown() if record else f"{workflow_id}: {row['state'] or row['status']}")
    print(f"run            {workflow_id} ({row['status']})")
    if row["parked_reason"]:
        print(f"parked         {row['parked_reason']}")
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
