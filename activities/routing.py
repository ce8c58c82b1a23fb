"""Which fulfilment centre ships which line: a fixed SKU map, or the 3PL's stock per centre.

Pure, so the rule is tested on its own; the activity brings the stock.
"""
from collections import defaultdict
from decimal import Decimal

from canonical.fulfilment import CenterStock, FulfilmentLine

ANY_CENTER = None  # let the 3PL choose


def route_by_sku(lines: list[FulfilmentLine], center_by_sku: dict[str, str]) -> dict[str | None, list[FulfilmentLine]]:
    """SKUs in the map go to their centre; the rest are left to the 3PL's own choice."""
    routed: dict[str | None, list[FulfilmentLine]] = defaultdict(list)
    for line in lines:
        routed[center_by_sku.get(line.sku, ANY_CENTER)].append(line)
    return dict(routed)


def route_by_stock(lines: list[FulfilmentLine], stock: list[CenterStock]) -> dict[str | None, list[FulfilmentLine]]:
    """One centre if one can ship everything (fewest parcels); else each line from the centre with most stock.

    A line no centre can ship whole goes to the 3PL's choice, where it surfaces as an exception.
    """
    available: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for level in stock:
        available[level.center_id][level.sku] = level.fulfillable
    needed: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        needed[line.sku] += line.quantity
    whole = [c for c in sorted(available) if all(available[c].get(sku, 0) >= qty for sku, qty in needed.items())]
    if whole:
        return {whole[0]: list(lines)}
    routed: dict[str | None, list[FulfilmentLine]] = defaultdict(list)
    for line in lines:
        best = max(sorted(available), key=lambda c: available[c].get(line.sku, Decimal(0)), default=None)
        if best is None or available[best].get(line.sku, Decimal(0)) < line.quantity:
            routed[ANY_CENTER].append(line)
        else:
            available[best][line.sku] -= line.quantity
            routed[best].append(line)
    return dict(routed)
