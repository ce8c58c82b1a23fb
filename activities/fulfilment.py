"""Fulfilment activities: route, ask the 3PL to ship, and carry each shipment to the ERP and the store."""
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity

from activities.erp_attempts import erp_step
from activities.errors import as_temporal_errors
from activities.order_records import record_shipment
from activities.orders import OrderRef
from activities.routing import route_by_sku, route_by_stock
from activities.store_notes import note_once
from adapters.erp import Erp, ErpInvoice
from adapters.errors import BusinessError
from canonical import Money, Order, Payment
from canonical.fulfilment import (
    CancelOutcome,
    CancelResult,
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentOrderStatus,
    FulfilmentRequest,
    Shipment,
)
from canonical.keys import fulfilment_reference, sales_order_key
from config import OrderPolicy

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory
    from adapters.shipbob import ShipBobClient

class ShipmentOfOrder(BaseModel):
    store_id: str
    order_id: str
    shipment: Shipment


class InvoiceRequest(BaseModel):
    store_id: str
    order_id: str
    payment: Payment
    amount: Money


class FulfilmentActivities:
    def __init__(self, threepl: "ShipBobClient", stores: "StoreDirectory", erp: Erp, policy: OrderPolicy) -> None:
        self._threepl = threepl
        self._stores = stores
        self._erp = erp
        self._policy = policy

    @activity.defn
    async def plan_fulfilment(self, order: Order) -> list[FulfilmentRequest]:
        """One 3PL order per centre the lines are routed to (see `activities/routing.py`), for what the ERP has
        not yet recorded as shipped: the ERP, not a run's memory, is the durable record of what left, so a
        new run for an order whose old run is gone never ships it again."""
        with as_temporal_errors():
            shipped = await self._erp.shipped_units(sales_order_key(order.store_id, order.order_id))
            lines = [FulfilmentLine(sku=line.sku or "", name=line.name, quantity=line.quantity)
                     for line in order.without(shipped).lines]  # fmt: skip
            if not lines:
                return []
            if self._policy.route_by_stock:
                stock = await self._threepl.stock_by_center(sorted({line.sku for line in lines}))
                routed = route_by_stock(lines, stock)
            else:
                routed = route_by_sku(lines, self._policy.center_by_sku)
        address = order.shipping_address if not order.shipping_address.is_empty() else order.billing_address
        return [
            FulfilmentRequest(
                reference=fulfilment_reference(order.store_id, order.order_id, part),
                order_number=order.number,
                center_id=center,
                recipient_name=address.full_name or order.customer.display_name,
                recipient_email=order.customer.email,
                recipient_phone=address.phone or order.customer.phone,
                address=address,
                shipping_method=order.shipping_lines[0].method_title if order.shipping_lines else "Standard",
                lines=tuple(center_lines),
            )
            for part, (center, center_lines) in enumerate(sorted(routed.items(), key=lambda item: item[0] or ""), 1)
        ]

    @activity.defn
    async def create_fulfilment_order(self, request: FulfilmentRequest) -> FulfilmentOrder:
        with as_temporal_errors():
            return await self._threepl.create_order(request)

    @activity.defn
    async def get_fulfilment_order(self, reference: str) -> FulfilmentOrder:
        with as_temporal_errors():
            order = await self._threepl.find_order(reference)
            if order is None:
                raise BusinessError("3pl", f"no 3PL order with reference {reference}")
            return order

    @activity.defn
    async def cancel_fulfilment_order(self, reference: str) -> CancelResult:
        """Cancel at the 3PL; what it can no longer stop is a business error for an operator, line by line."""
        with as_temporal_errors():
            order = await self._threepl.find_order(reference)
            if order is None or order.status == FulfilmentOrderStatus.CANCELLED:
                return CancelResult(outcome=CancelOutcome.CANCELLED)
            result = await self._threepl.cancel_order(order.order_ref)
            if result.outcome != CancelOutcome.CANCELLED:
                raise BusinessError("3pl", _partly_cancelled(reference, order, result))
            return result

    @activity.defn
    async def cancel_fulfilment_shipment(self, shipment_id: str) -> CancelResult:
        """Stop one stuck shipment (before a reroute); refused once it is picked."""
        with as_temporal_errors():
            result = await self._threepl.cancel_shipment(shipment_id)
            if result.outcome != CancelOutcome.CANCELLED:
                raise BusinessError("3pl", f"3PL shipment {shipment_id} can no longer be cancelled: {result.reason}")
            return result

    @activity.defn
    async def record_shipment_in_erp(self, news: ShipmentOfOrder) -> None:
        async with erp_step():
            await self._erp.ship_sales_order(
                sales_order_key(news.store_id, news.order_id), news.shipment.shipment_id, list(news.shipment.lines)
            )

    @activity.defn
    async def record_shipment_on_store_order(self, news: ShipmentOfOrder) -> None:
        """The shipment's record on the store order (its lines and centre: what returns are checked against, and
        its tracking for other plugins), and with tracking a note the customer sees with carrier, number, link."""
        tracking = news.shipment.tracking
        with as_temporal_errors():
            store = self._stores.client(news.store_id)
            if tracking is not None:
                items = ", ".join(f"{line.quantity:g} × {line.name or line.sku}" for line in news.shipment.lines)
                link = f" {tracking.url}" if tracking.url else ""
                text = f"Shipped: {items}. {tracking.carrier} tracking number {tracking.number}.{link}"
                await note_once(store, news.order_id, text, marker=f"tracking number {tracking.number}",
                                customer_visible=True)  # fmt: skip
            await record_shipment(store, news.order_id, news.shipment)

    @activity.defn
    async def complete_store_order(self, ref: OrderRef) -> None:
        with as_temporal_errors():
            await self._stores.client(ref.store_id).update_order_status(ref.order_id, "completed")

    @activity.defn
    async def release_unshipped_units(self, ref: OrderRef) -> None:
        """Units refunded before they shipped will never ship: the ERP stops holding stock for them."""
        async with erp_step():
            await self._erp.release_unshipped(sales_order_key(ref.store_id, ref.order_id))

    @activity.defn
    async def invoice_sales_order(self, request: InvoiceRequest) -> ErpInvoice:
        async with erp_step():
            return await self._erp.invoice_sales_order(
                sales_order_key(request.store_id, request.order_id), request.payment, request.amount
            )

    def all(self) -> list:
        return [
            self.plan_fulfilment,
            self.create_fulfilment_order,
            self.get_fulfilment_order,
            self.cancel_fulfilment_order,
            self.cancel_fulfilment_shipment,
            self.record_shipment_in_erp,
            self.record_shipment_on_store_order,
            self.complete_store_order,
            self.release_unshipped_units,
            self.invoice_sales_order,
        ]


def _partly_cancelled(reference: str, order: FulfilmentOrder, result: CancelResult) -> str:
    """Which lines the 3PL stopped and which will still ship, so an operator can settle the rest (return, refund)."""
    def lines_of(shipment_ids: tuple[str, ...]) -> str:
        lines = [f"{line.quantity:g} × {line.sku}" for s in order.shipments if s.shipment_id in shipment_ids
                 for line in s.lines]  # fmt: skip
        return ", ".join(lines) or "nothing"

    reason = f" ({result.reason})" if result.reason else ""
    return (
        f"3PL order {reference} can no longer be fully cancelled{reason}: still shipping "
        f"{lines_of(result.refused_shipments)}; cancelled {lines_of(result.cancelled_shipments)}. "
        "The ERP sale is kept for what ships"
    )
