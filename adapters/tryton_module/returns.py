"""Customer returns (RMA): one return sale per RMA, and the return shipment that receives the units.

A return is what Tryton's "Return Sale" wizard makes: a copy of the sale with negative quantities
whose origin is the sale. It is cut down to the returned lines and carries the RMA number as its
reference from the moment it exists, which is how a repeated call and the warehouse's receipt find
it. Confirming it makes Tryton expect the units (a customer return shipment) and draft the credit note.
"""
from collections import defaultdict
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.transaction import without_check_access

from .common import Steps, ignore_cancelled, locked_sale, process, quantity, step

RETURN_SHIPMENT = "stock.shipment.out.return"
DISPOSITIONS = ("restock", "dispose", "quarantine")


class Returns(Steps):
    "retail-sync returns"
    __name__ = "retail_sync.return"
    steps = ("open", "receive", "cancel")

    @classmethod
    @step
    def cancel(cls, rma: str) -> None:
        """Undo the RMA's return sale while nothing was received: its return shipment and draft credit note are
        cancelled and that accepted, so it is done with nothing to do and its units no longer count as
        returned. Cancelling it again, or an RMA the ERP never had, changes nothing."""
        pool = Pool()
        Sale = pool.get("sale.sale")
        found = _find(rma)
        if found is None or _undone(found):
            return
        Sale.lock([found])
        if found.state == "confirmed":
            Sale.draft([found])
        if Sale(found.id).state in ("draft", "quotation"):
            Sale.cancel([Sale(found.id)])
            return
        if any(s.state not in ("draft", "cancelled") for s in found.shipment_returns):
            raise UserError(f"RMA {rma}: the ERP has already received units; it needs a person, not a cancel")
        pool.get(RETURN_SHIPMENT).cancel([s for s in found.shipment_returns if s.state == "draft"])
        pool.get("account.invoice").cancel([i for i in found.invoices if i.state == "draft"])
        ignore_cancelled(Sale(found.id))

    @classmethod
    @step
    def open(cls, shop_id: int, key: str, rma: str, lines: list[dict]) -> dict:
        """The confirmed return sale of `lines` ({sku, quantity}) of the sale `key`, referenced `rma`: {id}."""
        Sale = Pool().get("sale.sale")
        sale = locked_sale(shop_id, key)
        wanted = _totals(((line["sku"], line["quantity"]) for line in lines), f"RMA {rma}")
        origin = f"sale.sale,{sale.id}"
        found = _find(rma)
        if found is None:
            _check(f"RMA {rma}", "returns", wanted, _returnable(sale, origin), "shipped and not yet returned",
                   "the sale")  # fmt: skip
            found = _keep_returned_lines(_copy(sale, origin), rma, wanted)
        elif str(found.origin) != origin:
            raise UserError(f"RMA {rma} is already the return of another sale ({found.origin})")
        if found.state == "draft":
            Sale.quote([found])
        if Sale(found.id).state == "quotation":
            Sale.confirm([Sale(found.id)])
        process([found])
        return {"id": found.id}

    @classmethod
    @step
    def receive(cls, rma: str, received: list[dict], quarantine_code: str) -> dict:
        """Receive what the warehouse processed ({sku, quantity, disposition}) on the RMA's return shipment.

        Restocked units are put away into the warehouse's storage. Disposed and quarantined units are
        received too (the customer sent them) but put away into the warehouse's waste locations, Lost
        and Found and the one coded `quarantine_code`, so they never count as sellable stock: a
        warehouse without them is refused before anything moves. Units that never arrived are not
        waited for: Tryton's back-order for them is cancelled and ignored, so the return is complete.
        A done shipment is only read back. Answers {id, received: [{sku, quantity, disposition}]}.
        """
        Sale = Pool().get("sale.sale")
        received = [item for item in received if Decimal(str(item["quantity"]))]
        found = _find(rma)
        if found is None:
            raise UserError(f"No return for RMA {rma} in the ERP")
        Sale.lock([found])
        shipments = found.shipment_returns
        done = [s for s in shipments if s.state == "done"]
        pending = next((s for s in shipments if s.state in ("draft", "received")), None)
        if not done and not pending and (received or not shipments):
            raise UserError(f"RMA {rma} has no return shipment waiting (return sale {found.state})")
        if not done and pending and _receive(rma, pending, received, quarantine_code):
            done = [pending]
        _drop_back_orders(Sale(found.id))
        return {"id": found.id, "received": _received(done, quarantine_code)}


def _find(rma: str):
    Sale = Pool().get("sale.sale")
    domain = [("reference", "=", rma), ("origin", "like", "sale.sale,%"), ("state", "!=", "cancelled")]
    found = Sale.search(domain, order=[("id", "ASC")], limit=1)
    return found[0] if found else None


def _returnable(sale, origin: str) -> dict[str, Decimal]:
    """Per SKU, the units delivered to the customer less those already on earlier returns of the sale."""
    pool = Pool()
    Move = pool.get("stock.move")
    Sale = pool.get("sale.sale")
    domain = [
        ("origin", "in", [f"sale.line,{line.id}" for line in sale.lines]),
        ("state", "=", "done"),
        ("to_location.type", "=", "customer"),
    ]
    returnable = _sum((m.product.code, m.quantity) for m in Move.search(domain))
    for earlier in Sale.search([("origin", "=", origin), ("state", "!=", "cancelled"), ("reference", "!=", None)]):
        if _undone(earlier):
            continue
        for line in earlier.lines:
            if line.product:
                returnable[line.product.code] += quantity(line.quantity)  # negative on a return
    return returnable


def _undone(found) -> bool:
    """A return `cancel` closed: done, with every return shipment and credit note cancelled."""
    documents = [*found.shipment_returns, *found.invoices]
    return found.state == "done" and bool(documents) and all(d.state == "cancelled" for d in documents)


def _copy(sale, origin: str):
    """A copy an earlier version left untagged (no reference yet), else a new one as the return wizard makes it."""
    Sale = Pool().get("sale.sale")
    left = Sale.search([("origin", "=", origin), ("state", "=", "draft"), ("reference", "=", None)],
                       order=[("id", "ASC")], limit=1)  # fmt: skip
    if left:
        return left[0]
    with without_check_access():  # as the return wizard does
        (copy,) = Sale.copy([sale], default={
            "origin": origin,
            "lines.quantity": lambda data: data["quantity"] * -1 if data["type"] == "line" else data["quantity"],
        })  # fmt: skip
    return copy


def _keep_returned_lines(copy, rma: str, wanted: dict[str, Decimal]):
    """Only the returned units stay on the copy (shipping, fees and the rest are not coming back)."""
    Sale = Pool().get("sale.sale")
    left = dict(wanted)
    operations, dropped = [], []
    for line in copy.lines:
        sku = line.product.code if line.type == "line" and line.product else None
        returned = min(-quantity(line.quantity), left.get(sku, Decimal(0)))
        if returned > 0:
            left[sku] -= returned
            operations.append(("write", [line.id], {"quantity": float(-returned)}))
        else:
            dropped.append(line.id)
    if dropped:
        operations.append(("delete", dropped))
    Sale.write([copy], {"reference": rma, "lines": operations})
    return Sale(copy.id)


def _receive(rma: str, shipment, received: list[dict], quarantine_code: str) -> bool:
    """Receive and put away `received`; False when nothing arrived and the shipment was cancelled instead."""
    Shipment = Pool().get(RETURN_SHIPMENT)
    wanted = _totals(((item["sku"], item["quantity"]) for item in received), f"RMA {rma}")
    expected = _sum((m.product.code, m.quantity) for m in shipment.incoming_moves)
    _check(f"RMA {rma}", "receives", wanted, expected, "expected", "the return")
    destinations = _destinations(shipment, quarantine_code)
    if missing := sorted({item["disposition"] for item in received if destinations[item["disposition"]] is None}):
        raise UserError(f"RMA {rma}: the warehouse has no waste location for {' or '.join(missing)} units: add one")
    if shipment.state == "draft":
        if not wanted:
            Shipment.cancel([shipment])
            return False
        Shipment.write([shipment], {"incoming_moves": _cut(shipment.incoming_moves, wanted)})
        Shipment.receive([Shipment(shipment.id)])
    shipment = Shipment(shipment.id)
    put_away = []
    for item in received:
        move = next(m for m in shipment.incoming_moves if m.product.code == item["sku"])
        put_away.append({
            "product": move.product.id,
            "unit": move.unit.id,
            "quantity": float(item["quantity"]),
            "from_location": shipment.warehouse_input.id,
            "to_location": destinations[item["disposition"]],
            "company": move.company.id,
            "origin": str(move),
        })  # fmt: skip
    operations = [("delete", [m.id for m in shipment.inventory_moves]), ("create", put_away)]
    Shipment.write([shipment], {"inventory_moves": operations})
    Shipment.do([Shipment(shipment.id)])
    return True


def _destinations(shipment, quarantine_code: str) -> dict[str, int | None]:
    """Storage for restocked units; the warehouse's Lost and Found and Quarantine waste locations for the rest."""
    warehouse = shipment.warehouse
    wastes = list(warehouse.waste_locations)
    quarantine = next((w.id for w in wastes if w.code == quarantine_code), None)
    lost_found = warehouse.lost_found_location.id if warehouse.lost_found_location else None
    scrap = next((w.id for w in wastes if w.id == lost_found), None)
    scrap = scrap or next((w.id for w in wastes if w.id != quarantine), None)
    return {"restock": shipment.warehouse_storage.id, "dispose": scrap, "quarantine": quarantine}


def _drop_back_orders(found) -> None:
    """Tryton waits for the missing units on a new return shipment; the warehouse is done, so cancel it."""
    pool = Pool()
    Shipment = pool.get(RETURN_SHIPMENT)
    Sale = pool.get("sale.sale")
    process([found])  # puts the units still missing on a new return shipment
    if waiting := [s for s in Sale(found.id).shipment_returns if s.state == "draft"]:
        Shipment.cancel(waiting)
        process([found])
    if Sale(found.id).shipment_state == "exception":
        ignore_cancelled(Sale(found.id))


def _received(shipments, quarantine_code: str) -> list[dict]:
    """What the done shipments put away, told by where the units went."""
    Shipment = Pool().get(RETURN_SHIPMENT)
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for shipment in Shipment.browse([s.id for s in shipments]):
        for move in shipment.inventory_moves:
            location = move.to_location
            if location.type != "lost_found":
                disposition = "restock"
            elif location.code == quarantine_code:
                disposition = "quarantine"
            else:
                disposition = "dispose"
            totals[move.product.code, disposition] += quantity(move.quantity)
    return [{"sku": sku, "quantity": q, "disposition": d} for (sku, d), q in sorted(totals.items())]


def _cut(moves, wanted: dict[str, Decimal]) -> list:
    """Operations leaving on the incoming moves exactly the units that arrived."""
    left = dict(wanted)
    operations, dropped = [], []
    for move in moves:
        sku, holds = move.product.code, quantity(move.quantity)
        arrived = min(holds, left.get(sku, Decimal(0)))
        left[sku] = left.get(sku, Decimal(0)) - arrived
        if not arrived:
            dropped.append(move.id)
        elif arrived != holds:
            operations.append(("write", [move.id], {"quantity": float(arrived)}))
    if dropped:
        operations.append(("delete", dropped))
    return operations


def _check(where: str, verb: str, wanted: dict, available: dict, what: str, owner: str) -> None:
    if unknown := sorted(sku for sku in wanted if sku not in available):
        raise UserError(f"{where} {verb} {', '.join(unknown)}, which {owner} does not have")
    if over := [f"{q} × {sku} ({available[sku]} {what})" for sku, q in wanted.items() if q > available[sku]]:
        raise UserError(f"{where} {verb} more than {owner} allows: {', '.join(over)}")


def _totals(quantities, where: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sku, amount in quantities:
        amount = Decimal(str(amount))
        if amount <= 0:
            raise UserError(f"{where} has {amount} × {sku}")
        totals[sku] += amount
    return dict(totals)


def _sum(quantities) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sku, amount in quantities:
        totals[sku] += quantity(amount)
    return totals
