"""The Starlette app: ShipBob's versioned API under `/2026-01/...` plus the `/__sandbox/` controls."""
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from sandbox.shipbob.auth import Gate
from sandbox.shipbob.config import ShipBobConfig
from sandbox.shipbob.control import control_routes
from sandbox.shipbob.delivery import WebhookDeliveries
from sandbox.shipbob.inventory import inventory_routes
from sandbox.shipbob.orders import order_routes
from sandbox.shipbob.returns import return_routes
from sandbox.shipbob.shipments import shipment_routes
from sandbox.shipbob.simulate import Simulations, simulation_routes
from sandbox.shipbob.state import Store
from sandbox.shipbob.webhooks import webhook_routes


def build_app(config: ShipBobConfig) -> Starlette:
    store = Store(config)
    if config.state_file and config.state_file.exists():
        store.load(config.state_file)
    gate = Gate(store)
    deliveries = WebhookDeliveries(store)
    simulations = Simulations(store)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        await deliveries.start()
        try:
            yield
        finally:
            await simulations.close()
            await deliveries.close()
            store.persist()

    routes = [*order_routes(gate), *shipment_routes(gate), *return_routes(gate), *inventory_routes(gate),
              *webhook_routes(gate),
              *simulation_routes(gate, simulations), *control_routes(store, gate, deliveries)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.store = store
    app.state.deliveries = deliveries
    return app
