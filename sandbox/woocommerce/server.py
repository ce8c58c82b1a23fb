"""Run the sandbox store: in the caller's event loop for tests, or as a CLI for the demo.

The port is bound before the app is built, because the store's home URL (which OAuth signs against and
which links and webhook headers name) must be the URL actually served.
"""
import argparse
import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from embedded.asgi import bind_loopback, serve_on
from sandbox.woocommerce.app import build_app
from sandbox.woocommerce.config import DEMO_KEY, ApiKey, SandboxConfig
from sandbox.woocommerce.state import Store

CLI_PORT = 8089


@dataclass
class RunningSandbox:
    url: str  # where it listens, e.g. http://127.0.0.1:54321
    home_url: str  # what the store believes its URL is (sign OAuth against this)
    config: SandboxConfig
    store: Store
    _task: asyncio.Task

    async def wait_closed(self) -> None:
        await self._task


@asynccontextmanager
async def run_woocommerce_sandbox(config: SandboxConfig | None = None) -> AsyncIterator[RunningSandbox]:
    config = config or SandboxConfig()
    sock = bind_loopback(config.port)
    home_url = config.resolved_home_url(sock.getsockname()[1])
    app = build_app(config, home_url)
    async with serve_on(app, sock) as served:
        yield RunningSandbox(served.url, home_url, config, app.state.store, served.task)


def _key(text: str) -> ApiKey:
    consumer_key, consumer_secret, *permissions = text.split(":")
    return ApiKey(consumer_key=consumer_key, consumer_secret=consumer_secret,
                  permissions=permissions[0] if permissions else "read_write")


def main(argv: list[str] | None = None) -> int:
    """`woocommerce-sandbox --port 8089 [--home-url URL] [--key ck:cs[:read|write|read_write]]...`"""
    parser = argparse.ArgumentParser(prog="woocommerce-sandbox", description="Local WooCommerce REST v3 store.")
    parser.add_argument("--port", type=int, default=CLI_PORT)
    parser.add_argument("--home-url", help="the URL WordPress believes it has ({port} = bound port)")
    parser.add_argument("--timezone", default=SandboxConfig().timezone)
    parser.add_argument("--webhook-delay", type=float, default=SandboxConfig().webhook_delay_s)
    parser.add_argument("--key", action="append", type=_key, help="consumer_key:consumer_secret[:permissions]")
    parser.add_argument("--empty", action="store_true", help="do not seed the demo catalogue")
    parser.add_argument("--state-file", type=Path, help="keep the store's data here between runs")
    args = parser.parse_args(argv)
    config = SandboxConfig(port=args.port, home_url=args.home_url, timezone=args.timezone,
                           webhook_delay_s=args.webhook_delay, seed_catalogue=not args.empty,
                           state_file=args.state_file,
                           **({"api_keys": args.key} if args.key else {}))
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo store stops
    return 0


async def serve(config: SandboxConfig) -> None:
    async with run_woocommerce_sandbox(config) as sandbox:
        print(f"WooCommerce sandbox on {sandbox.url} (home URL {sandbox.home_url}); "
              f"demo key {DEMO_KEY.consumer_key} / {DEMO_KEY.consumer_secret}", flush=True)
        await sandbox.wait_closed()
