"""An ERP step in an activity attempt: it heartbeats, its calls end before the attempt does, errors map once."""
import asyncio
import dataclasses
import datetime as dt
import socket
import time

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.erp_attempts import erp_step
from activities.errors import as_temporal_errors
from adapters.errors import NotReadyYet
from adapters.tryton_rpc import TrytonRpc


def attempt(seconds: float) -> ActivityEnvironment:
    """An activity attempt that started now and times out after `seconds`; heartbeats are recorded."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, started_time=dt.datetime.now(dt.UTC),
                                   start_to_close_timeout=dt.timedelta(seconds=seconds))  # fmt: skip
    env.heartbeats = []
    env.on_heartbeat = lambda *details: env.heartbeats.append(details)
    return env


async def test_a_call_that_hangs_ends_before_the_attempt_does_and_the_step_heartbeats():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        rpc = TrytonRpc(f"http://127.0.0.1:{silent.getsockname()[1]}", "db", "integration", SecretStr("x"))
        env = attempt(seconds=4)

        async def step():
            async with erp_step():
                await rpc.call("sale.sale", "search_count", [])

        started = time.monotonic()
        with pytest.raises(ApplicationError) as failed:
            await env.run(step)
        took = time.monotonic() - started
        await rpc.aclose()

    assert failed.value.type == "RetryableError" and not failed.value.non_retryable
    assert 2.5 < took < 3.5  # the attempt's 4 s less a second to report, not the client's 60 s
    assert env.heartbeats


async def test_a_call_with_no_time_left_is_not_sent():
    rpc = TrytonRpc("http://127.0.0.1:9", "db", "integration", SecretStr("x"))
    env = attempt(seconds=0.5)

    async def step():
        async with erp_step():
            await asyncio.sleep(0)
            await rpc.call("sale.sale", "search_count", [])

    with pytest.raises(ApplicationError, match="not sent, the caller's time is up"):
        await env.run(step)
    await rpc.aclose()


def test_not_ready_yet_is_its_own_non_retryable_type_for_the_workflow_to_wait_on():
    with pytest.raises(ApplicationError) as raised, as_temporal_errors():
        raise NotReadyYet("tryton", "Sale SO-1 has no posted invoice to credit yet")

    assert (raised.value.type, raised.value.non_retryable) == ("NotReadyYet", True)
