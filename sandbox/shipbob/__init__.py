"""A local ShipBob (API 2026-01) over real HTTP, faithful to the contract note; orders and fulfilment."""
from sandbox.shipbob.config import (
    DEMO_CHANNEL_ID, DEMO_READ_ONLY_TOKEN, DEMO_TOKEN, ApiToken, FulfillmentCenter, Quirks, ShipBobConfig)
from sandbox.shipbob.server import RunningShipBob, main, run_shipbob_sandbox, serve

__all__ = ["DEMO_CHANNEL_ID", "DEMO_READ_ONLY_TOKEN", "DEMO_TOKEN", "ApiToken", "FulfillmentCenter", "Quirks",
           "RunningShipBob", "ShipBobConfig", "main", "run_shipbob_sandbox", "serve"]
