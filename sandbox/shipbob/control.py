"""The sandbox's own control surface under `/__sandbox/`, outside ShipBob's API on purpose.

What a warehouse floor or a test needs and the API cannot do: pick a shipment (so cancelling is refused),
raise an exception or hold on it, receive stock, receive and process a return, switch quirks, force 429s,
read the delivery log.
"""
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.shipbob import fulfilment, return_handling
from sandbox.shipbob.auth import ForcedLimit, Gate
from sandbox.shipbob.config import Quirks
from sandbox.shipbob.delivery import WebhookDeliveries
from sandbox.shipbob.inventory import locations_view
from sandbox.shipbob.state import STATUS_DETAILS, Return, Shipment, Store
from sandbox.shipbob.views import return_view, shipment_view
from sandbox.shipbob.wire import ShipBobJSON


class Restock(BaseModel):
    center_id: int
    sku: str
    quantity: int = Field(gt=0)
    name: str | None = None  # names the product when the SKU is new to the account


class ShipmentException(BaseModel):
    detail: str  # a status detail name, e.g. OutOfStock (303) or InvalidAddress (401)


class ProcessedUnits(BaseModel):
    inventory_id: int
    quantity_processed: int = Field(gt=0)
    action: str  # Restock | Dispose | Quarantine


class ReturnProcessing(BaseModel):
    items: list[ProcessedUnits] = Field(min_length=1)


class ControlError(Exception):
    def __init__(self, status: int, error) -> None:
        super().__init__(error)
        self.response = JSONResponse({"error": error}, status)


async def _parsed(request: Request, model: type[BaseModel]):
    try:
        return model.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise ControlError(422, exc.errors(include_url=False)) from None


def _shipment(store: Store, request: Request) -> Shipment:
    shipment = store.shipments.get(request.path_params["shipment_id"])
    if shipment is None:
        raise ControlError(404, "no such shipment")
    return shipment


def _return(store: Store, request: Request) -> Return:
    rma = store.returns.get(request.path_params["return_id"])
    if rma is None:
        raise ControlError(404, "no such return")
    return rma


def control_routes(store: Store, gate: Gate, deliveries: WebhookDeliveries) -> list[Route]:
    def controlled(handler):
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request)
            except ControlError as error:
                return error.response
            if request.method != "GET":
                store.persist()
            return response
        return endpoint

    async def pick(request: Request) -> Response:
        shipment = _shipment(store, request)
        if shipment.status != "Processing" or shipment.details:
            raise ControlError(409, f"shipment is {shipment.status}, not waiting to be picked")
        fulfilment.pick(shipment)
        return JSONResponse(shipment_view(store, shipment))

    async def exception(request: Request) -> Response:
        shipment, body = _shipment(store, request), await _parsed(request, ShipmentException)
        if STATUS_DETAILS.get(body.detail, (0, ""))[1] not in ("Exception", "OnHold"):
            raise ControlError(422, f"{body.detail!r} is not an Exception or On Hold status detail")
        if shipment.status in ("Completed", "LabeledCreated", "Cancelled"):
            raise ControlError(409, f"shipment is {shipment.status}")
        fulfilment.hold(store, shipment, body.detail)
        return JSONResponse(shipment_view(store, shipment))

    async def restock(request: Request) -> Response:
        body = await _parsed(request, Restock)
        if body.center_id not in store.centers:
            raise ControlError(422, f"no fulfillment center {body.center_id}")
        product = store.product_by_sku(body.sku) or store.add_product(body.sku, body.name or body.sku)
        fulfilment.receive(store, body.center_id, product, body.quantity)
        return JSONResponse(locations_view(store, product))

    def return_step(step):
        async def handler(request: Request) -> Response:
            rma = _return(store, request)
            try:
                await step(rma, request)
            except return_handling.Refused as refusal:
                raise ControlError(409, str(refusal)) from None
            return ShipBobJSON(return_view(store, rma))
        return handler

    async def arrive(rma: Return, request: Request) -> None:
        return_handling.arrive(store, rma)

    async def process(rma: Return, request: Request) -> None:
        body = await _parsed(request, ReturnProcessing)
        return_handling.process(store, rma, [(i.inventory_id, i.quantity_processed, i.action) for i in body.items])

    async def complete(rma: Return, request: Request) -> None:
        return_handling.complete(store, rma)

    async def set_quirks(request: Request) -> Response:
        changes = await _parsed(request, Quirks)
        store.quirks = store.quirks.model_copy(update=changes.model_dump(exclude_unset=True))
        return JSONResponse(store.quirks.model_dump())

    async def get_quirks(request: Request) -> Response:
        return JSONResponse(store.quirks.model_dump())

    async def force_limit(request: Request) -> Response:
        fault = await _parsed(request, ForcedLimit)
        gate.forced.append(fault)
        return JSONResponse(fault.model_dump(), 201)

    async def clear_limits(request: Request) -> Response:
        gate.forced.clear()
        return Response(status_code=204)

    async def list_deliveries(request: Request) -> Response:
        return JSONResponse(deliveries.log)

    async def clear_deliveries(request: Request) -> Response:
        deliveries.log.clear()
        return Response(status_code=204)

    return [
        Route("/__sandbox/shipments/{shipment_id:int}/pick", controlled(pick), methods=["POST"]),
        Route("/__sandbox/shipments/{shipment_id:int}/exception", controlled(exception), methods=["POST"]),
        Route("/__sandbox/restock", controlled(restock), methods=["POST"]),
        Route("/__sandbox/returns/{return_id:int}/arrive", controlled(return_step(arrive)), methods=["POST"]),
        Route("/__sandbox/returns/{return_id:int}/process", controlled(return_step(process)), methods=["POST"]),
        Route("/__sandbox/returns/{return_id:int}/complete", controlled(return_step(complete)), methods=["POST"]),
        Route("/__sandbox/quirks", controlled(set_quirks), methods=["POST"]),
        Route("/__sandbox/quirks", controlled(get_quirks), methods=["GET"]),
        Route("/__sandbox/faults", controlled(force_limit), methods=["POST"]),
        Route("/__sandbox/faults", controlled(clear_limits), methods=["DELETE"]),
        Route("/__sandbox/webhook-deliveries", controlled(list_deliveries), methods=["GET"]),
        Route("/__sandbox/webhook-deliveries", controlled(clear_deliveries), methods=["DELETE"]),
    ]
