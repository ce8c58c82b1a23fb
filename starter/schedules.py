"""One intake Schedule per configured store, created when a worker starts (existing ones are kept)."""
import logging

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from config import Settings
from workflows.store_intake import IntakeInput, StoreIntakeWorkflow

log = logging.getLogger(__name__)


def intake_schedule_id(store_id: str) -> str:
    return f"intake-{store_id}"


async def ensure_intake_schedules(client: Client, settings: Settings) -> None:
    for store in settings.stores:
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                StoreIntakeWorkflow.run,
                IntakeInput(store_id=store.id),
                id=intake_schedule_id(store.id),
                task_queue=settings.temporal.task_queue,
                static_summary=f"Intake backstop for store {store.id}",
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=settings.orders.intake_every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        try:
            await client.create_schedule(intake_schedule_id(store.id), schedule)
            log.info("intake schedule for store %s: every %s", store.id, settings.orders.intake_every)
        except ScheduleAlreadyRunningError:
            pass
