"""Run the sandbox ShipBob: in the caller's event loop for tests, or as a CLI for the demo."""
import argparse
import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from embedded.asgi import bind_loopback, serve_on
from sandbox.shipbob.app import build_app
from sandbox.shipbob.config import DEMO_READ_ONLY_TOKEN, DEMO_TOKEN, ApiToken, ShipBobConfig
from sandbox.shipbob.delivery import WebhookDeliveries
from sandbox.shipbob.state import Store

CLI_PORT = 8091  # `config.ThreePLSettings.url`'s default


@dataclass
class RunningShipBob:
    url: str  # where it listens, e.g. http://127.0.0.1:54321; the API is under {url}/2026-01
    config: ShipBobConfig
    store: Store
    deliveries: WebhookDeliveries
    _task: asyncio.Task

    @property
    def api_url(self) -> str:
        return f"{self.url}/2026-01"

    async def wait_closed(self) -> None:
        await self._task


@asynccontextmanager
async def run_shipbob_sandbox(config: ShipBobConfig | None = None) -> AsyncIterator[RunningShipBob]:
    config = config or ShipBobConfig()
    app = build_app(config)
    async with serve_on(app, bind_loopback(config.port)) as served:
        yield RunningShipBob(served.url, config, app.state.store, app.state.deliveries, served.task)


def main(argv: list[str] | None = None) -> int:
    """`shipbob-sandbox --port 8091 [--token PAT] [--channel-id N] [--state-file PATH]`"""
    defaults = ShipBobConfig()
    parser = argparse.ArgumentParser(prog="shipbob-sandbox", description="Local ShipBob API 2026-01.")
    parser.add_argument("--port", type=int, default=CLI_PORT)
    parser.add_argument("--token", default=DEMO_TOKEN.token, help="the full-scope personal access token")
    parser.add_argument("--channel-id", type=int, default=defaults.channel_id)
    parser.add_argument("--state-file", type=Path, help="keep the account's data here between runs")
    parser.add_argument("--webhook-retry-factor", type=float, default=defaults.webhook_retry_factor)
    parser.add_argument("--simulation-minute", type=float, default=defaults.simulation_minute_s,
                        help="seconds one simulated minute lasts")
    args = parser.parse_args(argv)
    config = ShipBobConfig(port=args.port, tokens=[ApiToken(token=args.token), DEMO_READ_ONLY_TOKEN],
                           channel_id=args.channel_id, state_file=args.state_file,
                           webhook_retry_factor=args.webhook_retry_factor,
                           simulation_minute_s=args.simulation_minute)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo 3PL stops
    return 0


async def serve(config: ShipBobConfig) -> None:
    async with run_shipbob_sandbox(config) as sandbox:
        print(f"ShipBob sandbox on {sandbox.api_url}; token {config.tokens[0].token}, "
              f"channel {config.channel_id}", flush=True)
        await sandbox.wait_closed()
