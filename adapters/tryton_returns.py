"""Customer returns (RMA) in Tryton: one return sale per RMA, and the return shipment that receives the units.

A return is what Tryton's own "Return Sale" wizard makes: a copy of the sale with negative
quantities whose origin is the sale. It is cut down to the returned lines and carries the RMA
number as its reference, which is how a retry and the warehouse's receipt find it. Confirming it
makes Tryton expect the units (a customer return shipment) and draft the credit note.
"""
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from adapters.erp import ErpReturn
from adapters.errors import BusinessError
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from adapters.tryton_workflow import confirm_sale, ignore_exceptions
from canonical.returns import Disposition, ProcessedItem, ReturnLine

QUARANTINE_LOCATION = "QUA"
"""Code of the warehouse's waste location for returned units held aside rather than scrapped."""
RETURN_SHIPMENT = "stock.shipment.out.return"
SHIPMENT_FIELDS = ["state", "incoming_moves", "warehouse", "warehouse_input", "warehouse_storage"]
MOVE_FIELDS = ["product", "product.code", "unit", "quantity", "company"]
UNDO_FIELDS = ["state", "shipment_returns.state", "invoices.state"]


async def create_return(rpc: TrytonRpc, sale_id: int, rma: str, lines: list[ReturnLine]) -> ErpReturn:
    """The confirmed return sale for `rma`; a retry finds it by reference and finishes it if a crash left it draft."""
    wanted = _totals(((line.sku, line.quantity) for line in lines), f"RMA {rma}")
    origin = f"sale.sale,{sale_id}"
    return_id = await find_return(rpc, rma)
    if return_id is None:
        returnable = await _returnable(rpc, sale_id, origin)
        _check(f"RMA {rma}", "returns", wanted, returnable, "shipped and not yet returned", "the sale")
        return_id = await _draft_copy(rpc, sale_id, origin)
        await _keep_returned_lines(rpc, return_id, rma, wanted)
    else:
        (found,) = await rpc.call("sale.sale", "read", [return_id], ["origin"])
        if found["origin"] != origin:
            raise BusinessError(SYSTEM, f"RMA {rma} is already the return of another sale ({found['origin']})")
    await confirm_sale(rpc, return_id)
    return ErpReturn(erp_ref=str(return_id), reference=rma)


async def receive_return(rpc: TrytonRpc, rma: str, received: list[ProcessedItem]) -> ErpReturn:
    """Receive what the warehouse processed on the RMA's return shipment; a done shipment is only read back.

    Restocked units are put away into the warehouse's storage. Disposed and quarantined units are
    received too (the customer sent them) but put away into the warehouse's waste locations, Lost and
    Found and Quarantine, so they never count as sellable stock: Tryton lets a return put units
    nowhere else outside storage, so a warehouse without them is a BusinessError before anything
    moves. Units that never arrived are not waited for: Tryton's back-order for them is cancelled and
    accepted as an exception, so the return sale is complete.
    """
    received = [item for item in received if item.quantity]
    return_id = await find_return(rpc, rma)
    if return_id is None:
        raise BusinessError(SYSTEM, f"No return for RMA {rma} in the ERP")
    (sale,) = await rpc.call("sale.sale", "read", [return_id], ["state", "shipment_returns"])
    shipments = await rpc.call(RETURN_SHIPMENT, "read", sale["shipment_returns"], SHIPMENT_FIELDS)
    done = [s["id"] for s in shipments if s["state"] == "done"]
    pending = next((s for s in shipments if s["state"] in ("draft", "received")), None)
    if not done and not pending and (received or not shipments):
        raise BusinessError(SYSTEM, f"RMA {rma} has no return shipment waiting (return sale {sale['state']})")
    if not done and pending and await _receive(rpc, rma, pending, received):
        done = [pending["id"]]
    await _drop_back_orders(rpc, return_id)
    return ErpReturn(erp_ref=str(return_id), reference=rma, received=await _received(rpc, done))


async def cancel_return(rpc: TrytonRpc, rma: str) -> None:
    """Undo the RMA's return sale while nothing was received: its return shipment and draft credit note are
    cancelled and those exceptions accepted, so the sale is done with nothing to do and its units no longer
    count as returned. Cancelling it again, or an RMA the ERP never had, changes nothing."""
    return_id = await find_return(rpc, rma)
    if return_id is None:
        return
    (sale,) = await rpc.call("sale.sale", "read", [return_id], UNDO_FIELDS)
    if sale["state"] == "confirmed":
        await rpc.call("sale.sale", "draft", [return_id])
        sale["state"] = "draft"
    if sale["state"] in ("draft", "quotation"):
        await rpc.call("sale.sale", "cancel", [return_id])
        return
    if _is_undone(sale):
        return
    if any(s["state"] not in ("draft", "cancelled") for s in sale["shipment_returns."]):
        raise BusinessError(SYSTEM, f"RMA {rma}: the ERP has already received units; it needs a person, not a cancel")
    if shipments := [s["id"] for s in sale["shipment_returns."] if s["state"] == "draft"]:
        await rpc.call(RETURN_SHIPMENT, "cancel", shipments)
    if invoices := [i["id"] for i in sale["invoices."] if i["state"] == "draft"]:
        await rpc.call("account.invoice", "cancel", invoices)
    (states,) = await rpc.call("sale.sale", "read", [return_id], ["invoice_state", "shipment_state"])
    if states["invoice_state"] == "exception":
        await ignore_exceptions(rpc, return_id, "sale.handle.invoice.exception", "invoices")
    if states["shipment_state"] == "exception":
        await ignore_exceptions(rpc, return_id, "sale.handle.shipment.exception", "moves")


def _is_undone(sale: dict) -> bool:
    """A return `cancel_return` closed: done, with every return shipment and credit note cancelled."""
    documents = sale["shipment_returns."] + sale["invoices."]
    return sale["state"] == "done" and bool(documents) and all(d["state"] == "cancelled" for d in documents)


async def find_return(rpc: TrytonRpc, rma: str) -> int | None:
    domain = [("reference", "=", rma), ("origin", "like", "sale.sale,%"), ("state", "!=", "cancelled")]
    found = await rpc.call("sale.sale", "search", domain, 0, 1, [("id", "ASC")])
    return found[0] if found else None


async def _returnable(rpc: TrytonRpc, sale_id: int, origin: str) -> dict[str, Decimal]:
    """Per SKU, the units delivered to the customer less those already on earlier returns of the sale."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["lines"])
    domain = [
        ("origin", "in", [f"sale.line,{line_id}" for line_id in sale["lines"]]),
        ("state", "=", "done"),
        ("to_location.type", "=", "customer"),
    ]
    shipped = await rpc.call("stock.move", "search_read", domain, 0, None, None, ["product.code", "quantity"])
    returnable = _sum((m["product."]["code"], m["quantity"]) for m in shipped)
    domain = [("origin", "=", origin), ("state", "!=", "cancelled"), ("reference", "!=", None)]
    fields = ["lines.product.code", "lines.quantity", *UNDO_FIELDS]
    earlier = [sale for sale in await rpc.call("sale.sale", "search_read", domain, 0, None, None, fields)
               if not _is_undone(sale)]  # fmt: skip
    for line in (line for sale in earlier for line in sale["lines."] if line["product."]):
        returnable[line["product."]["code"]] += _quantity(line["quantity"])  # negative on a return
    return returnable


async def _draft_copy(rpc: TrytonRpc, sale_id: int, origin: str) -> int:
    """A copy the return wizard left before a crash (no reference yet), else a new one from the wizard."""
    domain = [("origin", "=", origin), ("state", "=", "draft"), ("reference", "=", None)]
    if found := await rpc.call("sale.sale", "search", domain, 0, 1, [("id", "ASC")]):
        return found[0]
    result = await rpc.run_wizard("sale.return_sale", "return_", {}, model="sale.sale", ids=[sale_id])
    (return_id,) = result["actions"][0][1]["res_id"]
    return return_id


async def _keep_returned_lines(rpc: TrytonRpc, return_id: int, rma: str, wanted: dict[str, Decimal]) -> None:
    """Only the returned units stay on the copy (shipping, fees and the rest are not coming back)."""
    (copy,) = await rpc.call("sale.sale", "read", [return_id], ["lines.type", "lines.product.code", "lines.quantity"])
    left = dict(wanted)
    operations, dropped = [], []
    for line in copy["lines."]:
        sku = line["product."]["code"] if line["type"] == "line" and line["product."] else None
        quantity = min(-_quantity(line["quantity"]), left.get(sku, Decimal(0)))
        if quantity > 0:
            left[sku] -= quantity
            operations.append(["write", [line["id"]], {"quantity": float(-quantity)}])
        else:
            dropped.append(line["id"])
    if dropped:
        operations.append(["delete", dropped])
    await rpc.call("sale.sale", "write", [return_id], {"reference": rma, "lines": operations})


async def _receive(rpc: TrytonRpc, rma: str, shipment: dict, received: list[ProcessedItem]) -> bool:
    """Receive and put away `received`; False when nothing arrived and the shipment was cancelled instead."""
    incoming = await rpc.call("stock.move", "read", shipment["incoming_moves"], MOVE_FIELDS)
    wanted = _totals(((item.sku, item.quantity) for item in received), f"RMA {rma}")
    expected = _sum((m["product."]["code"], m["quantity"]) for m in incoming)
    _check(f"RMA {rma}", "receives", wanted, expected, "expected", "the return")
    destinations = await _destinations(rpc, shipment)
    if missing := sorted({item.disposition.value for item in received if destinations[item.disposition] is None}):
        raise BusinessError(
            SYSTEM, f"RMA {rma}: the warehouse has no waste location for {' or '.join(missing)} units: add one"
        )
    if shipment["state"] == "draft":
        if not wanted:
            await rpc.call(RETURN_SHIPMENT, "cancel", [shipment["id"]])
            return False
        await rpc.call(RETURN_SHIPMENT, "write", [shipment["id"]], {"incoming_moves": _cut(incoming, wanted)})
        await rpc.call(RETURN_SHIPMENT, "receive", [shipment["id"]])
    (now,) = await rpc.call(RETURN_SHIPMENT, "read", [shipment["id"]], ["inventory_moves", "incoming_moves"])
    incoming = await rpc.call("stock.move", "read", now["incoming_moves"], MOVE_FIELDS)
    put_away = []
    for item in received:
        move = next(m for m in incoming if m["product."]["code"] == item.sku)
        put_away.append({
            "product": move["product"],
            "unit": move["unit"],
            "quantity": float(item.quantity),
            "from_location": shipment["warehouse_input"],
            "to_location": destinations[item.disposition],
            "company": move["company"],
            "origin": f"stock.move,{move['id']}",
        })  # fmt: skip
    operations = [["delete", now["inventory_moves"]], ["create", put_away]]
    await rpc.call(RETURN_SHIPMENT, "write", [shipment["id"]], {"inventory_moves": operations})
    await rpc.call(RETURN_SHIPMENT, "do", [shipment["id"]])
    return True


async def _destinations(rpc: TrytonRpc, shipment: dict) -> dict[Disposition, int | None]:
    """Storage for restocked units; the warehouse's Lost and Found and Quarantine waste locations for the rest."""
    fields = ["lost_found_location", "waste_locations"]
    (warehouse,) = await rpc.call("stock.location", "read", [shipment["warehouse"]], fields)
    wastes = await rpc.call("stock.location", "read", warehouse["waste_locations"], ["code"])
    quarantine = next((w["id"] for w in wastes if w["code"] == QUARANTINE_LOCATION), None)
    scrap = next((w["id"] for w in wastes if w["id"] == warehouse["lost_found_location"]), None)
    scrap = scrap or next((w["id"] for w in wastes if w["id"] != quarantine), None)
    return {
        Disposition.RESTOCK: shipment["warehouse_storage"],
        Disposition.DISPOSE: scrap,
        Disposition.QUARANTINE: quarantine,
    }


async def _drop_back_orders(rpc: TrytonRpc, return_id: int) -> None:
    """Tryton waits for the missing units on a new return shipment; the warehouse is done, so cancel it."""
    (sale,) = await rpc.call("sale.sale", "read", [return_id], ["shipment_returns"])
    shipments = await rpc.call(RETURN_SHIPMENT, "read", sale["shipment_returns"], ["state"])
    if waiting := [s["id"] for s in shipments if s["state"] == "draft"]:
        await rpc.call(RETURN_SHIPMENT, "cancel", waiting)
    (sale,) = await rpc.call("sale.sale", "read", [return_id], ["shipment_state"])
    if sale["shipment_state"] == "exception":
        await ignore_exceptions(rpc, return_id, "sale.handle.shipment.exception", "moves")


async def _received(rpc: TrytonRpc, shipment_ids: list[int]) -> tuple[ProcessedItem, ...]:
    """What the done shipments put away, told by where the units went."""
    if not shipment_ids:
        return ()
    shipments = await rpc.call(RETURN_SHIPMENT, "read", shipment_ids, ["inventory_moves"])
    moves = await rpc.call(
        "stock.move", "read", [m for s in shipments for m in s["inventory_moves"]],
        ["product.code", "quantity", "to_location.code", "to_location.type"],
    )  # fmt: skip
    totals: dict[tuple[str, Disposition], Decimal] = defaultdict(Decimal)
    for move in moves:
        location = move["to_location."]
        if location["type"] != "lost_found":
            disposition = Disposition.RESTOCK
        elif location["code"] == QUARANTINE_LOCATION:
            disposition = Disposition.QUARANTINE
        else:
            disposition = Disposition.DISPOSE
        totals[move["product."]["code"], disposition] += _quantity(move["quantity"])
    return tuple(
        ProcessedItem(sku=sku, quantity=quantity, disposition=disposition)
        for (sku, disposition), quantity in sorted(totals.items())
    )


def _cut(moves: list[dict], wanted: dict[str, Decimal]) -> list:
    """Operations leaving on the incoming moves exactly the units that arrived."""
    left = dict(wanted)
    operations, dropped = [], []
    for move in moves:
        sku, holds = move["product."]["code"], _quantity(move["quantity"])
        arrived = min(holds, left.get(sku, Decimal(0)))
        left[sku] = left.get(sku, Decimal(0)) - arrived
        if not arrived:
            dropped.append(move["id"])
        elif arrived != holds:
            operations.append(["write", [move["id"]], {"quantity": float(arrived)}])
    if dropped:
        operations.append(["delete", dropped])
    return operations


def _check(
    where: str, verb: str, wanted: dict[str, Decimal], available: dict[str, Decimal], what: str, owner: str
) -> None:
    if unknown := sorted(sku for sku in wanted if sku not in available):
        raise BusinessError(SYSTEM, f"{where} {verb} {', '.join(unknown)}, which {owner} does not have")
    if over := [f"{qty} × {sku} ({available[sku]} {what})" for sku, qty in wanted.items() if qty > available[sku]]:
        raise BusinessError(SYSTEM, f"{where} {verb} more than {owner} allows: {', '.join(over)}")


def _totals(quantities: Iterable[tuple[str, Decimal]], where: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sku, quantity in quantities:
        if quantity <= 0:
            raise BusinessError(SYSTEM, f"{where} has {quantity} × {sku}")
        totals[sku] += quantity
    return dict(totals)


def _sum(quantities: Iterable[tuple[str, float]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sku, quantity in quantities:
        totals[sku] += _quantity(quantity)
    return totals


def _quantity(value: float) -> Decimal:
    """Tryton stores quantities as floats; 2.0 units read back as Decimal 2."""
    quantity = Decimal(str(value))
    return quantity.to_integral_value() if quantity == quantity.to_integral_value() else quantity
