"""Serve an ASGI app on a real loopback port inside the current event loop (sandboxes, tests, benchmarks)."""
import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

HOST = "127.0.0.1"


def bind_loopback(port: int = 0) -> socket.socket:
    """Bind first (port 0 picks a free one), so an app that must know its own URL can be built after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


@dataclass
class Served:
    url: str
    task: asyncio.Task  # ends when the server stops (Ctrl-C or SIGTERM in a CLI)


@asynccontextmanager
async def serve_on(app, sock: socket.socket) -> AsyncIterator[Served]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=2))  # fmt: skip
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.01)
        yield Served(f"http://{HOST}:{sock.getsockname()[1]}", task)
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def serve(app, *, port: int = 0) -> AsyncIterator[str]:
    async with serve_on(app, bind_loopback(port)) as served:
        yield served.url
