"""Shipping a Tryton sale the way the 3PL shipped it.

Each 3PL shipment becomes one done Tryton customer shipment with exactly the shipped
quantities, tagged with the 3PL's shipment id as its `reference`, which is how a retry finds
it. Tryton 8.2 has no shipment split without the extra `stock_split` module, so a partial
shipment is cut down to what shipped and the sale is processed: Tryton's sale then puts what is
still owed on a new shipment, exactly as it does for any back-order.
"""
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from adapters.erp import ErpShipment
from adapters.errors import BusinessError
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from adapters.tryton_workflow import ignore_exceptions
from canonical.fulfilment import FulfilmentLine

OPEN = {"draft", "waiting", "assigned", "picked", "packed"}
CUTTABLE = {"draft", "waiting", "assigned"}  # nothing picked in the ERP's warehouse yet
NEXT_STEP = {
    "draft": "wait",
    "waiting": "assign_try",
    "assigned": "pick",
    "picked": "pack",
    "packed": "do",
    "shipped": "do",
}
MOVE_FIELDS = ["product.code", "product.name", "quantity"]


async def ship_sale(rpc: TrytonRpc, sale_id: int, shipment_ref: str, lines: list[FulfilmentLine]) -> ErpShipment:
    """Mark `lines` shipped under `shipment_ref`; a shipment already recorded under it is finished, not redone."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["number", "shipments", "lines.product.code"])
    shipments = await rpc.call("stock.shipment.out", "read", sale["shipments"], ["state", "reference"])
    recorded = next((s for s in shipments if s["reference"] == shipment_ref and s["state"] != "cancelled"), None)
    if recorded is None:
        recorded = await _set_aside(rpc, sale, shipments, shipment_ref, _by_sku(shipment_ref, lines))
    await _complete(rpc, recorded["id"], recorded["state"])
    return await _read_shipment(rpc, recorded["id"], shipment_ref)


async def shipped_units(rpc: TrytonRpc, sale_id: int) -> dict[str, Decimal]:
    """SKU → units of the sale's lines delivered to the customer (done moves to a customer location)."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["lines"])
    domain = [("origin", "in", [f"sale.line,{line_id}" for line_id in sale["lines"]]), ("state", "=", "done"),
              ("to_location.type", "=", "customer")]  # fmt: skip
    return dict(_totals(await rpc.call("stock.move", "search_read", domain, 0, None, None, MOVE_FIELDS)))


async def release_unshipped(rpc: TrytonRpc, sale_id: int) -> None:
    """Cancel the sale's shipments still open (what was refunded before it shipped) and accept that as the
    sale's shipment exception, the way a Tryton user would: the sale is then done and holds no stock."""
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["shipments"])
    shipments = await rpc.call("stock.shipment.out", "read", sale["shipments"], ["state"])
    if open_ids := [s["id"] for s in shipments if s["state"] in OPEN]:
        await rpc.call("stock.shipment.out", "cancel", open_ids)
    (states,) = await rpc.call("sale.sale", "read", [sale_id], ["shipment_state"])
    if states["shipment_state"] == "exception":
        await ignore_exceptions(rpc, sale_id, "sale.handle.shipment.exception", "moves")


async def _set_aside(rpc: TrytonRpc, sale: dict, shipments: list[dict], shipment_ref: str, wanted: dict) -> dict:
    """The open shipment holding `wanted`, cut down to exactly that and tagged with `shipment_ref`."""
    where = f"3PL shipment {shipment_ref} of sale {sale['number']}"
    on_sale = {line["product."]["code"] for line in sale["lines."] if line["product."]}
    if unknown := sorted(wanted.keys() - on_sale):
        raise BusinessError(SYSTEM, f"{where} ships {', '.join(unknown)}, which the sale does not have")
    candidates = [s for s in shipments if s["state"] in OPEN and not s["reference"]]
    moves = await _outgoing_moves(rpc, [s["id"] for s in candidates])
    still_open = _totals(m for ms in moves.values() for m in ms)
    if over := [f"{qty} × {sku} ({still_open[sku]} open)" for sku, qty in wanted.items() if qty > still_open[sku]]:
        raise BusinessError(SYSTEM, f"{where} ships more than the sale still owes: {', '.join(over)}")
    target = next((s for s in candidates if _covers(moves[s["id"]], wanted)), None)
    if target is None:
        raise BusinessError(SYSTEM, f"{where} spans several ERP shipments: split them by hand, then retry")
    cut = _cut(moves[target["id"]], wanted)
    if not cut:
        await rpc.call("stock.shipment.out", "write", [target["id"]], {"reference": shipment_ref})
        return target
    if target["state"] not in CUTTABLE:
        raise BusinessError(SYSTEM, f"{where} is only part of an ERP shipment already {target['state']}")
    if target["state"] == "assigned":
        await rpc.call("stock.shipment.out", "wait", [target["id"]])  # release the reserved stock first
    operations = [["write", [move_id], {"quantity": float(qty)}] for move_id, qty in cut.items() if qty]
    if dropped := [move_id for move_id, qty in cut.items() if not qty]:
        operations.append(["delete", dropped])
    await rpc.call("stock.shipment.out", "write", [target["id"]], {"reference": shipment_ref, "moves": operations})
    await rpc.call("stock.shipment.out", "wait", [target["id"]])  # picking moves follow the cut quantities
    await rpc.call("sale.sale", "process", [sale["id"]])  # the rest goes on a new open shipment
    return {**target, "state": "waiting"}


async def _complete(rpc: TrytonRpc, shipment_id: int, state: str) -> None:
    """Walk the shipment to done. Tryton may see too little stock to assign it; the 3PL shipped it, so force."""
    while state != "done":
        if state not in NEXT_STEP:
            raise BusinessError(SYSTEM, f"ERP shipment {shipment_id} is {state}: it cannot be marked shipped")
        await rpc.call("stock.shipment.out", NEXT_STEP[state], [shipment_id])
        reached = await _state(rpc, shipment_id)
        if reached == state == "waiting":
            await rpc.call("stock.shipment.out", "assign_force", [shipment_id])
            reached = await _state(rpc, shipment_id)
        if reached == state:
            raise BusinessError(SYSTEM, f"ERP shipment {shipment_id} stays {state} after {NEXT_STEP[state]}")
        state = reached


async def _read_shipment(rpc: TrytonRpc, shipment_id: int, shipment_ref: str) -> ErpShipment:
    moves = (await _outgoing_moves(rpc, [shipment_id]))[shipment_id]
    names = {m["product."]["code"]: m["product."]["name"] for m in moves}
    lines = (FulfilmentLine(sku=sku, name=names[sku], quantity=qty) for sku, qty in sorted(_totals(moves).items()))
    return ErpShipment(erp_ref=str(shipment_id), shipment_ref=shipment_ref, lines=tuple(lines))


async def _outgoing_moves(rpc: TrytonRpc, shipment_ids: list[int]) -> dict[int, list[dict]]:
    """The moves to the customer per shipment (the picking moves inside the warehouse are Tryton's business)."""
    shipments = await rpc.call("stock.shipment.out", "read", shipment_ids, ["outgoing_moves"])
    move_ids = [move_id for s in shipments for move_id in s["outgoing_moves"]]
    found = {m["id"]: m for m in await rpc.call("stock.move", "read", move_ids, MOVE_FIELDS)}
    return {s["id"]: [found[move_id] for move_id in s["outgoing_moves"]] for s in shipments}


async def _state(rpc: TrytonRpc, shipment_id: int) -> str:
    (shipment,) = await rpc.call("stock.shipment.out", "read", [shipment_id], ["state"])
    return shipment["state"]


def _by_sku(shipment_ref: str, lines: list[FulfilmentLine]) -> dict[str, Decimal]:
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.quantity <= 0:
            raise BusinessError(SYSTEM, f"3PL shipment {shipment_ref} has {line.quantity} × {line.sku}")
        wanted[line.sku] += line.quantity
    if not wanted:
        raise BusinessError(SYSTEM, f"3PL shipment {shipment_ref} ships nothing")
    return wanted


def _totals(moves: Iterable[dict]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for move in moves:
        totals[move["product."]["code"]] += _quantity(move["quantity"])
    return totals


def _covers(moves: list[dict], wanted: dict[str, Decimal]) -> bool:
    totals = _totals(moves)
    return all(totals[sku] >= qty for sku, qty in wanted.items())


def _cut(moves: list[dict], wanted: dict[str, Decimal]) -> dict[int, Decimal]:
    """New quantities for the moves that ship less than they hold (0: the move does not ship at all)."""
    left = dict(wanted)
    cut = {}
    for move in moves:
        sku, holds = move["product."]["code"], _quantity(move["quantity"])
        ships = min(holds, left.get(sku, Decimal(0)))
        left[sku] = left.get(sku, Decimal(0)) - ships
        if ships != holds:
            cut[move["id"]] = ships
    return cut


def _quantity(value: float) -> Decimal:
    """Tryton stores quantities as floats; 2.0 units read back as Decimal 2."""
    quantity = Decimal(str(value))
    return quantity.to_integral_value() if quantity == quantity.to_integral_value() else quantity
