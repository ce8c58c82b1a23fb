"""What the returns dock does with a return: receive the box, inspect and sort its units, close it.

AwaitingArrival → Arrived → Processing → Completed, or Cancelled while still awaited (contract §2.7,
§2.9 item 8). Units processed may be fewer than the customer was expected to send. Restocked units go back
on hand at the return's centre only on completion (inference: put-away happens when the return is closed),
and may release shipments waiting for that stock.
"""
from sandbox.shipbob import fulfilment
from sandbox.shipbob.state import Return, ReturnAction, Store
from sandbox.shipbob.views import return_view
from sandbox.shipbob.wire import now

TAKEN_ACTIONS = ("Restock", "Dispose", "Quarantine")


class Refused(Exception):
    """The step does not apply to the return as it is; the message says why."""


def created(store: Store, rma: Return) -> None:
    store.emit("return.created", rma.id, return_view(store, rma))


def arrive(store: Store, rma: Return) -> None:
    _expect(rma, "AwaitingArrival")
    rma.moved("Arrived", now())
    store.emit("return.updated", rma.id, return_view(store, rma))


def process(store: Store, rma: Return, processed: list[tuple[int, int, str]]) -> None:
    """Record `(inventory id, units, action)` sorted at the dock; a later call adds to what is recorded."""
    _expect(rma, "Arrived", "Processing")
    items = {item.inventory_id: item for item in rma.items}
    added: dict[int, int] = {}
    for inventory_id, quantity, action in processed:
        item = items.get(inventory_id)
        if item is None:
            raise Refused(f"inventory {inventory_id} is not part of return {rma.id}")
        if action not in TAKEN_ACTIONS or quantity < 1:
            raise Refused(f"cannot {action} {quantity} unit(s) of inventory {inventory_id}")
        added[inventory_id] = added.get(inventory_id, 0) + quantity
        if sum(a.quantity for a in item.taken) + added[inventory_id] > item.quantity:
            raise Refused(f"more units of inventory {inventory_id} than the {item.quantity} expected")
    for inventory_id, quantity, action in processed:
        items[inventory_id].taken.append(ReturnAction(action, quantity, "Processed at the returns dock"))
    if rma.status != "Processing":
        rma.moved("Processing", now())
    store.emit("return.updated", rma.id, return_view(store, rma))


def complete(store: Store, rma: Return) -> None:
    _expect(rma, "Arrived", "Processing")
    rma.moved("Completed", now())
    for item in rma.items:
        restocked = sum(a.quantity for a in item.taken if a.action == "Restock")
        product = store.product_by_inventory_id(item.inventory_id)
        if restocked and product is not None:
            fulfilment.receive(store, rma.center_id, product, restocked)
    store.emit("return.completed", rma.id, return_view(store, rma))


def cancel(store: Store, rma: Return) -> None:
    """"Returns can only be modified or cancelled when they are in the Awaiting Arrival status." (§2.7)"""
    _expect(rma, "AwaitingArrival")
    rma.moved("Cancelled", now())
    store.emit("return.updated", rma.id, return_view(store, rma))


def _expect(rma: Return, *statuses: str) -> None:
    if rma.status not in statuses:
        raise Refused(f"return {rma.id} is {rma.status}, not {' or '.join(statuses)}")
