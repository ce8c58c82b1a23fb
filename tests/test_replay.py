"""Recorded histories must replay on today's workflow code: a non-deterministic change fails here, not in production."""
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundWorkflow
from workflows.stock_sync import StockSyncWorkflow
from workflows.stock_watch import StockWatchWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded():
    assert len(HISTORIES) >= 3, "run `python -m tests.histories.record` to record them"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[OrderToCashWorkflow, RefundWorkflow, StockWatchWorkflow, StockSyncWorkflow],
                        data_converter=pydantic_data_converter)  # fmt: skip
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
