"""A 3PL shipment recorded on the sale: one done customer shipment with exactly what left, the rest still open.

Each 3PL shipment becomes one done Tryton customer shipment with exactly the shipped quantities,
tagged with the 3PL's shipment id as its `reference`, which is how a repeated call finds it. Tryton
8.2 has no shipment split without the extra `stock_split` module, so a partial shipment is cut down
to what shipped and the sale is processed: Tryton then puts what is still owed on a new shipment, as
for any back-order. Cut, back-order and completion commit together or not at all.
"""
from collections import defaultdict
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.pool import Pool

from .common import Steps, find_sale, ignore_cancelled, locked_sale, process, quantity, read, step

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


class Shipments(Steps):
    "retail-sync shipments"
    __name__ = "retail_sync.shipment"
    steps = ("ship", "release")
    reads = ("shipped",)

    @classmethod
    @read
    def shipped(cls, shop_id: int, key: str) -> dict[str, Decimal]:
        """SKU → units of the sale delivered to the customer (done moves to a customer location); {} for none.

        The durable record of what left: a new run of an order never ships these again."""
        sale = find_sale(shop_id, key, required=False)
        if sale is None:
            return {}
        Move = Pool().get("stock.move")
        domain = [("origin", "in", [f"sale.line,{line.id}" for line in sale.lines]), ("state", "=", "done"),
                  ("to_location.type", "=", "customer")]  # fmt: skip
        return dict(_totals(Move.search(domain)))

    @classmethod
    @step
    def release(cls, shop_id: int, key: str) -> None:
        """Nothing more of the sale ships (the rest was refunded): its open shipments are cancelled and that
        accepted, the way a Tryton user would, so the sale is done and holds no stock. Idempotent."""
        sale = locked_sale(shop_id, key)
        Shipment = Pool().get("stock.shipment.out")
        if still_open := [s for s in sale.shipments if s.state in OPEN]:
            Shipment.cancel(still_open)
        ignore_cancelled(Pool().get("sale.sale")(sale.id))

    @classmethod
    @step
    def ship(cls, shop_id: int, key: str, shipment_ref: str, lines: list[dict]) -> dict:
        """Mark `lines` ({sku, quantity}) shipped under `shipment_ref`: {id, lines: [{sku, name, quantity}]}.

        A shipment already recorded under `shipment_ref` is finished if need be, never cut again. The
        3PL is the physical truth: where Tryton sees too little stock to assign the shipment, the
        assignment is forced, and Tryton's stock goes negative until a count.
        """
        sale = locked_sale(shop_id, key)
        wanted = _by_sku(shipment_ref, lines)
        recorded = next((s for s in sale.shipments if s.reference == shipment_ref and s.state != "cancelled"), None)
        if recorded is None:
            recorded = _set_aside(sale, shipment_ref, wanted)
        _complete(recorded.id)
        process([sale])
        moves = Pool().get("stock.shipment.out")(recorded.id).outgoing_moves
        names = {m.product.code: m.product.name for m in moves}
        shipped = [{"sku": sku, "name": names[sku], "quantity": q} for sku, q in sorted(_totals(moves).items())]
        return {"id": recorded.id, "lines": shipped}


def _set_aside(sale, shipment_ref: str, wanted: dict[str, Decimal]):
    """The open shipment holding `wanted`, cut down to exactly that and tagged with `shipment_ref`."""
    pool = Pool()
    Shipment = pool.get("stock.shipment.out")
    where = f"3PL shipment {shipment_ref} of sale {sale.number}"
    on_sale = {line.product.code for line in sale.lines if line.product}
    if unknown := sorted(wanted.keys() - on_sale):
        raise UserError(f"{where} ships {', '.join(unknown)}, which the sale does not have")
    candidates = [s for s in sale.shipments if s.state in OPEN and not s.reference]
    still_open = _totals(m for s in candidates for m in s.outgoing_moves)
    if over := [f"{q} × {sku} ({still_open[sku]} open)" for sku, q in wanted.items() if q > still_open[sku]]:
        raise UserError(f"{where} ships more than the sale still owes: {', '.join(over)}")
    target = next((s for s in candidates if _covers(s.outgoing_moves, wanted)), None)
    if target is None:
        raise UserError(f"{where} spans several ERP shipments: split them by hand, then retry")
    cut = _cut(target.outgoing_moves, wanted)
    if not cut:
        Shipment.write([target], {"reference": shipment_ref})
        return target
    if target.state not in CUTTABLE:
        raise UserError(f"{where} is only part of an ERP shipment already {target.state}")
    if target.state == "assigned":
        Shipment.wait([target])  # release the reserved stock first
    operations = [("write", [move_id], {"quantity": float(q)}) for move_id, q in cut.items() if q]
    if dropped := [move_id for move_id, q in cut.items() if not q]:
        operations.append(("delete", dropped))
    Shipment.write([target], {"reference": shipment_ref, "moves": operations})
    Shipment.wait([target])  # the picking moves follow the cut quantities
    process([sale])  # the rest goes on a new open shipment
    return Shipment(target.id)


def _complete(shipment_id: int) -> None:
    """Walk the shipment to done. Tryton may see too little stock to assign it; the 3PL shipped it, so force."""
    Shipment = Pool().get("stock.shipment.out")
    state = Shipment(shipment_id).state
    while state != "done":
        if state not in NEXT_STEP:
            raise UserError(f"ERP shipment {shipment_id} is {state}: it cannot be marked shipped")
        getattr(Shipment, NEXT_STEP[state])([Shipment(shipment_id)])
        reached = Shipment(shipment_id).state
        if reached == state == "waiting":
            Shipment.assign_force([Shipment(shipment_id)])
            reached = Shipment(shipment_id).state
        if reached == state:
            raise UserError(f"ERP shipment {shipment_id} stays {state} after {NEXT_STEP[state]}")
        state = reached


def _by_sku(shipment_ref: str, lines: list[dict]) -> dict[str, Decimal]:
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        amount = Decimal(str(line["quantity"]))
        if amount <= 0:
            raise UserError(f"3PL shipment {shipment_ref} has {amount} × {line['sku']}")
        wanted[line["sku"]] += amount
    if not wanted:
        raise UserError(f"3PL shipment {shipment_ref} ships nothing")
    return wanted


def _totals(moves) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for move in moves:
        totals[move.product.code] += quantity(move.quantity)
    return totals


def _covers(moves, wanted: dict[str, Decimal]) -> bool:
    totals = _totals(moves)
    return all(totals[sku] >= q for sku, q in wanted.items())


def _cut(moves, wanted: dict[str, Decimal]) -> dict[int, Decimal]:
    """New quantities for the moves that ship less than they hold (0: the move does not ship at all)."""
    left = dict(wanted)
    cut = {}
    for move in moves:
        sku, holds = move.product.code, quantity(move.quantity)
        ships = min(holds, left.get(sku, Decimal(0)))
        left[sku] = left.get(sku, Decimal(0)) - ships
        if ships != holds:
            cut[move.id] = ships
    return cut
