"""What support reads about an order run at every stage, and after it closed with no worker running.

The run keeps it in its memo and its result (both readable from history alone) as well as in its current
details (answered by a worker). Refunds and returns made after the run closed are runs of their own, found
by the order's query (README, "Operating order runs").
"""
from pydantic import BaseModel

from canonical import Order, RefundSummary
from canonical.fulfilment import Shipment
from workflows.fulfilment_progress import FulfilmentProgress

MEMO_KEY = "order"


class ShipmentRecord(BaseModel):
    shipment_id: str
    centre: str
    status: str
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""


class OrderRecord(BaseModel):
    order_number: str = ""
    erp_sale_number: str = ""
    invoice_number: str = ""
    shipments: list[ShipmentRecord] = []
    refunds: list[RefundSummary] = []
    waits_for: str = ""

    def markdown(self) -> str:
        """The record as lines of the run's current details (the Web UI renders Markdown)."""
        lines = [f"- 3PL shipment {s.shipment_id} from {s.centre}: {s.status}" + _tracking(s) for s in self.shipments]
        if self.invoice_number:
            lines.append(f"- ERP invoice **{self.invoice_number}**, the store's payment recorded")
        lines += [f"- refund {r.refund_id}: {r.amount.amount} {r.amount.currency}" + (f" ({r.reason})" if r.reason
                  else "") for r in self.refunds]  # fmt: skip
        return "\n".join(lines)


def order_record(
    order: Order | None, sale_number: str, invoice_number: str, fulfilment: FulfilmentProgress | None, waits_for: str
) -> OrderRecord:
    shipments = sorted((fulfilment.shipments if fulfilment else {}).values(), key=lambda s: s.shipment_id)
    return OrderRecord(
        order_number=order.number if order else "",
        erp_sale_number=sale_number,
        invoice_number=invoice_number,
        shipments=[_shipment(s) for s in shipments],
        refunds=list(order.refunds if order else ()),
        waits_for=waits_for,
    )


def _shipment(shipment: Shipment) -> ShipmentRecord:
    tracking = shipment.tracking
    return ShipmentRecord(
        shipment_id=shipment.shipment_id,
        centre=shipment.center_name or shipment.center_id,
        status=shipment.status.value,
        carrier=tracking.carrier if tracking else "",
        tracking_number=tracking.number if tracking else "",
        tracking_url=tracking.url if tracking else "",
    )


def _tracking(shipment: ShipmentRecord) -> str:
    if not shipment.tracking_number:
        return ""
    number = f"[{shipment.tracking_number}]({shipment.tracking_url})" if shipment.tracking_url else shipment.tracking_number
    return f", {shipment.carrier} {number}"
