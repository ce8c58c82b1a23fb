"""The sandbox's own control surface under `/__sandbox/`, outside the WordPress API on purpose.

Host faults imitate what sits in front of a real store (WAF, CDN, overloaded PHP): a status with an
optional `Retry-After`, a slow response, or an `Authorization` header the host strips. They apply
before WordPress sees the request, so their bodies are the host's, not WooCommerce JSON.
"""
import asyncio

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.woocommerce.delivery import WebhookDeliveries


class HostFault(BaseModel):
    path_prefix: str = "/wp-json/"
    method: str | None = None
    count: int | None = Field(default=None, ge=1, description="None = every matching request until cleared")
    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: str | None = None
    body: str = ""
    delay_s: float = Field(default=0, ge=0)
    strip_authorization: bool = False


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


def control_routes(faults: HostFaults, deliveries: WebhookDeliveries) -> list[Route]:
    async def add_fault(request: Request) -> Response:
        try:
            fault = HostFault.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"error": exc.errors(include_url=False)}, 422)
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

    return [
        Route("/__sandbox/faults", add_fault, methods=["POST"]),
        Route("/__sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/__sandbox/webhook-deliveries", list_deliveries, methods=["GET"]),
        Route("/__sandbox/webhook-deliveries", clear_deliveries, methods=["DELETE"]),
    ]
