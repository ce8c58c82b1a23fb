"""Refund activities: the store refund at most once, and its credit note in the ERP."""
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity

from activities.errors import as_temporal_errors
from adapters.erp import Erp, ErpCreditNote
from adapters.errors import BusinessError
from canonical.keys import refund_key, sales_order_key
from canonical.returns import Refund, RefundRequest

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory


class StoreRefundRef(BaseModel):
    store_id: str
    order_id: str
    refund_id: str


class CreditNoteRequest(BaseModel):
    store_id: str
    order_id: str
    refund: Refund


class RefundActivities:
    def __init__(self, stores: "StoreDirectory", erp: Erp) -> None:
        self._stores = stores
        self._erp = erp

    @activity.defn
    async def create_store_refund(self, request: RefundRequest) -> Refund:
        """Look for our key before every attempt: WooCommerce refunds have no idempotency, and a lost
        response must never refund twice. Above what is still refundable, nothing is written."""
        with as_temporal_errors():
            store = self._stores.client(request.store_id)
            made = next((r for r in await store.list_refunds(request.order_id) if r.key == request.key), None)
            if made is not None:
                return made
            order = await store.get_order(request.order_id)
            refundable = order.total.amount - sum((r.amount.amount for r in order.refunds), Decimal(0))
            if request.amount.amount > refundable:
                raise BusinessError(
                    "retail-sync",
                    f"refund of {request.amount.amount} {request.amount.currency} is more than the "
                    f"{refundable} {order.currency} still refundable on order {order.number}",
                )
            return await store.create_refund(request)

    @activity.defn
    async def read_store_refund(self, ref: StoreRefundRef) -> Refund:
        with as_temporal_errors():
            refunds = await self._stores.client(ref.store_id).list_refunds(ref.order_id)
            refund = next((r for r in refunds if r.refund_id == ref.refund_id), None)
            if refund is None:
                raise BusinessError("woocommerce", f"order {ref.order_id} has no refund {ref.refund_id} (deleted?)")
            return refund

    @activity.defn
    async def post_credit_note(self, request: CreditNoteRequest) -> ErpCreditNote:
        refund = request.refund
        key = refund.key or refund_key(request.store_id, request.order_id, f"wc{refund.refund_id}")
        with as_temporal_errors():
            if not refund.lines:
                raise BusinessError(
                    "retail-sync", f"store refund {refund.refund_id} names no lines: credit it in the ERP by hand"
                )
            return await self._erp.post_credit_note(
                sales_order_key(request.store_id, request.order_id), key, list(refund.lines), refund.reason
            )

    def all(self) -> list:
        return [self.create_store_refund, self.read_store_refund, self.post_credit_note]
