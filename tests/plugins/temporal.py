"""Temporal for tests: one dev server per session, and a fresh time-skipping server per test that needs one."""
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest_asyncio
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from embedded.processes import venv_binary
from workflows import search_attributes as sa

T = TypeVar("T")


@pytest_asyncio.fixture(scope="session")
async def dev_server():
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
        dev_server_startup_timeout=timedelta(seconds=60),  # a loaded CI machine takes longer than the default 5 s
        dev_server_extra_args=[
            "--ui-disable-news-fetch",
            "--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    ) as env:  # fmt: skip
        yield env


@pytest_asyncio.fixture
async def time_skipping():
    """Per test: time skipping is global to a server, so tests must not share one."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    ) as env:
        await register_search_attributes(env.client)
        yield env


async def register_search_attributes(client: Client) -> None:
    """The time-skipping server does not take them as flags; unregistered ones would fail workflow tasks."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.ALL},
        )
    )


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 30.0) -> T:
    """Poll `probe` until `accept` holds; the last value is in the assertion message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value: {value!r}")
        await asyncio.sleep(0.1)


async def delete_closed_runs(client: Client, *workflow_ids: str) -> None:
    """What Temporal's retention does to closed runs, done now through its delete API (the dev server takes
    about 30 s to carry a deletion out, longer on a loaded machine)."""
    async def delete(workflow_id: str) -> None:
        await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)))

        async def gone() -> bool:
            try:
                await client.get_workflow_handle(workflow_id).describe()
            except RPCError as error:
                return error.status == RPCStatusCode.NOT_FOUND
            return False

        await eventually(gone, bool, 180)

    await asyncio.gather(*(delete(workflow_id) for workflow_id in workflow_ids))
