"""`retail-sync`: run the services, operate order runs, and start the embedded demo."""
import argparse
import asyncio
import gc
import logging
import sys

from config import load_settings
from starter.cli_returns import add_commands as add_return_commands
from starter.cli_stock import add_commands as add_stock_commands
from starter.cli_stores import add_commands as add_store_commands
from starter.cli_errors import configured_stores, run_reported
from starter.cli_output import add_json_flag, print_json, print_table


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.INFO if getattr(args, "service", False) else logging.WARNING  # a command's output is its lines
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return run_reported(args.handler, args)
    finally:
        gc.collect()  # drop Temporal bridge objects while the interpreter is alive (sdk-python#300)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retail-sync", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    commands.add_parser("worker", help="run the Temporal worker").set_defaults(handler=_worker, service=True)
    commands.add_parser("starter", help="run the webhook starter (HTTP)").set_defaults(handler=_starter, service=True)

    orders = commands.add_parser("orders", help="find and unstick order runs").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = orders.add_parser("list", help="list order runs")
    listing.add_argument("--parked", action="store_true", help="only runs that need an operator")
    listing.add_argument("--store", help="only this store id")
    add_json_flag(listing)
    listing.set_defaults(handler=_orders_list)
    for action, helptext in (
        ("show", "stage, ERP sale, parked reason, shipments with tracking, steps done"),
        ("retry", "re-run the parked step after the data was fixed"),
        ("reroute", "ship a stuck 3PL shipment from another fulfilment centre"),
        ("cancel", "stop the order and undo what was done"),
    ):
        sub = orders.add_parser(action, help=helptext)
        sub.add_argument("store")
        sub.add_argument("order")
        if action == "show":
            add_json_flag(sub)
        if action == "cancel":
            sub.add_argument("--reason", default="", help="recorded on the run and the store order")
        if action == "reroute":
            sub.add_argument("--center", required=True, help="the 3PL fulfilment centre id to ship from")
        sub.set_defaults(handler=_orders_action, action=action)

    add_return_commands(commands)
    add_stock_commands(commands)
    add_store_commands(commands)

    erp = commands.add_parser("erp", help="the local Tryton ERP").add_subparsers(required=True, metavar="ACTION")
    erp.add_parser("bootstrap", help="build (once) the bootstrapped Tryton template").set_defaults(
        handler=_erp_bootstrap, service=True
    )

    sandbox = commands.add_parser("sandbox", help="local imitations of external systems")
    sandbox.add_argument("system", choices=["woocommerce", "shipbob", "real-woocommerce"])
    sandbox.add_argument("options", nargs=argparse.REMAINDER, help="passed to the sandbox")
    sandbox.set_defaults(handler=_sandbox, service=True)

    demo = commands.add_parser("demo", help="the whole embedded stack with sample orders")
    demo.add_argument("--exit-when-done", action="store_true", help="exit 0 once the samples reached their states")
    demo.add_argument("--data-dir", default=".data", help="where the embedded stack keeps its state")
    demo.set_defaults(handler=_demo, service=True)
    return parser


def _worker(_args) -> int:
    from worker import run_worker

    asyncio.run(run_worker(load_settings()))
    return 0


def _starter(_args) -> int:
    import uvicorn

    from starter.webhooks import create_app

    settings = load_settings()
    uvicorn.run(create_app(settings), host=settings.starter.host, port=settings.starter.port, log_level="warning")
    return 0


def _orders_list(args) -> int:
    from starter import operator
    from starter.temporal_client import connect

    settings = load_settings()
    if args.store is not None:
        configured_stores(settings, args.store)

    async def run() -> list[dict[str, str]]:
        client = await connect(settings.temporal, wait_s=5)
        return await operator.list_orders(client, parked=args.parked, store=args.store)

    columns = ["store", "order", "number", "stage", "erp_sale", "parked_reason"]
    print_table(asyncio.run(run()), columns, "order run", args.json)
    return 0


def _orders_action(args) -> int:
    from starter import operator
    from starter.temporal_client import connect

    settings = load_settings()
    configured_stores(settings, args.store)

    async def run():
        client = await connect(settings.temporal, wait_s=5)
        if args.action == "show":
            return await operator.show_order(client, args.store, args.order)
        if args.action == "retry":
            return await operator.retry_order(client, args.store, args.order)
        if args.action == "reroute":
            return await operator.reroute_order(client, args.store, args.order, args.center)
        return await operator.cancel_order(client, args.store, args.order, args.reason)

    result = asyncio.run(run())
    if args.action == "show" and args.json:
        print_json(result)
    elif args.action == "show":
        _print_progress(result)
    else:
        print(result)
    return 0


def _print_progress(progress) -> None:
    print(f"order          {progress.store_id} {progress.order_id} (#{progress.order_number})")
    print(f"store status   {progress.store_status}")
    print(f"stage          {progress.stage.value}")
    print(f"ERP sale       {progress.erp_sale_number or '-'}")
    if progress.parked:
        print(f"parked at      {progress.parked.step}: {progress.parked.reason}")
    if progress.cancel_reason:
        print(f"cancelled      {progress.cancel_reason}")
    if progress.fulfilment_late:
        print("late           not fully shipped within the fulfilment SLA")
    fulfilment = progress.fulfilment
    for shipment in fulfilment.shipments.values() if fulfilment else ():
        items = ", ".join(f"{line.quantity:g} × {line.sku}" for line in shipment.lines)
        tracking = shipment.tracking
        where = f"{tracking.carrier} {tracking.number} {tracking.url}".strip() if tracking else "no tracking yet"
        detail = f" ({shipment.status_detail})" if shipment.status_detail else ""
        print(f"shipment       {shipment.shipment_id} from {shipment.center_name or shipment.center_id}: "
              f"{shipment.status.value}{detail}; {items}; {where}")  # fmt: skip
    print(f"steps done     {', '.join(progress.steps_done) or '-'}")


def _erp_bootstrap(_args) -> int:
    from embedded.tryton import ensure_template

    print(ensure_template())
    return 0


def _sandbox(args) -> int:
    if args.system == "shipbob":
        from sandbox.shipbob.server import main as shipbob_sandbox

        return shipbob_sandbox(args.options) or 0
    if args.system == "real-woocommerce":
        from sandbox.real_woocommerce import main as real_woocommerce

        return real_woocommerce(args.options)
    from sandbox.woocommerce.server import main as woocommerce_sandbox

    return woocommerce_sandbox(args.options) or 0


def _demo(args) -> int:
    from embedded.demo import run_demo

    return run_demo(data_dir=args.data_dir, exit_when_done=args.exit_when_done)


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
