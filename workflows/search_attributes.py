"""The typed search attributes support staff filter on in the Temporal Web UI, defined once.

The dev server registers them from `ALL`; production namespaces need the same list
(see README, `temporal operator search-attribute create`).

Values come from store data (an order number, a parked reason naming a SKU), so workflows pass
them through `keyword`, `text` and `amount`: a value over Temporal's limits fails the workflow
task with BadSearchAttributes and the server terminates the run (a 3,000-character order number
did). Temporal's defaults: 2 KiB per value, measured on its JSON payload, where every non-ASCII
character is a 6-byte `\\uXXXX` escape; 40 KiB for all of a run's values (ours stay far below);
255 characters for a Keyword in SQL visibility stores (docs.temporal.io/search-attribute).
The full value stays in the run's input, query and details.
"""
import json
import math

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

VALUE_MOST_BYTES = 2_048
KEYWORD_MOST_CHARS = 255
DOUBLE_MOST = 9e14
"""Elasticsearch keeps a Double as a scaled_float (x 10,000 in a 64-bit long): larger values do not index."""
_CUT = "…"

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
STORE_ID = SearchAttributeKey.for_keyword("StoreId")
ORDER_STAGE = SearchAttributeKey.for_keyword("OrderStage")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
PARKED_REASON = SearchAttributeKey.for_text("ParkedReason")
ERP_SALE_NUMBER = SearchAttributeKey.for_keyword("ErpSaleNumber")
FULFILMENT_LATE = SearchAttributeKey.for_bool("FulfilmentLate")
REFUND_AMOUNT = SearchAttributeKey.for_float("RefundAmount")
RMA_ID = SearchAttributeKey.for_keyword("RmaId")
SYNC_WATERMARK = SearchAttributeKey.for_keyword("SyncWatermark")
DRIFT_COUNT = SearchAttributeKey.for_int("DriftCount")

ALL = (
    ORDER_ID,
    ORDER_NUMBER,
    STORE_ID,
    ORDER_STAGE,
    NEEDS_ATTENTION,
    PARKED_REASON,
    ERP_SALE_NUMBER,
    FULFILMENT_LATE,
    REFUND_AMOUNT,
    RMA_ID,
    SYNC_WATERMARK,
    DRIFT_COUNT,
)

_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.INT: "Int",
}


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def keyword(value: str) -> str:
    """A Keyword value within Temporal's limits; a longer one is cut and ends with "…" (exact match then fails)."""
    return _bounded(value, KEYWORD_MOST_CHARS)


def text(value: str) -> str:
    """A Text value (a parked reason) within Temporal's limits; a longer one is cut and ends with "…"."""
    return _bounded(value, VALUE_MOST_BYTES)


def amount(value: float) -> float:
    """A Double within what every visibility store indexes; NaN (never an amount) is 0."""
    if math.isnan(value):
        return 0.0
    return max(-DOUBLE_MOST, min(DOUBLE_MOST, value))


def _bounded(value: str, most_chars: int) -> str:
    if len(value) <= most_chars and _encoded_size(value) <= VALUE_MOST_BYTES:
        return value
    budget = VALUE_MOST_BYTES - _encoded_size(_CUT)
    kept = []
    for character in value[: most_chars - 1]:
        budget -= _encoded_size(character) - 2
        if budget < 0:
            break
        kept.append(character)
    return "".join(kept) + _CUT


def _encoded_size(value: str) -> int:
    """Bytes of the value's payload as the SDK encodes it (JSON with ASCII escapes, quotes included)."""
    return len(json.dumps(value))
