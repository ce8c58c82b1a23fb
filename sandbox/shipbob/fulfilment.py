"""What the warehouses do with an order: allocate stock, split, pick, ship, deliver, cancel, receive stock.

Allocation copies what ShipBob documents and infers the rest (contract §2.9 item 4; the exact split policy
is ShipBob-internal): one centre if one can ship every line, else one shipment per centre holding stock for
its lines, and whatever no centre holds waits in an `Exception` shipment — `OutOfStock (303)` for a line
with no stock at all, `InventoryPartiallyCommitted (308)` for the unallocated rest of a partly stocked line.
Committed stock moves on allocation, on-hand stock drops when a shipment leaves.
"""
import zlib
from collections import defaultdict

from sandbox.shipbob.state import STATUS_DETAILS, Order, Product, Shipment, StatusDetail, Store, Tracking
from sandbox.shipbob.views import shipment_view
from sandbox.shipbob.wire import now

CARRIER, CARRIER_SERVICE = "USPS", "Ground Advantage"


def allocate(store: Store, order: Order, location_id: int | None) -> None:
    """Create the order's shipments; `location_id` forces every unit to that centre."""
    centers = [location_id] if location_id is not None else list(store.centers)
    wanted: dict[int, int] = defaultdict(int)
    for line in order.lines:
        wanted[line.product_id] += line.quantity
    products = {pid: store.products[pid] for pid in wanted}
    for center_id in centers:
        if all(store.fulfillable(center_id, products[pid]) >= qty for pid, qty in wanted.items()):
            _add_shipment(store, order, center_id, dict(wanted))
            return
    planned: dict[int, dict[int, int]] = defaultdict(dict)
    held: dict[int, int] = {}
    partly_allocated: set[int] = set()
    for pid, quantity in wanted.items():
        available = {c: store.fulfillable(c, products[pid]) for c in centers}  # nothing committed while planning
        whole = [c for c in centers if available[c] >= quantity]
        if whole:
            center_id = min(whole, key=lambda c: (c not in planned, centers.index(c)))
            planned[center_id][pid] = quantity
            continue
        remaining = quantity
        for center_id in sorted(centers, key=available.get, reverse=True):
            take = min(available[center_id], remaining)
            if take > 0:
                planned[center_id][pid] = take
                remaining -= take
        held[pid] = remaining
        if remaining < quantity:
            partly_allocated.add(pid)
    for center_id, lines in planned.items():
        _add_shipment(store, order, center_id, lines)
    if held:
        center_id = centers[0]
        details = [StatusDetail("InventoryPartiallyCommitted" if pid in partly_allocated else "OutOfStock",
                                products[pid].inventory_id, center_id) for pid in held]
        _add_shipment(store, order, center_id, held, details)


def _add_shipment(store: Store, order: Order, center_id: int, lines: dict[int, int],
                  exception: list[StatusDetail] | None = None) -> Shipment:
    moment = now()
    shipment = Shipment(store.next_shipment_id(), order.id, center_id, lines, moment, moment)
    if exception:
        shipment.status, shipment.details, shipment.committed = "Exception", exception, False
    else:
        _commit(store, shipment, +1)
    store.shipments[shipment.id] = shipment
    order.shipment_ids.append(shipment.id)
    return shipment


def _commit(store: Store, shipment: Shipment, sign: int) -> None:
    for pid, quantity in shipment.lines.items():
        store.stock_at(shipment.center_id, store.products[pid]).committed += sign * quantity
    shipment.committed = sign > 0


def _touch(shipment: Shipment) -> None:
    shipment.updated = now()


def pick(shipment: Shipment) -> None:
    """The warehouse has picked it: from here on it can no longer be cancelled."""
    shipment.details = [StatusDetail("Picked")]
    _touch(shipment)


def ship(store: Store, shipment: Shipment) -> None:
    """Label printed and scanned: `Completed/InTransit`, tracking set, units leave on-hand stock."""
    moment = now()
    for pid, quantity in shipment.lines.items():
        stock = store.stock_at(shipment.center_id, store.products[pid])
        stock.on_hand -= quantity
        stock.committed -= quantity
    number = f"9400{zlib.crc32(str(shipment.id).encode()):010d}{shipment.id % 10**8:08d}"  # 22 digits, USPS-like
    shipment.tracking = Tracking(CARRIER, CARRIER_SERVICE, number,
                                 f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}", moment)
    shipment.status, shipment.details, shipment.committed = "Completed", [StatusDetail("InTransit")], False
    shipment.shipped_at = shipment.tracking_updated_at = shipment.updated = moment
    payload = shipment_view(store, shipment)
    if store.quirks.shipped_without_tracking:
        payload["tracking"] = None
    store.emit("order.shipped", shipment.id, payload)


def deliver(store: Store, shipment: Shipment) -> None:
    moment = now()
    shipment.details = [StatusDetail("Delivered")]
    shipment.delivered_at = shipment.tracking_updated_at = shipment.updated = moment
    if not store.quirks.no_delivered_event:
        store.emit("order.shipment.delivered", shipment.id, shipment_view(store, shipment))


def hold(store: Store, shipment: Shipment, detail: str) -> None:
    """An `Exception` (3xx) releases the shipment's stock until restocked; an `OnHold` (4xx) keeps it."""
    _, status, _ = STATUS_DETAILS[detail]
    if status == "Exception" and shipment.committed:
        _commit(store, shipment, -1)
    inventory_ids = [store.products[pid].inventory_id for pid in shipment.lines] if status == "Exception" else [None]
    shipment.status = status
    shipment.details = [StatusDetail(detail, inventory_id, shipment.center_id) for inventory_id in inventory_ids]
    _touch(shipment)
    topic = "order.shipment.exception" if status == "Exception" else "order.shipment.on_hold"
    store.emit(topic, shipment.id, shipment_view(store, shipment))


def cancel(store: Store, shipment: Shipment) -> str | None:
    """Cancel one shipment; the reason it was refused, or None when it is cancelled."""
    if shipment.status == "Cancelled":
        return "Shipment is already cancelled"
    if not shipment.cancellable:
        return f"Shipment cannot be cancelled in status {shipment.status}" + (
            f" ({shipment.details[0].name})" if shipment.details else "")
    if shipment.committed:
        _commit(store, shipment, -1)
    shipment.status, shipment.details = "Cancelled", []
    _touch(shipment)
    store.emit("order.shipment.cancelled", shipment.id, shipment_view(store, shipment))
    return None


def receive(store: Store, center_id: int, product: Product, quantity: int) -> None:
    """Units arrive at a centre; shipments waiting for stock there are released, oldest first (inference)."""
    store.stock_at(center_id, product).on_hand += quantity
    for shipment in sorted(store.shipments.values(), key=lambda s: s.id):
        waiting = shipment.status == "Exception" and not shipment.committed and all(
            d.name in ("OutOfStock", "InventoryPartiallyCommitted") for d in shipment.details)
        if waiting and all(store.fulfillable(center_id, store.products[pid]) >= qty
                           for pid, qty in shipment.lines.items()):
            shipment.center_id = center_id
            _commit(store, shipment, +1)
            shipment.status, shipment.details = "Processing", []
            _touch(shipment)
