"""Patch ids: every change to a workflow's commands after it shipped (README, "Changing a workflow").

A run started before a change replays its history on the new code: `workflow.patched(ID)` is False
where its history has no marker, so it takes the old path there, and True everywhere else. An id
(and the old path) goes once no run that started before it can still be open; the recorded histories
under `tests/histories/` prove every path still replays.
"""

NEWS_DURING_RECORDING_WAKES = "news-during-recording-wakes-2026-12"
"""Order: 3PL news that arrives while shipments are recorded is acted on at once, not at the next poll."""

SHIPMENT_NEWS_IS_A_HINT = "shipment-news-is-a-hint-2026-12"
"""Order: a 3PL webhook only says which 3PL order changed; the run reads that order from the 3PL before it
records anything (a forged or stale event cannot reach the ERP). Runs that began fulfilment earlier keep
applying the webhook's shipment as it came."""

REFUNDS_STOP_SHIPPING = "refunds-stop-shipping-2026-12"
"""Order: units the merchant refunds before they ship are not sent to the warehouse, or are taken off the
3PL order still waiting (cancelled and sent again without them); the ERP's shipment of them is released."""

LONG_WAITS_CONTINUE_AS_NEW = "long-waits-continue-as-new-2026-12"
"""Order: a run waiting for the 3PL continues as new once its history passes a few thousand events."""

STOCK_CHANGES_DURING_A_PUBLISH_KEPT = "stock-changes-during-a-publish-kept-2026-12"
"""Stock sync: SKUs signalled while a publish runs go out in the next publish; they were dropped with it."""

RETURN_OUTCOME_RECORDED = "return-outcome-recorded-2026-12"
"""Return: before it closes, the run records on the store order what the RMA took back in the end."""

SAME_SECOND_SNAPSHOTS_BY_PROGRESS = "same-second-snapshots-by-progress-2026-12"
"""Order: of two store snapshots with the same modification time, the one further along (paid, completed,
cancelled, more refunds) is kept; the one that arrived last was."""

ORDER_RECORD_IN_MEMO = "order-record-in-memo-2026-12"
"""Order: the run keeps its ERP sale, shipments with tracking, invoice and refunds in its memo, so support
reads them after it closed with no worker running."""

RUN_RECORD_IN_MEMO = "run-record-in-memo-2026-12"
"""Refund and return: the run keeps its amount, lines, credit note and state in its memo, so support reads
them after it closed with no worker running."""
