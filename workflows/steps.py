"""How every business step runs, parks and is undone: one mechanism for the order, return and refund runs.

A step is an activity with its own attempt timeout and a day of retries with backoff. A business error
(or a day of transient ones) **parks** the run on that step until an operator decides: `retry` runs it
again; `cancel` stops the run, which then undoes, newest first, every step that registered an undo.
A "not yet" (`NotReadyYet`: the other system will have what the step needs later, e.g. a credit note
before the sale's invoice is posted) parks nobody: the step waits and tries again, however long it takes.
While undoing, an undo the other system refuses (goods already picked) parks too; `cancel` then leaves
it as it is, and an undo registered as needing the later ones undone (the ERP sale of goods that still
ship) is left with it.
"""
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

T = TypeVar("T")

STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
STEP_DEADLINE = timedelta(hours=24)
NOT_READY = "NotReadyYet"
"""The `ApplicationError` type of a step that must wait for another system (`adapters.errors.NotReadyYet`)."""

RETRY = "retry"
CANCEL = "cancel"


def step_options(
    summary: str, attempt_timeout: timedelta = timedelta(minutes=3), heartbeat_timeout: timedelta | None = None
) -> dict:
    """Options for `execute_activity_method`; `summary` labels the step in the Web UI's history."""
    return dict(
        start_to_close_timeout=attempt_timeout,
        heartbeat_timeout=heartbeat_timeout,
        schedule_to_close_timeout=STEP_DEADLINE,
        retry_policy=STEP_RETRY,
        summary=summary,
    )


def erp_step_options(summary: str) -> dict:
    """An ERP step: one Tryton transaction of at most 45 s, heartbeating every few seconds (activities'
    `erp_step`), so a killed worker's step is tried again within half a minute, not after the attempt."""
    return step_options(summary, ERP_ATTEMPT, ERP_HEARTBEAT)


ERP_ATTEMPT = timedelta(minutes=3)
ERP_HEARTBEAT = timedelta(seconds=30)


def failure_reason(err: ActivityError) -> str:
    """The adapter's own words (e.g. "Unknown SKU 'X' on line 2"), not Temporal's wrapper text."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)


def _not_ready(err: ActivityError) -> bool:
    return isinstance(err.cause, ApplicationError) and err.cause.type == NOT_READY


class ParkedStep(BaseModel):
    step: str
    reason: str


class Stop(Exception):
    """The run was cancelled: stop going forward; the run then undoes what was done (`Steps.undo`)."""


class Left:
    """What `Steps.run` returns for a step the operator chose to leave as it is while undoing."""


LEFT = Left()


@dataclass
class Decision:
    """An operator's answer to a parked step: `retry`, `cancel`, or a workflow's own kind (`reroute`)."""

    kind: str
    value: Any = None


@dataclass
class _Undo:
    name: str
    call: Callable[[], Awaitable[object]]
    only_if_later_steps_undone: bool


class Steps:
    """The run's steps: runs, parks and undoes them, and holds what operators decided.

    `enter(stage)` publishes where the run stands (search attributes, current details); it is called
    with `parked_stage` while a step is parked.
    """

    def __init__(self, enter: Callable[[Any], None], parked_stage: Any) -> None:
        self._enter = enter
        self._parked_stage = parked_stage
        self._undos: list[_Undo] = []
        self._decision: Decision | None = None
        self.parked: ParkedStep | None = None
        self.cancel_reason = ""
        self.undoing = False
        self.done: list[str] = []
        self.waiting = ""  # why the current step waits for another system ("not yet"), for the details
        self.not_ready_retry = timedelta(minutes=15)

    @property
    def cancelled(self) -> bool:
        """A cancellation was accepted: waits end on it, and the next step stops the run."""
        return bool(self.cancel_reason)

    async def run(
        self,
        stage: Any,
        call: Callable[[], Awaitable[T]],
        *,
        name: str = "",
        quiet: bool = False,
        why: Callable[[str], str] = str,
    ) -> T:
        """Run one step; on failure park until an operator retries, or a cancellation stops the run.

        While undoing, an operator may instead leave the step as it is: it then returns `LEFT`.
        `quiet` steps (polls) neither publish their stage nor count as done; `why` puts the failure in the
        step's own words for the parked reason.
        """
        name = name or str(stage)
        while True:
            if not self.undoing:
                self.stop_if_cancelled()
            if not quiet:
                self._enter(stage)
            try:
                result = await call()
            except ActivityError as err:
                if _not_ready(err):
                    await self._wait_and_retry(stage, failure_reason(err))
                    continue
                decision = await self.park(name, why(failure_reason(err)))
                if decision.kind == CANCEL:
                    if not self.undoing:
                        raise Stop() from None
                    self.done.append(f"{name} (left by operator)")
                    return LEFT  # type: ignore[return-value]
                continue
            if not quiet:
                self.done.append(name)
            return result

    async def _wait_and_retry(self, stage: Any, reason: str) -> None:
        """Not yet: publish why, and try again later (or stop at once when the run is cancelled meanwhile)."""
        self.waiting = reason
        self._enter(stage)
        try:
            await workflow.wait_condition(lambda: self.cancelled and not self.undoing, timeout=self.not_ready_retry,
                                          timeout_summary="not yet: try again")  # fmt: skip
        except TimeoutError:
            pass
        self.waiting = ""

    async def park(self, step: str, reason: str) -> Decision:
        """Wait for an operator's decision on `step`; a cancellation (outside undoing) is one too."""
        self.parked = ParkedStep(step=step, reason=reason)
        self._decision = None
        self._enter(self._parked_stage)
        workflow.logger.warning("%s parked at %s: %s", workflow.info().workflow_id, step, reason)
        await workflow.wait_condition(lambda: self._decision is not None or (self.cancelled and not self.undoing))
        self.parked = None
        decision, self._decision = self._decision or Decision(CANCEL), None
        return decision

    def stop_if_cancelled(self) -> None:
        if self.cancelled:
            raise Stop()

    def on_cancel(
        self, name: str, undo: Callable[[], Awaitable[object]], *, only_if_later_steps_undone: bool = False
    ) -> None:
        """Register an undo before the step it undoes: after a lost response its outcome is unknown."""
        self._undos.append(_Undo(name, undo, only_if_later_steps_undone))

    async def undo(self, stage: Any) -> list[str]:
        """Undo what was done, newest first; returns the names of the undos left as they are."""
        self.undoing = True
        left: list[str] = []
        for undo in reversed(self._undos):
            if (undo.only_if_later_steps_undone and left) or await self.run(stage, undo.call, name=undo.name) is LEFT:
                left.append(undo.name)
        return left

    # -- what operators decide (the workflows' updates call these after their validators) ---------

    def decide(self, kind: str, value: Any = None) -> None:
        self._decision = Decision(kind, value)

    def cancel(self, reason: str) -> str:
        """Stop the run and undo it; while undoing, leave the parked undo as it is instead."""
        if self.undoing:
            self.decide(CANCEL)
            return f"leaving {self.parked.step if self.parked else ''} as it is"
        self.cancel_reason = reason
        return "cancelling: completed steps will be undone"

    def must_be_parked(self, what: str, stage: str) -> None:
        if self.parked is None:
            raise ApplicationError(f"{what} is not parked (stage: {stage})", type="NotParked")

    def must_be_cancellable(self) -> None:
        if self.undoing and self.parked is None:
            raise ApplicationError("already being cancelled", type="AlreadyCancelling")
