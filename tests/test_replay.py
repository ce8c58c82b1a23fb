"""Recorded histories must replay on today's workflow code: a non-deterministic change fails here, not in production."""
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_type_has_a_recorded_history():
    recorded = {json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]
                ["name"] for path in HISTORIES}  # fmt: skip
    missing = {workflow.__temporal_workflow_definition.name for workflow in WORKFLOWS} - recorded
    assert not missing, f"record a history of {sorted(missing)}: `python -m tests.histories.record`"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
