"""The sandbox's own control surface under `/__sandbox/`, outside the WordPress API on purpose.

Host faults imitate what sits in front of a real store (WAF, CDN, overloaded PHP): a status with an
optional `Retry-After`, a slow response, or an `Authorization` header the host strips. They apply
before WordPress sees the request, so their bodies are the host's, not WooCommerce JSON.
`drop_response_after_commit` is the other way round: WordPress does the work and saves it, then the
connection dies before the answer arrives (the lost-response case a non-idempotent POST must survive).
`die_before` names a step of a handler where PHP dies (`refund_meta`: after `wc_create_refund`, before the
refund's `meta_data` is saved): the host answers WordPress's bare "critical error" 500, or nothing with
`drop_response_after_commit`. `host_timeout_s` is nginx giving up on PHP (`fastcgi_read_timeout`): a bare
504 after that long, while WordPress goes on and finishes the request.

`POST /__sandbox/gateway {"method": "stripe", "refuse": "Card issuer declined the refund", "delay_s": 5}`
makes that payment gateway refuse refunds with this message (`refuse` null: accept) and take `delay_s` to
answer, until `DELETE /__sandbox/gateway`. `GET /__sandbox/gateway-refunds` lists every refund a gateway
was asked for (`order_id`, `method`, `amount`, `reason`, `refused`).

`POST /__sandbox/batch-limit {"limit": 25}` is a plugin filtering `woocommerce_rest_batch_items_limit`:
batches of more items are refused with 413 until `DELETE /__sandbox/batch-limit` restores the configured one.

`POST /__sandbox/order-view {"order_id": 7, "fields": {"currency": "EURO"}}` is a plugin rewriting those
fields of that order wherever the REST API shows it (a `woocommerce_rest_prepare_shop_order_object`
filter: listings, reads and webhook bodies), until `DELETE /__sandbox/order-view`: a store order
our mapper cannot read.

`POST /__sandbox/locked-skus {"sku": "TEE", "message": "..."}` is a plugin refusing to save that product
(a `woocommerce_rest_pre_insert_product_object` filter returning an error): its single writes fail and
its batch items come back as per-item errors, until `DELETE /__sandbox/locked-skus`.
"""
import asyncio
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.woocommerce.delivery import WebhookDeliveries
from sandbox.woocommerce.state import Store


class HostFault(BaseModel):
    path_prefix: str = "/wp-json/"
    method: str | None = None
    count: int | None = Field(default=None, ge=1, description="None = every matching request until cleared")
    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: str | None = None
    body: str = ""
    delay_s: float = Field(default=0, ge=0)
    strip_authorization: bool = False
    drop_response_after_commit: bool = False
    die_before: Literal["refund_meta"] | None = None
    host_timeout_s: float | None = Field(default=None, gt=0)


class GatewayBehaviour(BaseModel):
    method: str
    refuse: str | None = None
    delay_s: float = Field(default=0, ge=0)


class BatchLimit(BaseModel):
    limit: int = Field(ge=1)


class LockedSku(BaseModel):
    sku: str = Field(min_length=1)
    message: str = "This product is locked by another plugin."


class OrderViewOverride(BaseModel):
    order_id: int
    fields: dict


CRITICAL_ERROR_PAGE = ("<!DOCTYPE html><html><head><title>WordPress &rsaquo; Error</title></head><body>"
                       "<p>There has been a critical error on this website.</p></body></html>")
"""What `WP_Fatal_Error_Handler` sends when PHP dies mid-request (HTTP 500)."""
GATEWAY_TIMEOUT_PAGE = "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway " \
                       "Time-out</h1></center><hr><center>nginx</center></body></html>"


class DroppedResponse(Response):
    """Headers promising a body, then nothing: uvicorn closes the connection mid-response (and logs
    "ASGI callable returned without completing response."), so the client gets a transport error."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")]})


class HostFaults:
    def __init__(self) -> None:
        self.active: list[HostFault] = []

    def take(self, method: str, path: str) -> HostFault | None:
        """The first fault matching the request, consuming one of its `count`."""
        for fault in self.active:
            if path.startswith(fault.path_prefix) and fault.method in (None, method):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self.active.remove(fault)
                return fault
        return None

    async def apply(self, fault: HostFault) -> Response | None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.status is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return Response(fault.body, fault.status, headers=headers, media_type="text/html")


M = TypeVar("M", bound=BaseModel)


class Unreadable(Exception):
    """A control body its model refuses; `_answering_422` turns it into the answer."""

    def __init__(self, error: ValidationError) -> None:
        self.response = JSONResponse({"error": error.errors(include_url=False)}, 422)


async def _read(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Unreadable(exc) from None


def _answering_422(handler):
    """A body the control model refuses is answered 422 with pydantic's errors."""

    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except Unreadable as unreadable:
            return unreadable.response

    return handle


def control_routes(faults: HostFaults, deliveries: WebhookDeliveries, store: Store) -> list[Route]:
    async def add_fault(request: Request) -> Response:
        fault = await _read(request, HostFault)
        faults.active.append(fault)
        return JSONResponse(fault.model_dump(), 201)

    async def clear_faults(request: Request) -> Response:
        faults.active.clear()
        return Response(status_code=204)

    async def list_deliveries(request: Request) -> Response:
        return JSONResponse(deliveries.log)

    async def clear_deliveries(request: Request) -> Response:
        deliveries.log.clear()
        return Response(status_code=204)

    async def set_gateway(request: Request) -> Response:
        behaviour = await _read(request, GatewayBehaviour)
        with store.lock:
            store.gateway_refusals.pop(behaviour.method, None)
            store.gateway_delays.pop(behaviour.method, None)
            if behaviour.refuse is not None:
                store.gateway_refusals[behaviour.method] = behaviour.refuse
            if behaviour.delay_s:
                store.gateway_delays[behaviour.method] = behaviour.delay_s
        return JSONResponse(behaviour.model_dump())

    async def clear_gateways(request: Request) -> Response:
        with store.lock:
            store.gateway_refusals.clear()
            store.gateway_delays.clear()
        return Response(status_code=204)

    async def list_gateway_refunds(request: Request) -> Response:
        with store.lock:
            return JSONResponse(list(store.gateway_refunds))

    async def set_batch_limit(request: Request) -> Response:
        limit = await _read(request, BatchLimit)
        with store.lock:
            store.batch_limit = limit.limit
        return JSONResponse(limit.model_dump())

    async def lock_sku(request: Request) -> Response:
        lock = await _read(request, LockedSku)
        with store.lock:
            store.locked_skus[lock.sku] = lock.message
        return JSONResponse(lock.model_dump())

    async def unlock_skus(request: Request) -> Response:
        with store.lock:
            store.locked_skus.clear()
        return Response(status_code=204)

    async def override_order_view(request: Request) -> Response:
        override = await _read(request, OrderViewOverride)
        with store.lock:
            store.order_view_overrides[override.order_id] = override.fields
        return JSONResponse(override.model_dump())

    async def clear_order_view_overrides(request: Request) -> Response:
        with store.lock:
            store.order_view_overrides.clear()
        return Response(status_code=204)

    async def reset_batch_limit(request: Request) -> Response:
        with store.lock:
            store.batch_limit = store.config.batch_limit
        return Response(status_code=204)

    return [
        Route("/__sandbox/faults", _answering_422(add_fault), methods=["POST"]),
        Route("/__sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/__sandbox/webhook-deliveries", list_deliveries, methods=["GET"]),
        Route("/__sandbox/webhook-deliveries", clear_deliveries, methods=["DELETE"]),
        Route("/__sandbox/gateway", _answering_422(set_gateway), methods=["POST"]),
        Route("/__sandbox/gateway", clear_gateways, methods=["DELETE"]),
        Route("/__sandbox/gateway-refunds", list_gateway_refunds, methods=["GET"]),
        Route("/__sandbox/batch-limit", _answering_422(set_batch_limit), methods=["POST"]),
        Route("/__sandbox/batch-limit", reset_batch_limit, methods=["DELETE"]),
        Route("/__sandbox/locked-skus", _answering_422(lock_sku), methods=["POST"]),
        Route("/__sandbox/locked-skus", unlock_skus, methods=["DELETE"]),
        Route("/__sandbox/order-view", _answering_422(override_order_view), methods=["POST"]),
        Route("/__sandbox/order-view", clear_order_view_overrides, methods=["DELETE"]),
    ]
