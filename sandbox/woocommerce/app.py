"""The Starlette app: the WordPress REST entry point `/wp-json/...` plus the `/__sandbox/` controls."""
import asyncio
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.background import BackgroundTasks
from sandbox.woocommerce import batch, coupons, notes, orders, products, refunds_api
from sandbox.woocommerce.config import SandboxConfig
from sandbox.woocommerce.control import (
    CRITICAL_ERROR_PAGE,
    GATEWAY_TIMEOUT_PAGE,
    DroppedResponse,
    HostFault,
    HostFaults,
    control_routes,
)
from sandbox.woocommerce.delivery import WebhookDeliveries
from sandbox.woocommerce.rest import PhpDied, Waiting, dispatch, resume
from sandbox.woocommerce.state import Store
from sandbox.woocommerce.webhooks import webhook_routes

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build_app(config: SandboxConfig, home_url: str) -> Starlette:
    store = Store(config, home_url)
    if config.state_file and config.state_file.exists():
        store.load(config.state_file)
    deliveries = WebhookDeliveries(store)
    faults = HostFaults()
    api_routes = orders.ROUTES + refunds_api.ROUTES + notes.ROUTES + products.ROUTES + batch.ROUTES + coupons.ROUTES
    api_routes += webhook_routes(deliveries)

    php = BackgroundTasks()  # requests nginx stopped waiting for, still running

    async def wp_json(request: Request):
        authorization = request.headers.get("authorization", "")
        fault = faults.take(request.method, request.url.path)
        if fault is not None:
            if fault.strip_authorization:
                authorization = ""
            if (refusal := await faults.apply(fault)) is not None:
                return refusal
        body = await request.body()
        if fault is None or fault.host_timeout_s is None:
            return await wordpress(request, body, authorization, fault)
        running = php.spawn(wordpress(request, body, authorization, fault))
        try:
            return await asyncio.wait_for(asyncio.shield(running), fault.host_timeout_s)
        except TimeoutError:
            return Response(GATEWAY_TIMEOUT_PAGE, 504, media_type="text/html")

    async def wordpress(request: Request, body: bytes, authorization: str, fault: HostFault | None) -> Response:
        """One PHP request: the handler, its waits on other systems, and what the host sends back."""
        try:
            response = dispatch(
                store, api_routes, request.method, request.path_params.get("rest_route", ""),
                request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"), request.url.query,
                body, request.headers.get("content-type", ""), authorization, fault.die_before if fault else None,
            )
            while isinstance(response, Waiting):
                await asyncio.sleep(response.delay_s)
                response = resume(store, response)
        except PhpDied:
            response = Response(CRITICAL_ERROR_PAGE, 500, media_type="text/html")
        if config.state_file and request.method not in ("GET", "HEAD", "OPTIONS"):
            store.save(config.state_file)
        if fault is not None and fault.drop_response_after_commit:
            return DroppedResponse()
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette):
        await deliveries.start()
        try:
            yield
        finally:
            await php.close()
            await deliveries.close()
            if config.state_file:
                store.save(config.state_file)

    app = Starlette(
        routes=[Route("/wp-json/{rest_route:path}", wp_json, methods=ALL_METHODS),
                *control_routes(faults, deliveries, store)],
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.deliveries = deliveries
    return app
