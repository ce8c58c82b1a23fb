"""Serve an ASGI app on a real loopback port inside the current event loop (tests, benchmarks)."""
import asyncio
from contextlib import asynccontextmanager

import uvicorn

from embedded.processes import free_port


@asynccontextmanager
async def serve(app, *, port: int | None = None):
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
