"""Available-to-sell: how many units of a SKU one store may offer, and what to push to make it so.

Per SKU and store: source quantity − units stores have already sold that the ERP has not
acknowledged yet − safety stock, times the store's allocation share, rounded down, never below 0.
The in-flight subtraction is what stops the oversell race: a store takes units off its own stock
the moment an order is paid, so an absolute push computed before the ERP saw that order would put
them back.

Pure functions: no I/O, so workflows, activities, the CLI and tests all agree on the number.
"""
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from canonical.fulfilment import CenterStock
from canonical.inventory import Listing, StockPush
from canonical.order import Order


@dataclass(frozen=True)
class Allocation:
    safety_stock: Decimal = Decimal(0)
    share: Decimal = Decimal(1)


def available_to_sell(source: Decimal, in_flight: Decimal, allocation: Allocation) -> int:
    sellable = (source - in_flight - allocation.safety_stock) * allocation.share
    return max(0, math.floor(sellable))


def fulfillable_at(stock: Iterable[CenterStock], centre_ids: Iterable[str]) -> dict[str, Decimal]:
    """SKU → units the 3PL can ship from these centres (none named: every centre). A SKU held only at
    other centres counts 0, so a store selling it is told so."""
    centres, units = set(centre_ids), {}
    for held in stock:
        units.setdefault(held.sku, Decimal(0))
        if not centres or held.center_id in centres:
            units[held.sku] += held.fulfillable
    return units


def units_taken_from_store(order: Order) -> dict[str, Decimal]:
    """SKU → units the store took off its stock for this order (none until it holds stock, e.g. while unpaid)."""
    units: dict[str, Decimal] = {}
    if order.holds_stock:
        for line in order.lines:
            if line.sku:
                units[line.sku] = units.get(line.sku, Decimal(0)) + line.quantity
    return units


def in_flight_units(orders: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """SKU → units summed over every store order the ERP has not acknowledged yet."""
    units: dict[str, Decimal] = {}
    for order in orders:
        for sku, quantity in order.items():
            units[sku] = units.get(sku, Decimal(0)) + quantity
    return units


LEFT_ALONE_BACKORDERS = "back-orderable in the store"
LEFT_ALONE_UNMANAGED = "the store does not manage its stock"


@dataclass
class StockPlan:
    """What one store needs so it shows available-to-sell, and what is reported instead of pushed."""

    pushes: list[StockPush] = field(default_factory=list)
    drift: dict[str, tuple[int | None, int]] = field(default_factory=dict)
    """SKU → (what the store shows, available-to-sell), for every SKU pushed."""
    unchanged: int = 0
    left_alone: dict[str, str] = field(default_factory=dict)
    """SKU → why we do not touch its stock."""
    missing_in_store: list[str] = field(default_factory=list)


def plan_stock(listings: Mapping[str, Listing], available: Mapping[str, int]) -> StockPlan:
    """Compare each SKU's available-to-sell with its listing; a variable product's parent holds no stock."""
    plan = StockPlan()
    for sku in sorted(available):
        listing = listings.get(sku)
        if listing is None:
            plan.missing_in_store.append(sku)
        elif listing.variable:
            continue
        elif not listing.manages_stock:
            plan.left_alone[sku] = LEFT_ALONE_UNMANAGED
        elif listing.backorders_allowed:
            plan.left_alone[sku] = LEFT_ALONE_BACKORDERS
        elif listing.quantity == available[sku]:
            plan.unchanged += 1
        else:
            plan.drift[sku] = (listing.quantity, available[sku])
            plan.pushes.append(StockPush(sku=sku, listing_id=listing.listing_id, parent_id=listing.parent_id,
                                         quantity=available[sku]))  # fmt: skip
    return plan


def batches(pushes: list[StockPush], limit: int) -> list[list[StockPush]]:
    """The fewest calls a store allows: one endpoint per parent (simple products share one), ≤ `limit` each."""
    by_parent: dict[str | None, list[StockPush]] = {}
    for push in pushes:
        by_parent.setdefault(push.parent_id, []).append(push)
    return [group[i : i + limit] for group in by_parent.values() for i in range(0, len(group), limit)]
