"""`retail-sync stores connect`: where a store's intake starts, so a store with history keeps its past out of the ERP.

The operator sees what the intake would hand to runs (orders changed after the watermark) before it starts.
"""
import argparse
import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timezone

from canonical.intake import is_handed_to_a_run
from config import load_settings
from starter.cli_errors import configured_stores
from starter.schedules import connect_intake, connect_moment
from starter.temporal_client import connect


def add_commands(commands) -> None:
    stores = commands.add_parser("stores", help="connect stores").add_subparsers(required=True, metavar="ACTION")
    sub = stores.add_parser(
        "connect",
        help="start the store's intake from a watermark (or move it): orders changed before it are left alone",
    )
    sub.add_argument("store")
    sub.add_argument("--since", type=watermark, default="now", metavar="now|DATE",
                     help="now (default), or YYYY-MM-DD (midnight UTC) or an ISO date and time (UTC unless it "
                          "has an offset): orders changed after it are sold, those before are left alone")  # fmt: skip
    sub.add_argument("--dry-run", action="store_true", help="report what the intake would hand to runs, change nothing")
    sub.set_defaults(handler=_connect)


def watermark(text: str) -> datetime:
    """`now`, a date or an ISO date and time, never in the future: a watermark ahead of now would leave alone
    orders paid before it arrives."""
    if text == "now":
        return connect_moment()
    try:
        moment = (
            datetime.combine(date.fromisoformat(text), datetime.min.time())
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not now, YYYY-MM-DD or an ISO date and time") from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if moment > connect_moment():
        raise argparse.ArgumentTypeError(f"{text} is in the future: orders paid until then would be left alone")
    return moment.replace(microsecond=0)


@dataclass
class SinceWatermark:
    changed: int
    handed: int
    unreadable: int


async def orders_since(store_settings, since: datetime) -> SinceWatermark:
    """What the intake's first run would meet: orders changed after `since`, and those it hands to runs."""
    from adapters.woocommerce import WooCommerceClient

    found, page = SinceWatermark(0, 0, 0), 1
    async with WooCommerceClient(store_settings) as store:
        while True:
            orders = await store.list_orders(since, page=page)
            found.changed += len(orders.items) + len(orders.unreadable)
            found.handed += sum(is_handed_to_a_run(order) for order in orders.items)
            found.unreadable += len(orders.unreadable)
            if not orders.has_next:
                return found
            page += 1


def _connect(args) -> int:
    settings = load_settings()
    (store_id,) = configured_stores(settings, args.store)
    store = settings.store(store_id)

    async def run() -> bool | None:
        found = await orders_since(store, args.since)
        print(f"store {store_id}: intake from {args.since.isoformat()}; {found.changed} order(s) changed since, "
              f"{found.handed} paid to hand to runs (each once: an order that has a run keeps it)"
              + (f", {found.unreadable} unreadable (reported by the intake)" if found.unreadable else ""))  # fmt: skip
        if args.dry_run:
            return None
        return await connect_intake(await connect(settings.temporal, wait_s=5), settings, store, args.since)

    created = asyncio.run(run())
    if created is not None:
        print(f"store {store_id}: connected" if created else
              f"store {store_id}: watermark moved; the intake's next run starts from it")  # fmt: skip
    return 0
