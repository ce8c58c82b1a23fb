"""Which store orders the intake backstop hands to runs, and from when: the watermark rules."""
from datetime import datetime, timedelta

from canonical.order import Order


def is_handed_to_a_run(order: Order) -> bool:
    """A paid order that was not cancelled is sold: the intake hands it to its run (new or existing)."""
    return order.is_paid and not order.is_cancelled


def changed_after(
    since: datetime | None, last_run: tuple[datetime | None, datetime] | None, overlap: timedelta, now: datetime
) -> datetime:
    """The instant after which changed orders are listed by this intake run.

    `since` is the watermark the store was connected with: orders changed before it are left alone, so
    connecting a store with history never sells yesterday's orders again. `last_run` is the previous successful
    run's `since` and watermark. The first run after connecting (or after the operator moved `since`) starts
    there exactly; later runs go back from the previous run's watermark by `overlap` (WooCommerce compares
    whole seconds), never behind `since`.
    A schedule made before stores were connected with a watermark (`since` None) starts from its first run.
    """
    if last_run is None or last_run[0] != since:
        return since or now
    overlapped = last_run[1] - overlap
    return max(overlapped, since) if since else overlapped
