"""What the warehouse was asked to ship for one store order, and what it has shipped so far.

Pure state, kept by the order workflow and returned by its `progress` query. Events may
arrive twice, late or out of order (webhooks and polls both feed it), so applying a
shipment is idempotent and never moves a shipment back from shipped. Completion is
counted per SKU over all shipments, whichever 3PL order (or reroute) they came from.
"""
from decimal import Decimal

from pydantic import BaseModel

from canonical.fulfilment import FulfilmentLine, FulfilmentOrder, FulfilmentRequest, Shipment, ShipmentStatus

LEFT_WAREHOUSE = {ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED}
NEEDS_DECISION = {ShipmentStatus.EXCEPTION, ShipmentStatus.ON_HOLD}


class FulfilmentProgress(BaseModel):
    ordered: dict[str, Decimal] = {}  # SKU → units this run ships: bought, less what was refunded before
    requests: dict[str, FulfilmentRequest] = {}  # 3PL orders, by our reference
    shipments: dict[str, Shipment] = {}  # latest known state, by shipment id
    shipment_reference: dict[str, str] = {}  # shipment id → 3PL order reference
    recorded_in_erp: list[str] = []
    noted_on_store: list[str] = []
    implausible: dict[str, str] = {}  # shipment id → why it cannot be what its 3PL order was asked to ship

    @classmethod
    def for_lines(cls, lines: list[FulfilmentLine]) -> "FulfilmentProgress":
        ordered: dict[str, Decimal] = {}
        for line in lines:
            ordered[line.sku] = ordered.get(line.sku, Decimal(0)) + line.quantity
        return cls(ordered=ordered)

    def requested(self, request: FulfilmentRequest) -> None:
        self.requests[request.reference] = request

    def apply_order(self, order: FulfilmentOrder) -> bool:
        changed = False
        for shipment in order.shipments:
            changed |= self.apply(order.reference, shipment)
        return changed

    def apply(self, reference: str, shipment: Shipment) -> bool:
        """True if this news changes what we know. A shipment of more than its 3PL order asked for (another
        SKU, or more units) is kept out and listed as implausible: it must never reach the ERP."""
        if reference not in self.requests:
            return False
        if shipment.status in LEFT_WAREHOUSE and (doubt := self._beyond_request(reference, shipment)):
            changed = self.implausible.get(shipment.shipment_id) != doubt
            self.implausible[shipment.shipment_id] = doubt
            return changed
        self.implausible.pop(shipment.shipment_id, None)
        known = self.shipments.get(shipment.shipment_id)
        if known is not None:
            if known.status in LEFT_WAREHOUSE and shipment.status not in LEFT_WAREHOUSE:
                return False  # a late event from before it shipped
            if known.status == ShipmentStatus.DELIVERED and shipment.status == ShipmentStatus.SHIPPED:
                shipment = shipment.model_copy(update={"status": ShipmentStatus.DELIVERED})
            if shipment.tracking is None and known.tracking is not None:
                shipment = shipment.model_copy(update={"tracking": known.tracking})
            if not shipment.lines and known.lines:
                shipment = shipment.model_copy(update={"lines": known.lines})
            if shipment == known:
                return False
        self.shipments[shipment.shipment_id] = shipment
        self.shipment_reference[shipment.shipment_id] = reference
        return True

    def _beyond_request(self, reference: str, shipment: Shipment) -> str:
        """Why `shipment` ships what 3PL order `reference` was not asked for; "" when it does not."""
        asked: dict[str, Decimal] = {}
        for line in self.requests[reference].lines:
            asked[line.sku] = asked.get(line.sku, Decimal(0)) + line.quantity
        for other in self._shipped():
            if other.shipment_id != shipment.shipment_id and self.shipment_reference.get(other.shipment_id) == reference:
                for line in other.lines:
                    asked[line.sku] = asked.get(line.sku, Decimal(0)) - line.quantity
        shipped: dict[str, Decimal] = {}
        for line in shipment.lines:
            shipped[line.sku] = shipped.get(line.sku, Decimal(0)) + line.quantity
        beyond = [f"{quantity:g} × {sku} ({max(asked.get(sku, Decimal(0)), Decimal(0)):g} asked and not yet shipped)"
                  for sku, quantity in sorted(shipped.items()) if quantity > asked.get(sku, Decimal(0))]  # fmt: skip
        if not beyond:
            return ""
        return (f"3PL shipment {shipment.shipment_id} of 3PL order {reference} ships {', '.join(beyond)}: "
                "check it with the 3PL before anything is recorded")  # fmt: skip

    def to_record_in_erp(self) -> list[Shipment]:
        return [s for s in self._shipped() if s.shipment_id not in self.recorded_in_erp]

    def to_note_on_store(self) -> list[Shipment]:
        """Shipped and in the ERP, with tracking known (a `shipped` event may come without it)."""
        return [
            s
            for s in self._shipped()
            if s.shipment_id in self.recorded_in_erp and s.shipment_id not in self.noted_on_store and s.tracking
        ]

    def needing_decision(self) -> list[Shipment]:
        return [s for s in self.shipments.values() if s.status in NEEDS_DECISION]

    def withdraw(self, reference: str) -> None:
        """The 3PL order `reference` was cancelled: none of its shipments will leave."""
        for shipment_id, ref in list(self.shipment_reference.items()):
            shipment = self.shipments[shipment_id]
            if ref == reference and shipment.status not in LEFT_WAREHOUSE:
                self.shipments[shipment_id] = shipment.model_copy(update={"status": ShipmentStatus.CANCELLED})

    def owe_less(self, units: dict[str, Decimal]) -> dict[str, dict[str, Decimal]]:
        """The customer is owed `units` fewer (refunded before they shipped): per 3PL order, the units still
        waiting there that must no longer ship (newest 3PL order first)."""
        for sku, quantity in units.items():
            if sku in self.ordered:
                self.ordered[sku] = max(self.ordered[sku] - quantity, Decimal(0))
        shipped = self._units(self._shipped())
        waiting = {reference: self.waiting_at(reference) for reference in reversed(list(self.requests))}
        too_many = {sku: shipped.get(sku, Decimal(0)) + sum((w.get(sku, Decimal(0)) for w in waiting.values()),
                                                            Decimal(0)) - quantity
                    for sku, quantity in self.ordered.items()}  # fmt: skip
        cuts: dict[str, dict[str, Decimal]] = {}
        for reference, lines in waiting.items():
            for sku, quantity in lines.items():
                cut = min(quantity, max(too_many.get(sku, Decimal(0)), Decimal(0)))
                if cut > 0:
                    cuts.setdefault(reference, {})[sku] = cut
                    too_many[sku] -= cut
        return cuts

    def waiting_at(self, reference: str) -> dict[str, Decimal]:
        """SKU → units 3PL order `reference` still has to ship (its open shipments; all it was asked for while
        the 3PL shows none)."""
        shipments = [self.shipments[i] for i, ref in self.shipment_reference.items() if ref == reference]
        if not shipments:
            return self._units_of(self.requests[reference].lines)
        return self._units(s for s in shipments if s.status not in LEFT_WAREHOUSE | {ShipmentStatus.CANCELLED})

    def lines_to_reroute(self, stuck: Shipment) -> list[FulfilmentLine]:
        """The stuck shipment's lines; if the 3PL gave none, whatever is neither shipped nor on its way."""
        if stuck.lines:
            return list(stuck.lines)
        covered: dict[str, Decimal] = {}
        for shipment in self.shipments.values():
            if shipment.shipment_id != stuck.shipment_id and shipment.status != ShipmentStatus.CANCELLED:
                for line in shipment.lines:
                    covered[line.sku] = covered.get(line.sku, Decimal(0)) + line.quantity
        return [
            FulfilmentLine(sku=sku, quantity=quantity - covered.get(sku, Decimal(0)))
            for sku, quantity in self.ordered.items()
            if quantity > covered.get(sku, Decimal(0))
        ]

    @property
    def everything_shipped(self) -> bool:
        shipped = self._units(self._shipped())
        return all(shipped.get(sku, 0) >= qty for sku, qty in self.ordered.items())

    @property
    def everything_recorded(self) -> bool:
        return all(
            s.shipment_id in self.recorded_in_erp and s.shipment_id in self.noted_on_store for s in self._shipped()
        )

    def _shipped(self) -> list[Shipment]:
        return [s for s in self.shipments.values() if s.status in LEFT_WAREHOUSE]

    @classmethod
    def _units(cls, shipments) -> dict[str, Decimal]:
        return cls._units_of(line for shipment in shipments for line in shipment.lines)

    @staticmethod
    def _units_of(lines) -> dict[str, Decimal]:
        units: dict[str, Decimal] = {}
        for line in lines:
            units[line.sku] = units.get(line.sku, Decimal(0)) + line.quantity
        return units
