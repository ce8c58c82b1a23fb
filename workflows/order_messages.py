"""What goes in and out of an order-to-cash run: its input, progress and operator answers.

Shared by the workflow, the webhook starter and the operator CLI.
"""
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from canonical import Order
from canonical.fulfilment import Shipment
from workflows.fulfilment_progress import FulfilmentProgress
from workflows.records import OrderRecord
from workflows.steps import ParkedStep


class OrderStage(StrEnum):
    """Where a run stands, in words support staff search for (search attribute `OrderStage`)."""

    AWAITING_PAYMENT = "awaiting_payment"
    ENSURING_CUSTOMER = "ensuring_customer"
    CREATING_SALES_ORDER = "creating_sales_order"
    RECORDING_SALE_ON_STORE = "recording_sale_on_store"
    PLANNING_FULFILMENT = "planning_fulfilment"
    CREATING_FULFILMENT_ORDER = "creating_fulfilment_order"
    AWAITING_SHIPMENT = "awaiting_shipment"
    RECORDING_SHIPMENT = "recording_shipment"
    REROUTING = "rerouting"
    COMPLETING_STORE_ORDER = "completing_store_order"
    INVOICING = "invoicing"
    COMPLETED = "completed"
    PARKED = "parked"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    PAYMENT_EXPIRED = "payment_expired"


class OrderRunInput(BaseModel):
    store_id: str
    order_id: str
    payment_window: timedelta
    fulfilment_sla: timedelta = timedelta(days=3)
    shipment_poll_interval: timedelta = timedelta(hours=1)
    needs_attention_because: str = ""
    """Flagged from the start (e.g. paid after an earlier run of the order closed); cleared once completed."""
    continue_as_new_after_events: int = 2_000
    resume: "OrderRunState | None" = None
    """Set when a run continued as new while waiting for the 3PL."""


class OrderRunState(BaseModel):
    """What a run waiting for the 3PL carries into the next one when it continues as new."""

    order: Order
    sale_number: str
    fulfilment: FulfilmentProgress
    sla_due: datetime
    late: bool = False
    steps_done: list[str] = []
    news_is_a_hint: bool = True
    hinted: list[str] = []
    refunds_stop_shipping: bool = True
    refunds_read: list[str] = []
    refunded: dict[str, Decimal] = {}


class ShipmentNews(BaseModel):
    """A 3PL shipment as a webhook or a poll saw it, for the 3PL order `reference`."""

    reference: str
    shipment: Shipment


class OrderProgress(BaseModel):
    """Answer to the `progress` query: what `retail-sync orders show` prints."""

    store_id: str
    order_id: str
    order_number: str = ""
    store_status: str = ""
    stage: OrderStage
    erp_sale_number: str = ""
    parked: ParkedStep | None = None
    steps_done: list[str] = []
    cancel_reason: str = ""
    fulfilment_late: bool = False
    attention: str = ""
    fulfilment: FulfilmentProgress | None = None


class OrderOutcome(BaseModel):
    """The result of a finished run."""

    stage: OrderStage
    erp_sale_number: str = ""
    note: str = ""
    record: OrderRecord = OrderRecord()
    """The ERP sale, shipments with tracking, invoice and refunds as they stood when the run closed."""


OrderRunInput.model_rebuild()
