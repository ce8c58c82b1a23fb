"""What support reads about an order, refund or return run at every stage, and after it closed with no
worker running.

A run keeps its record in its memo and its result (both readable from history alone) as well as in its
current details (answered by a worker). Refunds and returns made after an order run closed are runs of
their own, found by the order's query (README, "Operating order runs").
"""
from decimal import Decimal

from pydantic import BaseModel

from canonical import Money, Order, RefundSummary
from canonical.fulfilment import Shipment
from canonical.returns import Refund, ReturnLine
from workflows.fulfilment_progress import FulfilmentProgress

MEMO_KEY = "record"


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


class RecordLine(BaseModel):
    sku: str
    quantity: Decimal


class RefundRecord(BaseModel):
    store_id: str
    order_id: str
    refund_id: str = ""
    amount: Money | None = None
    lines: list[RecordLine] = []
    credit_note: str = ""
    state: str = ""

    def markdown(self) -> str:
        amount = f" of {money(self.amount)}" if self.amount else ""
        refund = f"Refund {self.refund_id}{amount}" if self.refund_id else "Refund"
        lines = f": {units(self.lines)}" if self.lines else ""
        credit = f"; ERP credit note **{self.credit_note}**" if self.credit_note else ""
        return f"{refund} of order {self.order_id} ({self.store_id}){lines}{credit}. State: {self.state}."


class ReturnRecord(BaseModel):
    rma: str
    store_id: str
    order_id: str
    order_number: str
    lines: list[RecordLine]
    state: str
    refund: RefundRecord | None = None

    def markdown(self) -> str:
        refund = f"\n\n{self.refund.markdown()}" if self.refund else ""
        return (f"Return {self.rma} of order #{self.order_number} ({self.store_id}): {units(self.lines)}. "
                f"State: {self.state}.{refund}")  # fmt: skip


def refund_record(store_id: str, order_id: str, refund: Refund | None, credit_note: str, state: str) -> RefundRecord:
    return RefundRecord(
        store_id=store_id, order_id=order_id, refund_id=refund.refund_id if refund else "",
        amount=refund.amount if refund else None, credit_note=credit_note, state=state,
        lines=[RecordLine(sku=line.sku, quantity=line.quantity) for line in (refund.lines if refund else ())
               if line.sku],
    )  # fmt: skip


def return_lines(lines: list[ReturnLine]) -> list[RecordLine]:
    return [RecordLine(sku=line.sku, quantity=line.quantity) for line in lines]


def units(lines: list[RecordLine]) -> str:
    return ", ".join(f"{line.quantity:g} × {line.sku}" for line in lines) or "nothing"


def money(amount: Money | None) -> str:
    return f"{amount.amount} {amount.currency}" if amount else ""
