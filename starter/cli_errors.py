"""What the CLI says when a command cannot do what was asked: one line that says what is wrong and what to
do, exit 1 (refused: the request names something that is not there or not in that state) or 2 (cannot run:
the config, Temporal, a worker or an external system is missing). Never a traceback."""
import os
import sys

from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.errors import AdapterError
from config import ConfigError, Settings
from starter.operator import OperatorRefused
from starter.returns import ReturnRefused
from starter.temporal_client import TemporalUnreachable

REFUSED, CANNOT_RUN = 1, 2
FINISHED = "workflow execution already completed"  # Temporal's NOT_FOUND for a signal or update to a closed run
NO_WORKER = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE)


class Refused(Exception):
    """The command names something that is not there, or not in a state that allows it."""


def configured_stores(settings: Settings, store: str | None) -> list[str]:
    """The store named (every store if None); an unknown one is refused the same way by every command."""
    ids = [s.id for s in settings.stores]
    if store is not None and store not in ids:
        raise Refused(f"unknown store {store!r} (configured: {', '.join(ids) or 'none'})")
    return [store] if store else ids


def run_reported(handler, args) -> int:
    """The handler's exit code, or the one line and exit code for what stopped it."""
    try:
        return handler(args)
    except Exception as err:
        if os.environ.get("RETAIL_SYNC_DEBUG"):
            raise
        code, line = explain(err, _subject(args))
        print(line, file=sys.stderr)
        return code


def explain(err: Exception, subject: str) -> tuple[int, str]:
    if isinstance(err, Refused | OperatorRefused | ReturnRefused):
        return REFUSED, f"refused: {err}"
    if isinstance(err, WorkflowUpdateFailedError):
        return REFUSED, f"refused: {subject}: {getattr(err.cause, 'message', None) or err.cause}"
    if isinstance(err, RPCError) and FINISHED in err.message:
        return REFUSED, f"refused: {subject}: its run has finished; `show` says how it ended"
    if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
        return REFUSED, (f"refused: {subject}: no run (it never started, or closed before the retention period): "
                         "the list commands show what exists")  # fmt: skip
    if isinstance(err, WorkflowQueryFailedError) or (isinstance(err, RPCError) and err.status in NO_WORKER):
        return CANNOT_RUN, f"error: {subject}: no worker answered ({err}): is `retail-sync worker` running?"
    if isinstance(err, RPCError):
        return CANNOT_RUN, f"error: {subject}: Temporal refused: {err.message}"
    if isinstance(err, AdapterError) and not err.retryable and err.status in (404, 410):
        return REFUSED, f"refused: {subject}: {err.system} does not know it ({err.message})"
    if isinstance(err, ConfigError | TemporalUnreachable | AdapterError):
        return CANNOT_RUN, f"error: {err}"
    return CANNOT_RUN, f"error: {type(err).__name__}: {err} (RETAIL_SYNC_DEBUG=1 shows where)"


def _subject(args) -> str:
    """What the command was about, in the words an engineer typed."""
    if rma := getattr(args, "rma", None):
        return rma
    if order := getattr(args, "order", None):
        return f"order {args.store} {order}"
    return getattr(args, "workflow_id", None) or "the command"
