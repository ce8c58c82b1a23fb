"""The Starlette app: the WordPress REST entry point `/wp-json/...` plus the `/__sandbox/` controls."""
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from sandbox.woocommerce import batch, notes, orders, products, refunds_api
from sandbox.woocommerce.config import SandboxConfig
from sandbox.woocommerce.control import DroppedResponse, HostFaults, control_routes
from sandbox.woocommerce.delivery import WebhookDeliveries
from sandbox.woocommerce.rest import dispatch
from sandbox.woocommerce.state import Store
from sandbox.woocommerce.webhooks import webhook_routes

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build_app(config: SandboxConfig, home_url: str) -> Starlette:
    store = Store(config, home_url)
    if config.state_file and config.state_file.exists():
        store.load(config.state_file)
    deliveries = WebhookDeliveries(store)
    faults = HostFaults()
    api_routes = orders.ROUTES + refunds_api.ROUTES + notes.ROUTES + products.ROUTES + batch.ROUTES
    api_routes += webhook_routes(deliveries)

    async def wp_json(request: Request):
        authorization = request.headers.get("authorization", "")
        fault = faults.take(request.method, request.url.path)
        if fault is not None:
            if fault.strip_authorization:
                authorization = ""
            if (refusal := await faults.apply(fault)) is not None:
                return refusal
        response = dispatch(
            store, api_routes, request.method, request.path_params.get("rest_route", ""),
            request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"), request.url.query,
            await request.body(), request.headers.get("content-type", ""), authorization,
        )
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
