"""Order-to-cash activities: each one calls one system and is safe to run twice."""
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity

from activities.erp_attempts import erp_step
from activities.errors import as_temporal_errors
from activities.store_notes import note_once
from adapters.erp import Erp, ErpCustomer, SalesOrder
from adapters.errors import BusinessError
from canonical import Order
from canonical.keys import customer_key, sales_order_key, store_note_marker
from canonical.order_checks import order_problems
from canonical.returns import LineKind

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory

ERP_SALE_NUMBER_META_KEY = "_retail_sync_erp_sale_number"
ORDER_CHECK = "retail-sync"


class OrderRef(BaseModel):
    store_id: str
    order_id: str


class SalesOrderRequest(BaseModel):
    order: Order
    customer: ErpCustomer


class SaleOnStoreOrder(BaseModel):
    store_id: str
    order_id: str
    sale_number: str


class CancellationOnStoreOrder(BaseModel):
    store_id: str
    order_id: str
    reason: str
    sale_number: str = ""


class OrderActivities:
    def __init__(self, stores: "StoreDirectory", erp: Erp) -> None:
        self._stores = stores
        self._erp = erp

    @activity.defn
    async def ensure_customer(self, order: Order) -> ErpCustomer:
        """The first ERP write, so the order is checked here: an absurd order parks before the ERP has any of it."""
        async with erp_step():
            problems = order_problems(order)
            if problems:
                raise BusinessError(
                    ORDER_CHECK,
                    f"order #{order.number} cannot go to the ERP: {'; '.join(problems)}. "
                    "Correct it in the store, then retry",
                )
            return await self._erp.ensure_customer(
                customer_key(order.store_id, order.customer),
                order.customer,
                order.billing_address,
                order.shipping_address,
            )

    @activity.defn
    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        """Confirmed only at the store's amounts to the cent, or as the store's `erp_amounts` policy settles it."""
        order = request.order
        async with erp_step():
            policy = self._stores.settings(order.store_id).erp_amounts
            return await self._erp.create_sales_order(
                sales_order_key(order.store_id, order.order_id), order, request.customer, policy
            )

    @activity.defn
    async def cancel_sales_order(self, ref: OrderRef) -> SalesOrder | None:
        async with erp_step():
            return await self._erp.cancel_sales_order(sales_order_key(ref.store_id, ref.order_id))

    @activity.defn
    async def read_refunded_units(self, ref: OrderRef) -> dict[str, Decimal]:
        """SKU → units the store's refunds gave back (a refund line names the order line it refunds)."""
        with as_temporal_errors():
            store = self._stores.client(ref.store_id)
            lines = [line for refund in await store.list_refunds(ref.order_id) for line in refund.lines
                     if line.kind == LineKind.PRODUCT and line.quantity]  # fmt: skip
            skus = {line.line_id: line.sku for line in (await store.get_order(ref.order_id)).lines} if lines else {}
        units: dict[str, Decimal] = {}
        for line in lines:
            if sku := skus.get(line.line_id) or line.sku:
                units[sku] = units.get(sku, Decimal(0)) + line.quantity
        return units

    @activity.defn
    async def record_sale_on_store_order(self, sale: SaleOnStoreOrder) -> None:
        """Private note + order meta with the ERP sale number."""
        with as_temporal_errors():
            await self._note_once(
                sale.store_id, sale.order_id, "erp-sale",
                f"ERP sale {sale.sale_number} created and confirmed by retail-sync.",
            )  # fmt: skip
            store = self._stores.client(sale.store_id)
            await store.set_order_meta(sale.order_id, ERP_SALE_NUMBER_META_KEY, sale.sale_number)

    @activity.defn
    async def record_cancellation_on_store_order(self, cancellation: CancellationOnStoreOrder) -> None:
        undone = f" ERP sale {cancellation.sale_number} cancelled." if cancellation.sale_number else ""
        with as_temporal_errors():
            await self._note_once(
                cancellation.store_id, cancellation.order_id, "cancelled",
                f"retail-sync stopped processing this order: {cancellation.reason}.{undone}",
            )  # fmt: skip

    def all(self) -> list:
        return [
            self.ensure_customer,
            self.create_sales_order,
            self.cancel_sales_order,
            self.read_refunded_units,
            self.record_sale_on_store_order,
            self.record_cancellation_on_store_order,
        ]

    async def _note_once(self, store_id: str, order_id: str, kind: str, text: str) -> None:
        """A private note, tagged so a retry sees it was written."""
        marker = store_note_marker(kind, store_id, order_id)
        await note_once(self._stores.client(store_id), order_id, f"{text} {marker}", marker=marker,
                        customer_visible=False)  # fmt: skip
