"""`retail-sync stock ...` and `retail-sync catalog ...`: what each store may sell, drift, and catalogue syncs."""
import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from activities.stock import StockReport, units_in_flight
from canonical.available_to_sell import Allocation, available_to_sell, fulfillable_at
from canonical.keys import catalog_schedule_id, reconcile_schedule_id
from config import StockSource, load_settings
from starter.cli_errors import configured_stores
from starter.temporal_client import connect
from workflows.catalog_sync import CatalogSyncWorkflow
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow


def add_commands(commands) -> None:
    stock = commands.add_parser("stock", help="available-to-sell and drift").add_subparsers(
        required=True, metavar="ACTION"
    )
    show = stock.add_parser("show", help="ERP, 3PL, in-flight, available-to-sell and what each store shows")
    show.add_argument("sku")
    show.set_defaults(handler=_show)
    reconcile = stock.add_parser("reconcile", help="compare every listing with available-to-sell and fix drift")
    reconcile.add_argument("--store", help="one store (default: every store)")
    reconcile.add_argument("--dry-run", action="store_true", help="report the drift, change nothing")
    reconcile.set_defaults(handler=_reconcile)

    catalog = commands.add_parser("catalog", help="products and prices ERP → store").add_subparsers(
        required=True, metavar="ACTION"
    )
    sync = catalog.add_parser("sync", help="run the catalogue sync now (what its schedule does)")
    sync.add_argument("--store", help="one store (default: every store)")
    sync.set_defaults(handler=_catalog_sync)


def _show(args) -> int:
    from adapters.errors import AdapterError
    from adapters.shipbob import ShipBobClient
    from adapters.tryton import TrytonErp
    from adapters.woocommerce import WooCommerceClient

    async def run() -> list[str]:
        settings = load_settings()
        client = await connect(settings.temporal, wait_s=5)
        in_flight = (await units_in_flight(client))[0].get(args.sku, Decimal(0))
        lines = [f"{args.sku}: in flight (sold, not yet in the ERP) {_units(in_flight)}"]
        erp, threepl = TrytonErp(settings.erp), ShipBobClient(settings.threepl)
        try:
            try:
                centres = await threepl.stock_by_center([args.sku])
            except AdapterError as err:
                centres = []
                lines.append(f"  3PL: could not read its stock ({err})")
            lines += [f"  3PL {c.center_name or c.center_id}: fulfillable {_units(c.fulfillable)}" for c in centres]
            for store in settings.stores:
                policy = store.stock
                if policy.source == StockSource.ERP:
                    found = await erp.available_stock([args.sku], policy.warehouses)
                    source = found[0].quantity if found else None
                    label = f"ERP {'+'.join(policy.warehouses)} forecast"
                else:
                    source = fulfillable_at(centres, policy.fulfilment_centers).get(args.sku, Decimal(0))
                    label = "3PL fulfillable"
                allocation = Allocation(Decimal(policy.safety_stock), policy.allocation_share)
                available = "?" if source is None else available_to_sell(source, in_flight, allocation)
                async with WooCommerceClient(store) as woo:
                    listing = await woo.find_listing(args.sku)
                shows = "not listed" if listing is None else (
                    f"{listing.quantity}" if listing.manages_stock else "stock not managed")  # fmt: skip
                lines.append(f"  store {store.id}: {label} {'unknown SKU' if source is None else _units(source)}, "
                             f"available-to-sell {available}, store shows {shows}")  # fmt: skip
        finally:
            await erp.aclose()
            await threepl.aclose()
        return lines

    print("\n".join(asyncio.run(run())))
    return 0


def _units(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f") if quantity else "0"


def _reconcile(args) -> int:
    async def run() -> list[StockReport]:
        settings = load_settings()
        client = await connect(settings.temporal, wait_s=5)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        handles = [
            await client.start_workflow(
                StockReconciliationWorkflow.run,
                ReconcileInput(store_id=store_id, dry_run=args.dry_run),
                id=f"{reconcile_schedule_id(store_id)}-by-operator-{stamp}",
                task_queue=settings.temporal.task_queue,
                static_summary=f"Stock reconciliation of store {store_id} by an operator"
                + (" (dry run)" if args.dry_run else ""),
            )
            for store_id in configured_stores(settings, args.store)
        ]
        return [await handle.result() for handle in handles]

    for report in asyncio.run(run()):
        print(format_drift_report(report))
    return 0


def format_drift_report(report: StockReport) -> str:
    verb = "would fix" if report.dry_run else "fixed"
    lines = [f"store {report.store_id}: {report.compared} SKUs compared, {report.unchanged} match, "
             f"{report.drifted} drifted, {verb} {report.drifted if report.dry_run else report.fixed}"]  # fmt: skip
    lines += [f"  {d.sku}: store shows {d.store}, available-to-sell {d.available}" for d in report.largest]
    if report.missing_in_store:
        lines.append(f"  not in the store: {', '.join(report.missing_in_store[:20])}")
    if report.missing_in_source:
        lines.append(f"  not in the ERP/3PL: {', '.join(report.missing_in_source[:20])}")
    lines += [f"  left alone {sku}: {why}" for sku, why in list(report.left_alone.items())[:20]]
    lines += [f"  refused {f.sku}: {f.code} {f.message}" for f in report.failed]
    lines.append(f"  store calls: {report.listing_calls} listing pages, {report.batch_calls} batches")
    return "\n".join(lines)


def _catalog_sync(args) -> int:
    async def run() -> list[str]:
        settings = load_settings()
        client = await connect(settings.temporal, wait_s=5)
        lines = []
        for store_id in configured_stores(settings, args.store):
            schedule = client.get_schedule_handle(catalog_schedule_id(store_id))
            before = len((await schedule.describe()).info.recent_actions)
            await schedule.trigger()
            while len((description := await schedule.describe()).info.recent_actions) <= before:
                await asyncio.sleep(0.5)
            started = description.info.recent_actions[-1].action
            handle = client.get_workflow_handle_for(CatalogSyncWorkflow.run, started.workflow_id,
                                                    run_id=started.first_execution_run_id)  # fmt: skip
            report = await handle.result()
            lines.append(f"store {store_id}: {report.products_changed} ERP product(s) changed, "
                         f"created {len(report.created)}, updated {len(report.updated)}, "
                         f"unchanged {report.unchanged}, refused {len(report.failed)}")  # fmt: skip
            lines += [f"  refused {f.sku}: {f.code} {f.message}" for f in report.failed]
        return lines

    print("\n".join(asyncio.run(run())))
    return 0
