"""Return (RMA) activities: the ERP return, the 3PL's expected parcel, what it processed, the customer's note,
and the RMA's outcome on the store order, which later authorisations count instead of the closed run."""
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity

from activities.erp_attempts import erp_step
from activities.errors import as_temporal_errors
from activities import order_records
from activities.store_notes import note_once
from adapters.erp import Erp, ErpReturn
from adapters.errors import BusinessError
from canonical import Order
from canonical.keys import return_number, sales_order_key
from canonical.returns import ProcessedItem, ReturnLine, ThreePLReturn, ThreePLReturnRequest

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory
    from adapters.shipbob import ShipBobClient


class ReturnOfOrder(BaseModel):
    order: Order
    rma: str
    lines: list[ReturnLine]
    center_id: str
    original_shipment_id: str | None = None
    received: list[ProcessedItem] = []


class ReturnNote(BaseModel):
    of: ReturnOfOrder
    text: str


class ReturnOutcomeRecord(BaseModel):
    store_id: str
    order_id: str
    rma: str
    stage: str  # how the run ended: completed, rejected, cancelled, expired
    returned: list[ReturnLine] = []  # what it took back: the processed units when completed, else nothing


class ReturnActivities:
    def __init__(self, threepl: "ShipBobClient", stores: "StoreDirectory", erp: Erp) -> None:
        self._threepl = threepl
        self._stores = stores
        self._erp = erp

    @activity.defn
    async def open_erp_return(self, ret: ReturnOfOrder) -> ErpReturn:
        async with erp_step():
            return await self._erp.create_return(
                sales_order_key(ret.order.store_id, ret.order.order_id), ret.rma, ret.lines
            )

    @activity.defn
    async def expect_parcel_at_3pl(self, ret: ReturnOfOrder) -> ThreePLReturn:
        request = ThreePLReturnRequest(reference=ret.rma, center_id=ret.center_id,
                                       original_shipment_id=ret.original_shipment_id, lines=tuple(ret.lines))  # fmt: skip
        with as_temporal_errors():
            return await self._threepl.create_return(request)

    @activity.defn
    async def cancel_erp_return(self, ret: ReturnOfOrder) -> None:
        async with erp_step():
            await self._erp.cancel_return(ret.rma)

    @activity.defn
    async def cancel_3pl_return(self, rma: str) -> None:
        """Refused once the parcel arrived at the warehouse: an operator then decides."""
        with as_temporal_errors():
            found = await self._threepl.find_return(rma)
            if found is not None:
                await self._threepl.cancel_return(found.return_ref)

    @activity.defn
    async def get_3pl_return(self, rma: str) -> ThreePLReturn:
        with as_temporal_errors():
            found = await self._threepl.find_return(rma)
            if found is None:
                raise BusinessError("3pl", f"the 3PL has no return {rma}")
            return found

    @activity.defn
    async def receive_erp_return(self, ret: ReturnOfOrder) -> ErpReturn:
        async with erp_step():
            return await self._erp.receive_return(ret.rma, ret.received)

    @activity.defn
    async def note_return_on_store_order(self, note: ReturnNote) -> None:
        order = note.of.order
        with as_temporal_errors():
            await note_once(self._stores.client(order.store_id), order.order_id, note.text, marker=note.text,
                            customer_visible=True)  # fmt: skip

    @activity.defn
    async def record_return_outcome(self, outcome: ReturnOutcomeRecord) -> None:
        """What the RMA took back in the end, recorded on the store order before its run closes: from then on
        authorisations count this instead of the authorised lines, and need no closed run."""
        with as_temporal_errors():
            try:
                number = return_number(outcome.rma, outcome.store_id, outcome.order_id)
            except ValueError as err:
                raise BusinessError("retail-sync", str(err)) from None
            await order_records.record_return_outcome(self._stores.client(outcome.store_id), outcome.order_id,
                                                      number, outcome.stage, outcome.returned)  # fmt: skip

    def all(self) -> list:
        return [
            self.open_erp_return,
            self.expect_parcel_at_3pl,
            self.cancel_erp_return,
            self.cancel_3pl_return,
            self.get_3pl_return,
            self.receive_erp_return,
            self.note_return_on_store_order,
            self.record_return_outcome,
        ]
