"""What retail-sync keeps on the store order so that it outlives every workflow run: what shipped, and each RMA.

Temporal forgets closed runs (retention); the store order keeps its meta. A shipment is recorded when the
order run tells the store it shipped (lines and centre, beside the tracking other plugins read); an RMA when
it is authorised (the lines it takes back), and its outcome when its return run ends (what it took back in
the end: the processed units, or nothing if rejected, cancelled or expired). Each record has its own key
and is written whole, so a retry rewrites the same value and no writer can undo another's.
"""
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from adapters.errors import BusinessError
from canonical.fulfilment import FulfilmentLine, Shipment
from canonical.returns import ReturnLine

if TYPE_CHECKING:  # imported by modules the workflow sandbox loads; keep HTTP clients out of it
    from adapters.woocommerce import WooCommerceClient

META_PREFIX = "_retail_sync_"
SHIPMENT_META_PREFIX = "_retail_sync_tracking_"
RMA_META = re.compile(r"^_retail_sync_rma_(?P<number>\d+)(?P<outcome>_outcome)?$")


class ShipmentRecord(BaseModel):
    center_id: str
    lines: list[FulfilmentLine] = []
    carrier: str | None = None
    tracking_number: str | None = None
    url: str | None = None


class ReturnRecord(BaseModel):
    """An RMA's lines as authorised, or in its outcome (`stage`: how its run ended) what it took back."""

    stage: str = "authorised"
    lines: list[ReturnLine] = []


@dataclass
class OrderRecords:
    shipments: dict[str, ShipmentRecord] = field(default_factory=dict)  # by shipment id
    authorised: dict[int, ReturnRecord] = field(default_factory=dict)  # by RMA number
    outcomes: dict[int, ReturnRecord] = field(default_factory=dict)

    def shipped(self) -> dict[str, Decimal]:
        return _per_sku((line.sku, line.quantity) for record in self.shipments.values() for line in record.lines)

    def returns(self) -> dict[int, list[ReturnLine]]:
        """RMA number → what it takes back: its outcome once it ended, else what was authorised."""
        return {number: (self.outcomes.get(number) or self.authorised[number]).lines
                for number in sorted({*self.authorised, *self.outcomes})}  # fmt: skip

    def shipped_from(self, sku: str) -> tuple[str, str] | None:
        """(centre, shipment id) of the first recorded shipment with this SKU: a returned parcel goes back there."""
        return next(((record.center_id, shipment_id) for shipment_id, record in self.shipments.items()
                     if any(line.sku == sku for line in record.lines)), None)  # fmt: skip


async def read_order_records(store: "WooCommerceClient", order_id: str) -> OrderRecords:
    records = OrderRecords()
    for key, value in (await store.find_order_meta(order_id, META_PREFIX)).items():
        try:
            if key.startswith(SHIPMENT_META_PREFIX):
                records.shipments[key.removeprefix(SHIPMENT_META_PREFIX)] = ShipmentRecord.model_validate_json(value)
            elif rma := RMA_META.match(key):
                kept = records.outcomes if rma["outcome"] else records.authorised
                kept[int(rma["number"])] = ReturnRecord.model_validate_json(value)
        except ValidationError as err:
            raise BusinessError("retail-sync", f"store order {order_id}: meta {key} is not a record retail-sync "
                                               f"wrote ({err.error_count()} error(s)); restore or delete it") from None
    return records


async def record_shipment(store: "WooCommerceClient", order_id: str, shipment: Shipment) -> None:
    tracking = shipment.tracking
    record = ShipmentRecord(center_id=shipment.center_id, lines=list(shipment.lines),
                            carrier=tracking.carrier if tracking else None,
                            tracking_number=tracking.number if tracking else None,
                            url=tracking.url if tracking else None)  # fmt: skip
    await store.set_order_meta(order_id, SHIPMENT_META_PREFIX + shipment.shipment_id, record.model_dump_json())


async def record_return(store: "WooCommerceClient", order_id: str, number: int, lines: list[ReturnLine]) -> None:
    """The RMA as authorised."""
    await store.set_order_meta(order_id, f"{META_PREFIX}rma_{number}", ReturnRecord(lines=lines).model_dump_json())


async def record_return_outcome(store: "WooCommerceClient", order_id: str, number: int, stage: str,
                                returned: list[ReturnLine]) -> None:
    """How the RMA's run ended and what it took back, beside (never over) its authorisation."""
    await store.set_order_meta(order_id, f"{META_PREFIX}rma_{number}_outcome",
                               ReturnRecord(stage=stage, lines=returned).model_dump_json())


def _per_sku(quantities) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for sku, quantity in quantities:
        total[sku] = total.get(sku, Decimal(0)) + quantity
    return total
